"""memprof bench: pyperf-driven timing (quick mode), the memory cap, and the JSON compare_to reads."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

pytest.importorskip("traces.representations")

from memprof.hw.bench import BenchConfig, suite_rows, table_cap
from memprof.cli.main import main


def _suite(path, values_by_name):
    """A pyperf JSON file holding one single-run benchmark per name, with the given values (s/item)."""
    import pyperf

    benches = [pyperf.Benchmark([pyperf.Run(values, metadata={"name": name, "loops": 1}, collect_metadata=False)])
               for name, values in values_by_name.items()]
    pyperf.BenchmarkSuite(benches).dump(str(path))
    return path


def test_suite_rows_convert_seconds_per_item_to_rows_by_batch_size(tmp_path):
    path = _suite(tmp_path / "s.json", {"batch_size=64": [0.002, 0.004], "batch_size=1": [0.01],
                                        "calibration": [1.0]})
    rows = suite_rows(path, "dlrm", 524, 65536)
    assert [r["batch_size"] for r in rows] == [1, 64]  # sorted; names without batch_size= are skipped
    one, many = rows
    # batch 1: one value of 10 ms per item, no spread; 100 items/s.
    assert (one["ms_per_item"], one["ms_per_item_stdev"], one["items_per_second"]) == (10.0, None, 100.0)
    # batch 64: mean 3 ms; sample standard deviation of 2 and 4 ms = sqrt(2) ms; 1 / 3 ms = 333.3 items/s.
    assert many["ms_per_item"] == pytest.approx(3.0)
    assert many["ms_per_item_stdev"] == pytest.approx(2 ** 0.5)
    assert many["items_per_second"] == pytest.approx(1000 / 3)
    assert (many["model"], many["table_bytes"], many["max_rows_cap"]) == ("dlrm", 65536, 524)
    assert suite_rows(path, "dlrm", None, 1)[0]["max_rows_cap"] == "none (full tables)"


def test_table_cap_is_the_largest_that_fits():
    # tables 1000, 400, 50 rows x 16 floats x 4 B = 64 B per row
    budget = 64 * (600 + 400 + 50)  # cap 600 fits exactly; 601 would not
    cap, footprint = table_cap("dlrm", "1000,400,50", dim=16, budget_bytes=budget)
    assert cap == 600 and footprint == budget
    assert table_cap("dlrm", "1000,400,50", dim=16, budget_bytes=10**9) == (None, 64 * 1450)
    with pytest.raises(ValueError, match="even one row"):
        table_cap("dlrm", "1000,400,50", dim=16, budget_bytes=100)


def test_config_validation():
    with pytest.raises(ValueError):
        BenchConfig(batch_sizes=(0,))
    with pytest.raises(ValueError):
        BenchConfig(processes=0)
    assert BenchConfig.quick().processes == 1


def test_bench_cli_quick_writes_table_plot_and_pyperf_json(tmp_path):
    out = tmp_path / "bench.json"
    plot = tmp_path / "latency.png"
    jdir = tmp_path / "pyperf"
    result = CliRunner().invoke(main, [
        "bench", "--model", "dlrm,memrec", "--batch-sizes", "1,64", "--workload", "2000,500", "--dim", "16",
        "--fast", "--budget", "64KB", "--param", "memrec.d=500", "--param", "memrec.d_weight=500", "--format", "json", "-o", str(out), "--plot", str(plot),
        "--json-dir", str(jdir)])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    rows = payload["rows"]
    assert {(r["model"], r["batch_size"]) for r in rows} == {(m, b) for m in ("dlrm", "memrec") for b in (1, 64)}
    assert all(r["ms_per_item"] > 0 for r in rows)
    dlrm = payload["metadata"]["models"]["dlrm"]
    # 64 KiB budget = 1024 rows of 64 B: the 500-row table stays whole, the other is capped at 524
    assert dlrm["max_rows_cap"] == 524 and dlrm["table_bytes"] == 65536
    assert payload["metadata"]["models"]["memrec"]["max_rows_cap"] is None
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    compare = subprocess.run([sys.executable, "-m", "pyperf", "compare_to", str(jdir / "dlrm.json"),
                              str(jdir / "memrec.json")], capture_output=True, text=True)
    assert compare.returncode == 0, compare.stderr
    # compare_to pairs the files' benchmarks by name: both batch sizes are named, whether it shows
    # them as a difference or lists them as not significant.
    assert "batch_size=1" in compare.stdout and "batch_size=64" in compare.stdout


def test_bench_bad_batch_sizes_exit_2():
    result = CliRunner().invoke(main, ["bench", "--batch-sizes", "1,x"])
    assert result.exit_code == 2
    assert "expected a comma list of integers" in result.output and "Traceback" not in result.output
