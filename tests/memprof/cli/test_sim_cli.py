"""memprof simulate / memprof policies through click's runner."""

import io
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from memprof.cli.main import main
from sim.config import CacheConfig
from sim.engine.simulator import simulate


@pytest.fixture()
def npy_trace(tmp_path):
    rng = np.random.default_rng(0)
    addrs = rng.integers(0, 4000, 20000).astype(np.uint64) * np.uint64(64)
    path = tmp_path / "t.npy"
    np.save(path, addrs)
    return path, addrs


def test_simulate_one_row_per_llc_size(npy_trace):
    path, addrs = npy_trace
    res = CliRunner().invoke(main, ["simulate", "--trace", str(path), "--llc", "64KB,128KB", "--llc", "256KB",
                                    "--ways", "16", "--format", "csv"])
    assert res.exit_code == 0, res.output
    frame = pd.read_csv(io.StringIO(res.stdout))
    assert frame["llc_bytes"].tolist() == [65536, 131072, 262144]
    for row in frame.itertuples():
        expected = simulate(addrs, CacheConfig(int(row.llc_bytes), 16))
        assert (row.llc_hits, row.llc_misses, row.accesses) == (expected.llc.hits, expected.llc.misses, 20000)
    for column in ("ways", "line_bytes", "policy", "llc_miss_ratio", "evictions", "writebacks",
                   "dram_read_bytes", "dram_write_bytes"):
        assert column in frame.columns


def test_simulate_hierarchy_json_to_file(npy_trace, tmp_path):
    path, _ = npy_trace
    out = tmp_path / "out.json"
    res = CliRunner().invoke(main, ["simulate", "--trace", str(path), "--llc", "256KB", "--l1", "4KB", "--l1-ways",
                                    "4", "--l2", "32KB", "--warmup", "0.1", "--prefetch", "--format", "json",
                                    "-o", str(out)])
    assert res.exit_code == 0, res.output
    payload = json.loads(out.read_text())
    assert payload["schema"] == "memprof.simulate-trace/1"
    row = payload["rows"][0]
    assert row["accesses"] == 18000 and row["warmup_accesses"] == 2000
    assert row["l1_accesses"] == 18000 and row["l1_misses"] == row["l2_accesses"]
    assert "prefetch_hits" in row


def test_simulate_errors_are_one_line(tmp_path, npy_trace):
    path, _ = npy_trace
    runner = CliRunner()
    res = runner.invoke(main, ["simulate", "--trace", str(tmp_path / "missing.npy")])
    assert res.exit_code == 2 and "--trace" in res.output and "no such file" in res.output
    res = runner.invoke(main, ["simulate", "--workload", "100,10", "--warmup", "5000", "--no-progress"])
    assert res.exit_code == 2 and "fraction of the batches" in res.output
    res = runner.invoke(main, ["simulate", "--trace", str(path), "--llc", "1000B"])
    assert res.exit_code == 2 and "multiple of ways" in res.output
    res = runner.invoke(main, ["simulate", "--trace", str(path), "--warmup", "abc"])
    assert res.exit_code == 2 and "--warmup" in res.output
    bad = tmp_path / "bad.din"
    bad.write_text("0 1000\n7 zz\n")
    res = runner.invoke(main, ["simulate", "--trace", str(bad)])
    assert res.exit_code == 2 and "Traceback" not in res.output and "bad.din" in res.output


def test_policies_lists_the_registry():
    res = CliRunner().invoke(main, ["policies", "--format", "json"])
    assert res.exit_code == 0
    payload = json.loads(res.stdout)
    assert payload["schema"] == "memprof.policies/1"
    names = [row["policy"] for row in payload["rows"]]
    assert names == ["lru", "fifo", "random", "plru", "srrip", "brrip", "drrip"]


def test_simulate_reads_memprof_trace_and_din(tmp_path, npy_trace):
    tracefile = pytest.importorskip("traces.format.tracefile")
    _, addrs = npy_trace
    mp = tmp_path / "t.trace"
    tracefile.write_trace(mp, [addrs[:7000], addrs[7000:]])
    din = tmp_path / "t.din"
    din.write_text("".join(f"0 {int(a):x}\n" for a in addrs))
    expected = simulate(addrs, CacheConfig("64KB", 16))
    for path in (mp, din):
        res = CliRunner().invoke(main, ["simulate", "--trace", str(path), "--llc", "64KB", "--format", "json"])
        assert res.exit_code == 0, res.output
        row = json.loads(res.stdout)["rows"][0]
        assert (row["llc_hits"], row["llc_misses"]) == (expected.llc.hits, expected.llc.misses)
