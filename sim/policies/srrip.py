"""Static RRIP (Jaleel et al., ISCA 2010) with 2-bit re-reference prediction values
(RRPV, 0..3) and hit priority: a hit sets RRPV 0, a fill inserts at RRPV 2 ("long"),
the victim is the first way (lowest index) at RRPV 3, ageing every way by one until
one reaches 3. ``meta`` holds the RRPVs.
"""

from numba import njit

NAME = "srrip"
DESCRIPTION = "static RRIP, 2-bit RRPV, hit priority (Jaleel et al. ISCA 2010)"

MAX_RRPV = 3
INSERT_RRPV = MAX_RRPV - 1


def check_ways(ways: int) -> None:
    """Any associativity works."""


@njit(cache=True, inline="always")
def victim(meta, base, ways, sstate, sidx):
    """First way at MAX_RRPV after ageing the set as many steps as needed."""
    top = meta[base]
    for w in range(1, ways):
        if meta[base + w] > top:
            top = meta[base + w]
    if top < MAX_RRPV:
        step = MAX_RRPV - top
        for w in range(ways):
            meta[base + w] += step
    for w in range(ways):
        if meta[base + w] == MAX_RRPV:
            return w
    return 0


@njit(cache=True, inline="always")
def on_hit(meta, base, ways, way, sstate, sidx, clock):
    """Hit priority: predict a near-immediate re-reference."""
    meta[base + way] = 0


@njit(cache=True, inline="always")
def on_fill(meta, base, ways, way, sstate, sidx, clock):
    """Insert with a long re-reference interval."""
    meta[base + way] = INSERT_RRPV
