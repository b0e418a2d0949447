"""Simulation results: per-level counts (``LevelStats``) and one run (``SimResult``).

Counts are demand counts of the measured part of the trace (after warm-up). With set
sampling (LLC-only runs) the counts are those of the sampled sets; ``SimResult.to_record()``
reports the LLC's accesses exactly (every trace access reaches an LLC-only cache, so the
count is known, not estimated), its misses and the traffic they cause as estimates scaled by
total sets / sampled sets, hits and the miss ratio derived from those two so that the
columns agree, and the standard errors of the misses and of the miss ratio (``estimated``,
``sample_fraction``, ``llc_misses_stderr``, ``llc_miss_ratio_stderr``). Records are plain dicts so ``sim`` needs no pandas; build a frame
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

    def to_record(self) -> dict:
        """Long-form record of this level."""
        record = {
            "level": self.level,
            "size_bytes": self.size_bytes,
            "ways": self.ways,
            "line_bytes": self.line_bytes,
            "policy": self.policy,
            "num_sets": self.num_sets,
        }
        for name in COUNT_FIELDS:
            record[name] = getattr(self, name)
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

    def llc_estimate(self) -> LevelStats:
        """The LLC's counts for the whole cache: exact, or under set sampling the accesses
        (all of the trace's) with the scaled misses and traffic, hits = accesses - misses."""
        llc, scale = self.llc, self.scale
        if not self.sampled:
            return llc
        misses = llc.misses * scale
        return replace(llc, accesses=self.trace_accesses, hits=self.trace_accesses - misses, misses=misses,
                       **{name: _scaled(getattr(llc, name), scale) for name in COUNT_FIELDS
                          if name not in ("accesses", "hits", "misses")})

    def to_record(self) -> dict:
        """One wide row: LLC columns, DRAM bytes, upper levels prefixed l1_/l2_, run info.

        Sampled runs report the estimates of ``llc_estimate`` with ``estimated`` True and
        the standard errors of the misses and of the miss ratio.
        """
        scale = self.scale
        llc = self.llc_estimate()
        row = {
            "llc_bytes": llc.size_bytes,
            "ways": llc.ways,
            "line_bytes": llc.line_bytes,
            "policy": llc.policy,
            "num_sets": llc.num_sets,
            "accesses": self.trace_accesses,
            "llc_accesses": llc.accesses,
            "llc_hits": llc.hits,
            "llc_misses": llc.misses,
            "llc_miss_ratio": llc.miss_ratio,
            "evictions": llc.evictions,
            "writebacks": llc.writebacks,
            "dram_read_bytes": _scaled(self.dram_read_bytes, scale),
            "dram_write_bytes": _scaled(self.dram_write_bytes, scale),
        }
        if len(self.levels) > 1:
            row["inclusive"] = self.inclusive
            row["back_invalidations"] = llc.back_invalidations
        if self.prefetch:
            row["prefetch_fills"] = llc.prefetch_fills
            row["prefetch_hits"] = llc.prefetch_hits
            row["useless_prefetches"] = llc.useless_prefetches
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
            row["llc_miss_ratio_stderr"] = (self.llc_misses_stderr / self.trace_accesses if self.trace_accesses
                                            else float("nan"))
        row["threads"] = self.threads
        return row

    def level_records(self) -> list[dict]:
        """Long form: one record per level (the LLC's estimated like ``to_record``)."""
        records = []
        for stats in self.levels:
            record = (self.llc_estimate() if stats is self.llc else stats).to_record()
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
