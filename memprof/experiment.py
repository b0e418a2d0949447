"""The bottleneck analysis: each representation's trace through a cache hierarchy and the
timing model, with cycles, LLC misses and DRAM bandwidth as ratios versus full DLRM.

One pass over each representation's trace feeds one simulator per LLC size. The
first ``warmup`` fraction of the batches warms the caches; statistics cover the rest.
By default the CPU preset's private L1d and L2 sit in front of the LLC (non-inclusive),
so the timing model sees where every access was served.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from memprof.calibrate import load_calibration
from memprof.progress import Progress
from sim.config import CacheConfig
from sim.cpu_presets import get_preset
from sim.engine import Simulator
from sim.timing import TimingModel
from traces.stream import ModelTrace

BASELINE = "dlrm"
RESULT_COLUMNS = (
    "model", "llc_bytes", "ways", "policy", "model_bytes", "compression", "lookups", "accesses",
    "llc_accesses", "llc_hits", "llc_misses", "llc_miss_ratio", "dram_read_bytes", "dram_write_bytes",
    "compute_cycles", "memory_stall_cycles", "cycles", "seconds", "dram_bw_gbps",
    "cycles_ratio", "llc_misses_ratio", "dram_bw_ratio",
)


@dataclass(frozen=True)
class CacheSetup:
    """The simulated hierarchy: LLC sizes to try, their geometry, optional private levels."""

    llc_sizes: tuple[int, ...]
    ways: int = 16
    policy: str = "lru"
    line_bytes: int = 64
    private_levels: bool = True  # the CPU preset's L1d and L2 in front of the LLC
    inclusive: bool = False
    warmup: float = 0.25  # fraction of the batches that only warm the caches
    sample_sets: str | None = None
    threads: int = 1

    def __post_init__(self):
        if not self.llc_sizes:
            raise ValueError("give at least one LLC size")
        if not 0.0 <= self.warmup < 1.0:
            raise ValueError(f"warmup must be a fraction in [0, 1), got {self.warmup}")

    def llc_configs(self) -> list[CacheConfig]:
        return [CacheConfig(size, self.ways, self.line_bytes, self.policy) for size in self.llc_sizes]


@dataclass
class ModelRun:
    """What one representation's pass measured, before the timing model."""

    model: str
    model_bytes: int
    compression: float
    params: dict
    lookups_per_feature: np.ndarray
    results: list = field(default_factory=list)  # one SimResult per LLC size


def _private_configs(timing_cpu, setup: CacheSetup):
    if not setup.private_levels:
        return None, None
    geo = timing_cpu
    l1 = CacheConfig(geo.l1d.size_bytes, geo.l1d.ways, setup.line_bytes, "lru")
    l2 = CacheConfig(geo.l2.size_bytes, geo.l2.ways, setup.line_bytes, "lru")
    return l1, l2


def simulate_model(trace: ModelTrace, setup: CacheSetup, cpu, progress: bool = True) -> ModelRun:
    """Feed one representation's trace to one simulator per LLC size (warm-up batches first)."""
    rep = trace.representation
    l1, l2 = _private_configs(cpu, setup)
    sims = [Simulator(cfg, l1=l1, l2=l2, inclusive=setup.inclusive, sample_sets=setup.sample_sets,
                      threads=setup.threads) for cfg in setup.llc_configs()]
    warm_batches = int(round(setup.warmup * trace.num_batches))
    lookups = np.zeros(rep.workload.num_features, dtype=np.int64)
    meter = Progress(f"simulate {rep.name}", unit="accesses", enabled=progress)
    measured = 0
    for number, batch in enumerate(trace.batches()):
        if number == warm_batches:
            for sim in sims:
                sim.reset_stats()
        addrs = rep.emit(batch, trace.line_bytes)
        for sim in sims:
            sim.feed(addrs)
        if number >= warm_batches:
            measured += 1
            lookups += np.diff(batch.offsets).reshape(batch.num_features, batch.batch_size).sum(axis=1)
        meter.update(addrs.shape[0])
    meter.close()
    if measured == 0:
        raise ValueError(
            f"no batch left to measure after a warm-up of {warm_batches} batch(es): "
            "give more --batches or a smaller --warmup"
        )
    params = {**rep.describe(), "dim": rep.dim}
    return ModelRun(rep.name, rep.memory_bytes, rep.compression, params, lookups, [s.result() for s in sims])


def timed_rows(run: ModelRun, timing: TimingModel, cardinalities) -> list[dict]:
    """One result row per LLC size: the simulator's counts plus the timing model's estimate."""
    rows = []
    for result in run.results:
        record = result.to_record()
        scale = result.scale
        upper = {lvl.level: lvl for lvl in result.levels[:-1]}
        estimate = timing.estimate(
            run.model, run.lookups_per_feature.tolist(), params=run.params, cardinalities=list(cardinalities),
            l1_hits=upper["L1"].hits if "L1" in upper else 0,
            l2_hits=upper["L2"].hits if "L2" in upper else 0,
            llc_hits=result.llc.hits * scale, llc_misses=result.llc.misses * scale,
            dram_read_bytes=round(result.dram_read_bytes * scale),
            dram_write_bytes=round(result.dram_write_bytes * scale),
        )
        rows.append({
            **record,
            "model": run.model, "model_bytes": run.model_bytes, "compression": run.compression,
            "lookups": int(run.lookups_per_feature.sum()),
            "compute_cycles": estimate.compute_cycles, "memory_stall_cycles": estimate.memory_stall_cycles,
            "cycles": estimate.cycles, "seconds": estimate.seconds, "dram_bw_gbps": estimate.dram_bw_gbps,
            "bandwidth_bound": estimate.bandwidth_bound,
        })
    return rows


def _ratio(numerator, denominator) -> float:
    if denominator == 0:
        return float("inf") if numerator > 0 else 1.0
    return numerator / denominator


def add_ratios(frame: pd.DataFrame, group_by=("llc_bytes", "ways", "policy")) -> pd.DataFrame:
    """Add cycles/LLC-misses/DRAM-bandwidth ratios = baseline (dlrm) value / row value, per cache config.

    A zero denominator with a non-zero baseline gives inf (the representation never missed).
    """
    frame = frame.copy()
    for name in ("cycles", "llc_misses", "dram_bw"):
        frame[f"{name}_ratio"] = np.nan
    keys = [k for k in group_by if k in frame.columns]
    for _, group in frame.groupby(keys, sort=False, dropna=False):
        base = group[group["model"] == BASELINE]
        if base.empty:
            raise ValueError(f"ratios need the {BASELINE} baseline in every cache configuration")
        base = base.iloc[0]
        for idx, row in group.iterrows():
            frame.loc[idx, "cycles_ratio"] = _ratio(base["cycles"], row["cycles"])
            frame.loc[idx, "llc_misses_ratio"] = _ratio(base["llc_misses"], row["llc_misses"])
            frame.loc[idx, "dram_bw_ratio"] = _ratio(base["dram_bw_gbps"], row["dram_bw_gbps"])
    return frame


def order_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The fixed result columns first (in RESULT_COLUMNS order), then the rest."""
    first = [c for c in RESULT_COLUMNS if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]


def run_analysis(traces: list[ModelTrace], setup: CacheSetup, cpu: str = "icx",
                 timing_overrides: dict | None = None, progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """Simulate and time every trace; return the result frame (ratios vs dlrm) and its metadata.

    ``traces`` must include the dlrm baseline; each is consumed once.
    """
    if BASELINE not in [t.representation.name for t in traces]:
        raise ValueError(f"the analysis needs the {BASELINE} baseline among the models")
    preset = get_preset(cpu)
    timing = preset.timing
    if cpu == "host":
        params = {t.representation.name: {**t.representation.describe(), "dim": t.representation.dim}
                  for t in traces}
        calibrated, compute_note = load_calibration(model_params=params)
        timing = timing.with_overrides(**calibrated)
    else:
        compute_note = (f"compute costs: op counts x the {preset.name} preset's per-operation costs (assumed, "
                        "well-vectorised code); `memprof calibrate` + --cpu host uses costs measured here")
    timing = timing.with_overrides(**(timing_overrides or {}))
    rows = []
    for trace in traces:
        run = simulate_model(trace, setup, preset, progress=progress)
        rows += timed_rows(run, timing, trace.representation.workload.cardinalities)
    frame = order_columns(add_ratios(pd.DataFrame(rows)))
    first = traces[0]
    metadata = {
        "workload": first.representation.workload.describe(),
        "source": first.source,
        "batch_size": first.batch_size,
        "batches": first.num_batches,
        "cache": asdict(setup),
        "private_levels": None if not setup.private_levels else {
            "l1d": preset.l1d.describe(), "l2": preset.l2.describe()},
        "cpu_preset": preset.name,
        "timing": timing.describe(),
        "compute_costs": compute_note,
        "models": {t.representation.name: t.representation.describe() for t in traces},
    }
    return frame, metadata
