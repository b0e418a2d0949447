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

from memprof.hw.calibrate import calibrate_timing
from memprof.hw.host import cpu_preset
from memprof.run.driver import StreamPosition, Warmup, batch_stream, drive, resolve_warmup
from memprof.run.longrun import CheckpointPolicy, Interrupted, LongRun, trace_file_fingerprint
from memprof.run.memory_budget import MemoryEstimate, batch_bytes, plan_analysis, simulator_state_bytes
from memprof.report.schema import ANALYSIS_COLUMNS
from sim.config import CacheConfig
from sim.sizes import format_size
from sim.engine.simulator import Simulator
from sim.hierarchy_pass import HierarchyPass
from sim.timing.model import MemoryCounts, TimingModel
from sim.tlb import PAGE_SIZES as TLB_PAGE_SIZES, Tlb, TlbConfig, TlbStats, page_size_name
from traces.representations.base import DEFAULT_PREFETCH_DISTANCE, OpCounts
from traces.stream import ModelTrace

BASELINE = "dlrm"
HIERARCHY_BYTES_PER_ACCESS = 3 * (8 + 1) + 3  # sim.hierarchy_pass: expanded uint64 + kind, then served, per access
RESULT_COLUMNS = ANALYSIS_COLUMNS  # declared once, in memprof.report.schema


@dataclass(frozen=True)
class CacheSetup:
    """The simulated hierarchy: LLC sizes to try, their geometry, the private levels, the
    prefetcher, warm-up, set sampling and the seed of the policy and sampling streams.

    With ``private_levels`` the CPU preset's L1d and L2 sit in front of the LLC; an explicit
    ``l1``/``l2`` replaces the preset's level (and needs ``private_levels``).
    """

    llc_sizes: tuple[int, ...]
    ways: int = 16
    policy: str = "lru"
    line_bytes: int = 64
    private_levels: bool = True  # the CPU preset's L1d and L2 in front of the LLC
    inclusive: bool = False
    warmup: float = 0.25  # fraction of the batches that only warm the caches
    sample_sets: str | None = None
    threads: int = 1
    l1: CacheConfig | None = None  # replaces the preset's L1d
    l2: CacheConfig | None = None  # replaces the preset's L2
    prefetch: bool = False  # next-line prefetcher at the LLC
    seed: int = 0  # random/BRRIP/DRRIP streams and set sampling
    page_bytes: int | None = 4096  # the TLB's page size (sim.tlb.PAGE_SIZES); None: no TLB, no walks

    def __post_init__(self):
        if not self.llc_sizes:
            raise ValueError("give at least one LLC size")
        if not 0.0 <= self.warmup < 1.0:
            raise ValueError(f"warmup must be a fraction in [0, 1), got {self.warmup}")
        if (self.l1 is not None or self.l2 is not None) and not self.private_levels:
            raise ValueError("an explicit l1/l2 replaces one of the preset's private levels: it needs "
                             "private_levels=True")
        for name in ("l1", "l2"):
            level = getattr(self, name)
            if level is not None and level.line_bytes != self.line_bytes:
                raise ValueError(f"{name} line_bytes={level.line_bytes}: must equal the LLC's {self.line_bytes}")
        if self.page_bytes is not None and self.page_bytes not in TLB_PAGE_SIZES:
            raise ValueError(f"page size {self.page_bytes} B: must be one of "
                             + ", ".join(TLB_PAGE_SIZES.values()))

    def llc_configs(self) -> list[CacheConfig]:
        return [CacheConfig(size, self.ways, self.line_bytes, self.policy, self.seed) for size in self.llc_sizes]


@dataclass
class ModelRun:
    """What one representation's pass measured, before the timing model."""

    model: str
    model_bytes: int
    compression: float
    params: dict
    lookups_per_feature: np.ndarray
    results: list = field(default_factory=list)  # one SimResult per LLC size
    rows: list = field(default_factory=list)  # one sim.rows.RowStats per LLC size
    tlb: TlbStats | None = None  # the TLB's counts (None: no TLB simulated)
    batches: int = 0  # measured batches (one kernel call each)
    framework_calls_per_batch: int = 0  # a framework's operator calls per batch (Representation's)
    bags: int = 0  # output rows stored by the measured batches (one per bag)
    bag_bytes: int = 0  # one output row: dim float32


def private_configs(preset, setup: CacheSetup):
    """(l1, l2) in front of the LLC: the preset's L1d and L2 unless the setup gives its own."""
    if not setup.private_levels:
        return None, None
    l1 = setup.l1 or CacheConfig(preset.l1d.size_bytes, preset.l1d.ways, setup.line_bytes, "lru", setup.seed)
    l2 = setup.l2 or CacheConfig(preset.l2.size_bytes, preset.l2.ways, setup.line_bytes, "lru", setup.seed)
    return l1, l2


def _private_record(preset, setup: CacheSetup) -> dict | None:
    """The private levels in the run's metadata (None when LLC only)."""
    if not setup.private_levels:
        return None
    record = {}
    for name, level in zip(("l1d", "l2"), private_configs(preset, setup)):
        record[name] = {"size_bytes": level.size_bytes, "size": format_size(level.size_bytes), "ways": level.ways,
                        "line_bytes": level.line_bytes, "sets": level.num_sets, "policy": level.policy,
                        "from": "preset" if getattr(setup, name[:2]) is None else "given"}
    return record


class _ModelConsumer:
    """The driver's consumer for one representation: the TLB and one simulator per LLC size
    (``sim.hierarchy_pass.HierarchyPass``) fed each batch's addresses, and the lookups per
    feature and the batches of the measured (post-warm-up) part."""

    def __init__(self, rep, hierarchy: HierarchyPass):
        self.rep, self.hierarchy = rep, hierarchy
        self.lookups = np.zeros(rep.workload.num_features, dtype=np.int64)
        self.batches = 0
        self.bags = 0
        self.measuring = False

    @property
    def position(self) -> int:
        return self.hierarchy.fed

    def feed(self, item, offset: int) -> None:
        self.hierarchy.feed(item.addrs)
        if self.measuring:
            batch = item.batch
            self.lookups += np.diff(batch.offsets).reshape(batch.num_features, batch.batch_size).sum(axis=1)
            self.batches += 1
            self.bags += batch.batch_size * self.rep.output_features(batch.num_features)

    def end_warmup(self) -> None:
        self.hierarchy.reset_stats()
        self.measuring = True

    def result(self) -> ModelRun:
        rep = self.rep
        passed = self.hierarchy.results()
        return ModelRun(rep.name, rep.memory_bytes, rep.compression, {**rep.describe(), "dim": rep.dim},
                        self.lookups.copy(), [r for r, _ in passed.per_sim], [rows for _, rows in passed.per_sim],
                        passed.tlb, self.batches, rep.framework_calls_per_batch, self.bags, 4 * rep.dim)

    def checkpoint_objects(self) -> dict:
        return self.hierarchy.checkpoint_objects("llc")

    def checkpoint_extra(self) -> dict:
        return {"lookups": self.lookups.tolist(), "measuring": self.measuring, "batches": self.batches,
                "bags": self.bags}

    def restore_extra(self, extra: dict) -> None:
        self.lookups[:] = np.asarray(extra["lookups"], dtype=np.int64)
        self.measuring = bool(extra["measuring"])
        self.batches = int(extra["batches"])
        self.bags = int(extra["bags"])


def tlb_config(preset, setup: CacheSetup) -> TlbConfig | None:
    """The preset's DTLB/STLB and paging-structure cache for the setup's page size (None: no TLB)."""
    return None if setup.page_bytes is None else preset.tlb[page_size_name(setup.page_bytes)]


def simulate_model(trace: ModelTrace, setup: CacheSetup, cpu, progress: bool = True, *,
                   longrun: LongRun | None = None, resume: bool = False,
                   saved: Callable[[], dict] | None = None,
                   should_stop: Callable[[StreamPosition], bool] | None = None) -> ModelRun:
    """Feed one representation's trace to one simulator per LLC size (warm-up batches first),
    through ``memprof.run.driver.drive``.

    ``longrun`` (optional) checkpoints after batches and turns Ctrl-C/SIGTERM into
    ``Interrupted`` (``result``: the ModelRun so far, None inside the warm-up); ``resume``:
    this model was in progress in ``longrun``'s checkpoint (its simulators are restored and the
    batches already fed are skipped); ``saved()`` gives the extra data of the enclosing run
    (finished rows) to store with each checkpoint; ``should_stop(position)`` as in ``drive``.
    """
    rep = trace.representation
    l1, l2 = private_configs(cpu, setup)
    sims = [Simulator(cfg, l1=l1, l2=l2, inclusive=setup.inclusive, prefetch=setup.prefetch,
                      sample_sets=setup.sample_sets, threads=setup.threads) for cfg in setup.llc_configs()]
    tlb = tlb_config(cpu, setup)
    consumer = _ModelConsumer(rep, HierarchyPass(sims, Tlb(tlb) if tlb is not None else None))
    warm = Warmup(resolve_warmup(setup.warmup, trace.num_batches, steps=True), steps=True)

    def state() -> tuple[dict, dict]:
        return {**(saved() if saved else {}), "model": rep.name}, {}

    drive(batch_stream(trace), consumer, longrun, warmup=warm, resume=resume, saved=state,
          label=f"simulate {rep.name}", progress=progress, should_stop=should_stop)
    return consumer.result()


def memory_counts(result, rows, tlb, sampled: bool) -> MemoryCounts:
    """What the timing model needs from one simulator: rows by the level of their slowest line
    (``sim.rows``), page walks and where their reads were served, DRAM bytes. Levels map to
    (L1, L2, LLC, DRAM) whether or not private levels were simulated. Under LLC set sampling
    a row's lines fall in sets mostly not simulated: each line then counts as its own row
    (the scaled per-line estimate)."""
    scale = result.scale
    dram = dict(dram_read_bytes=round(result.dram_read_bytes * scale),
                dram_write_bytes=round(result.dram_write_bytes * scale))
    walks = tlb.walks if tlb is not None else 0
    pad = (0,) * (4 - len(rows.levels))  # LLC only: no L1/L2 columns
    walk_reads = pad + tuple(a + b for a, b in zip(rows.leaf_reads, rows.upper_reads))
    if sampled:
        llc = result.llc_estimate()
        return MemoryCounts(rows=(0, 0, llc.hits, llc.misses), row_lines=(0, 0, llc.hits, llc.misses),
                            walks=walks, walk_reads=walk_reads, **dram)
    return MemoryCounts(rows=pad + rows.rows, row_lines=pad + rows.row_lines, walks=walks, walk_reads=walk_reads,
                        **dram)


def run_work(run: ModelRun, ops: OpCounts) -> list:
    """The timing model's work groups of a run: per feature (label, ops per lookup, lookups), and
    for a training phase the per-batch operations of a dense update. Off the forward phase
    every group is priced from op counts (label None): calibration measures forward kernels."""
    work = ops.work(run.lookups_per_feature.tolist())
    if ops.phase == "forward":
        return work
    return [(None, o, n) for _, o, n in work] + ([(None, ops.per_batch, run.batches)] if ops.per_batch else [])


def estimate_run(run: ModelRun, index: int, timing: TimingModel, ops: OpCounts):
    """The timing model's estimate (``sim.timing.model.TimingResult``) of LLC size ``index`` of a
    run: its counts (``memory_counts``), its work (``run_work``), one kernel call per batch at the
    representation's own call cost, a framework's calls, and the output rows' stores (in DRAM when
    one batch's output outgrows that LLC)."""
    result, rows = run.results[index], run.rows[index]
    counts = memory_counts(result, rows, run.tlb, sampled=result.sampled_sets < result.total_sets)
    llc = result.levels[-1]
    output_per_batch = run.bags * run.bag_bytes / max(run.batches, 1)
    return timing.estimate(run_work(run, ops), counts, calls=run.batches,
                           framework_calls=run.batches * run.framework_calls_per_batch,
                           output_lines=run.bags * -(-run.bag_bytes // llc.line_bytes),
                           output_in_dram=output_per_batch > llc.size_bytes, call_label=run.model)


def timed_rows(run: ModelRun, timing: TimingModel, ops: OpCounts) -> list[dict]:
    """One result row per LLC size: the simulator's counts plus the timing model's estimate and
    its breakdown (``ops``: the representation's operations per lookup, ``ModelTrace.op_counts()``)."""
    out = []
    for index, (result, rows) in enumerate(zip(run.results, run.rows)):
        estimate = estimate_run(run, index, timing, ops)
        walk_llc_misses = rows.leaf_reads[-1] + rows.upper_reads[-1]
        out.append({
            **result.to_record(),
            "accesses": int(sum(rows.data_lines) + rows.unsimulated_data_lines),  # trace accesses: walk reads apart
            "model": run.model, "model_bytes": run.model_bytes, "compression": run.compression,
            "lookups": int(run.lookups_per_feature.sum()),
            "compute_cycles": estimate.compute_cycles, "memory_stall_cycles": estimate.memory_stall_cycles,
            "cycles": estimate.cycles, "seconds": estimate.seconds, "dram_bw_gbps": estimate.dram_bw_gbps,
            "bandwidth_bound": estimate.bandwidth_bound,
            **{f"cycles_{term}": value for term, value in estimate.breakdown.items()},
            "rows": int(sum(rows.rows)), "tlb_walks": run.tlb.walks if run.tlb is not None else 0,
            "walk_llc_misses": int(walk_llc_misses), "rows_in_flight": estimate.independent_rows,
        })
    return out


RATIO_COLUMNS = ("cycles_ratio", "llc_misses_ratio", "dram_bw_ratio")
NO_LOOKUPS = "no lookups"  # why a ratio is unavailable when a model saw zero lookups (e.g. --pooling 0)


def _ratio(numerator, denominator) -> float:
    """baseline / row; 0/0 is no ratio (NaN: nothing was measured), x/0 with x > 0 is inf."""
    if denominator == 0:
        return float("inf") if numerator > 0 else float("nan")
    return numerator / denominator


def unavailable_ratios(frame: pd.DataFrame) -> dict:
    """{model: reason} for the models whose ratios are unavailable because they (or the
    baseline) saw no lookups: goes into the metadata beside the null ratios."""
    if "lookups" not in frame.columns or not any(c in frame.columns for c in RATIO_COLUMNS):
        return {}
    baseline_empty = bool((frame.loc[frame["model"] == BASELINE, "lookups"] == 0).any())
    return {str(row["model"]): (NO_LOOKUPS if row["lookups"] == 0 else f"{NO_LOOKUPS} in the {BASELINE} baseline")
            for _, row in frame.iterrows() if row["lookups"] == 0 or baseline_empty}


def label_unavailable(frame: pd.DataFrame) -> pd.DataFrame:
    """For the table and Markdown views: 'unavailable (no lookups)' in the ratio cells of
    ``unavailable_ratios``'s models (CSV and JSON keep null, the reason in the metadata)."""
    reasons = unavailable_ratios(frame)
    if not reasons:
        return frame
    frame = frame.copy()
    for column in (c for c in RATIO_COLUMNS if c in frame.columns):
        frame[column] = frame[column].astype(object)
        for model, reason in reasons.items():
            frame.loc[frame["model"] == model, column] = f"unavailable ({reason})"
    return frame


def add_ratios(frame: pd.DataFrame, group_by=("llc_bytes", "ways", "policy")) -> pd.DataFrame:
    """Add cycles/LLC-misses/DRAM-bandwidth ratios = baseline (dlrm) value / row value, per cache config.

    A zero denominator with a non-zero baseline gives inf (the representation never missed);
    0/0, or a row or baseline with zero lookups, gives NaN: no ratio, never a measured-looking 1.
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
            if "lookups" in group.columns and (row["lookups"] == 0 or base["lookups"] == 0):
                continue  # no lookups, no ratio (NaN; the reason: unavailable_ratios)
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


def _partial_frame(rows: list[dict], stopped: Interrupted, timing: TimingModel, trace: ModelTrace) -> pd.DataFrame:
    """Finished rows (partial False) plus the stopped model's rows (partial True, ratios unavailable:
    they cover fewer batches than the baseline)."""
    done = [{**row, "partial": False} for row in rows]
    current = []
    if stopped.result is not None:
        current = [{**row, "partial": True}
                   for row in timed_rows(stopped.result, timing, trace.op_counts())]
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


def analysis_timing(cpu: str, traces: list[ModelTrace], timing_overrides: dict | None = None):
    """(preset, timing model, compute note, source per parameter) of an analysis: the preset's
    model; on ``host`` the stored calibration (machine parameters and the compute cycles of the
    traces' representations); the kernels' software prefetch distance; then the user's overrides."""
    preset = cpu_preset(cpu)
    timing = preset.timing
    sources = dict(preset.sources)
    if cpu == "host":
        params = {t.representation.name: {**t.representation.describe(), "dim": t.representation.dim}
                  for t in traces}
        timing, compute_note, measured = calibrate_timing(timing, model_params=params)
        sources.update(measured)
    else:
        compute_note = (f"compute costs: op counts x the {preset.name} preset's per-operation costs (assumed, "
                        "well-vectorised code); `memprof calibrate` + --cpu host uses costs measured here")
    timing = timing.with_overrides(prefetch_distance=DEFAULT_PREFETCH_DISTANCE)  # the kernels' own
    timing = timing.with_overrides(**(timing_overrides or {}))
    return preset, timing, compute_note, sources


def run_analysis(traces: list[ModelTrace], setup: CacheSetup, cpu: str = "icx",
                 timing_overrides: dict | None = None, progress: bool = True, *,
                 checkpoint: CheckpointPolicy | None = None, interruptible: bool = False,
                 should_stop: Callable[[StreamPosition], bool] | None = None) -> tuple[pd.DataFrame, dict]:
    """Simulate and time every trace; return the result frame (ratios vs dlrm) and its metadata.

    ``traces`` must include the dlrm baseline; each is consumed once. ``checkpoint``: save
    finished models' rows and the current model's simulators every ``every_seconds`` and on
    a stop, and resume from them (``memprof.run.longrun``). ``interruptible`` (implied by a
    checkpoint or ``should_stop``): Ctrl-C or SIGTERM stops at the next batch and raises
    ``memprof.run.longrun.Interrupted`` with the rows so far (column ``partial``); otherwise
    Ctrl-C is a plain KeyboardInterrupt. ``should_stop(position)`` (``position.name`` the
    model) is asked after every batch; True stops like Ctrl-C.
    """
    if BASELINE not in [t.representation.name for t in traces]:
        raise ValueError(f"the analysis needs the {BASELINE} baseline among the models")
    preset, timing, compute_note, sources = analysis_timing(cpu, traces, timing_overrides)
    first = traces[0]
    metadata = {
        "workload": first.representation.workload.describe(),
        "source": first.source,
        "batch_size": first.batch_size,
        "batches": first.num_batches,
        "cache": asdict(setup),
        "private_levels": _private_record(preset, setup),
        "cpu_preset": preset.name,
        "timing": timing.describe(),
        "timing_sources": sources,
        "compute_costs": compute_note,
        "tlb": (tlb_config(preset, setup).describe() + "; page-walk reads go through the simulated caches: the "
                "llc_* and dram_* counts include them (walk_llc_misses of the LLC misses), accesses does not")
        if setup.page_bytes is not None else "none: no TLB simulated, no page walks",
        "models": {t.representation.name: t.representation.describe() for t in traces},
    }
    longrun = None
    if checkpoint is not None or interruptible or should_stop is not None:
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
            current = bool(resumed) and extra.get("model") == trace.representation.name
            try:
                run = simulate_model(trace, setup, preset, progress=progress, longrun=longrun, resume=current,
                                     saved=saved, should_stop=should_stop)
            except Interrupted as stopped:
                frame = _partial_frame(rows, stopped, timing, trace)
                name = trace.representation.name
                at = stopped.position
                where = f"{name}: {at.steps} of {at.steps_total} batches ({at.accesses:,} accesses)"
                if stopped.result is None:
                    where += f", inside the warm-up ({at.warmup.count} batches): nothing measured for {name}"
                finished = [t.representation.name for t in traces[:done]]
                message = (f"interrupted: partial results; models finished: {', '.join(finished) or 'none'}; "
                           f"{where}; {stopped.message}")
                metadata["partial"] = {"models_finished": finished, "model_in_progress": name,
                                       "batches_simulated": at.steps, "batches": at.steps_total,
                                       "accesses_simulated": at.accesses}
                raise stopped.replace(frame=frame, metadata=metadata, message=message) from None
            rows += timed_rows(run, timing, trace.op_counts())
            done = index + 1
            if longrun is not None and longrun.policy is not None:
                longrun.save({}, saved())  # a model boundary: no simulator state to keep
        frame = order_columns(add_ratios(pd.DataFrame(rows)))
        if unavailable_ratios(frame):
            metadata["ratios_unavailable"] = unavailable_ratios(frame)
        if longrun is not None:
            longrun.finish()
    return frame, metadata


def estimate_memory(traces: list[ModelTrace], setup: CacheSetup, cpu: str = "icx",
                    budget_bytes: int | None = None) -> MemoryEstimate:
    """Peak-memory estimate of ``run_analysis`` (one model at a time: its simulators plus its
    largest batch); MemoryBudgetError when over ``budget_bytes``."""
    preset = cpu_preset(cpu)
    l1, l2 = private_configs(preset, setup)
    state = sum(simulator_state_bytes(cfg, l1=l1, l2=l2, sample_sets=setup.sample_sets, threads=setup.threads)
                for cfg in setup.llc_configs())
    peak_batch = 0
    for trace in traces:
        rep = trace.representation
        lookups = batch_lookups_estimate(trace)
        lines = rep.max_lines_per_lookup(trace.line_bytes)
        # the pass's buffers: the TLB's expansion (up to 3 addresses and kinds per access) and served levels
        passes = lookups * lines * (HIERARCHY_BYTES_PER_ACCESS if setup.page_bytes is not None else 1)
        peak_batch = max(peak_batch, batch_bytes(lookups, lines) + passes)
    return plan_analysis(state, peak_batch, budget_bytes)


def batch_lookups_estimate(trace: ModelTrace) -> int:
    """Lookups of one batch: batch 0 measured for a seeded workload (plus 25% for random bag
    sizes), else batch size x features x the largest pooling factor."""
    if trace.generator is not None:
        return int(trace.generator.batch(trace.batch_size, 0).num_lookups * 1.25) + 1
    workload = trace.representation.workload
    pooling = max(workload.pooling) if workload.pooling else 1
    return trace.batch_size * workload.num_features * max(pooling, 1)
