"""Within-batch locality statistics of lookups, as Meta publishes them for its production
embedding traces (dlrm_datasets, embedding_bag/{2021,2022}/locality_stats.txt; SPEC section 7).

For one batch, every lookup is a (feature, row) pair; a *row* below means one such pair, so
the same token id in two tables is two rows. The statistics:

- ``lookups``, ``unique_rows`` and ``reuse`` = lookups / unique rows;
- ``rows_once_pct``: share of the batch's unique rows that are read exactly once, and
  ``accesses_once_pct``: the share of lookups that go to those rows;
- ``top_pct[f]``: share of lookups that go to the hottest ``f`` percent of the unique rows
  (rows ranked by their count in the batch; the hottest ``round(f% x unique)`` rows, at least 1).

``batch_stats`` computes them for one ``Batch``; ``mean_stats`` averages several batches (each
batch weighs the same, as a per-batch statistic should). ``META_LOCALITY`` holds the published
figures so that users and tests can compare.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from traces.batch import Batch

TOP_PERCENTS = (0.8, 1.8, 2.0, 5.2, 12.4)


@dataclass(frozen=True)
class LocalityStats:
    """Locality of one batch (or the mean over batches), percentages in 0..100."""

    lookups: int
    unique_rows: int
    rows_once_pct: float
    accesses_once_pct: float
    top_pct: dict = field(default_factory=dict)  # {percent of rows: percent of lookups}
    batches: int = 1

    @property
    def reuse(self) -> float:
        """Lookups per unique row (mean reuse inside the batch)."""
        return self.lookups / self.unique_rows

    def to_record(self) -> dict:
        record = {"batches": self.batches, "lookups": self.lookups, "unique_rows": self.unique_rows,
                  "reuse": self.reuse, "rows_once_pct": self.rows_once_pct,
                  "accesses_once_pct": self.accesses_once_pct}
        record.update({f"top_{p:g}pct_rows_access_pct": v for p, v in self.top_pct.items()})
        return record


# Meta's published figures (SPEC section 7); rows = (table, row) pairs within one batch.
META_LOCALITY = {
    "meta-2021": {"batch_size": 65_536, "tables": 856, "lookups": 887e6, "unique_rows": 128e6,
                  "rows_once_pct": 47.3, "accesses_once_pct": 6.9,
                  "top_pct": {0.8: 42.0, 2.0: 49.0, 5.2: 60.0, 12.4: 72.0}},
    "meta-2022": {"batch_size": 131_072, "tables": 788, "lookups": 1405e6, "unique_rows": 110e6,
                  "rows_once_pct": 34.2, "accesses_once_pct": 2.7,
                  "top_pct": {1.8: 52.0}},
}


def row_counts(batch: Batch) -> np.ndarray:
    """How often each distinct (feature, row) pair of ``batch`` is read (any order)."""
    if batch.num_lookups == 0:
        return np.zeros(0, dtype=np.int64)
    lengths = np.diff(batch.offsets).reshape(batch.num_features, batch.batch_size).sum(axis=1)
    feature = np.repeat(np.arange(batch.num_features, dtype=np.int64), lengths)
    rows = batch.indices
    width = int(rows.max()).bit_length() if rows.size else 0
    if width + int(batch.num_features - 1).bit_length() <= 63:
        keys = (feature << np.int64(width)) | rows  # one int64 key per pair: a single sort
        _, counts = np.unique(keys, return_counts=True)
    else:
        _, counts = np.unique(np.stack([feature, rows], axis=1), axis=0, return_counts=True)
    return counts.astype(np.int64)


def stats_from_counts(counts: np.ndarray, top_percents=TOP_PERCENTS) -> LocalityStats:
    """Locality statistics from per-row read counts (one batch)."""
    counts = np.asarray(counts, dtype=np.int64)
    if counts.size == 0:
        raise ValueError("locality statistics need at least one lookup; the batch is empty")
    if counts.min() <= 0:
        raise ValueError("row counts must be positive")
    ranked = np.sort(counts)[::-1]
    total = int(ranked.sum())
    unique = int(ranked.size)
    once = ranked == 1
    cumulative = np.cumsum(ranked)
    top = {}
    for percent in top_percents:
        hottest = max(1, int(round(percent / 100.0 * unique)))
        top[float(percent)] = 100.0 * float(cumulative[hottest - 1]) / total
    return LocalityStats(total, unique, 100.0 * float(once.mean()), 100.0 * float(ranked[once].sum()) / total, top)


def batch_stats(batch: Batch, top_percents=TOP_PERCENTS) -> LocalityStats:
    """Locality statistics of one batch."""
    return stats_from_counts(row_counts(batch), top_percents)


def mean_stats(stats: list[LocalityStats]) -> LocalityStats:
    """The per-batch statistics averaged over batches (lookups and unique rows summed)."""
    if not stats:
        raise ValueError("no batches: locality statistics need at least one batch")
    mean = lambda values: float(np.mean(values))  # noqa: E731
    top = {p: mean([s.top_pct[p] for s in stats]) for p in stats[0].top_pct}
    return LocalityStats(sum(s.lookups for s in stats), sum(s.unique_rows for s in stats),
                         mean([s.rows_once_pct for s in stats]), mean([s.accesses_once_pct for s in stats]),
                         top, batches=sum(s.batches for s in stats))
