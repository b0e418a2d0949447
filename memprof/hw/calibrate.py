"""Measure this machine for the timing model, and keep the result: each representation's
compute cycles per lookup, the kernel call overhead, and (``memprof.hw.microbench``) the
memory system: latency per level, page-walk cost, lines in flight, per-core row bandwidth.

Why: the timing model's compute term (``sim.timing.model``) is an op count
(``Representation.op_counts``) times assumed per-op costs; a measurement of the real
Numba kernel replaces the assumption with what this CPU does. How: each representation
is built over a small workload whose arrays fit in half the host's L1d (else half its L2;
the level used is recorded per model), so table reads hit L1 and the time is compute plus
cache-resident loads (the model charges L2/LLC/DRAM rows separately); its ``pooled`` kernel is
timed ``repeat`` times on one batch after warm-up (in interleaved rounds over the
models), the per-call overhead (the same call on a batch of empty bags) is subtracted,
and the best ns/lookup is turned into cycles with the host frequency.

Stored as JSON (``calibration_path()``, schema ``memprof.calibration/2``) with the host CPU,
frequency source, date, versions and the parameters each model was measured with; every
machine parameter as {"value", "unit", "source"}, the source starting with "measured:",
"sysfs:" or "assumed:". ``load_calibration`` gives the compute ``TimingModel.with_overrides``
arguments for the ``host`` preset; ``load_machine_calibration`` the machine parameters
(``microbench.FIELDS``) and where each came from.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from memprof.hw import microbench
from memprof.hw.host import host_cpu_name, host_preset, read_cpu_info, read_host_frequency
from sim.timing.model import TimingModel
from traces.batch import Batch
from traces.representations import REGISTRY
from traces.format.fileio import atomic_write_text
from traces.workloads import Workload, TableSpec

MODELS = tuple(REGISTRY)  # calibration entries and compute_cycles_per_lookup overrides are keyed by these
SCHEMA = "memprof.calibration/2"
OLD_SCHEMAS = ("memprof.calibration/1",)
CACHE_ENV = "MEMPROF_CACHE_DIR"
DEFAULT_FEATURES = 4
DEFAULT_ROWS = 256
DEFAULT_BATCH_SIZE = 64
DEFAULT_POOLING = 16
DEFAULT_REPEAT = 30
DEFAULT_ROUNDS = 3

# Parameters calibration sets itself (they size the arrays, or route lookups to the
# compressed path); the rest of a model's parameters are kept and recorded.
SIZE_PARAMS = {
    "dlrm": (),
    "hashing": ("rows",),
    "qr": ("collisions", "threshold"),
    "robe": ("compression", "size_floats"),
    "ttrec": ("min_rows",),
    "memrec": ("d", "d_weight"),
}
# Parameters that change the work per lookup: a stored entry applies only when they match.
COMPUTE_PARAMS = {
    "dlrm": (),
    "hashing": (),
    "qr": ("combine",),
    "robe": ("chunk",),
    "ttrec": ("rank",),
    "memrec": ("k", "k_weight", "weight_width", "shared"),
}


def calibration_path() -> Path:
    """``$MEMPROF_CACHE_DIR/calibration.json``, else ``$XDG_CACHE_HOME/memprof/...``, else ``~/.cache/memprof/...``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]) / "calibration.json"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "memprof" / "calibration.json"


@dataclass(frozen=True)
class ModelCalibration:
    """One representation's measurement."""

    model: str
    cycles_per_lookup: float  # best ns/lookup x freq_ghz
    ns_per_lookup_best: float
    ns_per_lookup_median: float
    overhead_ns_per_call: float  # the empty-batch call, subtracted
    lookups_per_call: int
    repeat: int
    memory_bytes: int
    params: dict = field(default_factory=dict)  # the representation's config as measured, plus dim
    resident_level: str = "l1"  # the cache level its arrays were sized for: "l1", "l2" or "budget" (--budget)
    budget_bytes: int = 0  # the array budget used (half that level)
    call_ns: float | None = None  # its best call on one sample of empty bags: the fixed cost of a call

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"calibration: unknown model {self.model!r}; known: {', '.join(MODELS)}")
        for name in ("cycles_per_lookup", "ns_per_lookup_best", "ns_per_lookup_median"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value >= 0):
                raise ValueError(f"calibration {self.model}: {name} must be a finite number >= 0, got {value!r}")
        if self.lookups_per_call < 1 or self.repeat < 1:
            raise ValueError(f"calibration {self.model}: lookups_per_call and repeat must be >= 1")


@dataclass(frozen=True)
class Calibration:
    """A calibration run: host, frequency (and where it came from), and one entry per model."""

    host_cpu: str
    created: str  # ISO 8601 UTC
    freq_ghz: float
    freq_source: str
    freq_assumed: bool
    budget_bytes: int  # arrays were kept under this (half the host L2)
    models: dict[str, ModelCalibration]
    versions: dict = field(default_factory=dict)
    method: str = ""
    values: dict = field(default_factory=dict)  # machine parameter -> {"value", "unit", "source", ...}
    memory: dict = field(default_factory=dict)  # the microbenchmarks' curves behind the memory values

    def overrides(self) -> dict:
        """``TimingModel.with_overrides`` arguments: compute cycles per lookup of each model."""
        return {"compute_cycles_per_lookup": {m: c.cycles_per_lookup for m, c in self.models.items()}}

    def to_json(self) -> str:
        payload = {"schema": SCHEMA, **asdict(self)}
        return json.dumps(payload, indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "calibration") -> "Calibration":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno}); delete it and rerun "
                             "`memprof calibrate`") from None
        if isinstance(data, dict) and data.get("schema") in OLD_SCHEMAS:
            raise ValueError(f"{source}: a {data['schema']} file from an older memprof (no memory measurements); "
                             "re-run `memprof calibrate`")
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise ValueError(f"{source}: not a {SCHEMA} file; delete it and rerun `memprof calibrate`")
        try:
            models = {name: ModelCalibration(**entry) for name, entry in data["models"].items()}
            return cls(
                host_cpu=str(data["host_cpu"]), created=str(data["created"]), freq_ghz=float(data["freq_ghz"]),
                freq_source=str(data["freq_source"]), freq_assumed=bool(data["freq_assumed"]),
                budget_bytes=int(data["budget_bytes"]), models=models, versions=dict(data.get("versions", {})),
                method=str(data.get("method", "")), values=_checked_values(data.get("values", {}), source),
                memory=dict(data.get("memory") or {}),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{source}: malformed calibration ({exc}); delete it and rerun `memprof calibrate`") from None


def _checked_values(values, source: str) -> dict:
    """The stored machine parameters, each a dict with value, unit and source (ValueError otherwise)."""
    if not isinstance(values, dict):
        raise TypeError("values is not a mapping")
    for name, entry in values.items():
        if not isinstance(entry, dict) or not {"value", "unit", "source"} <= set(entry):
            raise ValueError(f"{source}: malformed calibration (value {name!r} lacks value/unit/source); "
                             "re-run `memprof calibrate`")
    return dict(values)


def merge_calibrations(old: Calibration | None, new: Calibration) -> tuple[Calibration, str]:
    """Keep ``old``'s entries for models ``new`` did not measure, and its memory values when
    ``new`` has none (``--no-memory``), when both come from the same CPU model and frequency;
    otherwise ``new`` alone. Returns (result, a note)."""
    if old is None:
        return new, "new calibration"
    if old.host_cpu != new.host_cpu or round(old.freq_ghz, 3) != round(new.freq_ghz, 3):
        return new, f"replaced the calibration for {old.host_cpu!r} at {old.freq_ghz:.3f} GHz"
    kept = {m: e for m, e in old.models.items() if m not in new.models}
    kept_values = {k: v for k, v in old.values.items() if k not in new.values}
    if not kept and not kept_values:
        return new, "replaced every entry"
    merged = Calibration(**{**asdict(new), "models": {**kept, **new.models}, "values": {**kept_values, **new.values},
                            "memory": new.memory or (old.memory if kept_values else {})})
    notes = [f"kept earlier entries for {', '.join(sorted(kept))}"] if kept else []
    if kept_values:
        notes.append(f"kept the earlier memory measurements ({old.created[:10]})")
    return merged, "; ".join(notes)


def save_calibration(calibration: Calibration, path: str | os.PathLike | None = None) -> Path:
    """Write atomically (creating the directory); returns the path."""
    target = Path(path) if path is not None else calibration_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, calibration.to_json())
    return target


def read_calibration(path: str | os.PathLike | None = None) -> Calibration | None:
    """The stored calibration, or None when there is none; ValueError when it is unreadable."""
    target = Path(path) if path is not None else calibration_path()
    if not target.exists():
        return None
    return Calibration.from_json(target.read_text(encoding="utf-8"), str(target))


def _matches(model: str, stored: dict, wanted: dict | None) -> bool:
    if wanted is None:
        return True
    for key in COMPUTE_PARAMS[model] + ("dim",):
        if key in wanted and key in stored and wanted[key] != stored[key]:
            return False
    return True


def load_calibration(
    path: str | os.PathLike | None = None,
    *,
    model_params: dict[str, dict] | None = None,
    cpuinfo_path: str | os.PathLike = "/proc/cpuinfo",
) -> tuple[dict, str]:
    """(overrides for the ``host`` preset, a one-line note saying what was used and why).

    Overrides are empty when there is no calibration, when it was made on another CPU
    model, or (per model) when ``model_params`` (model -> config fields plus ``dim``)
    differ from the measured ones in a parameter that changes the work per lookup.
    """
    target = Path(path) if path is not None else calibration_path()
    calibration = read_calibration(target)
    if calibration is None:
        return {}, f"no calibration at {target} (run `memprof calibrate`): compute costs are op-count defaults"
    here = host_cpu_name(cpuinfo_path)
    if calibration.host_cpu != here:
        return {}, (f"calibration at {target} is for {calibration.host_cpu!r}, this CPU is {here!r}: not used")
    used, skipped, calls = {}, [], {}
    for model, entry in calibration.models.items():
        wanted = None if model_params is None else model_params.get(model)
        if _matches(model, entry.params, wanted):
            used[model] = entry.cycles_per_lookup
        else:
            skipped.append(model)
        if entry.call_ns is not None:
            calls[model] = entry.call_ns * calibration.freq_ghz
    note = f"compute cycles per lookup from {target} ({calibration.created[:10]}, {calibration.freq_ghz:.3f} GHz"
    note += " assumed" if calibration.freq_assumed else ""
    note += f"): {', '.join(f'{m} {c:.1f}' for m, c in sorted(used.items())) or 'none'}"
    if skipped:
        note += f"; not used (measured with other parameters): {', '.join(sorted(skipped))}"
    overrides = {"compute_cycles_per_lookup": used} if used else {}
    if calls:
        overrides["kernel_call_cycles_per_label"] = calls
        note += f"; kernel call cycles: {', '.join(f'{m} {c:.0f}' for m, c in sorted(calls.items()))}"
    return overrides, note


def load_machine_calibration(
    path: str | os.PathLike | None = None,
    *,
    cpuinfo_path: str | os.PathLike = "/proc/cpuinfo",
) -> tuple[dict, dict, str]:
    """(overrides, provenance, note) for the ``host`` preset's machine parameters.

    ``overrides``: ``microbench.FIELDS`` (latencies, page walk, fill buffers, row bandwidths,
    kernel call) -> value, for those stored with a value; ``provenance``: the same fields ->
    their source ("measured: ...", "sysfs: ...", "assumed: ..."). Both empty when there is no
    calibration or it was made on another CPU model. Kept apart from ``load_calibration``'s
    compute overrides so they reach ``TimingModel.with_overrides`` only once it takes them.
    """
    target = Path(path) if path is not None else calibration_path()
    calibration = read_calibration(target)
    if calibration is None:
        return {}, {}, f"no calibration at {target} (run `memprof calibrate`): machine parameters are the preset's"
    here = host_cpu_name(cpuinfo_path)
    if calibration.host_cpu != here:
        return {}, {}, f"calibration at {target} is for {calibration.host_cpu!r}, this CPU is {here!r}: not used"
    overrides, provenance = {}, {}
    for name in microbench.FIELDS:
        entry = calibration.values.get(name)
        if entry is None or entry.get("value") is None:
            continue
        overrides[name] = float(entry["value"])
        provenance[name] = str(entry["source"])
    assumed = sorted(n for n, src in provenance.items() if src.startswith("assumed"))
    missing = [n for n in microbench.FIELDS if n not in overrides]
    note = f"machine parameters from {target} ({calibration.created[:10]}): {len(overrides) - len(assumed)} measured"
    note += f", assumed: {', '.join(assumed)}" if assumed else ""
    note += f", not stored: {', '.join(missing)}" if missing else ""
    return overrides, provenance, note


def check_model_overrides(overrides: dict) -> dict:
    """``overrides`` unchanged when every ``compute_cycles_per_lookup`` key names a representation;
    ValueError naming the unknown one and the known ones otherwise."""
    for model in dict(overrides.get("compute_cycles_per_lookup") or {}):
        if model not in MODELS:
            raise ValueError(f"compute_cycles_per_lookup: unknown model {model!r}; known models: {', '.join(MODELS)}")
    return overrides


def op_count_cycles(entry: ModelCalibration, timing: TimingModel | None = None) -> float:
    """What ``timing`` (default: the TimingModel defaults) gives one lookup of ``entry``'s
    representation from op counts, with the parameters it was measured with: the number the
    measurement replaces."""
    from traces.representations import build, config_fields

    params = {k: v for k, v in entry.params.items() if k in config_fields(entry.model)}
    rep = build(entry.model, _small_workload(1, 8, int(entry.params["dim"])), **params)
    return (timing or TimingModel()).cycles_per_lookup(rep.op_counts().ops)


def calibrate_timing(timing: TimingModel, path=None, *, model_params=None,
                     cpuinfo_path="/proc/cpuinfo") -> tuple[TimingModel, str, dict]:
    """``timing`` (the host preset's) with the stored calibration applied: the measured machine
    parameters (``load_machine_calibration``) and compute cycles per lookup
    (``load_calibration``); also the note saying what was used and the provenance of each
    machine parameter."""
    machine, provenance, machine_note = load_machine_calibration(path, cpuinfo_path=cpuinfo_path)
    compute, compute_note = load_calibration(path, model_params=model_params, cpuinfo_path=cpuinfo_path)
    return timing.with_overrides(**machine, **compute), f"{machine_note}; {compute_note}", provenance


def calibrated_host_timing(path=None, *, model_params=None, sysfs_root="/sys",
                           cpuinfo_path="/proc/cpuinfo") -> tuple[TimingModel, str]:
    """The ``host`` preset's timing model with the stored calibration applied, and the note."""
    timing, note, _ = calibrate_timing(host_preset(sysfs_root, cpuinfo_path).timing, path, model_params=model_params,
                                       cpuinfo_path=cpuinfo_path)
    return timing, note


# --------------------------------------------------------------------------- measuring

def calibration_params(model: str, params: dict | None, rows: int) -> dict:
    """The representation parameters used for calibration: ``params`` with the array sizes
    shrunk (and every feature routed to the compressed path) for tables of ``rows`` rows."""
    out = dict(params or {})
    if model == "hashing":
        out["rows"] = max(1, rows // 2)  # m < rows: every feature hashes
    elif model == "qr":
        out["threshold"] = 0
        out["collisions"] = max(1, int(round(rows ** 0.5)))
    elif model == "robe":
        out.pop("compression", None)
        out["size_floats"] = max(int(out.get("chunk", 32)) * 4, rows * 64)
    elif model == "ttrec":
        out["min_rows"] = 1
    elif model == "memrec":
        out["d"] = rows
        out["d_weight"] = rows
    return out


def _small_workload(features: int, rows: int, dim: int) -> Workload:
    return Workload(f"calibration[{features}x{rows}x{dim}]", tuple(TableSpec(rows, dim) for _ in range(features)))


def _batch(features: int, batch_size: int, pooling: int, rows: int, seed: int) -> Batch:
    rng = np.random.default_rng(seed)
    bags = features * batch_size
    indices = rng.integers(0, rows, size=bags * pooling, dtype=np.int64)
    offsets = np.arange(bags + 1, dtype=np.int64) * pooling
    return Batch(indices, offsets, features, batch_size)


def _time_calls(function, repeat: int, clock) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = clock()
        function()
        samples.append(float(clock() - start))
    return samples


def build_small(model: str, params: dict | None, *, dim: int, budget_bytes: int, features: int = DEFAULT_FEATURES,
                rows: int = DEFAULT_ROWS):
    """Build ``model`` on a workload small enough that its arrays fit ``budget_bytes``.

    Halves the rows (down to 8), then the features (down to 1), until they fit;
    ValueError if even the smallest does not fit (e.g. a huge TT rank).
    Returns (representation, workload, params used).
    """
    from traces.representations import build

    while True:
        used = calibration_params(model, params, rows)
        workload = _small_workload(features, rows, dim)
        rep = build(model, workload, **used)
        if rep.memory_bytes <= budget_bytes:
            return rep, workload, used
        if rows > 8:
            rows //= 2
        elif features > 1:
            features -= 1
        else:
            raise ValueError(
                f"calibrate {model}: its smallest arrays need {rep.memory_bytes:,} bytes, over the "
                f"{budget_bytes:,}-byte cache budget; lower its parameters (e.g. rank) or raise --budget"
            )


@dataclass
class _Bench:
    """A built, allocated representation with its timed batch and its empty-bag batch."""

    model: str
    rep: object
    batch: Batch
    empty: Batch
    dim: int
    samples: list = field(default_factory=list)
    overhead: list = field(default_factory=list)
    kernel: dict = field(default_factory=dict)  # pooled()'s threads and prefetch_distance
    out: np.ndarray | None = None  # the reused output buffer
    level: str = "budget"  # the cache level the arrays were sized for
    budget: int = 0
    tiny: Batch | None = None  # one sample of empty bags: the fixed cost of a call
    tiny_out: np.ndarray | None = None
    calls: list = field(default_factory=list)

    def call(self, batch) -> None:
        self.rep.pooled(batch, self.out, **self.kernel)

    def call_tiny(self) -> None:
        self.rep.pooled(self.tiny, self.tiny_out, **self.kernel)


def _kernel(threads: int, prefetch_distance: int | None) -> dict:
    from sim.jit import check_threads
    from traces.representations.base import check_prefetch_distance

    kernel = {"threads": check_threads(threads)}
    if prefetch_distance is not None:
        kernel["prefetch_distance"] = check_prefetch_distance(prefetch_distance)
    return kernel


def _prepare(model, params, *, dim, budget_bytes, batch_size, pooling, seed, kernel, level="budget") -> _Bench:
    rep, workload, _ = build_small(model, params, dim=dim, budget_bytes=budget_bytes)
    rep.allocate(seed=seed, budget_bytes=budget_bytes)
    features, rows = workload.num_features, workload.tables[0].rows
    # the data loader's work (Mem-Rec's hashing) happens before the timed kernel, as released
    batch = rep.prepare(_batch(features, batch_size, pooling, rows, seed))
    empty = rep.prepare(Batch(np.zeros(0, dtype=np.int64), np.zeros(features * batch_size + 1, dtype=np.int64),
                              features, batch_size))
    out = np.empty((rep.output_features(features), batch_size, dim), dtype=np.float32)
    tiny = rep.prepare(Batch(np.zeros(0, dtype=np.int64), np.zeros(features + 1, dtype=np.int64), features, 1))
    bench = _Bench(model, rep, batch, empty, dim, kernel=kernel, out=out, level=level, budget=budget_bytes, tiny=tiny,
                   tiny_out=np.empty((rep.output_features(features), 1, dim), dtype=np.float32))
    for _ in range(2):  # compile (or load from the Numba cache)
        bench.call(batch)
        bench.call(empty)
        bench.call_tiny()
    return bench


def _run_round(bench: _Bench, count: int, clock) -> None:
    """One round: an untimed warming call, max(3, count) timed empty-batch calls, count timed calls."""
    bench.call(bench.batch)  # bring this model's arrays back into L1/L2
    bench.overhead += _time_calls(lambda: bench.call(bench.empty), max(3, count), clock)
    bench.samples += _time_calls(lambda: bench.call(bench.batch), count, clock)
    bench.calls += _time_calls(bench.call_tiny, max(3, count), time.perf_counter_ns)  # not part of the fake-clock API


def _result(bench: _Bench, freq_ghz: float) -> ModelCalibration:
    lookups = bench.batch.num_lookups
    overhead = min(bench.overhead)
    best = max(0.0, (min(bench.samples) - overhead) / lookups)
    median = max(0.0, (statistics.median(bench.samples) - overhead) / lookups)
    recorded = {k: v for k, v in bench.rep.describe().items() if k != "model"}
    recorded["dim"] = bench.dim
    recorded.update(bench.kernel)  # threads (and prefetch_distance when set): how the kernel ran
    return ModelCalibration(
        model=bench.model, cycles_per_lookup=best * freq_ghz, ns_per_lookup_best=best, ns_per_lookup_median=median,
        overhead_ns_per_call=overhead, lookups_per_call=lookups, repeat=len(bench.samples),
        memory_bytes=bench.rep.memory_bytes, params=_jsonable(recorded), resident_level=bench.level,
        budget_bytes=int(bench.budget), call_ns=float(min(bench.calls)) if bench.calls else None,
    )


def measure_model(model: str, params: dict | None = None, *, dim: int = 128, budget_bytes: int = 512 * 1024,
                  freq_ghz: float, repeat: int = DEFAULT_REPEAT, batch_size: int = DEFAULT_BATCH_SIZE,
                  pooling: int = DEFAULT_POOLING, seed: int = 0, clock=time.perf_counter_ns, threads: int = 1,
                  prefetch_distance: int | None = None) -> ModelCalibration:
    """Time ``model``'s pooled kernel on cache-resident tables; cycles = best ns/lookup x freq_ghz.
    ``clock``: a nanosecond counter (a parameter so tests can drive it); ``threads`` and
    ``prefetch_distance`` (None: the kernels' default) are passed to ``pooled``."""
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    bench = _prepare(model, params, dim=dim, budget_bytes=budget_bytes, batch_size=batch_size, pooling=pooling,
                     seed=seed, kernel=_kernel(threads, prefetch_distance))
    _run_round(bench, repeat, clock)
    return _result(bench, freq_ghz)


def _jsonable(params: dict) -> dict:
    out = {}
    for key, value in params.items():
        if isinstance(value, (np.integer,)):
            value = int(value)
        elif isinstance(value, (np.floating,)):
            value = float(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out


def resident_budgets(host, budget_bytes: int | None) -> list[tuple[str, int]]:
    """The array budgets to try, in order, as (level, bytes): half the L1d, then half the L2;
    a user's ``budget_bytes`` alone as ("budget", bytes)."""
    if budget_bytes is not None:
        return [("budget", int(budget_bytes))]
    return [("l1", host.l1d.size_bytes // 2), ("l2", host.l2.size_bytes // 2)]


def _prepare_resident(model, params, budgets, **kw) -> _Bench:
    """``_prepare`` at the first budget the model's arrays fit (the last one's error otherwise)."""
    for i, (level, budget) in enumerate(budgets):
        try:
            return _prepare(model, params, budget_bytes=budget, level=level, **kw)
        except ValueError:
            if i == len(budgets) - 1:
                raise
    raise ValueError("no cache budget given")


OUTPUT_BYTES = {"cache": 128 * 1024, "dram": 128 * 1024 * 1024}  # output arrays: in L2; far past the LLC


def output_store_values(freq_ghz: float, freq_note: str, *, dim: int = 128, repeat: int = DEFAULT_REPEAT,
                        threads: int = 1, prefetch_distance: int | None = None) -> dict:
    """``kernel_call_cycles`` and the cost of storing the output rows, from dlrm's kernel on batches
    of empty bags (each bag stores one zero row of ``dim`` floats and reads no table): one sample
    of each feature gives the fixed cost of a call; an output of 128 KiB (in L2) the
    cache-resident cost per 64 B output line; one of 128 MiB (far past the LLC) the cost per line
    when the output lives in DRAM (the stores' reads for ownership and write-backs). Best of
    ``repeat`` calls each (the wall clock: this is a measurement, not a test hook); cycles = ns x
    ``freq_ghz``."""
    rep, workload, _ = build_small("dlrm", None, dim=dim, budget_bytes=64 * 1024)
    rep.allocate(seed=0, budget_bytes=64 * 1024)
    features = workload.num_features
    kernel = _kernel(threads, prefetch_distance)
    lines_per_bag = -(-dim * 4 // 64)
    row_bytes = features * dim * 4
    batches = {"fixed": 1, **{name: max(2, size // row_bytes) for name, size in OUTPUT_BYTES.items()}}
    best = {}
    for name, samples in batches.items():
        empty = rep.prepare(Batch(np.zeros(0, dtype=np.int64), np.zeros(features * samples + 1, dtype=np.int64),
                                  features, samples))
        out = np.empty((rep.output_features(features), samples, dim), dtype=np.float32)
        call = lambda: rep.pooled(empty, out, **kernel)  # noqa: E731
        call()
        call()  # compiled, output pages touched
        best[name] = min(_time_calls(call, max(3, repeat if name != "dram" else 5), time.perf_counter_ns))
    bags = {name: features * samples for name, samples in batches.items()}
    per_line = {name: max(0.0, (best[name] - best["fixed"]) / ((bags[name] - bags["fixed"]) * lines_per_bag))
                for name in ("cache", "dram")}
    fixed = max(0.0, best["fixed"] - bags["fixed"] * lines_per_bag * per_line["cache"])
    how = (f"measured: dlrm's pooled() on batches of empty bags ({features} features x {{}} samples, each bag one "
           f"zero row of {dim} floats), best of {repeat} calls, x {freq_ghz:.3f} GHz{freq_note}")
    return {
        "kernel_call_cycles": microbench.value(
            fixed * freq_ghz, "cycles", how.format(1) + f"; minus its {features} rows' stores", ns=fixed),
        "output_store_cycles_cache": microbench.value(
            per_line["cache"] * freq_ghz, "cycles",
            how.format(f"1 and {batches['cache']}") + ": per 64 B line of a 128 KiB output (L2-resident)",
            ns=per_line["cache"]),
        "output_store_cycles_dram": microbench.value(
            per_line["dram"] * freq_ghz, "cycles",
            how.format(f"1 and {batches['dram']}") + ": per 64 B line of a 128 MiB output (past the LLC: read for "
            "ownership and write-back)", ns=per_line["dram"]),
    }


def cache_size_values(host) -> dict:
    """The cache sizes the level picking used, with their source (sysfs when read there)."""
    out = {}
    for name in ("l1d", "l2", "llc"):
        src = host.sources.get(name, "")
        src = f"sysfs: {src[len('read: '):]}" if src.startswith("read") else (
            src if src.startswith("assumed") else f"assumed: {src}")
        out[f"{name}_bytes"] = microbench.value(getattr(host, name).size_bytes, "bytes", src)
    return out


def calibrate(models=MODELS, model_params: dict[str, dict] | None = None, *, dim: int = 128,
              repeat: int = DEFAULT_REPEAT, rounds: int = DEFAULT_ROUNDS, seed: int = 0,
              budget_bytes: int | None = None, sysfs_root="/sys", cpuinfo_path="/proc/cpuinfo",
              progress=None, clock=time.perf_counter_ns, threads: int = 1,
              prefetch_distance: int | None = None, memory: bool = False, log=None,
              max_footprint: int = microbench.DEFAULT_MAX_FOOTPRINT, memory_options: dict | None = None
              ) -> Calibration:
    """Measure every model in ``models``: ``rounds`` interleaved rounds of about repeat/rounds
    timed calls each, arrays sized for half the L1d (else half the L2, or ``budget_bytes``);
    ``progress(model)`` is called as each model is built and compiled, ``log(message)`` as the
    memory part advances; ``clock``, ``threads`` and ``prefetch_distance`` as in ``measure_model``.
    ``memory``: also run the memory microbenchmarks up to ``max_footprint`` bytes
    (``memory_options``: more ``microbench.measure_memory`` arguments, e.g. paths for tests)."""
    kernel = _kernel(threads, prefetch_distance)
    host = host_preset(sysfs_root, cpuinfo_path)
    ghz, source = read_host_frequency(sysfs_root, cpuinfo_path)
    assumed = ghz is None
    if assumed:
        ghz = host.timing.freq_ghz
        source = f"{source}; assumed {ghz} GHz (ns_per_lookup values are the measurement)"
    budgets = resident_budgets(host, budget_bytes)
    if repeat < 1 or rounds < 1:
        raise ValueError(f"repeat and rounds must be >= 1, got {repeat} and {rounds}")
    if memory:
        microbench.usable_footprint(max_footprint, None)  # a bad size fails before any work
    say = log or (lambda message: None)
    benches = []
    for model in models:
        if progress is not None:
            progress(model)
        benches.append(_prepare_resident(model, (model_params or {}).get(model), budgets, dim=dim,
                                         batch_size=DEFAULT_BATCH_SIZE, pooling=DEFAULT_POOLING, seed=seed,
                                         kernel=kernel))
    per_round = -(-repeat // rounds)
    for _ in range(rounds):  # interleaved, so a burst of load elsewhere does not hit one model only
        for bench in benches:
            _run_round(bench, per_round, clock)
    results = {bench.model: _result(bench, ghz) for bench in benches}
    freq_note = " (frequency assumed)" if assumed else ""
    values = output_store_values(ghz, freq_note, dim=dim, repeat=repeat, threads=threads,
                                 prefetch_distance=prefetch_distance) if results else {}
    detail = {}
    if memory:
        say("memory microbenchmarks ...")
        result = microbench.measure_memory(
            freq_ghz=ghz, l1d=host.l1d.size_bytes, l2=host.l2.size_bytes, llc=host.llc.size_bytes, preset=host,
            max_footprint=max_footprint, seed=seed, hypervisor=read_cpu_info(cpuinfo_path, sysfs_root).hypervisor,
            progress=say, **(memory_options or {}))
        values.update(cache_size_values(host))
        values.update(result.values)
        detail = {**result.detail, "cache_sizes": {"l1d": host.l1d.size_bytes, "l2": host.l2.size_bytes,
                                                   "llc": host.llc.size_bytes},
                  "cache_sources": {k: host.sources.get(k, "") for k in ("l1d", "l2", "llc")}}
    import numba

    from memprof import __version__

    levels = sorted({b.level for b in benches})
    return Calibration(
        host_cpu=host_cpu_name(cpuinfo_path),
        created=_dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        freq_ghz=float(ghz), freq_source=source, freq_assumed=assumed, budget_bytes=int(budgets[0][1]),
        models=results,
        versions={"memprof": __version__, "numba": numba.__version__, "numpy": np.__version__,
                  "python": platform.python_version()},
        method=(f"best of {per_round * rounds} timed pooled(batch, out, threads={threads}) calls in {rounds} "
                "interleaved rounds, "
                f"{DEFAULT_BATCH_SIZE} samples x {DEFAULT_POOLING} lookups per bag per feature, arrays within "
                + " or ".join(f"{b} bytes ({lv})" for lv, b in budgets) + f" (used: {', '.join(levels)}), "
                "minus the best empty-batch call; cycles = ns x freq_ghz"),
        values=values, memory=detail,
    )
