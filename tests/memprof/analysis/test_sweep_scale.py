"""Sweeps and reproduce through executors (serial, local processes, a real 2-process Dask
LocalCluster), trace-file sweeps, checkpoint/resume and stopped sweeps' partial output
(stops injected through ``run_sweep(should_stop=...)``)."""

import io
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from memprof.cli.main import main
from memprof.analysis.experiment import CacheSetup
from memprof.analysis.sweep import make_jobs, make_trace_jobs, parse_axis, run_sweep
from memprof.run.checkpoint_store import CheckpointStore
from memprof.run.longrun import Interrupted
from sim.config import CacheConfig
from sim.engine.simulator import Simulator
from traces.spec import TraceSpec
from traces.generator import zipf_row_trace

distributed = pytest.importorskip("distributed")

SMALL = ["--workload", "5000,300,70,20000", "--dim", "16", "--batch-size", "32", "--batches", "4", "--no-progress"]


@pytest.fixture(scope="module")
def trace_file(tmp_path_factory):
    trace = np.concatenate(list(zipf_row_trace(4_000, accesses=60_000, alpha=0.9, seed=5)))
    trace[np.random.default_rng(5).random(trace.size) < 0.2] |= np.uint64(1 << 63)
    path = tmp_path_factory.mktemp("trace") / "small.npy"
    np.save(path, trace)
    return path, trace


def _run(args):
    result = CliRunner().invoke(main, args)
    return result


def _csv(result):
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.stdout))


TRACE_AXES = ["--llc", "32KB,64KB", "--param", "ways=4,8", "--param", "policy=lru,fifo", "--no-progress"]


def test_trace_sweep_rows_match_independent_simulations(trace_file):
    path, trace = trace_file
    frame = _csv(_run(["sweep", "--trace", str(path), *TRACE_AXES, "--format", "csv"]))
    expected_order = [(w, p, s) for w in (4, 8) for p in ("lru", "fifo") for s in (32768, 65536)]
    assert list(zip(frame["ways"], frame["policy"], frame["llc_bytes"])) == expected_order
    for (ways, policy, size), (_, row) in zip(expected_order, frame.iterrows()):
        sim = Simulator(CacheConfig(size, ways, 64, policy))
        for start in range(0, trace.size, 10_000):
            sim.feed(trace[start:start + 10_000])
        exact = sim.result()
        assert (row["llc_misses"], row["llc_hits"], row["dram_read_bytes"], row["dram_write_bytes"]) == \
            (exact.llc.misses, exact.llc.hits, exact.dram_read_bytes, exact.dram_write_bytes)
        assert row["accesses"] == trace.size and row["llc_misses_stderr"] == 0 and not row["estimated"]


def test_trace_sweep_is_the_same_on_processes_and_on_dask(trace_file, cluster):
    path, _ = trace_file
    args = ["sweep", "--trace", str(path), *TRACE_AXES, "--param", "sample_sets=1/4,1", "--format", "csv"]
    serial = _run(args + ["--threads", "1"])  # the rows' threads column says how each was run
    assert serial.exit_code == 0, serial.output
    frame = pd.read_csv(io.StringIO(serial.stdout))
    sampled = frame[frame["sample_sets"] == "1/4"]
    assert len(frame) == 16 and (sampled["llc_misses_stderr"] > 0).all() and sampled["estimated"].all()
    assert (frame.loc[frame["sample_sets"] == "1", "llc_misses_stderr"] == 0).all()
    for extra in (["--jobs", "2"], ["--scheduler", cluster.scheduler.address]):
        parallel = _run(args + extra)
        assert parallel.exit_code == 0, parallel.output
        assert parallel.stdout == serial.stdout


def test_time_sampled_trace_sweep(trace_file):
    path, _ = trace_file
    exact = _csv(_run(["sweep", "--trace", str(path), "--llc", "32KB", "--no-progress", "--format", "csv"]))
    whole = _csv(_run(["sweep", "--trace", str(path), "--llc", "32KB", "--no-progress", "--format", "csv",
                       "--time-sample", "5000/5000"]))
    assert whole["llc_misses"].iloc[0] == exact["llc_misses"].iloc[0]
    assert whole["llc_misses_stderr"].iloc[0] == 0
    sampled = _csv(_run(["sweep", "--trace", str(path), "--llc", "32KB", "--no-progress", "--format", "csv",
                         "--time-sample", "1k/4k", "--window-warmup", "1k"]))
    row = sampled.iloc[0]
    assert row["time_windows"] == 15 and row["measured_accesses"] == 15_000 and row["estimated"]
    assert 0 < row["llc_misses_stderr"] and abs(row["llc_misses"] - exact["llc_misses"].iloc[0]) <= \
        3 * row["llc_misses_stderr"]


def test_workload_sweep_and_reproduce_on_dask_equal_the_serial_runs(cluster, tmp_path):
    args = ["sweep", "--param", "alpha=0.5,1.2", "--llc", "64KB,128KB", "--no-private-levels", "--format", "csv",
            *SMALL]
    serial = _run(args + ["--threads", "1"])
    assert serial.exit_code == 0, serial.output
    parallel = _run(args + ["--scheduler", cluster.scheduler.address])
    assert parallel.exit_code == 0, parallel.output
    assert parallel.stdout == serial.stdout and len(pd.read_csv(io.StringIO(serial.stdout))) == 8

    common = ["reproduce", "--param", "memrec.d=64", "--param", "memrec.d_weight=64", "--llc", "64KB,1MB", *SMALL]
    one = _run(common + ["-o", str(tmp_path / "serial"), "--threads", "1"])
    two = _run(common + ["-o", str(tmp_path / "dask"), "--scheduler", cluster.scheduler.address])
    assert one.exit_code == 0 and two.exit_code == 0, one.output + two.output
    for name in ("results.csv", "comparison.csv"):
        assert (tmp_path / "serial" / name).read_text() == (tmp_path / "dask" / name).read_text()
    rows = pd.read_csv(tmp_path / "dask" / "results.csv")
    assert list(zip(rows["model"], rows["llc_bytes"])) == [("dlrm", 65536), ("dlrm", 1 << 20),
                                                           ("memrec", 65536), ("memrec", 1 << 20)]


def test_stopped_sweep_keeps_finished_rows_and_the_cli_resumes_only_the_rest(trace_file, tmp_path):
    path, _ = trace_file
    args = ["sweep", "--trace", str(path), *TRACE_AXES, "--format", "csv"]
    full = _run(args)
    assert full.exit_code == 0, full.output
    axes = [a for item in ("ways=4,8", "policy=lru,fifo") for a in parse_axis(item, [])]
    jobs = make_trace_jobs(str(path), axes, [32 << 10, 64 << 10], inclusive=False)  # the sweep the CLI builds
    with pytest.raises(Interrupted) as info:
        run_sweep(jobs, checkpoint=CheckpointStore(tmp_path / "ck"), should_stop=lambda done, total: done == 3)
    stop = info.value
    assert (stop.done, stop.total, stop.exit_code) == (3, 8, 130) and len(stop.frame) == 3
    expected = pd.read_csv(io.StringIO(full.stdout))
    assert stop.frame["llc_misses"].tolist() == expected["llc_misses"].iloc[:3].tolist()
    saved = {p: p.stat().st_mtime_ns for p in (tmp_path / "ck").glob("job-*.json")}
    assert len(saved) == 3

    refused = _run(args + ["--checkpoint", str(tmp_path / "ck")])
    assert refused.exit_code == 2 and "--resume" in refused.output
    resumed = _run(args + ["--checkpoint", str(tmp_path / "ck"), "--resume"])
    assert resumed.exit_code == 0, resumed.output
    pd.testing.assert_frame_equal(_csv(resumed).drop(columns="threads"),  # threads: how a row was run, not its counts
                                  expected.drop(columns="threads"))
    assert len(list((tmp_path / "ck").glob("job-*.json"))) == 8
    assert {p: p.stat().st_mtime_ns for p in saved} == saved  # the 3 finished configurations were not rerun


def test_interrupted_workload_sweep_on_dask_resumes_to_the_serial_frame(cluster, tmp_path):
    models = ["dlrm", "memrec"]
    axes = parse_axis("alpha=0.5,0.8,1.2", models)
    traces = [TraceSpec(m, "5000,300,70,20000", dim=16, batch_size=32, batches=4, alpha=1.05, seed=0)
              for m in models]
    setup = CacheSetup((64 * 1024,), private_levels=False, threads=1)
    jobs = make_jobs(axes, traces, setup, "icx", {})
    serial, _ = run_sweep(jobs)

    store = CheckpointStore(tmp_path / "ck")
    with pytest.raises(Interrupted) as info:
        run_sweep(jobs, executor=cluster.get_executor(pure=False), checkpoint=store,
                  should_stop=lambda done, total: done == 2)
    assert (info.value.done, info.value.total) == (2, 3) and len(info.value.frame) == 2 * 2
    assert len(list((tmp_path / "ck").glob("job-*.json"))) == 2
    finished = {a for a in info.value.frame["alpha"]}
    assert list(info.value.frame["alpha"]) == [a for a in (0.5, 0.8, 1.2) if a in finished for _ in range(2)]
    resumed, metas = run_sweep(jobs, executor=cluster.get_executor(pure=False),
                               checkpoint=CheckpointStore(tmp_path / "ck", resume=True))
    pd.testing.assert_frame_equal(resumed, serial)
    assert len(metas) == 3 and json.dumps(metas, default=str)


@pytest.mark.parametrize("args,needle", [
    (["--param", "alpha=1", "--resume"], "--resume needs --checkpoint"),
    (["--param", "alpha=1", "--time-sample", "1/2"], "--time-sample applies to --trace"),
    ([], "at least one --param"),
    (["--trace", "/no/such/file.npy"], "no such file"),
    (["--param", "alpha=1", "--dask", "--scheduler", "tcp://x:1"], "give one"),
])
def test_sweep_usage_errors(args, needle):
    result = _run(["sweep", *args, "--no-progress"])
    assert result.exit_code == 2, result.output
    assert needle in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("args,needle", [
    (["--param", "alpha=0.5,1"], "varies the cache only"),
    (["--model", "robe"], "--model describes a workload sweep"),
    (["--plot", "x.png"], "--plot"),
    (["--time-sample", "1/x"], "time-sampling period"),
    (["--llc", "100000", "--ways", "16"], "multiple of ways"),
])
def test_trace_sweep_usage_errors(trace_file, args, needle):
    result = _run(["sweep", "--trace", str(trace_file[0]), *args, "--no-progress"])
    assert result.exit_code == 2, result.output
    assert needle in result.output and "Traceback" not in result.output
