"""Within-batch locality of a workload, a dataset or an address trace (``memprof workload stats``),
beside the production figures Meta published, so users can compare their data with the presets.

Workloads and datasets have lookups: a row is a (table, row) pair and a batch is a batch. An
address trace has no lookups, only line addresses: there a row is a cache line and a "batch" a
window of ``window`` consecutive accesses (the same statistics of a different unit: say so).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from traces.format.tracefile import iter_trace_file
from traces.locality import META_LOCALITY, TOP_PERCENTS, LocalityStats, batch_stats, mean_stats, stats_from_counts
from traces.spec import TraceSpec


def workload_locality(spec: TraceSpec, top_percents=TOP_PERCENTS) -> LocalityStats:
    """The per-batch statistics of ``spec``'s batches, averaged over them (ValueError when empty)."""
    stats = [batch_stats(batch, top_percents) for batch in spec.build().batches() if batch.num_lookups]
    if not stats:
        raise ValueError("the workload's batches hold no lookups: no locality to measure")
    return mean_stats(stats)


def trace_locality(path, window: int, top_percents=TOP_PERCENTS, *, line_bytes: int = 64) -> LocalityStats:
    """The statistics of windows of ``window`` accesses of an address trace, a row being a
    ``line_bytes`` line; the last, shorter window counts when it holds at least half a window.
    Streams the file (one window of addresses in memory)."""
    if window < 1:
        raise ValueError(f"window must be >= 1 accesses, got {window}")
    shift = np.uint64(int(line_bytes).bit_length() - 1)
    stats, pending = [], []
    held = 0

    def close(parts):
        lines = (np.concatenate(parts) & np.uint64((1 << 63) - 1)) >> shift
        stats.append(stats_from_counts(np.unique(lines, return_counts=True)[1], top_percents))

    for chunk in iter_trace_file(path):
        while chunk.size:
            take = min(window - held, chunk.size)
            pending.append(chunk[:take])
            held += take
            chunk = chunk[take:]
            if held == window:
                close(pending)
                pending, held = [], 0
    if held and (held * 2 >= window or not stats):
        close(pending)
    return mean_stats(stats)


def locality_frame(spec: TraceSpec | None, label: str, top_percents=TOP_PERCENTS, *,
                   measured: LocalityStats | None = None, batch_size: int | None = None) -> pd.DataFrame:
    """One row for ``spec`` (or the ``measured`` statistics of a trace; ``label`` names it) and
    one per published Meta trace."""
    ours = measured if measured is not None else workload_locality(spec, top_percents)
    size = batch_size if batch_size is not None else spec.batch_size
    rows = [{"source": label, "batch_size": size, **ours.to_record()}]
    for name, published in META_LOCALITY.items():
        row = {"source": f"{name} (published)", "batch_size": published["batch_size"], "batches": None,
               "lookups": published["lookups"], "unique_rows": published["unique_rows"],
               "reuse": published["lookups"] / published["unique_rows"],
               "rows_once_pct": published["rows_once_pct"], "accesses_once_pct": published["accesses_once_pct"]}
        row.update({f"top_{p:g}pct_rows_access_pct": published["top_pct"].get(p) for p in top_percents})
        rows.append(row)
    return pd.DataFrame(rows)
