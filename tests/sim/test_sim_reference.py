"""The Numba engine against the slow pure-Python reference, on random traces."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.access import mark_writes
from sim.config import CacheConfig
from sim.engine.simulator import Simulator
from sim.reference import reference_simulate
from sim.stats import COUNT_FIELDS

LINE = 64
POLICIES = ["lru", "fifo", "random", "plru", "srrip", "brrip", "drrip"]
# (ways, sets): non-power-of-two set counts, 11-way, direct-mapped, fully associative
GEOMETRIES = [(1, 5), (2, 3), (4, 7), (8, 12), (11, 6), (16, 1), (4, 64)]


def _trace(data, max_line):
    n = data.draw(st.integers(50, 600))
    lines = data.draw(st.lists(st.integers(0, max_line), min_size=n, max_size=n))
    writes = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    offsets = data.draw(st.lists(st.integers(0, LINE - 1), min_size=n, max_size=n))
    addrs = np.array(lines, dtype=np.uint64) * np.uint64(LINE) + np.array(offsets, dtype=np.uint64)
    return mark_writes(addrs, writes)


def _assert_same(result, ref):
    for level in result.levels:
        assert {f: getattr(level, f) for f in COUNT_FIELDS} == ref[level.level], level.level
    assert result.dram_read_bytes == ref["dram_read_bytes"]
    assert result.dram_write_bytes == ref["dram_write_bytes"]


@pytest.mark.parametrize("policy", POLICIES)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_llc_matches_reference(policy, data):
    ways, sets = data.draw(st.sampled_from([g for g in GEOMETRIES if policy != "plru" or g[0] in (1, 2, 4, 8, 16)]))
    cfg = CacheConfig(ways * sets * LINE, ways, policy=policy, seed=data.draw(st.integers(0, 5)))
    addrs = _trace(data, max_line=3 * ways * sets)
    prefetch = data.draw(st.booleans())
    warmup = data.draw(st.integers(0, 40))
    threads = data.draw(st.sampled_from([1, 2]))
    sim = Simulator(cfg, prefetch=prefetch, warmup=warmup, threads=threads, tag_bits=data.draw(st.sampled_from([32, 64])))
    sim.feed(addrs)
    _assert_same(sim.result(), reference_simulate(addrs.tolist(), cfg, prefetch=prefetch, warmup=warmup))


@pytest.mark.parametrize("policy", ["lru", "random", "plru", "srrip", "drrip"])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_hierarchy_matches_reference(policy, data):
    l1 = CacheConfig(2 * 2 * LINE, 2, policy=policy) if data.draw(st.booleans()) else None
    l2 = CacheConfig(4 * 3 * LINE, 4, policy="lru") if data.draw(st.booleans()) or l1 is None else None
    llc_ways = 8 if policy == "plru" else data.draw(st.sampled_from([4, 11]))
    llc = CacheConfig(llc_ways * 6 * LINE, llc_ways, policy=policy, seed=3)
    inclusive = data.draw(st.booleans())
    prefetch = data.draw(st.booleans())
    addrs = _trace(data, max_line=120)
    sim = Simulator(llc, l1=l1, l2=l2, inclusive=inclusive, prefetch=prefetch,
                    threads=data.draw(st.sampled_from([1, 2])), tag_bits=data.draw(st.sampled_from([32, 64])))
    sim.feed(addrs)
    result = sim.result()
    _assert_same(result, reference_simulate(addrs.tolist(), llc, l1=l1, l2=l2, inclusive=inclusive,
                                            prefetch=prefetch))


def test_reference_lru_on_a_hand_trace():
    # the oracle itself, on a case small enough to check by eye: 2-way, 1 set
    ref = reference_simulate([0, 64, 0, 128, 64], CacheConfig(2 * LINE, 2))
    # 0 m, 1 m, 0 h, 2 m (evicts 1), 1 m (evicts 0)
    assert (ref["LLC"]["hits"], ref["LLC"]["misses"], ref["LLC"]["evictions"]) == (1, 4, 2)
