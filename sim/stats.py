"""Simulation results: per-level counts (``LevelStats``) and one run (``SimResult``).

Counts are demand counts of the measured part of the trace (after warm-up). With set
sampling the counts are those of the sampled sets; ``SimResult.to_record()`` reports
estimates scaled by total sets / sampled sets and says so (``estimated``,
``sample_fraction``). Records are plain dicts so ``sim`` needs no pandas; build a frame
with ``pandas.DataFrame([r.to_record() for r in results])``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace


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
    set_miss_sumsq: int = 0  # sum over sampled sets of (misses in the set)**2: the estimate's spread
    set_partition: tuple[int, ...] = ()  # (index, count) when only one partition's sets were simulated

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

    @property
    def llc_misses_stderr(self) -> float:
        """Standard error of the scaled LLC miss estimate under set sampling (0.0 when exact).

        The sampled sets are a simple random sample of the sets (hashed selection), so the
        scaled total N * mean has standard error N * sqrt((1 - n/N) * s**2 / n), with s**2
        the sample variance of the per-set miss counts. NaN when fewer than two sets were
        sampled (no spread to measure).
        """
        if not self.sampled:
            return 0.0
        n, total = self.sampled_sets, self.total_sets
        if n < 2:
            return float("nan")
        mean = self.llc.misses / n
        variance = max(self.set_miss_sumsq - n * mean * mean, 0.0) / (n - 1)
        return total * math.sqrt((1.0 - n / total) * variance / n)

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
            row["llc_misses_stderr"] = self.llc_misses_stderr
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


def merge_partitions(results) -> SimResult:
    """The full run's result from the results of every set partition (``set_partition``).

    Partitions own disjoint sets and each saw the whole trace, so every count is the sum
    of theirs; ValueError when the partitions are not exactly 0..count-1 of one
    configuration fed the same trace.
    """
    results = list(results)
    if not results:
        raise ValueError("merge_partitions: no results")
    first = results[0]
    count = first.set_partition[1] if first.set_partition else 1
    indices = sorted(r.set_partition[0] if r.set_partition else 0 for r in results)
    if indices != list(range(count)) or any((r.set_partition[1] if r.set_partition else 1) != count for r in results):
        raise ValueError(f"merge_partitions: expected partitions 0..{count - 1} once each, got {indices}")
    geometry = [(s.level, s.size_bytes, s.ways, s.line_bytes, s.policy, s.num_sets) for s in first.levels]
    for r in results[1:]:
        if [(s.level, s.size_bytes, s.ways, s.line_bytes, s.policy, s.num_sets) for s in r.levels] != geometry:
            raise ValueError("merge_partitions: partitions simulated different cache configurations")
        if (r.trace_accesses, r.warmup_accesses) != (first.trace_accesses, first.warmup_accesses):
            raise ValueError("merge_partitions: partitions were fed different traces "
                             f"({r.trace_accesses} vs {first.trace_accesses} measured accesses)")
    levels = tuple(
        replace(stats, **{name: sum(getattr(r.levels[k], name) for r in results) for name in COUNT_FIELDS})
        for k, stats in enumerate(first.levels))
    return replace(
        first, levels=levels,
        dram_read_bytes=sum(r.dram_read_bytes for r in results),
        dram_write_bytes=sum(r.dram_write_bytes for r in results),
        sampled_sets=sum(r.sampled_sets for r in results),
        total_sets=sum(r.total_sets for r in results),
        set_miss_sumsq=sum(r.set_miss_sumsq for r in results),
        threads=sum(r.threads for r in results),
        notes=tuple(dict.fromkeys(n for r in results for n in r.notes)),
        set_partition=(),
    )
