"""Tree pseudo-LRU: a binary tree of ways-1 direction bits per set (heap order, node n
has children 2n and 2n+1, leaves are ways). Bit n = 1 means "the victim is in the right
subtree". Every access flips the bits on its path to point away from the accessed way.
Needs a power-of-two associativity (up to 64 ways: the bits live in one uint64 per set).
"""

import numpy as np
from numba import njit

NAME = "plru"
DESCRIPTION = "tree pseudo-LRU (power-of-two ways, up to 64)"

_ONE = np.uint64(1)


def check_ways(ways: int) -> None:
    """Tree-PLRU needs a power-of-two associativity of at most 64."""
    if ways & (ways - 1) or ways > 64:
        raise ValueError(f"policy 'plru' (tree pseudo-LRU) needs power-of-two ways <= 64, got ways={ways}")


@njit(cache=True, inline="always")
def victim(meta, base, ways, sstate, sidx):
    """Follow the direction bits from the root to a leaf."""
    bits = sstate[sidx]
    node = 1
    while node < ways:
        node = 2 * node + np.int64((bits >> np.uint64(node)) & _ONE)
    return node - ways


@njit(cache=True, inline="always")
def _touch(ways, way, sstate, sidx):
    bits = sstate[sidx]
    node = 1
    depth = 0
    while (1 << depth) < ways:
        depth += 1
    for d in range(depth - 1, -1, -1):
        went_right = (way >> d) & 1
        mask = _ONE << np.uint64(node)
        if went_right:
            bits &= ~mask  # point left, away from the accessed way
        else:
            bits |= mask
        node = 2 * node + went_right
    sstate[sidx] = bits


@njit(cache=True, inline="always")
def on_hit(meta, base, ways, way, sstate, sidx, clock):
    """Point the path away from the hit way."""
    _touch(ways, way, sstate, sidx)


@njit(cache=True, inline="always")
def on_fill(meta, base, ways, way, sstate, sidx, clock):
    """Point the path away from the filled way."""
    _touch(ways, way, sstate, sidx)
