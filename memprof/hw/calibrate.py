"""Measure each representation's compute cycles per lookup on this machine, and keep them.

Why: the timing model's compute term (``sim.timing.model``) is an op count
(``Representation.op_counts``) times assumed per-op costs; a measurement of the real
Numba kernel replaces the assumption with what this CPU does. How: each representation
is built over a small workload whose arrays fit in half the host's L2 (so table reads
hit L1/L2 and the time is compute plus cache-resident loads), its ``pooled`` kernel is
timed ``repeat`` times on one batch after warm-up (in interleaved rounds over the
models), the per-call overhead (the same call on a batch of empty bags) is subtracted,
and the best ns/lookup is turned into cycles with the host frequency.

Stored as JSON (``calibration_path()``) with the host CPU, frequency source, date,
versions and the parameters each model was measured with. ``load_calibration`` gives
``TimingModel.with_overrides`` arguments for the ``host`` preset.
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

from memprof.hw.host import host_cpu_name, host_preset, read_host_frequency
from sim.timing.model import TimingModel
from traces.batch import Batch
from traces.representations import REGISTRY
from traces.format.fileio import atomic_write_text
from traces.workloads import Workload, TableSpec

MODELS = tuple(REGISTRY)  # calibration entries and compute_cycles_per_lookup overrides are keyed by these
SCHEMA = "memprof.calibration/1"
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
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise ValueError(f"{source}: not a {SCHEMA} file; delete it and rerun `memprof calibrate`")
        try:
            models = {name: ModelCalibration(**entry) for name, entry in data["models"].items()}
            return cls(
                host_cpu=str(data["host_cpu"]), created=str(data["created"]), freq_ghz=float(data["freq_ghz"]),
                freq_source=str(data["freq_source"]), freq_assumed=bool(data["freq_assumed"]),
                budget_bytes=int(data["budget_bytes"]), models=models, versions=dict(data.get("versions", {})),
                method=str(data.get("method", "")),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{source}: malformed calibration ({exc}); delete it and rerun `memprof calibrate`") from None


def merge_calibrations(old: Calibration | None, new: Calibration) -> tuple[Calibration, str]:
    """Keep ``old``'s entries for models ``new`` did not measure when both come from the same
    CPU model and frequency; otherwise ``new`` alone. Returns (result, a note)."""
    if old is None:
        return new, "new calibration"
    if old.host_cpu != new.host_cpu or round(old.freq_ghz, 3) != round(new.freq_ghz, 3):
        return new, f"replaced the calibration for {old.host_cpu!r} at {old.freq_ghz:.3f} GHz"
    kept = {m: e for m, e in old.models.items() if m not in new.models}
    if not kept:
        return new, "replaced every model's entry"
    merged = Calibration(**{**asdict(new), "models": {**kept, **new.models}})
    return merged, f"kept earlier entries for {', '.join(sorted(kept))}"


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
    used, skipped = {}, []
    for model, entry in calibration.models.items():
        wanted = None if model_params is None else model_params.get(model)
        if _matches(model, entry.params, wanted):
            used[model] = entry.cycles_per_lookup
        else:
            skipped.append(model)
    note = f"compute cycles per lookup from {target} ({calibration.created[:10]}, {calibration.freq_ghz:.3f} GHz"
    note += " assumed" if calibration.freq_assumed else ""
    note += f"): {', '.join(f'{m} {c:.1f}' for m, c in sorted(used.items())) or 'none'}"
    if skipped:
        note += f"; not used (measured with other parameters): {', '.join(sorted(skipped))}"
    return ({"compute_cycles_per_lookup": used} if used else {}), note


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


def calibrated_host_timing(path=None, *, model_params=None, sysfs_root="/sys",
                           cpuinfo_path="/proc/cpuinfo") -> tuple[TimingModel, str]:
    """The ``host`` preset's timing model with the stored calibration applied, and the note."""
    timing = host_preset(sysfs_root, cpuinfo_path).timing
    overrides, note = load_calibration(path, model_params=model_params, cpuinfo_path=cpuinfo_path)
    return (timing.with_overrides(**overrides) if overrides else timing), note


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

    def call(self, batch) -> None:
        self.rep.pooled(batch, self.out, **self.kernel)


def _kernel(threads: int, prefetch_distance: int | None) -> dict:
    from sim.jit import check_threads
    from traces.representations.base import check_prefetch_distance

    kernel = {"threads": check_threads(threads)}
    if prefetch_distance is not None:
        kernel["prefetch_distance"] = check_prefetch_distance(prefetch_distance)
    return kernel


def _prepare(model, params, *, dim, budget_bytes, batch_size, pooling, seed, kernel) -> _Bench:
    rep, workload, _ = build_small(model, params, dim=dim, budget_bytes=budget_bytes)
    rep.allocate(seed=seed, budget_bytes=budget_bytes)
    features, rows = workload.num_features, workload.tables[0].rows
    # the data loader's work (Mem-Rec's hashing) happens before the timed kernel, as released
    batch = rep.prepare(_batch(features, batch_size, pooling, rows, seed))
    empty = rep.prepare(Batch(np.zeros(0, dtype=np.int64), np.zeros(features * batch_size + 1, dtype=np.int64),
                              features, batch_size))
    out = np.empty((rep.output_features(features), batch_size, dim), dtype=np.float32)
    bench = _Bench(model, rep, batch, empty, dim, kernel=kernel, out=out)
    for _ in range(2):  # compile (or load from the Numba cache)
        bench.call(batch)
        bench.call(empty)
    return bench


def _run_round(bench: _Bench, count: int, clock) -> None:
    """One round: an untimed warming call, max(3, count) timed empty-batch calls, count timed calls."""
    bench.call(bench.batch)  # bring this model's arrays back into L1/L2
    bench.overhead += _time_calls(lambda: bench.call(bench.empty), max(3, count), clock)
    bench.samples += _time_calls(lambda: bench.call(bench.batch), count, clock)


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
        memory_bytes=bench.rep.memory_bytes, params=_jsonable(recorded),
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


def calibrate(models=MODELS, model_params: dict[str, dict] | None = None, *, dim: int = 128,
              repeat: int = DEFAULT_REPEAT, rounds: int = DEFAULT_ROUNDS, seed: int = 0,
              budget_bytes: int | None = None, sysfs_root="/sys", cpuinfo_path="/proc/cpuinfo",
              progress=None, clock=time.perf_counter_ns, threads: int = 1,
              prefetch_distance: int | None = None) -> Calibration:
    """Measure every model in ``models``: ``rounds`` interleaved rounds of about repeat/rounds
    timed calls each; ``progress(model)`` is called as each model is built and compiled;
    ``clock``, ``threads`` and ``prefetch_distance`` as in ``measure_model``."""
    kernel = _kernel(threads, prefetch_distance)
    host = host_preset(sysfs_root, cpuinfo_path)
    ghz, source = read_host_frequency(sysfs_root, cpuinfo_path)
    assumed = ghz is None
    if assumed:
        ghz = host.timing.freq_ghz
        source = f"{source}; assumed {ghz} GHz (ns_per_lookup values are the measurement)"
    budget = budget_bytes if budget_bytes is not None else host.l2.size_bytes // 2
    if repeat < 1 or rounds < 1:
        raise ValueError(f"repeat and rounds must be >= 1, got {repeat} and {rounds}")
    benches = []
    for model in models:
        if progress is not None:
            progress(model)
        benches.append(_prepare(model, (model_params or {}).get(model), dim=dim, budget_bytes=budget,
                                batch_size=DEFAULT_BATCH_SIZE, pooling=DEFAULT_POOLING, seed=seed, kernel=kernel))
    per_round = -(-repeat // rounds)
    for _ in range(rounds):  # interleaved, so a burst of load elsewhere does not hit one model only
        for bench in benches:
            _run_round(bench, per_round, clock)
    results = {bench.model: _result(bench, ghz) for bench in benches}
    import numba

    from memprof import __version__

    return Calibration(
        host_cpu=host_cpu_name(cpuinfo_path),
        created=_dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        freq_ghz=float(ghz), freq_source=source, freq_assumed=assumed, budget_bytes=int(budget), models=results,
        versions={"memprof": __version__, "numba": numba.__version__, "numpy": np.__version__,
                  "python": platform.python_version()},
        method=(f"best of {per_round * rounds} timed pooled(batch, out, threads={threads}) calls in {rounds} "
                "interleaved rounds, "
                f"{DEFAULT_BATCH_SIZE} samples x {DEFAULT_POOLING} lookups per bag per feature, arrays <= {budget} "
                "bytes, minus the best empty-batch call; cycles = ns x freq_ghz"),
    )
