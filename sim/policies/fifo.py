"""First in, first out: ``meta`` holds the fill stamp; hits change nothing."""

from numba import njit

from sim.policies import lru

NAME = "fifo"
DESCRIPTION = "first in, first out (evicts the oldest fill; hits do not refresh)"


def check_ways(ways: int) -> None:
    """Any associativity works."""


# The victim is the oldest stamp, exactly LRU's rule: only what refreshes a stamp differs.
victim = lru.victim


@njit(cache=True, inline="always")
def on_hit(meta, base, ways, way, sstate, sidx, clock):
    """FIFO ignores hits."""


@njit(cache=True, inline="always")
def on_fill(meta, base, ways, way, sstate, sidx, clock):
    """Record the fill order."""
    meta[base + way] = clock
