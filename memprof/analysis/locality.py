"""Within-batch locality of a workload or dataset (``memprof workload stats``), beside the
production figures Meta published, so users can compare their data with the skew presets."""

from __future__ import annotations

import pandas as pd

from traces.locality import META_LOCALITY, TOP_PERCENTS, LocalityStats, batch_stats, mean_stats
from traces.spec import TraceSpec


def workload_locality(spec: TraceSpec, top_percents=TOP_PERCENTS) -> LocalityStats:
    """The per-batch statistics of ``spec``'s batches, averaged over them (ValueError when empty)."""
    stats = [batch_stats(batch, top_percents) for batch in spec.build().batches() if batch.num_lookups]
    if not stats:
        raise ValueError("the workload's batches hold no lookups: no locality to measure")
    return mean_stats(stats)


def locality_frame(spec: TraceSpec, label: str, top_percents=TOP_PERCENTS) -> pd.DataFrame:
    """One row for ``spec`` (``label`` names it) and one per published Meta trace."""
    rows = [{"source": label, "batch_size": spec.batch_size, **workload_locality(spec, top_percents).to_record()}]
    for name, published in META_LOCALITY.items():
        row = {"source": f"{name} (published)", "batch_size": published["batch_size"], "batches": None,
               "lookups": published["lookups"], "unique_rows": published["unique_rows"],
               "reuse": published["lookups"] / published["unique_rows"],
               "rows_once_pct": published["rows_once_pct"], "accesses_once_pct": published["accesses_once_pct"]}
        row.update({f"top_{p:g}pct_rows_access_pct": published["top_pct"].get(p) for p in top_percents})
        rows.append(row)
    return pd.DataFrame(rows)
