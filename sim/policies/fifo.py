"""First in, first out: ``meta`` holds the fill stamp; hits change nothing."""

from numba import njit

NAME = "fifo"
DESCRIPTION = "first in, first out (evicts the oldest fill; hits do not refresh)"


def check_ways(ways: int) -> None:
    """Any associativity works."""


@njit(cache=True, inline="always")
def victim(meta, base, ways, sstate, sidx):
    """Way filled longest ago (all ways valid)."""
    best = 0
    oldest = meta[base]
    for w in range(1, ways):
        if meta[base + w] < oldest:
            oldest = meta[base + w]
            best = w
    return best


@njit(cache=True, inline="always")
def on_hit(meta, base, ways, way, sstate, sidx, clock):
    """FIFO ignores hits."""


@njit(cache=True, inline="always")
def on_fill(meta, base, ways, way, sstate, sidx, clock):
    """Record the fill order."""
    meta[base + way] = clock
