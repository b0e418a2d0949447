"""Set sampling: simulate a seeded, hashed subset of the LLC sets.

Sets are independent, so the misses of a random subset of sets, scaled by
total sets / sampled sets, estimate the misses of the whole cache (the estimate is
unbiased; its error shrinks with the number of sampled sets).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from sim.policies._rng import seed_state

# A fixed salt keeps the sampled subset independent of the policy streams' seeding.
_SAMPLING_LEVEL_SALT = 0x5A


def parse_fraction(value: float | str) -> float:
    """Accept 0.015625, "0.015625" or "1/64"; must lie in (0, 1]."""
    try:
        fraction = float(Fraction(str(value).strip())) if isinstance(value, str) else float(value)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"sample fraction {value!r}: expected a number in (0, 1] such as 0.0156 or 1/64") from None
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"sample fraction {value!r}: must be in (0, 1]")
    return fraction


def select_sets(num_sets: int, fraction: float, seed: int = 0) -> np.ndarray:
    """Boolean mask of sampled sets: set s is kept when hash(seed, s) < fraction * 2**64."""
    if fraction >= 1.0:
        return np.ones(num_sets, dtype=bool)
    hashes = seed_state(seed, _SAMPLING_LEVEL_SALT, num_sets)
    threshold = np.uint64(min(int(fraction * 2.0**64), 2**64 - 1))
    mask = hashes < threshold
    if not mask.any():
        raise ValueError(
            f"sample fraction {fraction:g} selects no set of {num_sets}; use a larger fraction"
        )
    return mask
