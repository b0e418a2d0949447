"""The engine's policy dispatch: every registered policy reaches its own module (counts
differ between policies and equal the pure-Python reference of that policy), an id the
engine does not know raises instead of running some default policy, and a threaded run
leaves Numba's thread count as it found it."""

import numba
import numpy as np
import pytest

from sim.config import CacheConfig
from sim.engine.kernels import G_POLICY
from sim.engine.simulator import Simulator, simulate
from sim.policies import POLICIES
from sim.reference import reference_simulate
from sim.stats import COUNT_FIELDS


def _trace():
    # hot lines with conflicts in a small 8-set, 4-way cache, every fifth access a write
    rng = np.random.default_rng(0)
    lines = np.minimum(rng.zipf(1.3, 2000), 200) + rng.integers(0, 3, 2000)
    addrs = lines.astype(np.uint64) * np.uint64(64)
    addrs[::5] |= np.uint64(1 << 63)
    return addrs


def test_every_registered_policy_runs_its_own_code():
    addrs = _trace()
    hits = {}
    for name in POLICIES:
        config = CacheConfig(4 * 8 * 64, 4, policy=name, seed=1)
        result = simulate(addrs, config)
        reference = reference_simulate(addrs.tolist(), config)
        assert {f: getattr(result.llc, f) for f in COUNT_FIELDS} == reference["LLC"], name
        hits[name] = result.llc.hits
    # on this trace no two policies agree, so no policy can be running another's code
    assert len(set(hits.values())) == len(POLICIES), hits


@pytest.mark.parametrize("levels", [{}, {"l1": CacheConfig(2 * 4 * 64, 2)}])
def test_an_unknown_policy_id_raises(levels):
    sim = Simulator(CacheConfig(4 * 8 * 64, 4), **levels)
    sim._geom[:, G_POLICY] = 99  # no policy has this id
    with pytest.raises(ValueError, match="unknown replacement policy id"):
        sim.feed(_trace())


def test_threaded_run_restores_the_thread_count():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs a Numba thread pool of at least 2 threads")
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        result = simulate(_trace(), CacheConfig(4 * 8 * 64, 4), threads=2)
        assert result.threads == 2
        assert numba.get_num_threads() == 1
    finally:
        numba.set_num_threads(before)
