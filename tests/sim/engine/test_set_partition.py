"""Set partitions (one configuration split over processes) and the set-sampling error."""

import math

import numpy as np
import pytest

from sim.config import CacheConfig
from sim.engine.simulator import Simulator
from sim.sampling import select_sets
from sim.stats import merge_partitions


def _run(config, trace, chunks=3, **kwargs):
    sim = Simulator(config, **kwargs)
    for part in np.array_split(trace, chunks):
        sim.feed(part)
    return sim.result()


@pytest.mark.parametrize("policy", ["lru", "fifo", "random", "srrip", "brrip"])
@pytest.mark.parametrize("count", [2, 4])
def test_merged_partitions_equal_the_serial_run(policy, count, zipf_trace, level_counts):
    config = CacheConfig(96 * 8 * 64, 8, policy=policy)  # 96 sets: not a power of two
    trace = zipf_trace(60_000, writes=0.2)
    serial = _run(config, trace, warmup=5_000)
    parts = [_run(config, trace, warmup=5_000, set_partition=(i, count)) for i in range(count)]
    assert all(p.llc.accesses < serial.llc.accesses for p in parts)  # each really did a share
    assert level_counts(merge_partitions(reversed(parts))) == level_counts(serial)


def test_partitions_with_prefetch_and_hierarchy_equal_the_serial_run(zipf_trace, level_counts):
    llc = CacheConfig(64 * 16 * 64, 16)
    trace = zipf_trace(60_000, writes=0.2)
    serial = _run(llc, trace, prefetch=True)
    merged = merge_partitions(_run(llc, trace, prefetch=True, set_partition=(i, 2)) for i in range(2))
    assert level_counts(merged) == level_counts(serial)
    l1, l2 = CacheConfig(16 * 4 * 64, 4), CacheConfig(32 * 8 * 64, 8)
    serial = _run(llc, trace, l1=l1, l2=l2, inclusive=True)
    merged = merge_partitions(_run(llc, trace, l1=l1, l2=l2, set_partition=(i, 4)) for i in range(4))
    assert level_counts(merged) == level_counts(serial)


def test_partitions_with_set_sampling_equal_the_sampled_serial_run(zipf_trace, level_counts):
    config = CacheConfig(256 * 8 * 64, 8)
    trace = zipf_trace(60_000)
    serial = _run(config, trace, sample_sets="1/4")
    merged = merge_partitions(_run(config, trace, sample_sets="1/4", set_partition=(i, 2)) for i in range(2))
    assert level_counts(merged) == level_counts(serial)
    assert (merged.sampled_sets, merged.total_sets) == (serial.sampled_sets, serial.total_sets)
    assert merged.llc_misses_stderr == pytest.approx(serial.llc_misses_stderr)


def test_partition_errors(zipf_trace):
    config = CacheConfig(96 * 8 * 64, 8)
    with pytest.raises(ValueError, match="do not divide"):
        Simulator(config, set_partition=(0, 5))
    with pytest.raises(ValueError, match="index < count"):
        Simulator(config, set_partition=(2, 2))
    with pytest.raises(ValueError, match="threads=1"):
        Simulator(config, set_partition=(0, 2), threads=2)
    with pytest.raises(ValueError, match="PSEL"):
        Simulator(CacheConfig(96 * 8 * 64, 8, policy="drrip"), set_partition=(0, 2))
    trace = zipf_trace(2_000, writes=0.2)
    parts = [_run(config, trace, set_partition=(i, 3)) for i in range(3)]
    with pytest.raises(ValueError, match="once each"):
        merge_partitions(parts[:2])
    other = _run(config, trace[:1000], set_partition=(2, 3))
    with pytest.raises(ValueError, match="different traces"):
        merge_partitions([parts[0], parts[1], other])


def test_sampling_stderr_matches_the_per_set_spread():
    """Set s receives s % 7 + 1 distinct lines once each: only compulsory misses, so each
    sampled set's miss count is known and the standard error follows by hand."""
    sets, ways = 512, 8
    config = CacheConfig(sets * ways * 64, ways, seed=3)
    lines = [s + sets * j for s in range(sets) for j in range(s % 7 + 1)]
    result = _run(config, np.array(lines, dtype=np.uint64) * np.uint64(64), chunks=1, sample_sets="1/8")
    mask = select_sets(sets, 1 / 8, seed=3)
    per_set = np.array([s % 7 + 1 for s in range(sets)])[mask]
    n = per_set.size
    assert result.llc.misses == per_set.sum()
    expected = sets * math.sqrt((1 - n / sets) * per_set.var(ddof=1) / n)
    assert result.llc_misses_stderr == pytest.approx(expected, rel=1e-9)
    assert result.to_record()["llc_misses_stderr"] == pytest.approx(expected, rel=1e-9)


def test_sampling_stderr_covers_the_exact_count(zipf_trace):
    """Across seeds, the exact miss count lies within 3 standard errors of the estimate
    in nearly every run (a normal estimate would miss 0.3% of the time)."""
    config = CacheConfig(1024 * 8 * 64, 8)
    trace = zipf_trace(200_000, 60_000)
    exact = _run(config, trace).llc.misses
    inside = 0
    for seed in range(20):
        result = _run(CacheConfig(1024 * 8 * 64, 8, seed=seed), trace, sample_sets="1/16")
        estimate = result.llc.misses * result.scale
        assert result.llc_misses_stderr > 0
        inside += abs(estimate - exact) <= 3 * result.llc_misses_stderr
    assert inside >= 18
    assert _run(config, trace).llc_misses_stderr == 0.0
