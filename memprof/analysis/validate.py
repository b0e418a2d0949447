"""``memprof validate``: the timing model's predicted ns/lookup against the real kernels' measured
ns/lookup on this machine, point by point, and the summary the targets of issue 14 are read from.

A point is (representation variant, table footprint, skew, batch size). Both sides see the same
batches: a *ring* of seeded batches (at least ``ring_lookups`` lookups, at least one batch).
Measured: the kernel (``Representation.pooled`` into one reused output buffer, as ``memprof
bench`` times it) loops over the ring; the first pass warms (JIT, page faults, caches) and the
next ``repeat`` passes are timed in this process (best and median ns/lookup). Predicted: the
simulator over the same ring twice, the first pass as warm-up (``CacheSetup(warmup=0.5)``),
through ``run_analysis(..., cpu="host")`` (host preset + calibration); predicted ns/lookup =
``seconds / lookups`` of the row at the host's LLC size. The measured timings are never fed
back into any parameter.

Why not pyperf's worker processes: every worker re-imports numba, re-allocates and re-fills the
tables (gigabytes at the largest footprint) and re-generates the ring; over ~90 points that alone
exceeds the 10-minute budget on a 2-core machine. In-process timing of >= 5 passes after a
warm pass keeps the two properties that matter here (warm-up excluded, best and median kept).
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from memprof.analysis.experiment import BASELINE
from memprof.report.schema import VALIDATE_COLUMNS
from sim.sizes import format_size

MIB = 1 << 20
MIN_FOOTPRINT_BYTES = MIB
MIN_REPEAT = 5
DEFAULT_SKEWS = ("0", "0.8", "1.05", "meta-2021")
DEFAULT_BATCHES = (1, 64, 1024, 16384)
DEFAULT_FOOTPRINTS_MB = (8, 64, 512)  # plus the memory budget
DEFAULT_COMPARE_SKEWS = ("1.05",)
DEFAULT_RING_LOOKUPS = 1 << 17
DEFAULT_REPEAT = 5
MODELS = ("dlrm", "memrec", "robe", "qr", "hashing", "ttrec")
MEMREC_POOLINGS = ("sample", "feature")

# The targets of issue 14 on this machine: (name, threshold on |error|).
TARGETS = (("median |error| <= 15%", 0.15), ("every point |error| <= 35%", 0.35),
           ("speed-up ratios vs dlrm within 20%", 0.20))

TABLE_COLUMNS = VALIDATE_COLUMNS  # declared once, in memprof.report.schema


@dataclass(frozen=True)
class Variant:
    """One representation with its parameters (e.g. memrec with pooling=feature)."""

    model: str
    params: tuple[tuple[str, object], ...] = ()

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.params) or "defaults"

    def __str__(self) -> str:
        return self.model if not self.params else f"{self.model}[{self.label}]"


def default_variants(models=MODELS, params: dict[str, dict] | None = None) -> tuple[Variant, ...]:
    """One variant per model (dlrm first, added when missing), memrec once per pooling mode unless
    ``params`` fixes its pooling."""
    params = params or {}
    out = []
    for model in dict.fromkeys([BASELINE, *models]):
        given = dict(params.get(model) or {})
        if model == "memrec" and "pooling" not in given:
            out += [Variant(model, tuple(sorted({**given, "pooling": p}.items()))) for p in MEMREC_POOLINGS]
        else:
            out.append(Variant(model, tuple(sorted(given.items()))))
    return tuple(out)


@dataclass(frozen=True)
class Skew:
    """A number is the Zipf exponent (the workload's pooling); a name is a ``traces.skew`` preset."""

    text: str
    alpha: float | None
    preset: str | None

    def spec_fields(self) -> dict:
        return {"skew": self.preset} if self.preset else {"alpha": self.alpha}


def parse_skew(text: str) -> Skew:
    """``"1.05"`` -> alpha 1.05, ``"meta-2021"`` -> that preset; ValueError naming the known presets."""
    from traces.skew import SKEW_PRESETS

    text = str(text).strip()
    try:
        alpha = float(text)
    except ValueError:
        if text not in SKEW_PRESETS:
            raise ValueError(f"skew {text!r}: give a Zipf exponent >= 0 (e.g. 0.8) or a preset "
                             f"({', '.join(SKEW_PRESETS)})") from None
        return Skew(text, None, text)
    if not (math.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"skew {text!r}: a Zipf exponent must be a finite number >= 0")
    return Skew(f"{alpha:g}", alpha, None)  # one spelling per value: "1.050" is "1.05"


@dataclass(frozen=True)
class ValidateConfig:
    """The grid: dlrm at every footprint x skew x batch; the other variants at the largest footprint,
    every batch, and the ``compare_skews`` (their speed-ups are against dlrm at the same point)."""

    variants: tuple[Variant, ...]
    footprints: tuple[int, ...]
    skews: tuple[str, ...] = DEFAULT_SKEWS
    compare_skews: tuple[str, ...] = DEFAULT_COMPARE_SKEWS
    batch_sizes: tuple[int, ...] = DEFAULT_BATCHES
    budget_bytes: int = 0
    workload: str = "criteo-tb"
    seed: int = 0
    ring_lookups: int = DEFAULT_RING_LOOKUPS
    repeat: int = DEFAULT_REPEAT
    threads: int = 1
    prefetch_distance: int | None = None  # None: the kernels' default

    def __post_init__(self):
        if not any(v.model == BASELINE for v in self.variants):
            raise ValueError(f"the variants must include the {BASELINE} baseline")
        if not self.footprints or not self.batch_sizes or not self.skews:
            raise ValueError("give at least one footprint, batch size and skew")
        for size in self.footprints:
            if size < MIN_FOOTPRINT_BYTES:
                raise ValueError(f"footprint {format_size(size)}: must be at least {format_size(MIN_FOOTPRINT_BYTES)}")
            if self.budget_bytes and size > self.budget_bytes:
                raise ValueError(f"footprint {format_size(size)}: above the memory budget "
                                 f"{format_size(self.budget_bytes)}")
        if any(b < 1 for b in self.batch_sizes):
            raise ValueError(f"batch sizes must be >= 1, got {self.batch_sizes}")
        for text in (*self.skews, *self.compare_skews):
            parse_skew(text)
        if self.repeat < MIN_REPEAT:
            raise ValueError(f"repeat={self.repeat}: at least {MIN_REPEAT} timed passes")
        if self.ring_lookups < 1:
            raise ValueError(f"ring_lookups={self.ring_lookups}: must be >= 1")

    def points(self) -> list[tuple[int, str, int, tuple[Variant, ...]]]:
        """(footprint, skew, batch, variants) groups in run order: one simulation per group."""
        largest = max(self.footprints)
        others = tuple(v for v in self.variants if v.model != BASELINE)
        base = tuple(v for v in self.variants if v.model == BASELINE)
        skews = list(dict.fromkeys([*self.skews, *(self.compare_skews if others else ())]))
        groups = []
        for footprint in sorted(set(self.footprints)):
            for skew in skews:
                for batch in self.batch_sizes:
                    chosen = base if skew in self.skews else ()
                    if footprint == largest and skew in self.compare_skews:
                        chosen = base + others
                    if chosen:
                        groups.append((footprint, skew, batch, chosen))
        return groups


# --- the ring both sides see -------------------------------------------------------------------

def trace_spec(variant: Variant, config: ValidateConfig, max_rows: int | None, skew: str, batch_size: int):
    """The ``TraceSpec`` of one point (batches: filled in by ``ring_batches``)."""
    from traces.spec import TraceSpec

    return TraceSpec(variant.model, config.workload, max_rows=max_rows, batch_size=batch_size, seed=config.seed,
                     params=variant.params, **parse_skew(skew).spec_fields())


def ring_batches(spec, ring_lookups: int) -> list:
    """Batches 0, 1, ... of ``spec``'s seeded generator until they hold >= ``ring_lookups`` lookups."""
    generator = spec.build().generator
    ring, lookups = [], 0
    while not ring or lookups < ring_lookups:
        batch = generator.batch(spec.batch_size, len(ring))
        ring.append(batch)
        lookups += batch.num_lookups
    return ring


def simulated_trace(rep, ring: list, line_bytes: int = 64):
    """The ring twice, as one ``ModelTrace``: with ``CacheSetup(warmup=0.5)`` the first pass is the
    warm-up and the second is measured, as the timed kernel passes follow a warm pass."""
    from traces.stream import ModelTrace

    return ModelTrace(rep, batches=list(ring) + list(ring), batch_size=ring[0].batch_size,
                      num_batches=2 * len(ring), line_bytes=line_bytes, source={"source": "validate ring"})


# --- the two sides -----------------------------------------------------------------------------

def measure_ring(rep, ring: list, repeat: int, *, threads: int = 1, prefetch_distance: int | None = None,
                 clock=time.perf_counter_ns) -> tuple[float, float]:
    """(best, median) ns/lookup of ``repeat`` timed passes of ``rep.pooled`` over ``ring`` after one
    warm pass; ``ring`` holds prepared batches (``rep.prepare``)."""
    lookups = sum(b.num_lookups for b in ring)
    if lookups == 0:
        raise ValueError("the ring has no lookups: nothing to time")
    kwargs = {"threads": threads}
    if prefetch_distance is not None:
        kwargs["prefetch_distance"] = prefetch_distance
    out = np.empty((rep.output_features(ring[0].num_features), ring[0].batch_size, rep.dim), dtype=np.float32)
    passes = []
    for index in range(repeat + 1):
        start = clock()
        for batch in ring:
            rep.pooled(batch, out, **kwargs)
        elapsed = clock() - start
        if index:  # pass 0 warms
            passes.append(elapsed / lookups)
    return float(min(passes)), float(statistics.median(passes))


def host_llc(host, calibration=None) -> tuple[int, int, str]:
    """(bytes, ways, why) of the LLC to simulate for this core: the host preset's (sysfs). The
    pointer-chase knee ``memprof calibrate`` stores (``llc_effective_bytes``) is reported beside it
    but not simulated: in a virtual machine the chase past a few MiB pays the host's nested page
    walks, so its knee is TLB reach, not capacity (docs/validation.md: a 13.6 MB output array
    was written at cache speed on a VM whose knee was 2 MiB)."""
    from memprof.hw.calibrate import read_calibration

    calibration = calibration if calibration is not None else read_calibration()
    entry = (calibration.values.get("llc_effective_bytes") if calibration is not None else None) or {}
    why = f"the host preset's LLC ({host.sources.get('llc', 'sysfs')})"
    if entry.get("value") and int(entry["value"]) < host.llc.size_bytes:
        why += (f"; the pointer chase's knee is at {int(entry['value']) / (1 << 20):g} MiB ({entry.get('source', '')}), "
                "reported, not simulated")
    return host.llc.size_bytes, host.llc.ways, why


def table_page_bytes(reps) -> int:
    """The page size the measured tables actually got: 2 MiB when transparent huge pages back
    (nearly) all of every representation's array buffer (AnonHugePages in /proc/self/smaps),
    else 4 KiB; the prediction simulates the same TLB reach."""
    from memprof.hw.microbench import GRANTED, anon_huge_bytes

    large = [rep.weights for rep in reps if getattr(rep, "weights", None) is not None
             and rep.weights.nbytes >= (2 << 20)]
    for weights in large:
        huge = anon_huge_bytes(weights.ctypes.data)
        if huge is None or huge < GRANTED * weights.nbytes:
            return 4096
    return (2 << 20) if large else 4096


def predict_group(reps: list, rings: list[list], llc_bytes: int, ways: int,
                  page_bytes: int = 4096) -> list[tuple[float, dict]]:
    """Predicted ns/lookup per representation (dlrm among them), from ``run_analysis`` with the host
    preset and calibration over each one's ring twice; also each row (the frame's columns)."""
    from memprof.analysis.experiment import CacheSetup, run_analysis

    traces = [simulated_trace(rep, ring) for rep, ring in zip(reps, rings)]
    setup = CacheSetup((llc_bytes,), ways=ways, warmup=0.5, page_bytes=page_bytes)
    frame, metadata = run_analysis(traces, setup, cpu="host", progress=False)
    out = []
    for rep, ring, (_, row) in zip(reps, rings, frame.iterrows()):
        if row["model"] != rep.name or int(row["llc_bytes"]) != llc_bytes:
            raise RuntimeError(f"run_analysis rows out of order: expected {rep.name} at {llc_bytes} B")
        lookups = int(row["lookups"])
        if lookups != sum(b.num_lookups for b in ring):
            raise RuntimeError(f"{rep.name}: simulated {lookups} lookups after the warm-up, the ring has "
                               f"{sum(b.num_lookups for b in ring)}: warm-up is not the first pass")
        out.append((float(row["seconds"]) / lookups * 1e9, {"metadata": metadata, **row.to_dict()}))
    return out


# --- the run ---------------------------------------------------------------------------------

@dataclass
class ValidateRun:
    frame: pd.DataFrame
    metadata: dict = field(default_factory=dict)


def run_validate(config: ValidateConfig, *, log: Callable[[str], None] | None = None) -> ValidateRun:
    """Measure and predict every point of ``config``; the table (``TABLE_COLUMNS``) and metadata."""
    from memprof.hw.bench import table_cap
    from memprof.hw.host import cpu_preset
    from memprof.hw.kernel_runner import fill_constant

    log = log or (lambda _m: None)
    host = cpu_preset("host")
    llc_bytes, ways, llc_source = host_llc(host)
    log(f"validate: simulating a {llc_bytes / MIB:g} MiB {ways}-way LLC: {llc_source}")
    pages_seen = set()
    groups = config.points()
    total = sum(len(g[3]) for g in groups)
    rows, compute_note, done, started = [], None, 0, time.monotonic()
    for footprint in sorted(set(config.footprints)):
        cap, dlrm_bytes = table_cap(BASELINE, config.workload, budget_bytes=footprint)
        built: dict[Variant, object] = {}
        for fp, skew, batch, variants in groups:
            if fp != footprint:
                continue
            for variant in variants:
                if variant not in built:
                    rep = trace_spec(variant, config, cap, skew, batch).representation()
                    fill_constant(rep)  # lookup time does not depend on the values (as memprof bench)
                    built[variant] = rep
            raw = ring_batches(trace_spec(variants[0], config, cap, skew, batch), config.ring_lookups)
            reps = [built[v] for v in variants]
            rings = [[rep.prepare(b) for b in raw] for rep in reps]  # the data loader's work: not timed
            measured = [measure_ring(rep, ring, config.repeat, threads=config.threads,
                                     prefetch_distance=config.prefetch_distance) for rep, ring in zip(reps, rings)]
            page_bytes = table_page_bytes(reps)
            pages_seen.add(page_bytes)
            predicted = predict_group(reps, rings, llc_bytes, ways, page_bytes)
            compute_note = predicted[0][1]["metadata"].get("compute_costs")
            for variant, rep, (best, median), (pred, _row) in zip(variants, reps, measured, predicted):
                rows.append({"model": variant.model, "params": variant.label, "skew": skew,
                             "footprint_bytes": dlrm_bytes, "batch_size": batch, "model_bytes": int(rep.memory_bytes),
                             "ring_batches": len(raw), "lookups": int(sum(b.num_lookups for b in raw)),
                             "measured_ns_per_lookup_best": best, "measured_ns_per_lookup_median": median,
                             "predicted_ns_per_lookup": pred})
                done += 1
                log(f"validate [{done}/{total}, {time.monotonic() - started:.0f} s] {variant} skew {skew}, "
                    f"{dlrm_bytes / MIB:,.1f} MiB of dlrm tables, batch {batch}: measured {best:.1f} ns/lookup "
                    f"(best of {config.repeat}), predicted {pred:.1f}")
        built.clear()
    frame = add_errors(pd.DataFrame(rows))
    metadata = {"host_llc_bytes": llc_bytes, "host_llc_ways": ways, "host_llc_source": llc_source,
                "page_bytes_simulated": sorted(pages_seen), "compute_costs": compute_note,
                "elapsed_seconds": round(time.monotonic() - started, 1), "points": total}
    return ValidateRun(frame[list(TABLE_COLUMNS)], metadata)


# --- the table's derived columns and the summary (pure functions of the rows) ------------------

POINT_KEYS = ("footprint_bytes", "skew", "batch_size")


def add_errors(frame: pd.DataFrame) -> pd.DataFrame:
    """``error`` = predicted / measured best - 1; speed-ups versus the dlrm row of the same
    footprint, skew and batch: measured = dlrm measured / row measured, predicted likewise, and
    ``speedup_error`` = predicted speed-up / measured speed-up - 1 (NaN for dlrm rows and where no
    dlrm row matches: no ratio)."""
    frame = frame.copy()
    frame["error"] = frame["predicted_ns_per_lookup"] / frame["measured_ns_per_lookup_best"] - 1.0
    for column in ("measured_speedup_vs_dlrm", "predicted_speedup_vs_dlrm", "speedup_error"):
        frame[column] = np.nan
    base = frame[frame["model"] == BASELINE].set_index(list(POINT_KEYS))
    for idx, row in frame.iterrows():
        key = tuple(row[k] for k in POINT_KEYS)
        if row["model"] == BASELINE or key not in base.index:
            continue
        ref = base.loc[key]
        ref = ref.iloc[0] if isinstance(ref, pd.DataFrame) else ref
        measured = ref["measured_ns_per_lookup_best"] / row["measured_ns_per_lookup_best"]
        predicted = ref["predicted_ns_per_lookup"] / row["predicted_ns_per_lookup"]
        frame.loc[idx, ["measured_speedup_vs_dlrm", "predicted_speedup_vs_dlrm", "speedup_error"]] = (
            measured, predicted, predicted / measured - 1.0)
    return frame


def speedup_unavailable(frame: pd.DataFrame) -> dict[int, str]:
    """{row index: why its speed-up cells are empty}."""
    keys = {tuple(r[k] for k in POINT_KEYS) for _, r in frame[frame["model"] == BASELINE].iterrows()}
    out = {}
    for idx, row in frame.iterrows():
        if row["model"] == BASELINE:
            out[idx] = "dlrm is the baseline"
        elif tuple(row[k] for k in POINT_KEYS) not in keys:
            out[idx] = "no dlrm point at this footprint, skew and batch"
    return out


def label_unavailable(frame: pd.DataFrame) -> pd.DataFrame:
    """Table/Markdown view: 'unavailable (why)' in the empty speed-up cells (CSV/JSON keep null)."""
    reasons = speedup_unavailable(frame)
    if not reasons:
        return frame
    frame = frame.copy()
    for column in ("measured_speedup_vs_dlrm", "predicted_speedup_vs_dlrm", "speedup_error"):
        frame[column] = frame[column].astype(object)
        for idx, why in reasons.items():
            frame.loc[idx, column] = f"unavailable ({why})"
    return frame


@dataclass(frozen=True)
class TargetResult:
    name: str
    threshold: float
    value: float | None  # the statistic compared with the threshold; None when unavailable
    met: bool | None  # None: unavailable
    why_unavailable: str = ""

    def line(self) -> str:
        if self.met is None:
            return f"{self.name}: unavailable ({self.why_unavailable})"
        return f"{self.name}: {'met' if self.met else 'not met'} ({self.value:.1%})"


def _within(value: float, threshold: float) -> bool:
    """value <= threshold, forgiving float rounding (115 / 100 - 1 is 0.15000000000000013)."""
    return bool(value <= threshold + 1e-9)


def summarize(frame: pd.DataFrame) -> dict:
    """Median and worst |error|, the worst point, the speed-up errors and the three targets."""
    errors = frame["error"].abs().to_numpy(dtype=float)
    if errors.size == 0 or not np.isfinite(errors).all():
        raise ValueError("summary: every point needs a finite error")
    worst = int(np.argmax(errors))
    speed = frame["speedup_error"].abs().to_numpy(dtype=float)
    speed = speed[np.isfinite(speed)]
    median, worst_value = float(np.median(errors)), float(errors[worst])
    targets = [TargetResult(TARGETS[0][0], TARGETS[0][1], median, _within(median, TARGETS[0][1])),
               TargetResult(TARGETS[1][0], TARGETS[1][1], worst_value, _within(worst_value, TARGETS[1][1]))]
    if speed.size:
        targets.append(TargetResult(TARGETS[2][0], TARGETS[2][1], float(speed.max()),
                                    _within(float(speed.max()), TARGETS[2][1])))
    else:
        targets.append(TargetResult(TARGETS[2][0], TARGETS[2][1], None, None,
                                    "no representation besides dlrm at a dlrm point"))
    row = frame.iloc[worst]
    return {
        "points": int(errors.size),
        "median_abs_error": median,
        "worst_abs_error": worst_value,
        "worst_point": {k: (row[k].item() if hasattr(row[k], "item") else row[k])
                        for k in ("model", "params", "skew", "footprint_bytes", "batch_size")},
        "speedup_pairs": int(speed.size),
        "median_abs_speedup_error": float(np.median(speed)) if speed.size else None,
        "worst_abs_speedup_error": float(speed.max()) if speed.size else None,
        "targets": [{"target": t.name, "threshold": t.threshold, "value": t.value, "met": t.met,
                     "line": t.line()} for t in targets],
    }


def summary_lines(summary: dict) -> list[str]:
    """The summary as text lines for stderr."""
    w = summary["worst_point"]
    lines = [f"{summary['points']} points: median |error| {summary['median_abs_error']:.1%}, worst "
             f"{summary['worst_abs_error']:.1%} ({w['model']} [{w['params']}], skew {w['skew']}, "
             f"{int(w['footprint_bytes']) / MIB:,.1f} MiB, batch {w['batch_size']})"]
    if summary["speedup_pairs"]:
        lines.append(f"speed-up vs dlrm, predicted / measured - 1 over {summary['speedup_pairs']} points: "
                     f"median |error| {summary['median_abs_speedup_error']:.1%}, "
                     f"worst {summary['worst_abs_speedup_error']:.1%}")
    lines += [f"target {t['line']}" for t in summary["targets"]]
    return lines
