"""Least recently used: ``meta`` holds a per-level access stamp; the victim is the
oldest stamp in the set."""

from numba import njit

from sim.intrinsics import ix

NAME = "lru"
DESCRIPTION = "least recently used (true LRU, per-way access stamps)"


def check_ways(ways: int) -> None:
    """Any associativity works."""


@njit(cache=True, inline="always")
def victim(meta, base, ways, sstate, sidx):
    """Way with the smallest stamp (all ways valid)."""
    best = 0
    oldest = meta[ix(base)]
    for w in range(1, ways):
        if meta[ix(base + w)] < oldest:
            oldest = meta[ix(base + w)]
            best = w
    return best


@njit(cache=True, inline="always")
def on_hit(meta, base, ways, way, sstate, sidx, clock):
    """A hit makes the way most recently used."""
    meta[base + way] = clock


@njit(cache=True, inline="always")
def on_fill(meta, base, ways, way, sstate, sidx, clock):
    """A filled line is most recently used."""
    meta[base + way] = clock
