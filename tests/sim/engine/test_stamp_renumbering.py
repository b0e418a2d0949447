"""LRU/FIFO stamps are uint32 and renumbered by rank before a clock could wrap: forcing
a renumbering after every few accesses (a low ``stamp_limit``) must not change a single count."""

import numpy as np
import pytest

from sim.config import CacheConfig
from sim.engine.kernels import STAMPS_PER_ACCESS, renumber_stamps
from sim.engine.simulator import Simulator

LOW_LIMIT = 5_000


def _run(trace, **kwargs):
    sim = Simulator(CacheConfig(48 * 8 * 64, 8, policy=kwargs.pop("policy")), **kwargs)
    for part in np.array_split(trace, 40):
        sim.feed(part)
    return sim.result(), sim


@pytest.mark.parametrize("policy", ["lru", "fifo"])
@pytest.mark.parametrize("levels", [{}, {"l1": CacheConfig(8 * 4 * 64, 4), "l2": CacheConfig(16 * 4 * 64, 4,
                                                                                           policy="fifo")}])
def test_renumbering_keeps_every_count(policy, levels, zipf_trace, level_counts):
    trace = zipf_trace(40_000, 5_000, seed=2, alpha=0.8)
    trace[::7] |= np.uint64(1 << 63)
    expected, untouched = _run(trace, policy=policy, prefetch=not levels, **levels)
    got, sim = _run(trace, policy=policy, prefetch=not levels, stamp_limit=LOW_LIMIT, **levels)
    assert untouched.renumberings == 0
    assert sim.renumberings > 10  # renumbered before (almost) every one of the 40 chunks
    assert level_counts(got) == level_counts(expected)
    # the clock stayed small: at most one chunk (1,000 accesses) of stamps past the limit
    assert int(sim._clocks.max()) < LOW_LIMIT + STAMPS_PER_ACCESS * 1_000


def test_renumbering_ranks_each_set():
    sim = Simulator(CacheConfig(2 * 4 * 64, 4))  # 2 sets x 4 ways
    sim._tags[:] = [1, 2, 0, 3, 4, 5, 6, 7]
    sim._meta[:] = [900, 70, 5, 800, 10, 40, 30, 20]
    renumber_stamps(sim._state)
    assert list(sim._meta[[0, 1, 3]]) == [3, 1, 2]  # set 0: valid ways by stamp 900, 70, 800
    assert list(sim._meta[4:]) == [1, 4, 3, 2]
    assert (sim._clocks == 5).all()


def test_stamp_limit_is_checked():
    with pytest.raises(ValueError, match="stamp_limit"):
        Simulator(CacheConfig(2 * 4 * 64, 4), stamp_limit=0)
