"""Exact one-pass LRU miss-ratio curves (sim.mrc.stack) against independent LRU simulations.

Oracles: analytic sequences, a tiny OrderedDict LRU written here (one per set), the
project's simulator (sim.engine.simulator.simulate, policy lru) and pycachesim.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.access import mark_writes
from sim.mrc.stack import StackDistances, exact_mrc, region_footprint

LINE = 64


def lru_misses(lines, sets: int, ways: int) -> int:
    """Misses of an LRU cache with ``sets`` sets (set = line mod sets) of ``ways`` lines."""
    stacks = [OrderedDict() for _ in range(sets)]
    misses = 0
    for line in lines:
        stack = stacks[line % sets]
        if line in stack:
            stack.move_to_end(line)
        else:
            misses += 1
            stack[line] = None
            if len(stack) > ways:
                stack.popitem(last=False)
    return misses


def zipf_lines(n: int, universe: int, alpha: float, seed: int) -> np.ndarray:
    """Seeded Zipf-popular line indices scattered over ``universe`` lines."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, universe + 1) ** alpha
    ranks = rng.choice(universe, size=n, p=weights / weights.sum())
    return rng.permutation(universe)[ranks].astype(np.uint64)


def curve_of(lines: np.ndarray, sets: int = 1, chunk: int | None = None):
    addrs = lines.astype(np.uint64) * np.uint64(LINE)
    chunks = [addrs] if chunk is None else [addrs[i:i + chunk] for i in range(0, addrs.size, chunk)]
    return exact_mrc(chunks, line_bytes=LINE, sets=sets)


def test_cyclic_sweep_misses_everything_below_its_length():
    # K lines cycled R times: LRU with fewer than K lines misses on every access; with K or
    # more only the K first touches miss (first principles, Mattson 1970).
    k, rounds = 50, 20
    lines = np.tile(np.arange(k, dtype=np.uint64), rounds)
    curve = curve_of(lines)
    sizes = np.arange(1, 2 * k) * LINE
    expected = np.where(np.arange(1, 2 * k) < k, k * rounds, k)
    assert np.array_equal(curve.misses(sizes), expected)
    assert curve.footprint_lines == k
    assert curve.compulsory_misses == k
    # 2x and 1.1x the compulsory ratio are first reached at K lines
    assert curve.size_reaching(2.0) == k * LINE
    assert curve.size_reaching(1.1) == k * LINE


def test_repeated_line_hits_in_one_line_cache():
    curve = curve_of(np.full(1000, 7, np.uint64))
    assert curve.misses([LINE])[0] == 1
    assert curve.miss_ratio([LINE])[0] == pytest.approx(1 / 1000)


@settings(max_examples=40, deadline=None)
@given(
    lines=st.lists(st.integers(0, 60), min_size=1, max_size=400),
    sets=st.sampled_from([1, 2, 3, 5, 7, 8]),
)
def test_every_capacity_matches_ordereddict_lru(lines, sets):
    arr = np.array(lines, dtype=np.uint64)
    curve = curve_of(arr, sets=sets)
    max_ways = len(set(lines)) + 1
    ways = np.arange(1, max_ways + 1)
    got = curve.misses(ways * sets * LINE)
    expected = [lru_misses(lines, sets, w) for w in ways]
    assert got.tolist() == expected


@pytest.mark.parametrize("sets,ways_list", [(1, [1, 64, 500, 2000, 4000, 6000]), (12, [1, 3, 11, 16, 64, 400]),
                                            (1000, [1, 2, 4, 7, 9])])
def test_large_trace_with_table_growth_and_compaction(sets, ways_list):
    # 120k Zipf accesses over 6000 lines: grows the hash table, compacts the time axes and
    # grows the pool many times; 12 and 1000 are non-power-of-two set counts.
    lines = zipf_lines(120_000, 6000, 0.8, seed=11)
    curve = curve_of(lines, sets=sets, chunk=9_999)
    as_list = lines.tolist()
    for ways in ways_list:
        assert curve.misses([ways * sets * LINE])[0] == lru_misses(as_list, sets, ways), ways


def test_same_result_for_any_chunk_size():
    lines = zipf_lines(30_000, 3000, 1.0, seed=5)
    reference = StackDistances(LINE, sets=3)
    reference.update(lines * np.uint64(LINE))
    for chunk in (1, 7, 1000, 29_999):
        acc = StackDistances(LINE, sets=3)
        for start in range(0, lines.size, chunk):
            acc.update(lines[start:start + chunk] * np.uint64(LINE))
        assert np.array_equal(acc.histogram, reference.histogram), chunk
        assert acc.cold_misses == reference.cold_misses
        assert acc.accesses == reference.accesses == lines.size


def test_write_flag_and_offsets_within_a_line_are_ignored():
    lines = zipf_lines(5000, 400, 1.0, seed=2)
    rng = np.random.default_rng(3)
    addrs = lines * np.uint64(128) + rng.integers(0, 128, lines.size).astype(np.uint64)
    flagged = mark_writes(addrs, rng.random(lines.size) < 0.3)
    plain = exact_mrc([lines * np.uint64(128)], line_bytes=128)
    noisy = exact_mrc([flagged], line_bytes=128)
    sizes = np.arange(1, 500) * 128
    assert np.array_equal(plain.misses(sizes), noisy.misses(sizes))
    assert plain.misses([128])[0] == lru_misses(lines.tolist(), 1, 1)


def test_memory_follows_distinct_lines_not_trace_length():
    # 2M accesses to 1000 lines: state stays tiny (hash table, time axis and histogram sized
    # by distinct lines; per-chunk scratch excluded)
    lines = np.tile(np.arange(1000, dtype=np.uint64), 2000) * np.uint64(LINE)
    acc = StackDistances(LINE)
    for start in range(0, lines.size, 1 << 18):
        acc.update(lines[start:start + (1 << 18)])
    assert acc.distinct_lines_count == 1000
    assert acc.memory_bytes < 256 * 1024


def test_distinct_lines_and_region_footprint():
    addrs = np.array([0, 64, 64, 4096, 4096 + 63, 8192, 100_000], np.uint64)
    acc = StackDistances(LINE)
    acc.update(addrs)
    assert acc.distinct_lines().tolist() == [0, 1, 64, 128, 1562]
    regions = [("a", 0, 4096), ("b", 4096, 4096), ("c", 8192, 1 << 20)]
    assert region_footprint(acc.distinct_lines(), regions, LINE) == [
        {"region": "a", "distinct_lines": 2, "footprint_bytes": 128},
        {"region": "b", "distinct_lines": 1, "footprint_bytes": 64},
        {"region": "c", "distinct_lines": 2, "footprint_bytes": 128},
    ]


@pytest.mark.parametrize("bad", [0, 48, -64, 1.5, True])
def test_bad_line_size_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="line_bytes"):
        StackDistances(bad)


def test_bad_sets_and_chunks_are_clear_errors():
    with pytest.raises(ValueError, match="sets"):
        StackDistances(64, sets=0)
    acc = StackDistances(64)
    with pytest.raises(ValueError, match="integer"):
        acc.update(np.array([1.5, 2.0]))
    with pytest.raises(ValueError, match="negative"):
        acc.update(np.array([-64], np.int64))
    with pytest.raises(ValueError, match="1-D"):
        acc.update(np.zeros((2, 2), np.uint64))


def test_matches_project_simulator_lru():
    engine = pytest.importorskip("sim.engine.simulator", reason="sim.engine.simulator (the LLC simulator) not available")
    config = pytest.importorskip("sim.config", reason="sim.config not available")
    lines = zipf_lines(60_000, 8000, 0.9, seed=21)
    addrs = lines * np.uint64(LINE)
    for sets, ways in [(1, 512), (1, 3000), (16, 8), (12, 11), (96, 16)]:
        curve = exact_mrc([addrs], line_bytes=LINE, sets=sets)
        cfg = config.CacheConfig(size_bytes=sets * ways * LINE, ways=ways, line_bytes=LINE, policy="lru")
        stats = engine.simulate([addrs], cfg).llc
        assert curve.misses([sets * ways * LINE])[0] == stats.misses, (sets, ways)


def test_matches_pycachesim_lru():
    cachesim = pytest.importorskip("cachesim", reason="pycachesim not installed")
    lines = zipf_lines(40_000, 5000, 0.9, seed=8)
    addrs = lines * np.uint64(LINE)
    for sets, ways in [(1, 256), (1, 2048), (8, 16), (64, 4)]:
        mem = cachesim.MainMemory()
        cache = cachesim.Cache("LLC", sets, ways, LINE, "LRU")
        mem.load_to(cache)
        cachesim.CacheSimulator(cache, mem)
        cache.backend.iterload(addrs.tolist())
        misses = cache.backend.MISS_count
        curve = exact_mrc([addrs], line_bytes=LINE, sets=sets)
        assert curve.misses([sets * ways * LINE])[0] == misses, (sets, ways)


def stack_distance_misses(lines, capacities) -> np.ndarray:
    """Misses at each capacity from a naive LRU stack (list, most recent first)."""
    stack, distances = [], []
    for line in lines.tolist():
        if line in stack:
            d = stack.index(line)
            distances.append(d)
            del stack[d]
        stack.insert(0, line)
    d = np.array(distances)
    return np.array([len(lines) - int((d < c).sum()) for c in capacities])


@pytest.mark.parametrize("chunk", [None, 37, 1000])
def test_row_lookups_match_a_naive_stack(chunk):
    """Rows of 8 consecutive lines read whole (the embedding pattern, where the kernel
    reuses the previous line's distance), partial reads and interleaved rows."""
    rng = np.random.default_rng(11)
    rows = zipf_lines(900, 300, 0.9, seed=5)
    parts = []
    for k, row in enumerate(rows.tolist()):
        first = 8 * row
        if k % 5 == 4:  # a partial row, starting mid-row
            parts.append(np.arange(first + 3, first + 3 + rng.integers(1, 5), dtype=np.uint64))
        else:
            parts.append(np.arange(first, first + 8, dtype=np.uint64))
        if k % 7 == 6:  # a stray line between rows
            parts.append(np.array([rng.integers(0, 2400)], dtype=np.uint64))
    lines = np.concatenate(parts)
    capacities = np.arange(1, 2500, 7)
    expected = stack_distance_misses(lines, capacities)
    assert np.array_equal(curve_of(lines, chunk=chunk).misses(capacities * LINE), expected)
