"""LRU/FIFO stamps are uint32 and renumbered by rank before a clock could wrap: forcing
a renumbering after every few accesses must not change a single count."""

import numpy as np
import pytest

import sim.engine.simulator as engine
from sim.config import CacheConfig
from traces.synthetic import zipf_row_trace


def _run(trace, **kwargs):
    sim = engine.Simulator(CacheConfig(48 * 8 * 64, 8, policy=kwargs.pop("policy")), **kwargs)
    for part in np.array_split(trace, 40):
        sim.feed(part)
    return sim.result(), sim


@pytest.mark.parametrize("policy", ["lru", "fifo"])
@pytest.mark.parametrize("levels", [{}, {"l1": CacheConfig(8 * 4 * 64, 4), "l2": CacheConfig(16 * 4 * 64, 4,
                                                                                           policy="fifo")}])
def test_renumbering_keeps_every_count(monkeypatch, policy, levels):
    trace = np.concatenate(list(zipf_row_trace(5_000, accesses=40_000, alpha=0.8, seed=2)))
    trace[::7] |= np.uint64(1 << 63)
    expected, _ = _run(trace, policy=policy, prefetch=not levels, **levels)
    monkeypatch.setattr(engine, "STAMP_LIMIT", 5_000)  # renumber before (almost) every chunk
    calls = []
    real = engine._renumber_stamps
    monkeypatch.setattr(engine, "_renumber_stamps", lambda *a: (calls.append(1), real(*a)))
    got, sim = _run(trace, policy=policy, prefetch=not levels, **levels)
    assert len(calls) > 10
    assert got == expected
    assert int(sim._clocks.max()) < 5_000 + engine.STAMPS_PER_ACCESS * 1_000  # the clock stayed small


def test_renumbering_ranks_each_set():
    sim = engine.Simulator(CacheConfig(2 * 4 * 64, 4))  # 2 sets x 4 ways
    sim._tags[:] = [1, 2, 0, 3, 4, 5, 6, 7]
    sim._meta[:] = [900, 70, 5, 800, 10, 40, 30, 20]
    engine._renumber_stamps(sim._geom, sim._tags, sim._meta, sim._clocks)
    assert list(sim._meta[[0, 1, 3]]) == [3, 1, 2]  # set 0: valid ways by stamp 900, 70, 800
    assert list(sim._meta[4:]) == [1, 4, 3, 2]
    assert (sim._clocks == 5).all()
