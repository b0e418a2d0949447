"""The bottleneck analysis: each representation's trace through a cache hierarchy and the
timing model, with cycles, LLC misses and DRAM bandwidth as ratios versus full DLRM.

One pass over each representation's trace feeds one simulator per LLC size. The
first ``warmup`` fraction of the batches warms the caches; statistics cover the rest.
By default the CPU preset's private L1d and L2 sit in front of the LLC (non-inclusive),
so the timing model sees where every access was served.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from memprof.hw.calibrate import load_calibration
from memprof.run.longrun import CheckpointPolicy, Interrupted, LongRun, skip_batches, trace_file_fingerprint
from memprof.run.memory_budget import MemoryEstimate, batch_bytes, plan_analysis, simulator_state_bytes
from memprof.run.progress import Progress
from sim.config import CacheConfig
from sim.timing.presets import get_preset
from sim.engine.simulator import Simulator
from sim.timing.model import TimingModel
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


class _ModelStopped(KeyboardInterrupt):
    """Ctrl-C inside ``simulate_model``: what was measured so far (``run`` is None when the
    stop came inside the warm-up) and a note on the checkpoint."""

    def __init__(self, run: ModelRun | None, batches_done: int, warm_batches: int, num_batches: int,
                 accesses: int, note: str):
        super().__init__(note)
        self.run, self.batches_done, self.warm_batches = run, batches_done, warm_batches
        self.num_batches, self.accesses, self.note = num_batches, accesses, note

    def __reduce__(self):
        return (type(self), (self.run, self.batches_done, self.warm_batches, self.num_batches, self.accesses,
                             self.note))


def _model_run(rep, lookups, sims) -> ModelRun:
    params = {**rep.describe(), "dim": rep.dim}
    return ModelRun(rep.name, rep.memory_bytes, rep.compression, params, lookups, [s.result() for s in sims])


def simulate_model(trace: ModelTrace, setup: CacheSetup, cpu, progress: bool = True, *,
                   longrun: LongRun | None = None, resume: dict | None = None,
                   saved: Callable[[], dict] | None = None) -> ModelRun:
    """Feed one representation's trace to one simulator per LLC size (warm-up batches first).

    ``longrun`` (optional) checkpoints after batches and turns Ctrl-C into ``_ModelStopped``;
    ``resume`` is the checkpoint's extra when this model was in progress (its simulators are
    restored and the batches already fed are skipped); ``saved()`` gives the extra data of
    the enclosing run (finished rows) to store with each checkpoint.
    """
    rep = trace.representation
    l1, l2 = _private_configs(cpu, setup)
    sims = [Simulator(cfg, l1=l1, l2=l2, inclusive=setup.inclusive, sample_sets=setup.sample_sets,
                      threads=setup.threads) for cfg in setup.llc_configs()]
    objects = {f"llc{i}": sim for i, sim in enumerate(sims)}
    warm_batches = int(round(setup.warmup * trace.num_batches))
    lookups = np.zeros(rep.workload.num_features, dtype=np.int64)
    measured = start = 0
    if resume is not None:
        longrun.restore(objects)
        start, measured = int(resume["batches_done"]), int(resume["measured"])
        lookups[:] = np.asarray(resume["lookups"], dtype=np.int64)
    total = max(trace.num_batches, 1)
    meter = Progress(f"simulate {rep.name}", unit="accesses", enabled=progress, start=sims[0].fed,
                     start_fraction=start / total)
    number = start

    def state():
        extra = {**(saved() if saved else {}), "model": rep.name, "batches_done": number, "measured": measured,
                 "lookups": lookups.tolist()}
        return objects, extra

    try:
        for batch in skip_batches(trace, start):
            if number == warm_batches:
                for sim in sims:
                    sim.reset_stats()
            addrs = rep.emit(batch, trace.line_bytes)
            for sim in sims:
                sim.feed(addrs)
            if number >= warm_batches:
                measured += 1
                lookups += np.diff(batch.offsets).reshape(batch.num_features, batch.batch_size).sum(axis=1)
            number += 1
            meter.update(addrs.shape[0], fraction=number / total)
            if longrun is not None:
                longrun.step(state)
    except KeyboardInterrupt:
        meter.close()
        if longrun is None or longrun.guard.forced:
            raise
        note = longrun.stopped(state)
        partial = _model_run(rep, lookups.copy(), sims) if measured else None
        raise _ModelStopped(partial, number, warm_batches, trace.num_batches, sims[0].fed, note) from None
    meter.close()
    if measured == 0:
        raise ValueError(
            f"no batch left to measure after a warm-up of {warm_batches} batch(es): "
            "give more --batches or a smaller --warmup"
        )
    return _model_run(rep, lookups, sims)


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


def trace_identity(trace: ModelTrace) -> dict:
    """What a resumed analysis must regenerate identically (seeded workload or dataset file)."""
    identity = {**trace.header(), "num_batches": trace.num_batches}
    source = identity.get("source") or {}
    if source.get("source") == "dataset" and source.get("path"):
        identity["dataset"] = trace_file_fingerprint(source["path"])
    return identity


def _partial_frame(rows: list[dict], stopped: _ModelStopped, timing: TimingModel, trace: ModelTrace) -> pd.DataFrame:
    """Finished rows (partial False) plus the stopped model's rows (partial True, ratios unavailable:
    they cover fewer batches than the baseline)."""
    done = [{**row, "partial": False} for row in rows]
    current = []
    if stopped.run is not None:
        current = [{**row, "partial": True}
                   for row in timed_rows(stopped.run, timing, trace.representation.workload.cardinalities)]
    if not done and not current:
        return pd.DataFrame()
    frame = pd.DataFrame(done + current)
    try:
        frame = add_ratios(frame)
    except ValueError:  # the baseline has no row yet
        for name in ("cycles", "llc_misses", "dram_bw"):
            frame[f"{name}_ratio"] = np.nan
    frame.loc[frame["partial"], ["cycles_ratio", "llc_misses_ratio", "dram_bw_ratio"]] = np.nan
    return order_columns(frame)


def run_analysis(traces: list[ModelTrace], setup: CacheSetup, cpu: str = "icx",
                 timing_overrides: dict | None = None, progress: bool = True, *,
                 checkpoint: CheckpointPolicy | None = None, interruptible: bool = False) -> tuple[pd.DataFrame, dict]:
    """Simulate and time every trace; return the result frame (ratios vs dlrm) and its metadata.

    ``traces`` must include the dlrm baseline; each is consumed once. ``checkpoint``: save
    finished models' rows and the current model's simulators every ``every_seconds`` and on
    Ctrl-C, and resume from them (``memprof.run.longrun``). ``interruptible`` (implied by a
    checkpoint): Ctrl-C stops at the next batch and raises ``memprof.run.longrun.Interrupted``
    with the rows so far (column ``partial``); otherwise Ctrl-C is a plain KeyboardInterrupt.
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
    longrun = None
    if checkpoint is not None or interruptible:
        longrun = LongRun("simulate", checkpoint, trace={"models": [trace_identity(t) for t in traces]},
                          config={"cache": asdict(setup), "cpu": preset.name, "timing": timing.describe()})
    with longrun if longrun is not None else contextlib.nullcontext():
        resumed = longrun.resume_meta() if longrun is not None else None
        extra = resumed["extra"] if resumed else {}
        rows: list[dict] = list(extra.get("rows", []))
        done = int(extra.get("models_done", 0))

        def saved() -> dict:
            return {"rows": rows, "models_done": done}

        for index, trace in enumerate(traces):
            if index < done:
                continue
            current = extra if resumed and extra.get("model") == trace.representation.name else None
            try:
                run = simulate_model(trace, setup, preset, progress=progress, longrun=longrun, resume=current,
                                     saved=saved)
            except _ModelStopped as stopped:
                frame = _partial_frame(rows, stopped, timing, trace)
                name = trace.representation.name
                where = (f"{name}: {stopped.batches_done} of {stopped.num_batches} batches "
                         f"({stopped.accesses:,} accesses)")
                if stopped.run is None:
                    where += f", inside the warm-up ({stopped.warm_batches} batches): nothing measured for {name}"
                finished = [t.representation.name for t in traces[:done]]
                message = (f"interrupted: partial results; models finished: {', '.join(finished) or 'none'}; "
                           f"{where}; {stopped.note}")
                metadata["partial"] = {"models_finished": finished, "model_in_progress": name,
                                       "batches_simulated": stopped.batches_done, "batches": stopped.num_batches,
                                       "accesses_simulated": stopped.accesses}
                raise Interrupted(frame, metadata, message) from None
            rows += timed_rows(run, timing, trace.representation.workload.cardinalities)
            done = index + 1
            if longrun is not None and longrun.policy is not None:
                longrun.save({}, saved())  # a model boundary: no simulator state to keep
        frame = order_columns(add_ratios(pd.DataFrame(rows)))
        if longrun is not None:
            longrun.finish()
    return frame, metadata


def estimate_memory(traces: list[ModelTrace], setup: CacheSetup, cpu: str = "icx",
                    budget_bytes: int | None = None) -> MemoryEstimate:
    """Peak-memory estimate of ``run_analysis`` (one model at a time: its simulators plus its
    largest batch); MemoryBudgetError when over ``budget_bytes``."""
    preset = get_preset(cpu)
    l1, l2 = _private_configs(preset, setup)
    state = sum(simulator_state_bytes(cfg, l1=l1, l2=l2, sample_sets=setup.sample_sets, threads=setup.threads)
                for cfg in setup.llc_configs())
    peak_batch = 0
    for trace in traces:
        rep = trace.representation
        lookups = batch_lookups_estimate(trace)
        peak_batch = max(peak_batch, batch_bytes(lookups, rep.max_lines_per_lookup(trace.line_bytes)))
    return plan_analysis(state, peak_batch, budget_bytes)


def batch_lookups_estimate(trace: ModelTrace) -> int:
    """Lookups of one batch: batch 0 measured for a seeded workload (plus 25% for random bag
    sizes), else batch size x features x the largest pooling factor."""
    if trace.generator is not None:
        return int(trace.generator.batch(trace.batch_size, 0).num_lookups * 1.25) + 1
    workload = trace.representation.workload
    pooling = max(workload.pooling) if workload.pooling else 1
    return trace.batch_size * workload.num_features * max(pooling, 1)
