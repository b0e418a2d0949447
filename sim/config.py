"""Cache geometry: ``CacheConfig`` (size, ways, line size, replacement and write policy).

Sizes go through the project's one parser (``sim.sizes.parse_size``, binary units),
so ``CacheConfig("56MB", 16)`` is a 57,344-set cache. The set count need not be a power
of two: the engine indexes sets by ``line % num_sets``, never by a bit mask.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.policies import get_policy
from sim.sizes import format_size, parse_size

WRITE_POLICIES = ("write-back",)


@dataclass(frozen=True)
class CacheConfig:
    """One cache level. ``size_bytes`` accepts an int or a size string ("56MB", "32KiB").

    ``policy`` is a registered replacement policy name (see ``sim.policies.POLICIES``);
    ``seed`` seeds the per-set random streams of the randomised policies (random, brrip,
    drrip). The only write policy is write-back with write-allocate (dirty bits).
    """

    size_bytes: int | str
    ways: int
    line_bytes: int = 64
    policy: str = "lru"
    seed: int = 0
    write_policy: str = "write-back"

    def __post_init__(self) -> None:
        object.__setattr__(self, "size_bytes", parse_size(self.size_bytes))
        for name in ("ways", "line_bytes", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name}={value!r}: must be an integer")
        if self.ways <= 0:
            raise ValueError(f"ways={self.ways}: must be a positive integer")
        if self.line_bytes <= 0 or self.line_bytes & (self.line_bytes - 1):
            raise ValueError(f"line_bytes={self.line_bytes}: must be a positive power of two")
        if self.seed < 0:
            raise ValueError(f"seed={self.seed}: must be >= 0")
        set_bytes = self.ways * self.line_bytes
        if self.size_bytes % set_bytes:
            raise ValueError(
                f"size {self.size_bytes} bytes is not a multiple of ways x line_bytes "
                f"= {self.ways} x {self.line_bytes} = {set_bytes} bytes"
            )
        if self.write_policy not in WRITE_POLICIES:
            raise ValueError(
                f"write_policy={self.write_policy!r}: supported: {', '.join(WRITE_POLICIES)} "
                "(write-back with write-allocate)"
            )
        object.__setattr__(self, "policy", str(self.policy).lower())
        get_policy(self.policy).check_ways(self.ways)

    @property
    def num_sets(self) -> int:
        """Number of sets (size / (ways x line)); any positive integer."""
        return self.size_bytes // (self.ways * self.line_bytes)

    @property
    def num_lines(self) -> int:
        """Number of cache lines (sets x ways)."""
        return self.size_bytes // self.line_bytes

    @property
    def line_shift(self) -> int:
        """log2(line_bytes): byte address >> line_shift = line index."""
        return self.line_bytes.bit_length() - 1

    @property
    def policy_id(self) -> int:
        """Integer id the Numba engine dispatches on."""
        return get_policy(self.policy).policy_id

    def describe(self) -> str:
        """Short human-readable geometry, e.g. '56MiB 16-way 64B lru (57344 sets)'."""
        return (
            f"{format_size(self.size_bytes)} {self.ways}-way {self.line_bytes}B {self.policy} "
            f"({self.num_sets} sets)"
        )
