"""The Numba loops of the memory microbenchmarks (``memprof.hw.microbench``).

Buffers are ``uint64`` arrays; a line is 8 words (64 B). A chase buffer holds, in the
first word of each line, the word index of the next line of a single cycle, so
``p = words[p]`` is a truly dependent load: the next address is the value just loaded.
Indices are unsigned so Numba adds no negative-index wraparound to the chain.
Each kernel also returns a checksum of what it read, so nothing is optimised away and
tests can check which lines were visited.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.intrinsics import prefetch


@njit(cache=True, nogil=True)
def _chase(words, start, steps):
    """Follow the chain ``steps`` times from word ``start``: (last word index, sum of the visited word indices)."""
    p = start
    total = np.uint64(0)
    for _ in range(steps):
        p = words[p]
        total += p
    return p, total


@njit(cache=True, nogil=True)
def _chase_k(words, positions, steps):
    """``len(positions)`` independent chases interleaved, ``steps`` loads each: one step of
    every chase per iteration, so a core can keep that many misses in flight. Updates
    ``positions`` in place; returns the sum of every visited word index."""
    k = positions.shape[0]
    total = np.uint64(0)
    for _ in range(steps):
        for j in range(k):
            q = words[positions[j]]
            positions[j] = q
            total += q
    return total


@njit(cache=True, nogil=True)
def _read_rows(words, starts, row_words, distance):
    """Read every word of each row (``row_words`` words from word ``starts[r]``), summing them.
    The rows' addresses are known ahead (``starts``), so the core overlaps the reads; with
    ``distance`` > 0 each line of row r + distance is also software-prefetched."""
    n = starts.shape[0]
    total = np.uint64(0)
    for r in range(n):
        if distance > 0 and r + distance < n:
            ahead = starts[r + distance]
            for w in range(0, row_words, 8):
                prefetch(words, ahead + np.uint64(w))
        s = starts[r]
        acc = np.uint64(0)
        for w in range(row_words):
            acc += words[s + np.uint64(w)]
        total += acc
    return total
