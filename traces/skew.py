"""Skew presets: generator settings whose within-batch locality matches published production traces.

``meta-2021`` and ``meta-2022`` reproduce, at their batch sizes, the locality that Meta published
for its embedding-bag traces (dlrm_datasets, embedding_bag/{2021,2022}/locality_stats.txt;
``traces.locality.META_LOCALITY``): the share of a batch's rows read once, the share of
lookups to them, and the share of lookups to the hottest 0.8-12.4% of rows.

The model: bounded Zipf with exponent ``alpha`` over each table's ``ceil(L / active_reuse)``
hottest rows, L = the table's lookups in the batch (``SyntheticGenerator(active_reuse=...)``),
with the preset's pooling factor (Meta's mean lookups per sample per table: 887M / (856 x 65,536)
= 15.8 in 2021; 1,405M / (788 x 131,072) = 13.6 in 2022). The two numbers per preset were
chosen by a grid search (alpha in steps of 0.005, active_reuse in steps of 0.1) for the smallest
largest error over the published percentages, on tables with at least ``ceil(L / active_reuse)``
rows; they describe the workload, not the machine, and enter no timing parameter. Tables with
fewer rows than that are read whole and reused more (memprof workload stats shows what a
given workload gets). The mean reuse (lookups / unique rows) is not matched exactly: see
docs/workloads.md for the figures this gives.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SkewPreset:
    name: str
    alpha: float
    active_reuse: float
    pooling: int
    batch_size: int  # the batch size Meta's statistics were taken at
    source: str


SKEW_PRESETS = {
    "meta-2021": SkewPreset("meta-2021", alpha=0.895, active_reuse=3.3, pooling=16, batch_size=65_536,
                            source="Meta dlrm_datasets embedding_bag/2021/locality_stats.txt (856 tables)"),
    "meta-2022": SkewPreset("meta-2022", alpha=0.90, active_reuse=6.0, pooling=14, batch_size=131_072,
                            source="Meta dlrm_datasets embedding_bag/2022/locality_stats.txt (788 tables)"),
}


def get_skew(name: str) -> SkewPreset:
    """The preset called ``name``; ValueError listing the known ones."""
    try:
        return SKEW_PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown skew preset {name!r}; known: {', '.join(SKEW_PRESETS)}") from None
