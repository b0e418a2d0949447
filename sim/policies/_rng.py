"""Per-set random streams (SplitMix64, ``sim.splitmix``) for the randomised policies.

Every set owns one 64-bit state word, so the random choices a set makes depend only
on the seed and on the accesses to that set: results are identical whatever the
chunking or the partitioning of sets across threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.splitmix import GOLDEN, mix64


@njit(cache=True, inline="always")
def next_random(sstate, sidx):
    """Advance set ``sidx``'s stream and return the next uint64."""
    s = sstate[sidx] + GOLDEN
    sstate[sidx] = s
    return mix64(s)


def seed_state(seed: int, level: int, num_sets: int) -> np.ndarray:
    """Initial per-set states: mix64(seed * GOLDEN + level * 2**32 + set) for each set."""
    base = (int(seed) * int(GOLDEN) + (int(level) << 32)) & 0xFFFFFFFFFFFFFFFF
    states = (np.uint64(base) + np.arange(num_sets, dtype=np.uint64))
    return _mix_all(states)


@njit(cache=True, inline="always")
def _mix_all(states):
    out = np.empty_like(states)
    for i in range(states.size):
        out[i] = mix64(states[i])
    return out
