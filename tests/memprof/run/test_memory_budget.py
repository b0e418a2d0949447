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
