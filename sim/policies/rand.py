"""Random replacement: a uniformly drawn way from the set's own seeded SplitMix64 stream
(``draw % ways``), correct for any associativity (11, 12, ... ways)."""

import numpy as np
from numba import njit

from sim.policies._rng import next_random

NAME = "random"
DESCRIPTION = "random victim from a seeded per-set stream (any associativity)"


def check_ways(ways: int) -> None:
    """Any associativity works."""


@njit(cache=True, inline="always")
def victim(meta, base, ways, sstate, sidx):
    """Uniform way in [0, ways) (modulo bias below ways / 2**64)."""
    return np.int64(next_random(sstate, sidx) % np.uint64(ways))


@njit(cache=True, inline="always")
def on_hit(meta, base, ways, way, sstate, sidx, clock):
    """Random replacement keeps no recency state."""


@njit(cache=True, inline="always")
def on_fill(meta, base, ways, way, sstate, sidx, clock):
    """Random replacement keeps no recency state."""
