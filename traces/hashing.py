"""Seeded hash functions and random bits shared by generators and representations.

- ``splitmix64``: one SplitMix64 step (Steele et al. 2014; the mixer is ``sim.splitmix``'s), a bijective 64-bit
  mixer; used as a counter-based random generator (same seed, same bits, whatever
  the chunking) and to derive hash parameters from a seed.
- ``mas_hash32``: Dietzfelbinger's multiply-add-shift hash ``((a*x + b) mod 2**64) >> 32``,
  2-universal for 32-bit keys with 64-bit random a, b. Keys here are global token
  ids (< 2**32, checked by the representations).
- ``fastrange32``: Lemire's multiply-shift reduction of a 32-bit hash to ``[0, n)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.splitmix import GOLDEN, mix64, splitmix64_py

_MASK32 = np.uint64(0xFFFFFFFF)


@njit(cache=True, inline="always")
def splitmix64(x):
    """SplitMix64 of the uint64 ``x`` (x is first advanced by the golden gamma)."""
    return mix64(np.uint64(x) + GOLDEN)


@njit(cache=True, inline="always")
def unit_double(bits):
    """Map 64 random bits to a double uniform in [0, 1) (53-bit mantissa)."""
    return np.float64(np.uint64(bits) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def mas_hash32(a, b, key):
    """Multiply-add-shift hash of a 32-bit ``key``: a 32-bit value (as uint64)."""
    return (np.uint64(a) * np.uint64(key) + np.uint64(b)) >> np.uint64(32)


@njit(cache=True, inline="always")
def fastrange32(h32, n):
    """Reduce a 32-bit hash to [0, n) without a division (n < 2**32)."""
    return np.int64((np.uint64(h32) * np.uint64(n)) >> np.uint64(32))


def hash_params(seed: int, count: int, stream: int = 0) -> np.ndarray:
    """``count`` (a, b) pairs of 64-bit multiply-add-shift parameters from ``seed``.

    Returned as a uint64 array of shape (count, 2); ``stream`` separates independent
    families drawn from one seed. ``a`` is forced odd.
    """
    out = np.empty((count, 2), dtype=np.uint64)
    state = (seed * 0x100000001B3 + stream * 0x9E3779B1) & 0xFFFFFFFFFFFFFFFF
    for i in range(count):
        state = splitmix64_py(state)
        out[i, 0] = state | 1
        state = splitmix64_py(state)
        out[i, 1] = state
    return out
