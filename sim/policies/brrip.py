"""Bimodal RRIP (Jaleel et al., ISCA 2010): like SRRIP but fills insert at the distant
RRPV 3, except with probability 1/32 (drawn from the set's seeded stream) at RRPV 2.
Victim selection and hit promotion are SRRIP's."""

import numpy as np
from numba import njit

from sim.policies import srrip
from sim.policies._rng import next_random

NAME = "brrip"
DESCRIPTION = "bimodal RRIP: distant insertion, long with probability 1/32 (seeded)"

EPSILON_DEN = 32


def check_ways(ways: int) -> None:
    """Any associativity works."""


victim = srrip.victim
on_hit = srrip.on_hit


@njit(cache=True, inline="always")
def on_fill(meta, base, ways, way, sstate, sidx, clock):
    """Distant insertion, long insertion once in EPSILON_DEN fills on average."""
    if next_random(sstate, sidx) % np.uint64(EPSILON_DEN) == 0:
        meta[base + way] = srrip.INSERT_RRPV
    else:
        meta[base + way] = srrip.MAX_RRPV
