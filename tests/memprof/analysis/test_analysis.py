"""The bottleneck analysis: ratios from the stats, the bandwidth identity, compulsory-only
misses for a representation that fits, and the reproduce/sweep commands through click."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from memprof.cli.main import main
from memprof.analysis.experiment import CacheSetup, add_ratios, run_analysis
from traces.stream import model_trace
from traces.workloads import get_workload

SMALL = get_workload("5000,300,70,20000", dim=16)
KIB = 1024


def _traces(models=("dlrm", "memrec"), batches=8, **params):
    return [model_trace(m, SMALL, batch_size=64, batches=batches, seed=3, alpha=0.8,
                        **params.get(m, {})) for m in models]


def test_ratios_are_baseline_over_row_per_cache_config():
    frame = pd.DataFrame({
        "model": ["dlrm", "memrec", "dlrm", "memrec"], "llc_bytes": [1, 1, 2, 2], "ways": 16, "policy": "lru",
        "cycles": [100.0, 25.0, 90.0, 45.0], "llc_misses": [50, 5, 40, 0], "dram_bw_gbps": [8.0, 2.0, 6.0, 0.0],
    })
    out = add_ratios(frame)
    assert out["cycles_ratio"].tolist() == [1.0, 4.0, 1.0, 2.0]
    assert out["llc_misses_ratio"].tolist()[:3] == [1.0, 10.0, 1.0]
    assert out["llc_misses_ratio"].iloc[3] == np.inf  # never missed
    assert out["dram_bw_ratio"].tolist()[:2] == [1.0, 4.0]


def test_ratios_need_the_baseline():
    frame = pd.DataFrame({"model": ["memrec"], "llc_bytes": [1], "ways": 16, "policy": "lru",
                          "cycles": [1.0], "llc_misses": [1], "dram_bw_gbps": [1.0]})
    with pytest.raises(ValueError, match="dlrm baseline"):
        add_ratios(frame)


def test_dram_reads_are_one_line_per_llc_miss_and_time_follows_the_clock():
    # LLC only, reads only, no prefetcher: every LLC miss fetches one 64-byte line and nothing is
    # written back; seconds are cycles at the icx preset's clock (Intel ARK, Xeon Platinum 8380:
    # 3.4 GHz max turbo, the preset's cited value)

    setup = CacheSetup((64 * KIB, 256 * KIB), ways=8, private_levels=False, warmup=0.25)
    frame, _ = run_analysis(_traces(), setup, progress=False)
    freq_ghz = 3.4
    for _, row in frame.iterrows():
        assert row["dram_read_bytes"] == 64 * row["llc_misses"]
        assert row["dram_write_bytes"] == 0
        assert row["seconds"] == pytest.approx(row["cycles"] / (freq_ghz * 1e9), rel=1e-12)
    small, large = (frame[(frame["model"] == "dlrm") & (frame["llc_bytes"] == s)].iloc[0] for s in setup.llc_sizes)
    assert large["llc_misses"] <= small["llc_misses"]  # LRU's inclusion property: a bigger cache never misses more


def test_a_footprint_that_fits_shows_only_compulsory_misses_after_warmup():
    params = {"memrec": {"d": 64, "d_weight": 32}}
    setup = CacheSetup((256 * KIB,), ways=16, private_levels=False, warmup=0.5)
    (memrec_trace,) = _traces(("memrec",), batches=8, **params)
    rep = memrec_trace.representation
    lines = [set((rep.emit(b) // 64).tolist()) for b in memrec_trace.batches()]
    warm = set().union(*lines[:4])
    compulsory = len(set().union(*lines) - warm)
    frame, _ = run_analysis(_traces(("dlrm", "memrec"), batches=8, **params), setup, progress=False)
    row = frame[frame["model"] == "memrec"].iloc[0]
    assert rep.memory_bytes < 256 * KIB
    assert row["llc_misses"] == compulsory


def _invoke(args):
    return CliRunner().invoke(main, args, catch_exceptions=False)


SMALL_ARGS = ["--workload", "5000,300,70,20000", "--dim", "16", "--batch-size", "32", "--batches", "4",
              "--no-progress"]


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "markdown"])
def test_sweep_cli_formats(fmt, tmp_path):
    result = _invoke(["sweep", "--param", "alpha=0.5,1.2", "--llc", "64KB", "--no-private-levels",
                      "--format", fmt, *SMALL_ARGS])
    assert result.exit_code == 0, result.output
    if fmt == "json":
        payload = json.loads(result.output)
        assert payload["schema"] == "memprof.sweep/1"
        rows = payload["rows"]
        assert {r["alpha"] for r in rows} == {0.5, 1.2} and {r["model"] for r in rows} == {"dlrm", "memrec"}
        for key in ("model", "llc_bytes", "ways", "policy", "model_bytes", "compression", "accesses", "llc_hits",
                    "llc_misses", "llc_miss_ratio", "dram_read_bytes", "dram_write_bytes", "cycles", "seconds",
                    "dram_bw_gbps", "cycles_ratio", "llc_misses_ratio", "dram_bw_ratio"):
            assert key in rows[0]
    elif fmt == "csv":
        header = result.output.splitlines()[0].split(",")
        assert header[0] == "alpha" and "cycles_ratio" in header
    elif fmt == "markdown":
        assert result.output.startswith("| alpha | model |")
    else:
        assert "memrec" in result.output and "dlrm" in result.output


def test_sweep_plot_and_output_file(tmp_path):
    out, png = tmp_path / "s.csv", tmp_path / "s.png"
    result = _invoke(["sweep", "--param", "memrec.d=32,64", "--llc", "64KB,128KB", "--no-private-levels",
                      "--format", "csv", "-o", str(out), "--plot", str(png), *SMALL_ARGS])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert len(frame) == 2 * 2 * 2  # two d values x two models x two LLC sizes
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reproduce_writes_every_output(tmp_path):
    result = _invoke(["reproduce", "-o", str(tmp_path), "--param", "memrec.d=64", "--param", "memrec.d_weight=64",
                      *SMALL_ARGS])
    assert result.exit_code == 0, result.output
    for name in ("results.csv", "results.md", "results.json", "metadata.json", "comparison.csv", "comparison.md",
                 "ratios.png", "miss_ratio.png", "ASSUMPTIONS.md"):
        assert (tmp_path / name).stat().st_size > 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["schema"] == "memprof.reproduce/1" and results["metadata"]["alpha"] == 1.05
    records = results["rows"]
    assert {r["model"] for r in records} == {"dlrm", "memrec"} and len(records) == 6  # 2 models x 3 LLC sizes
    assert json.loads((tmp_path / "metadata.json").read_text())["alpha"] == 1.05
    table = pd.read_csv(tmp_path / "comparison.csv")
    assert table["published"].tolist() == [2.6, 2.3, 1.1, 3.2, 6.3, 2.2, 3.4, 341.0, 98.0]
    rows = pd.read_csv(tmp_path / "results.csv").set_index(["model", "llc_bytes"])
    ours = rows.loc[("dlrm", 56 << 20), "llc_misses"] / rows.loc[("memrec", 56 << 20), "llc_misses"]
    cell = table[(table["llc_mib"] == 56) & (table["metric"] == "llc_misses_ratio")].iloc[0]
    assert cell["memprof"] == pytest.approx(ours) and cell["relative_difference"] == pytest.approx(ours / 341 - 1)
    assert "alpha = 1.05" in (tmp_path / "ASSUMPTIONS.md").read_text()


@pytest.mark.parametrize("args,needle", [
    (["sweep", "--param", "nonsense=1,2"], "unknown name 'nonsense'"),
    (["sweep", "--param", "alpha=x"], "expected float"),
    (["sweep", "--param", "alpha=1", "--llc", "56XB"], "56XB"),
    (["sweep", "--param", "alpha=1", "--cpu", "z80"], "unknown CPU preset"),
    (["sweep", "--param", "alpha=1", "--timing", "bogus=3"], "bogus"),
    (["sweep", "--param", "alpha=1", "--model", "nope"], "unknown model"),
])
def test_malformed_options_give_one_line_and_exit_2(args, needle):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert needle in result.output
    assert "Traceback" not in result.output
