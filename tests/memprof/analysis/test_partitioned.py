"""Set-partitioned simulation of one configuration across workers: identical counts to the
single-process run (in this process and on a real 2-process Dask LocalCluster), sampling
errors carried through, and the simulate-partitioned command."""

import io
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import memprof.analysis.partitioned as partitioned
from memprof.run.longrun import Interrupted
from memprof.cli.partitioned import simulate_partitioned_command
from memprof.analysis.partitioned import FileSource, simulate_partitioned
from sim.config import CacheConfig
from traces.spec import TraceSpec
from sim.engine.simulator import Simulator
from traces.generator import zipf_row_trace
from sim.time_sampling import TimeSampler, TimeSampling
from traces.stream import model_trace
from traces.workloads import get_workload

distributed = pytest.importorskip("distributed")

SMALL = dict(workload="5000,300,70,20000", dim=16, batch_size=64, batches=6, seed=3, alpha=0.9)


@pytest.fixture(scope="module")
def trace_file(tmp_path_factory):
    trace = np.concatenate(list(zipf_row_trace(6_000, accesses=80_000, alpha=0.9, seed=7)))
    trace[np.random.default_rng(7).random(trace.size) < 0.25] |= np.uint64(1 << 63)
    path = tmp_path_factory.mktemp("part") / "t.npy"
    np.save(path, trace)
    return path, trace


def _single(chunks, config, **kwargs):
    sim = Simulator(config, **kwargs)
    for chunk in chunks:
        sim.feed(chunk)
    return sim.result()


def _counts(result):
    fields = ("accesses", "hits", "misses", "writes", "evictions", "writebacks", "back_invalidations",
              "prefetch_fills", "prefetch_hits", "useless_prefetches")
    return ([tuple(getattr(level, f) for f in fields) for level in result.levels],
            result.dram_read_bytes, result.dram_write_bytes, result.trace_accesses)


def test_file_partitions_on_a_local_cluster_equal_the_single_process_run(trace_file, cluster):
    path, trace = trace_file
    config = CacheConfig(96 * 8 * 64, 8, policy="srrip")  # 96 sets: not a power of two
    single = _single(np.array_split(trace, 5), config, warmup=10_000)
    merged = simulate_partitioned(FileSource(path, chunk_entries=7_000), config, 4,
                                  executor=cluster.get_executor(pure=False), warmup=10_000)
    assert _counts(merged) == _counts(single)
    assert merged.threads == 4 and single.llc.misses > 0


def test_model_source_is_regenerated_identically_by_each_worker(cluster):
    config = CacheConfig(64 * 16 * 64, 16)
    l1, l2 = CacheConfig(8 * 4 * 64, 4), CacheConfig(16 * 8 * 64, 8)
    reference = model_trace("dlrm", get_workload(SMALL["workload"], SMALL["dim"]), batch_size=64, batches=6,
                            seed=3, alpha=0.9)
    single = _single(reference, config, l1=l1, l2=l2)
    merged = simulate_partitioned(TraceSpec("dlrm", **SMALL), config, 2, executor=cluster.get_executor(pure=False),
                                  l1=l1, l2=l2)
    assert _counts(merged) == _counts(single)


def test_sampling_errors_survive_the_merge(trace_file):
    path, trace = trace_file
    config = CacheConfig(256 * 8 * 64, 8)
    single = _single([trace], config, sample_sets="1/4")
    merged = simulate_partitioned(FileSource(path), config, 2, sample_sets="1/4")
    assert _counts(merged) == _counts(single)
    assert merged.llc_misses_stderr == pytest.approx(single.llc_misses_stderr) and single.llc_misses_stderr > 0
    sampling = TimeSampling(window=4_000, period=10_000, warmup=2_000)
    whole = TimeSampler(Simulator(config), sampling)
    whole.feed(trace)
    expected = whole.result()
    got = simulate_partitioned(FileSource(path), config, 4, time_sampling=sampling)
    assert got.window_misses.tolist() == expected.window_misses.tolist()
    assert got.llc_misses == expected.llc_misses and got.llc_misses_stderr == pytest.approx(expected.llc_misses_stderr)
    row = partitioned.result_row(got, FileSource(path), 0)
    assert row["llc_misses_stderr"] > 0 and row["estimated"]


def test_partitions_that_cannot_split_the_configuration_are_refused(trace_file):
    with pytest.raises(ValueError, match="do not divide"):
        simulate_partitioned(FileSource(trace_file[0]), CacheConfig(96 * 8 * 64, 8), 5)
    with pytest.raises(ValueError, match="PSEL"):
        simulate_partitioned(FileSource(trace_file[0]), CacheConfig(96 * 8 * 64, 8, policy="drrip"), 2)


def test_cli_on_a_scheduler_gives_the_single_process_counts(trace_file, cluster):
    path, trace = trace_file
    result = CliRunner().invoke(simulate_partitioned_command, [
        "--trace", str(path), "--llc", "48KB", "--ways", "8", "--partitions", "4", "--format", "csv",
        "--scheduler", cluster.scheduler.address, "--warmup", "0.25"])  # 20,000 of 80,000 accesses
    assert result.exit_code == 0, result.output
    row = pd.read_csv(io.StringIO(result.stdout)).iloc[0]
    single = _single([trace], CacheConfig("48KB", 8), warmup=20_000)
    assert (row["llc_misses"], row["llc_hits"], row["writebacks"], row["accesses"]) == \
        (single.llc.misses, single.llc.hits, single.llc.writebacks, 60_000)  # 60,000 measured
    assert row["partitions"] == 4 and row["llc_misses_stderr"] == 0
    assert "4/4 partitions done" in result.stderr


def test_a_stop_raises_interrupted_without_a_result(trace_file):
    with pytest.raises(Interrupted) as info:
        simulate_partitioned(FileSource(trace_file[0]), CacheConfig("48KB", 8), 4,
                             should_stop=lambda done, total: done == 1)
    stop = info.value
    assert (stop.done, stop.total, stop.frame, stop.exit_code) == (1, 4, None, 130)
    assert "needs every partition" in stop.message


def test_cli_sigterm_writes_nothing_and_exits_143(tmp_path):
    path = tmp_path / "long.npy"  # long enough that partitions 2-4 are still running when the signal comes
    np.save(path, np.random.default_rng(1).integers(0, 50_000, 3_000_000).astype(np.uint64) * np.uint64(64))
    child = subprocess.Popen([sys.executable, "-c", "from memprof.cli.main import main; main()",
                              "simulate-partitioned", "--trace", str(path), "--llc", "48KB", "--ways", "8",
                              "--partitions", "4", "--format", "csv"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in child.stderr:
        seen.append(line)
        if "1/4 partitions done" in line:
            child.send_signal(signal.SIGTERM)
            break
    out, err = child.communicate(timeout=120)
    assert child.returncode == 143, "".join(seen) + err
    assert out == "" and "needs every partition" in err and "Traceback" not in err


@pytest.mark.parametrize("args,needle", [
    (["--llc", "48KB", "--ways", "8", "--partitions", "5"], "do not divide"),
    (["--llc", "48KB", "--ways", "8", "--partitions", "2", "--policy", "drrip"], "PSEL"),
    (["--partitions", "2", "--dask", "--scheduler", "tcp://x:1"], "give one"),
    (["--partitions", "2", "--time-sample", "5/4"], "must not exceed the period"),
    (["--partitions", "2", "--warmup", "1.5"], "fraction"),
    (["--llc", "48KB", "--ways", "8"], "--partitions"),
])
def test_cli_usage_errors(trace_file, args, needle):
    result = CliRunner().invoke(simulate_partitioned_command, ["--trace", str(trace_file[0]), *args])
    assert result.exit_code == 2, result.output
    assert needle in result.output and "Traceback" not in result.output


def test_cli_model_source_and_data_refusal(tmp_path):
    args = ["--workload", SMALL["workload"], "--dim", "16", "--batch-size", "64", "--batches", "6", "--seed", "3",
            "--alpha", "0.9", "--llc", "64KB", "--partitions", "2", "--format", "csv", "--no-progress"]
    result = CliRunner().invoke(simulate_partitioned_command, args)
    assert result.exit_code == 0, result.output
    row = pd.read_csv(io.StringIO(result.stdout)).iloc[0]
    single = _single(model_trace("dlrm", get_workload(SMALL["workload"], 16), batch_size=64, batches=6, seed=3,
                                 alpha=0.9), CacheConfig("64KB", 16))
    assert row["llc_misses"] == single.llc.misses and row["model"] == "dlrm"
    data = tmp_path / "d.tsv"
    data.write_text("0\t1\n")
    refused = CliRunner().invoke(simulate_partitioned_command, ["--data", str(data), "--partitions", "2"])
    assert refused.exit_code == 2 and "--trace" in refused.output
