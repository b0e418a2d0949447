"""memprof bench: pyperf-driven timing (quick mode), the memory cap, and the JSON compare_to reads."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

pytest.importorskip("traces.representations")

from memprof.hw.bench import BenchConfig, table_cap
from memprof.cli.main import main


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
    for r in rows:
        assert r["ms_per_item"] > 0
        assert r["items_per_second"] == pytest.approx(1000.0 / r["ms_per_item"])
    dlrm = payload["metadata"]["models"]["dlrm"]
    # 64 KiB budget = 1024 rows of 64 B: the 500-row table stays whole, the other is capped at 524
    assert dlrm["max_rows_cap"] == 524 and dlrm["table_bytes"] == 65536
    assert payload["metadata"]["models"]["memrec"]["max_rows_cap"] is None
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    compare = subprocess.run([sys.executable, "-m", "pyperf", "compare_to", str(jdir / "dlrm.json"),
                              str(jdir / "memrec.json")], capture_output=True, text=True)
    assert compare.returncode == 0, compare.stderr
    assert "batch_size=1" in compare.stdout or "not significant" in compare.stdout


def test_bench_bad_batch_sizes_exit_2():
    result = CliRunner().invoke(main, ["bench", "--batch-sizes", "1,x"])
    assert result.exit_code == 2
    assert "expected a comma list of integers" in result.output and "Traceback" not in result.output
