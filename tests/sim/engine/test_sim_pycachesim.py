"""LRU and FIFO hit/miss counts identical to pycachesim (an independent simulator)."""

import numpy as np
import pytest

from sim.config import CacheConfig
from sim.engine.simulator import simulate
from traces.generator import zipf_row_trace

cachesim = pytest.importorskip("cachesim")


def _zipf_trace():
    # 400k line accesses: Zipf(1.05) over 200k rows laid out with a 4 KiB stride, 8 lines
    # read per row. The stride concentrates rows on few sets, so even 56 MB sees plenty
    # of conflict evictions; the footprint (200k x 4 KiB = 800 MB) dwarfs every cache.
    chunks = zipf_row_trace(200_000, row_bytes=512, alpha=1.05, accesses=400_000, seed=11)
    addrs = np.concatenate(list(chunks))
    rows, within = addrs // np.uint64(512), addrs % np.uint64(512)
    return rows * np.uint64(4096) + within  # rows placed on a 4 KiB stride


TRACE = None


def _trace():
    global TRACE
    if TRACE is None:
        TRACE = _zipf_trace()
    return TRACE


def _pycachesim(addrs, sets, ways, policy):
    memory = cachesim.MainMemory()
    llc = cachesim.Cache("LLC", sets, ways, 64, policy)
    memory.load_to(llc)
    memory.store_from(llc)
    cachesim.CacheSimulator(llc, memory)
    for start in range(0, addrs.size, 1 << 16):
        llc.backend.iterload(addrs[start:start + (1 << 16)].tolist())
    return llc.backend.HIT_count, llc.backend.MISS_count


@pytest.mark.parametrize("size", ["14MB", "28MB", "56MB"])
@pytest.mark.parametrize("policy", ["lru", "fifo"])
def test_counts_identical_to_pycachesim(size, policy):
    addrs = _trace()
    cfg = CacheConfig(size, 16, policy=policy)
    ours = simulate(addrs, cfg)
    hits, misses = _pycachesim(addrs, cfg.num_sets, 16, policy.upper())
    assert ours.llc.evictions > 5_000  # the comparison exercises replacement, not just cold misses
    assert (ours.llc.hits, ours.llc.misses) == (hits, misses)
