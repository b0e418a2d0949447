"""--max-memory: the cache-state estimate equals the arrays of constructed Simulators, the
chunk size shrinks to fit a budget, the mrc and batch estimates bound what is really
allocated, and an impossible budget is refused up front with one line (exit 2)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from memprof.cli.main import main
from memprof.analysis.mrc import estimate_mrc_memory
from memprof.analysis.experiment import CacheSetup, batch_lookups_estimate, estimate_memory
from memprof.run.memory_budget import (BASELINE_BYTES, MemoryBudgetError, fit, human_bytes, plan_trace_simulation,
                                   simulator_state_bytes, stack_distance_bytes)
from sim.config import CacheConfig
from sim.engine.simulator import Simulator
from sim.mrc.stack import StackDistances
from sim.mrc.shards import ShardsSize
from traces.stream import model_trace
from traces.workloads import get_workload

MIB = 1 << 20


def _array_bytes(sim) -> int:
    return sum(v.nbytes for v in vars(sim).values() if isinstance(v, np.ndarray))


@pytest.mark.parametrize("kwargs", [
    dict(config=CacheConfig("56MB", 16)),  # 57,344 sets: 32-bit tags
    dict(config=CacheConfig("64KB", 8)),  # 128 sets: 64-bit tags
    dict(config=CacheConfig("14MB", 16, policy="drrip", seed=3)),
    dict(config=CacheConfig("2MB", 16, policy="random"), sample_sets="1/8"),
    dict(config=CacheConfig("1MB", 16), l1=CacheConfig("32KB", 8), l2=CacheConfig("256KB", 16)),
    dict(config=CacheConfig("3MB", 12, policy="srrip"), l2=CacheConfig("512KB", 8), tag_bits=64),
], ids=["56MB", "64KB", "drrip", "sampled", "hierarchy", "srrip-12way-tag64"])
def test_state_estimate_equals_the_arrays_of_a_constructed_simulator(kwargs):
    sim = Simulator(**kwargs)
    assert simulator_state_bytes(**kwargs) == _array_bytes(sim)


def test_56mb_state_from_first_principles():
    # 57,344 sets x 16 ways x (4 B tag + 4 B policy word + 1 B flags) + 57,344 x 8 B set state
    ways_bytes = 57_344 * 16 * (4 + 4 + 1) + 57_344 * 8
    assert 0 <= simulator_state_bytes(CacheConfig("56MB", 16)) - ways_bytes < 1024


def test_chunk_size_shrinks_to_fit_the_budget():
    state = simulator_state_bytes(CacheConfig("56MB", 16))
    per_entry = 3 * 8  # three uint64 chunk buffers
    budget = BASELINE_BYTES + state + per_entry * (1 << 16) + 100  # room for 65,536 entries, not 131,072
    estimate = plan_trace_simulation([CacheConfig("56MB", 16)], budget_bytes=budget)
    assert estimate.chunk_entries == 1 << 16
    assert estimate.total_bytes <= budget
    assert plan_trace_simulation([CacheConfig("56MB", 16)]).chunk_entries == 1 << 20  # no budget: the default


def test_an_impossible_budget_names_the_estimate_and_its_parts():
    with pytest.raises(MemoryBudgetError) as info:
        plan_trace_simulation([CacheConfig("1GB", 16), CacheConfig("2GB", 16)], budget_bytes=512 * MIB)
    text = str(info.value)
    state = simulator_state_bytes(CacheConfig("1GB", 16)) + simulator_state_bytes(CacheConfig("2GB", 16))
    for needle in ("estimated peak memory", f"cache state {human_bytes(state)}", "trace chunk buffers",
                   "interpreter+numba baseline", "exceeds --max-memory 512 MiB"):
        assert needle in text
    with pytest.raises(MemoryBudgetError):
        fit([("x", 10)], 0, BASELINE_BYTES, preferred_entries=1)


def test_cli_refuses_up_front_with_exit_2(tmp_path):
    trace = tmp_path / "t.npy"
    np.save(trace, np.arange(100, dtype=np.uint64) * np.uint64(64))
    result = CliRunner().invoke(main, ["simulate", "--trace", str(trace), "--llc", "8GB", "--max-memory", "1GB"])
    assert result.exit_code == 2
    assert "estimated peak memory" in result.output and "cache state" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(main, ["simulate", "--trace", str(trace), "--max-memory", "lots"])
    assert result.exit_code == 2 and "--max-memory" in result.output
    result = CliRunner().invoke(main, ["mrc", "--model", "dlrm", "--batches", "400", "--max-memory", "300MB"])
    assert result.exit_code == 2 and "accumulator state" in result.output and "--shards" in result.output
    result = CliRunner().invoke(main, ["simulate", "--llc", "8GB", "--max-memory", "1GB", "--no-progress"])
    assert result.exit_code == 2 and "one batch" in result.output


def test_cli_run_within_the_budget_reports_the_estimate(tmp_path):
    trace = tmp_path / "t.npy"
    np.save(trace, np.arange(5000, dtype=np.uint64) * np.uint64(64))
    result = CliRunner().invoke(main, ["simulate", "--trace", str(trace), "--llc", "64KB", "--max-memory", "2GB",
                                       "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "memory estimate" in result.stderr and "chunk 1,048,576 accesses" in result.stderr


def test_exact_mrc_estimate_bounds_the_accumulator():
    rng = np.random.default_rng(2)
    for lines, sets in ((2_000, 1), (50_000, 1), (30_000, 64)):
        acc = StackDistances(sets=sets)
        addrs = np.concatenate([np.arange(lines), rng.integers(0, lines, 3 * lines)]).astype(np.uint64) * 64
        peak = 0
        for part in np.array_split(addrs, 8):
            acc.update(part)
            peak = max(peak, acc.memory_bytes)
        assert peak <= stack_distance_bytes(lines, sets), (lines, sets)
    estimate = estimate_mrc_memory("shards-size", {"t": (10**9, None)}, max_lines=4096)
    assert dict(estimate.parts)["accumulator state"] >= ShardsSize(4096).memory_bytes


def test_analysis_estimate_covers_a_batch_and_the_simulators():
    workload = get_workload("5000,300,70,20000", dim=16)
    traces = [model_trace(m, workload, batch_size=256, batches=3, seed=1, pooling="poisson:3")
              for m in ("dlrm", "memrec")]
    setup = CacheSetup((64 * 1024, 256 * 1024), ways=8, private_levels=False)
    parts = dict(estimate_memory(traces, setup).parts)
    sims = [Simulator(c) for c in setup.llc_configs()]
    assert parts["cache state"] == sum(_array_bytes(s) for s in sims)
    for trace in traces:
        for batch in trace.batches():  # every batch's lookups stay under the estimate
            assert batch.num_lookups <= batch_lookups_estimate(trace)
            assert trace.representation.emit(batch).nbytes < parts["one batch (token ids and addresses)"]


def test_threaded_runs_add_no_per_access_memory():
    from memprof.run.memory_budget import plan_trace_simulation
    from sim.config import CacheConfig

    configs = [CacheConfig("1MB", 16)]
    one = plan_trace_simulation(configs, threads=1, preferred_entries=1 << 16)
    two = plan_trace_simulation(configs, threads=2, preferred_entries=1 << 16)
    # each thread streams the chunk through a fixed L1-sized buffer (no per-access scratch):
    # only the per-partition counters grow, and a simulator with 2 threads holds just that
    extra = two.total_bytes - one.total_bytes
    assert 0 < extra < 4096
    assert extra == _array_bytes(Simulator(configs[0], threads=2)) - _array_bytes(Simulator(configs[0]))


# -- issue 15: a default budget, and an exact-MRC estimate sized by distinct lines ----------

def test_available_memory_reads_memavailable_and_falls_back_to_sysconf(tmp_path):
    from memprof.run.memory_budget import available_memory_bytes

    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16000000 kB\nMemFree:  1000 kB\nMemAvailable:    8000000 kB\n")
    assert available_memory_bytes(str(meminfo)) == 8_000_000 * 1024
    assert available_memory_bytes(str(tmp_path / "missing")) > 0  # os.sysconf's free pages
    import os

    from memprof.run.memory_budget import resident_bytes

    statm = tmp_path / "statm"
    statm.write_text("5000 1200 300 1 0 900 0\n")  # size, resident, shared, ... in pages
    assert resident_bytes(str(statm)) == 1200 * os.sysconf("SC_PAGE_SIZE")
    assert resident_bytes(str(tmp_path / "missing")) == 0


def test_the_default_budget_is_named_in_the_refusal():
    from memprof.run.memory_budget import Budget

    with pytest.raises(MemoryBudgetError) as info:
        plan_trace_simulation([CacheConfig("1GB", 16)], budget_bytes=Budget(300 * MIB, given=False))
    assert "exceeds the available memory 300 MiB (set a budget with --max-memory SIZE)" in str(info.value)
    with pytest.raises(ValueError, match="at least 1 byte"):
        Budget(0)


def test_without_max_memory_an_impossible_run_is_refused_before_allocating(tmp_path):
    trace = tmp_path / "t.npy"
    np.save(trace, np.arange(100, dtype=np.uint64) * np.uint64(64))
    for args in (["simulate", "--trace", str(trace), "--llc", "1TB"], ["simulate", "--llc", "1TB", "--no-progress"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        message = result.output.strip().splitlines()[-1]
        assert "exceeds the available memory" in message and "--max-memory" in message
        assert "Traceback" not in result.output and "MemoryError" not in result.output


@pytest.mark.parametrize("lines, sets", [(6_194, 1), (24_586, 1), (200_000, 1), (24_586, 64), (200_000, 64)])
def test_traced_peak_of_an_exact_pass_stays_under_its_estimate(lines, sets):
    # 3/4 * 2**k / 8 + a few lines: the hash table has just doubled (old and new arrays alive)
    import tracemalloc

    rng = np.random.default_rng(4)
    addrs = np.concatenate([np.arange(lines), rng.integers(0, lines, 3 * lines)]).astype(np.uint64) * 64
    parts = np.array_split(addrs, 16)
    StackDistances(sets=sets).update(addrs[:10])  # compile outside the traced region
    tracemalloc.start()
    try:
        acc = StackDistances(sets=sets)
        for part in parts:
            acc.update(part)
        curve = acc.curve()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert curve.accesses == addrs.size
    scratch = 4 * parts[0].size  # int32 distances of a chunk (STACK_SCRATCH_PER_ENTRY, counted apart)
    assert peak - scratch <= stack_distance_bytes(lines, sets)
    assert stack_distance_bytes(lines, sets) <= 2 * (peak - scratch)  # and not wildly above it


def test_mrc_estimate_of_a_trace_uses_a_sampled_distinct_bound(tmp_path, monkeypatch):
    # a model of 2**36 bytes and 600,000 accesses over 100,000 distinct lines: neither the
    # accesses nor the footprint is a useful bound, the sampling pass is (taken here above
    # 10,000 lines instead of 2**20, to keep the test small)
    from memprof.analysis import mrc
    from memprof.analysis.mrc import _file_bound

    monkeypatch.setattr(mrc, "SAMPLE_ABOVE_LINES", 10_000)
    from traces.format.tracefile import write_trace

    rng = np.random.default_rng(8)
    lines = rng.choice(1 << 30, 100_000, replace=False)
    trace = np.concatenate([lines, rng.choice(lines, 500_000)]).astype(np.uint64) * np.uint64(64)
    path = tmp_path / "t.trace"
    write_trace(path, [trace], {"line_bytes": 64, "model_bytes": 1 << 36, "regions": []})
    accesses, bound = _file_bound(path, None, 64)
    assert accesses == 600_000 and 100_000 <= bound <= 130_000
    estimate = estimate_mrc_memory("exact", {"t": (accesses, bound)})
    acc = StackDistances()
    acc.update(trace)
    state = dict(estimate.parts)["accumulator state"]
    assert acc.memory_bytes <= state <= 3 * acc.memory_bytes


def test_mrc_cli_fits_a_budget_the_accesses_bound_would_refuse(tmp_path, monkeypatch):
    # the README case in small: 200,000 accesses over 20,000 distinct lines of a 64 GiB model;
    # a bound of one line per access (~27 MiB of curve state) does not fit 256 MiB, the sampled one does
    from memprof.analysis import mrc
    from traces.format.tracefile import write_trace

    monkeypatch.setattr(mrc, "SAMPLE_ABOVE_LINES", 1_000)
    rng = np.random.default_rng(9)
    lines = rng.choice(1 << 30, 20_000, replace=False)
    trace = np.concatenate([lines, rng.choice(lines, 180_000)]).astype(np.uint64) * np.uint64(64)
    path = tmp_path / "big.trace"
    write_trace(path, [trace], {"line_bytes": 64, "model_bytes": 1 << 36, "regions": []})
    per_access = estimate_mrc_memory("exact", {"t": (trace.size, None)})
    assert per_access.total_bytes - dict(per_access.parts)["trace chunk buffers"] > 256 * MIB
    result = CliRunner().invoke(main, ["mrc", "--trace", str(path), "--exact", "--max-memory", "256MiB",
                                       "--no-progress", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "memory estimate" in result.stderr and "accumulator state" in result.stderr
    import io
    import pandas as pd

    assert (pd.read_csv(io.StringIO(result.stdout))["footprint_bytes"] == 20_000 * 64).all()
