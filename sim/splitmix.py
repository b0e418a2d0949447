"""SplitMix64 (Steele, Lea and Flood, OOPSLA 2014): the one copy inside ``sim``.

``mix64`` is the bijective 64-bit finaliser (Numba); ``mix64_py`` the same on Python
ints; ``splitmix64_py(x)`` one SplitMix64 step, ``mix64_py(x + GOLDEN)``. Used for the
randomised policies' per-set streams (``sim.policies._rng``), their pure-Python oracle
(``sim.reference``) and the SHARDS salt (``sim.mrc.shards``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

MASK64 = (1 << 64) - 1
GOLDEN_INT = 0x9E3779B97F4A7C15  # the golden-ratio increment of the stream
_M1_INT = 0xBF58476D1CE4E5B9
_M2_INT = 0x94D049BB133111EB

GOLDEN = np.uint64(GOLDEN_INT)
_M1 = np.uint64(_M1_INT)
_M2 = np.uint64(_M2_INT)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)


@njit(cache=True, inline="always")
def mix64(z):
    """SplitMix64 finaliser of a uint64."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def mix64_py(z: int) -> int:
    """``mix64`` on a Python int in [0, 2**64)."""
    z = ((z ^ (z >> 30)) * _M1_INT) & MASK64
    z = ((z ^ (z >> 27)) * _M2_INT) & MASK64
    return z ^ (z >> 31)


def splitmix64_py(x: int) -> int:
    """One SplitMix64 output for the state ``x``: ``mix64_py(x + GOLDEN)``."""
    return mix64_py((int(x) + GOLDEN_INT) & MASK64)
