"""Simulation results: per-level counts (``LevelStats``) and one run (``SimResult``).

Counts are demand counts of the measured part of the trace (after warm-up). With set
sampling the counts are those of the sampled sets; ``SimResult.to_record()`` reports
estimates scaled by total sets / sampled sets and says so (``estimated``,
``sample_fraction``). Records are plain dicts so ``sim`` needs no pandas; build a frame
with ``pandas.DataFrame([r.to_record() for r in results])``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LevelStats:
    """Counts of one cache level.

    ``accesses`` are demand accesses reaching the level (hits + misses); ``writes`` the
    demand writes among them (first level only: lower levels see write misses as reads);
    ``evictions`` valid lines replaced; ``writebacks`` dirty evictions;
    ``back_invalidations`` upper-level copies removed by this (inclusive) LLC;
    ``prefetch_fills`` lines brought in by the prefetcher, ``prefetch_hits`` first demand
    hits on them, ``useless_prefetches`` prefetched lines evicted before any use.
    """

    level: str
    size_bytes: int
    ways: int
    line_bytes: int
    policy: str
    num_sets: int
    accesses: int = 0
    hits: int = 0
    misses: int = 0
    writes: int = 0
    evictions: int = 0
    writebacks: int = 0
    back_invalidations: int = 0
    prefetch_fills: int = 0
    prefetch_hits: int = 0
    useless_prefetches: int = 0

    @property
    def miss_ratio(self) -> float:
        """misses / accesses (NaN when the level saw no access)."""
        return self.misses / self.accesses if self.accesses else float("nan")

    def to_record(self, scale: float = 1.0) -> dict:
        """Long-form record of this level; counts multiplied by ``scale`` when sampling."""
        record = {
            "level": self.level,
            "size_bytes": self.size_bytes,
            "ways": self.ways,
            "line_bytes": self.line_bytes,
            "policy": self.policy,
            "num_sets": self.num_sets,
        }
        for name in COUNT_FIELDS:
            record[name] = _scaled(getattr(self, name), scale)
        record["miss_ratio"] = self.miss_ratio
        return record


COUNT_FIELDS = (
    "accesses",
    "hits",
    "misses",
    "writes",
    "evictions",
    "writebacks",
    "back_invalidations",
    "prefetch_fills",
    "prefetch_hits",
    "useless_prefetches",
)


def _scaled(value: int, scale: float):
    return value if scale == 1.0 else value * scale


@dataclass(frozen=True)
class SimResult:
    """One simulation: levels (first to LLC), DRAM traffic and how it was run.

    ``trace_accesses`` counts every measured trace access (exact, also when sampling).
    """

    levels: tuple[LevelStats, ...]
    dram_read_bytes: int
    dram_write_bytes: int
    trace_accesses: int
    warmup_accesses: int = 0
    inclusive: bool = True
    prefetch: bool = False
    sampled_sets: int = 0
    total_sets: int = 0
    threads: int = 1
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def llc(self) -> LevelStats:
        """The last level."""
        return self.levels[-1]

    def level(self, name: str) -> LevelStats:
        """A level by name ("L1", "L2", "LLC")."""
        for stats in self.levels:
            if stats.level == name:
                return stats
        raise KeyError(f"no level {name!r}; levels: {', '.join(s.level for s in self.levels)}")

    @property
    def sampled(self) -> bool:
        """Whether only a subset of LLC sets was simulated."""
        return self.sampled_sets < self.total_sets

    @property
    def sample_fraction(self) -> float:
        """sampled sets / total sets (1.0 without sampling)."""
        return self.sampled_sets / self.total_sets if self.total_sets else 1.0

    @property
    def scale(self) -> float:
        """total sets / sampled sets: the factor applied to sampled counts."""
        return self.total_sets / self.sampled_sets if self.sampled else 1.0

    def to_record(self) -> dict:
        """One wide row: LLC columns, DRAM bytes, upper levels prefixed l1_/l2_, run info.

        Sampled runs report estimates (counts x total/sampled sets) with ``estimated``
        True; ``llc_miss_ratio`` is the ratio of the sampled sets.
        """
        scale = self.scale
        llc = self.llc
        row = {
            "llc_bytes": llc.size_bytes,
            "ways": llc.ways,
            "line_bytes": llc.line_bytes,
            "policy": llc.policy,
            "num_sets": llc.num_sets,
            "accesses": self.trace_accesses,
            "llc_accesses": _scaled(llc.accesses, scale),
            "llc_hits": _scaled(llc.hits, scale),
            "llc_misses": _scaled(llc.misses, scale),
            "llc_miss_ratio": llc.miss_ratio,
            "evictions": _scaled(llc.evictions, scale),
            "writebacks": _scaled(llc.writebacks, scale),
            "dram_read_bytes": _scaled(self.dram_read_bytes, scale),
            "dram_write_bytes": _scaled(self.dram_write_bytes, scale),
        }
        if len(self.levels) > 1:
            row["inclusive"] = self.inclusive
            row["back_invalidations"] = llc.back_invalidations
        if self.prefetch:
            row["prefetch_fills"] = _scaled(llc.prefetch_fills, scale)
            row["prefetch_hits"] = _scaled(llc.prefetch_hits, scale)
            row["useless_prefetches"] = _scaled(llc.useless_prefetches, scale)
        for upper in self.levels[:-1]:
            prefix = upper.level.lower()
            row[f"{prefix}_bytes"] = upper.size_bytes
            row[f"{prefix}_ways"] = upper.ways
            row[f"{prefix}_policy"] = upper.policy
            for name in ("accesses", "hits", "misses", "evictions", "writebacks"):
                row[f"{prefix}_{name}"] = getattr(upper, name)
            row[f"{prefix}_miss_ratio"] = upper.miss_ratio
        row["warmup_accesses"] = self.warmup_accesses
        if self.sampled:
            row["estimated"] = True
            row["sampled_sets"] = self.sampled_sets
            row["sample_fraction"] = self.sample_fraction
        row["threads"] = self.threads
        return row

    def level_records(self) -> list[dict]:
        """Long form: one record per level (sampled counts scaled like ``to_record``)."""
        records = []
        for stats in self.levels:
            record = stats.to_record(self.scale if stats is self.llc else 1.0)
            record["estimated"] = self.sampled and stats is self.llc
            records.append(record)
        return records
