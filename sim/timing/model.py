"""The timing model: cache hits/misses and work per lookup -> cycles, seconds, DRAM bandwidth.

An explicit, deliberately simple model (docs/timing-model.md has the full statement).
For one run of a representation's kernel over ``lookups`` token lookups::

    compute_cycles      = compute_cycles_per_lookup(model) * lookups
    memory_stall_cycles = (l1_hits * l1_hit_cycles + l2_hits * l2_hit_cycles
                           + llc_hits * llc_hit_cycles + llc_misses * dram_cycles) / mlp
    cycles              = compute_cycles + memory_stall_cycles
    seconds             = cycles / (freq_ghz * 1e9)
    dram_bytes          = dram_read_bytes + dram_write_bytes
    dram_bw_gbps        = dram_bytes / seconds / 1e9

``compute_cycles_per_lookup(model)`` is the per-model override when the model sets one
(a calibrated or user-given number), else the sum over operation kinds of
``compute_ops(model, params)[kind] * cost[kind]`` (hashes, integer div/mods, row gathers,
element adds, multiplies and fused multiply-adds; element costs are per float32 element,
so vectorisation is in the cost: 0.125 cycles/element = one 8-wide vector per cycle).
A lookup in a feature the representation keeps as a full table (small features of qr,
ttrec, hashing) costs what a dlrm lookup costs; pass per-feature lookups and the
cardinalities to get that mix.

Each hit is counted once, at the level that served it, with that level's load-to-use
latency. ``dram_read_bytes`` defaults to ``llc_misses * line_bytes``; write-backs add
DRAM bytes but no stall (stores retire into buffers).

Optional bandwidth cap: when ``peak_dram_gbps`` is set and the modelled time is shorter
than ``dram_bytes / peak``, the run is bandwidth-bound: seconds = dram_bytes / (peak * 1e9),
cycles = seconds * freq, and ``TimingResult.bandwidth_bound`` is True.

Ignored on purpose (say so when reporting): overlap of compute with memory stalls
(they add), hardware prefetching, queueing in the memory system below the peak
bandwidth, TLB misses, frequency changes, other cores sharing the LLC and DRAM.
"""

from __future__ import annotations

import math
import numbers
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

KNOWN_MODELS = ("dlrm", "hashing", "qr", "robe", "ttrec", "memrec")

# Operation kind counted by compute_ops -> the TimingModel field holding its cost in cycles.
OP_COST_FIELDS = {
    "lookups": "cycles_per_lookup_overhead",  # loop control, token id load, output pointer
    "hashes": "cycles_per_hash",  # one seeded hash evaluation incl. its range reduction
    "divmods": "cycles_per_divmod",  # one integer division/modulo by a run-time divisor
    "rows": "cycles_per_row",  # one row / chunk / core-slice gather: address arithmetic
    "adds": "cycles_per_add",  # one float32 element addition
    "muls": "cycles_per_mul",  # one float32 element multiplication
    "fmas": "cycles_per_fma",  # one float32 element multiply-add
}
OP_KINDS = tuple(OP_COST_FIELDS)

QR_COMBINERS = ("mult", "add", "concat")


# --------------------------------------------------------------------------- op counts

def _param(params: Mapping[str, Any], names: tuple[str, ...], default):
    for name in names:
        if name in params and params[name] is not None:
            return params[name]
    return default


def _positive_int(model: str, name: str, value) -> int:
    if not _finite_number(value) or value != int(value) or value < 1:
        raise ValueError(f"compute_ops({model!r}): {name} must be a positive integer, got {value!r}")
    return int(value)


def balanced_q(dim: int) -> tuple[int, int, int]:
    """q1 <= q2 <= q3 with q1*q2*q3 = dim and the smallest q3, first such in (q1, q2) order
    (128 -> 2, 8, 8): the split of dim that ``traces.representations.ttrec`` uses."""
    best = (1, 1, dim)
    for a in range(1, dim + 1):
        if a * a * a > dim:
            break
        if dim % a:
            continue
        b = a
        while b * b <= dim // a:
            if (dim // a) % b == 0:
                c = dim // a // b
                if b <= c < best[2]:
                    best = (a, b, c)
            b += 1
    return best


def _full_row_ops(dim: int) -> dict[str, float]:
    ops = {kind: 0.0 for kind in OP_KINDS}
    ops.update(lookups=1.0, divmods=1.0, rows=1.0, adds=float(dim))
    return ops


def compute_ops(model: str, params: Mapping[str, Any] | None = None, feature_rows: int | None = None) -> dict[str, float]:
    """Operations of one token lookup, by kind (keys: ``OP_KINDS``), counted from the kernels.

    ``params``: the representation's config fields (``Representation.describe()`` works;
    unknown keys are ignored) plus ``dim`` (the embedding dim l, default 128).
    ``feature_rows``: the cardinality of the lookup's feature; features that the
    representation leaves uncompressed (qr: rows <= ``threshold``; ttrec: rows <
    ``min_rows``; hashing: rows <= ``rows`` (m)) cost a full-table lookup. None means a
    compressed feature.

    Convention: combining one row of l elements into a result costs l element operations;
    every kernel first reduces the token modulo the feature's rows (1 divmod).

    - dlrm:    1 divmod, 1 row, l adds.
    - hashing: 1 divmod, 1 hash (multiply-add-shift + multiply-shift range), 1 row, l adds.
    - qr:      2 divmods (token mod n; quotient and remainder by m), 2 rows;
               mult: l muls + l adds; add: 2l adds; concat: l adds (two halves of l/2).
    - robe:    c = ceil(l/Z) chunks: c hashes (the multiply-add), 1 + 2c divmods
               (token mod n; mod P and mod |M|-Z+1 per chunk), c rows, l adds.
    - ttrec:   4 divmods (token mod n and the mixed-radix split), 3 rows (core slices);
               ranks (1, r, r, 1), q = ``q_factors`` or ``balanced_q(l)``: left-to-right
               contraction (q1 x r)(r x q2 r) then (q1 q2 x r)(r x q3) = q1 q2 r (r + q3) fmas; l adds.
    - memrec:  1 divmod, k + k' hashes, k + k' rows, k*l + k'*w adds (k token rows into the bag,
               k' weight entries of width w into alpha), k*l muls (alpha times each token row).
    """
    params = dict(params or {})
    if model not in KNOWN_MODELS:
        raise ValueError(f"unknown model {model!r}: known models are {', '.join(KNOWN_MODELS)}")
    dim = _positive_int(model, "dim", _param(params, ("dim", "l"), 128))
    if feature_rows is not None:
        feature_rows = _positive_int(model, "feature_rows", feature_rows)
    ops = _full_row_ops(dim)
    if model == "dlrm":
        return ops
    if model == "hashing":
        if not uses_full_table(model, params, feature_rows):
            ops["hashes"] = 1.0
        return ops
    if model == "qr":
        if uses_full_table(model, params, feature_rows):
            return ops
        combine = str(_param(params, ("combine", "combiner"), "mult")).lower()
        if combine not in QR_COMBINERS:
            raise ValueError(f"compute_ops('qr'): combine must be one of {', '.join(QR_COMBINERS)}, got {combine!r}")
        ops["divmods"], ops["rows"] = 2.0, 2.0
        if combine == "mult":
            ops["muls"] = float(dim)
        elif combine == "add":
            ops["adds"] = 2.0 * dim
        return ops
    if model == "robe":
        chunk = _positive_int(model, "chunk (Z)", _param(params, ("chunk", "z", "Z"), 32))
        chunks = -(-dim // chunk)
        ops["hashes"], ops["divmods"], ops["rows"] = float(chunks), 1.0 + 2.0 * chunks, float(chunks)
        return ops
    if model == "ttrec":
        if uses_full_table(model, params, feature_rows):
            return ops
        r = _positive_int(model, "rank", _param(params, ("rank",), 32))
        q = tuple(_param(params, ("q_factors", "q"), balanced_q(dim)))
        if len(q) != 3:
            raise ValueError(f"compute_ops('ttrec'): q_factors must be three factors (q1, q2, q3), got {q!r}")
        q1, q2, q3 = (_positive_int(model, "q factor", v) for v in q)
        if q1 * q2 * q3 != dim:
            raise ValueError(
                f"compute_ops('ttrec'): q1*q2*q3 must equal dim = {dim}, got {q1}*{q2}*{q3} = {q1 * q2 * q3}"
            )
        ops["divmods"], ops["rows"] = 4.0, 3.0
        ops["fmas"] = float(q1 * q2 * r * (r + q3))
        return ops
    # memrec
    k = _positive_int(model, "k", _param(params, ("k",), 1))
    k_weight = _positive_int(model, "k_weight", _param(params, ("k_weight", "k_prime"), 4))
    width = _positive_int(model, "weight_width", _param(params, ("weight_width",), 1))
    ops["hashes"], ops["rows"] = float(k + k_weight), float(k + k_weight)
    ops["adds"] = float(k * dim + k_weight * width)
    ops["muls"] = float(k * dim)
    return ops


def uses_full_table(model: str, params: Mapping[str, Any] | None, feature_rows: int | None) -> bool:
    """True when ``model`` serves a feature of ``feature_rows`` rows from a plain full table
    (dlrm always; qr rows <= threshold; ttrec rows < min_rows; hashing rows <= m)."""
    if model == "dlrm":
        return True
    if feature_rows is None:
        return False
    params = dict(params or {})
    if model == "qr":
        return feature_rows <= _param(params, ("threshold",), 200)
    if model == "ttrec":
        return feature_rows < _param(params, ("min_rows",), 1_000_000)
    if model == "hashing":
        return feature_rows <= _param(params, ("rows", "m"), 1_000_000)
    return False


def total_compute_ops(
    model: str, params: Mapping[str, Any] | None, lookups_per_feature: Sequence[int], cardinalities: Sequence[int]
) -> dict[str, float]:
    """Operations of a whole run: sum over features of lookups x ``compute_ops(..., feature_rows)``."""
    if len(lookups_per_feature) != len(cardinalities):
        raise ValueError(
            f"total_compute_ops: {len(lookups_per_feature)} lookup counts for {len(cardinalities)} features"
        )
    total = {kind: 0.0 for kind in OP_KINDS}
    for lookups, rows in zip(lookups_per_feature, cardinalities):
        if _count("lookups", lookups) == 0:
            continue
        for kind, count in compute_ops(model, params, int(rows)).items():
            total[kind] += count * lookups
    return total


# --------------------------------------------------------------------------- results

@dataclass(frozen=True)
class TimingResult:
    """Modelled time and DRAM traffic of one run (cycles are core cycles)."""

    compute_cycles: float
    memory_stall_cycles: float
    cycles: float
    seconds: float
    dram_read_bytes: int
    dram_write_bytes: int
    dram_bw_gbps: float
    bandwidth_bound: bool  # True when the peak-bandwidth cap set the time

    @property
    def dram_bytes(self) -> int:
        return self.dram_read_bytes + self.dram_write_bytes

    def as_dict(self) -> dict:
        out = asdict(self)
        out["dram_bytes"] = self.dram_bytes
        return out


# --------------------------------------------------------------------------- the model

_FLOAT_FIELDS = (
    "freq_ghz", "l1_hit_cycles", "l2_hit_cycles", "llc_hit_cycles", "dram_cycles", "mlp",
    *OP_COST_FIELDS.values(),
)


def _finite_number(value) -> bool:
    """A real, finite number (Python or numpy scalar), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class TimingModel:
    """Core frequency, load-to-use latencies (core cycles), MLP and compute costs.

    See the module docstring for the exact formulas. Latencies are in core cycles, so
    overriding ``freq_ghz`` alone does not rescale them (DRAM latency in ns does not
    change with core clock: override ``dram_cycles`` too). ``compute_cycles_per_lookup``
    holds per-model overrides as sorted (model, cycles) pairs; a dict is accepted.
    """

    name: str = "custom"
    freq_ghz: float = 3.0
    l1_hit_cycles: float = 5.0
    l2_hit_cycles: float = 14.0
    llc_hit_cycles: float = 50.0
    dram_cycles: float = 300.0
    mlp: float = 10.0
    line_bytes: int = 64
    peak_dram_gbps: float | None = None
    cycles_per_lookup_overhead: float = 6.0
    cycles_per_hash: float = 4.0
    cycles_per_divmod: float = 10.0
    cycles_per_row: float = 4.0
    cycles_per_add: float = 0.125
    cycles_per_mul: float = 0.125
    cycles_per_fma: float = 0.125
    compute_cycles_per_lookup: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"timing: name must be a non-empty string, got {self.name!r}")
        for name in _FLOAT_FIELDS:
            value = getattr(self, name)
            if not _finite_number(value):
                raise ValueError(f"timing: {name} must be a finite number, got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.freq_ghz <= 0:
            raise ValueError(f"timing: freq_ghz must be > 0, got {self.freq_ghz}")
        for name in ("l1_hit_cycles", "l2_hit_cycles", "llc_hit_cycles", "dram_cycles", *OP_COST_FIELDS.values()):
            if getattr(self, name) < 0:
                raise ValueError(f"timing: {name} must be >= 0, got {getattr(self, name)}")
        if not (self.l1_hit_cycles <= self.l2_hit_cycles <= self.llc_hit_cycles <= self.dram_cycles):
            raise ValueError(
                "timing: latencies must not decrease down the hierarchy: l1_hit_cycles <= l2_hit_cycles <= "
                f"llc_hit_cycles <= dram_cycles, got {self.l1_hit_cycles} / {self.l2_hit_cycles} / "
                f"{self.llc_hit_cycles} / {self.dram_cycles}"
            )
        if self.mlp < 1:
            raise ValueError(f"timing: mlp (misses in flight at once) must be >= 1, got {self.mlp}")
        if isinstance(self.line_bytes, bool) or not isinstance(self.line_bytes, numbers.Integral) or self.line_bytes < 1:
            raise ValueError(f"timing: line_bytes must be a positive integer, got {self.line_bytes!r}")
        object.__setattr__(self, "line_bytes", int(self.line_bytes))
        if self.peak_dram_gbps is not None:
            if not _finite_number(self.peak_dram_gbps) or self.peak_dram_gbps <= 0:
                raise ValueError(f"timing: peak_dram_gbps must be > 0 or None (no cap), got {self.peak_dram_gbps!r}")
            object.__setattr__(self, "peak_dram_gbps", float(self.peak_dram_gbps))
        object.__setattr__(self, "compute_cycles_per_lookup", _normalise_per_model(self.compute_cycles_per_lookup))

    # -- compute

    def op_costs(self) -> dict[str, float]:
        """Cycles per operation, by kind (keys: ``OP_KINDS``)."""
        return {kind: getattr(self, field) for kind, field in OP_COST_FIELDS.items()}

    def cycles_per_lookup(self, model: str, params: Mapping[str, Any] | None = None,
                          feature_rows: int | None = None) -> float:
        """Compute cycles of one lookup (in a feature of ``feature_rows`` rows; None = compressed).

        A lookup the representation serves from a full table (see ``uses_full_table``) costs
        what a dlrm lookup costs. Otherwise the model's entry in ``compute_cycles_per_lookup``
        if set, else ``compute_ops`` x the per-op costs.
        """
        key = "dlrm" if uses_full_table(model, params, feature_rows) else model
        overrides = dict(self.compute_cycles_per_lookup)
        if key in overrides:
            return overrides[key]
        costs = self.op_costs()
        return sum(count * costs[kind] for kind, count in compute_ops(key, params, feature_rows).items())

    def compute_cycles(self, model: str, lookups, params: Mapping[str, Any] | None = None,
                       cardinalities: Sequence[int] | None = None) -> float:
        """Compute cycles of a run: ``lookups`` is a total (every lookup as a compressed one) or
        a per-feature sequence, with ``cardinalities`` giving each feature's rows."""
        if cardinalities is None:
            if not _finite_number(lookups):
                raise ValueError("timing: per-feature lookups need the features' cardinalities")
            return self.cycles_per_lookup(model, params) * _count("lookups", lookups)
        lookups = list(lookups) if not _finite_number(lookups) else None
        if lookups is None or len(lookups) != len(cardinalities):
            raise ValueError("timing: with cardinalities, lookups must be one count per feature")
        return sum(
            self.cycles_per_lookup(model, params, int(rows)) * _count("lookups", n)
            for n, rows in zip(lookups, cardinalities) if n
        )

    # -- memory

    def memory_stall_cycles(self, *, l1_hits: int = 0, l2_hits: int = 0, llc_hits: int = 0, llc_misses: int = 0) -> float:
        """(sum of hits x latency at each level + LLC misses x DRAM latency) / MLP."""
        total = (
            _count("l1_hits", l1_hits) * self.l1_hit_cycles
            + _count("l2_hits", l2_hits) * self.l2_hit_cycles
            + _count("llc_hits", llc_hits) * self.llc_hit_cycles
            + _count("llc_misses", llc_misses) * self.dram_cycles
        )
        return total / self.mlp

    # -- the whole run

    def estimate(
        self,
        model: str,
        lookups: int,
        *,
        params: Mapping[str, Any] | None = None,
        cardinalities: Sequence[int] | None = None,
        **counts: int,
    ) -> TimingResult:
        """Cycles, seconds and DRAM bandwidth of ``lookups`` lookups of ``model``.

        ``lookups`` and ``cardinalities`` as in ``compute_cycles``; ``counts`` are the
        keyword counts of ``estimate_cycles`` (l1_hits, l2_hits, llc_hits, llc_misses,
        dram_read_bytes, dram_write_bytes).
        """
        return self.estimate_cycles(self.compute_cycles(model, lookups, params, cardinalities), **counts)

    def estimate_cycles(
        self,
        compute_cycles: float,
        *,
        l1_hits: int = 0,
        l2_hits: int = 0,
        llc_hits: int = 0,
        llc_misses: int = 0,
        dram_read_bytes: int | None = None,
        dram_write_bytes: int = 0,
    ) -> TimingResult:
        """Cycles, seconds and DRAM bandwidth from compute cycles (op counts or measured)
        and per-level hit counts; ``dram_read_bytes`` defaults to ``llc_misses * line_bytes``."""
        if not _finite_number(compute_cycles) or compute_cycles < 0:
            raise ValueError(f"timing: compute_cycles must be a finite number >= 0, got {compute_cycles!r}")
        stall = self.memory_stall_cycles(l1_hits=l1_hits, l2_hits=l2_hits, llc_hits=llc_hits, llc_misses=llc_misses)
        if dram_read_bytes is None:
            read_bytes = _whole("llc_misses", llc_misses) * self.line_bytes
        else:
            read_bytes = _whole("dram_read_bytes", dram_read_bytes)
        write_bytes = _whole("dram_write_bytes", dram_write_bytes)
        dram_bytes = read_bytes + write_bytes
        cycles = float(compute_cycles) + stall
        seconds = cycles / (self.freq_ghz * 1e9)
        bound = False
        if self.peak_dram_gbps is not None and dram_bytes > 0:
            floor_seconds = dram_bytes / (self.peak_dram_gbps * 1e9)
            if floor_seconds > seconds:
                seconds, cycles, bound = floor_seconds, floor_seconds * self.freq_ghz * 1e9, True
        if dram_bytes == 0:
            bandwidth = 0.0
        elif seconds <= 0:
            raise ValueError(
                f"timing: {dram_bytes} DRAM bytes in zero modelled time (no lookups, no misses); "
                "give the lookups and misses that caused the traffic"
            )
        else:
            bandwidth = dram_bytes / seconds / 1e9
        return TimingResult(float(compute_cycles), stall, cycles, seconds, read_bytes, write_bytes, bandwidth, bound)

    # -- overrides

    def with_overrides(self, **overrides) -> "TimingModel":
        """A copy with fields replaced; ``compute_cycles_per_lookup`` entries are merged in.

        Unknown keys raise ValueError naming the key and the known ones.
        """
        known = field_names()
        for key in overrides:
            if key not in known:
                raise ValueError(f"timing: unknown parameter {key!r}; known parameters: {', '.join(known)}")
        overrides = dict(overrides)
        if "compute_cycles_per_lookup" in overrides:
            merged = dict(self.compute_cycles_per_lookup)
            merged.update(dict(_normalise_per_model(overrides["compute_cycles_per_lookup"])))
            overrides["compute_cycles_per_lookup"] = merged
        return replace(self, **overrides)

    def describe(self) -> dict:
        """JSON-ready parameters (for result metadata)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["compute_cycles_per_lookup"] = dict(self.compute_cycles_per_lookup)
        return out


def field_names() -> tuple[str, ...]:
    """The parameters a user may override (TOML keys and ``--timing`` keys)."""
    return tuple(f.name for f in fields(TimingModel))


def _count(name: str, value) -> int | float:
    if isinstance(value, bool) or not _finite_number(value) or value < 0:
        raise ValueError(f"timing: {name} must be a finite number >= 0, got {value!r}")
    return value


def _whole(name: str, value) -> int:
    _count(name, value)
    if value != int(value):
        raise ValueError(f"timing: {name} must be a whole number, got {value!r}")
    return int(value)


def _normalise_per_model(value) -> tuple[tuple[str, float], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    try:
        pairs = [(model, cycles) for model, cycles in items]
    except (TypeError, ValueError):
        raise ValueError(
            f"timing: compute_cycles_per_lookup must map model names to cycles, got {value!r}"
        ) from None
    out = {}
    for model, cycles in pairs:
        if model not in KNOWN_MODELS:
            raise ValueError(
                f"timing: compute_cycles_per_lookup has unknown model {model!r}; known models: {', '.join(KNOWN_MODELS)}"
            )
        if not _finite_number(cycles) or cycles < 0:
            raise ValueError(f"timing: compute_cycles_per_lookup[{model!r}] must be a finite number >= 0, got {cycles!r}")
        out[model] = float(cycles)
    return tuple(sorted(out.items()))


# --------------------------------------------------------------------------- TOML and CLI overrides

_TOML_TABLES = ("timing", "compute_cycles_per_lookup")


def load_overrides_toml(path: str | Path) -> dict:
    """Overrides from a TOML file: a ``[timing]`` table of parameters and an optional
    ``[compute_cycles_per_lookup]`` table (model = cycles). Unknown tables or keys raise
    ValueError naming them and the known ones."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot read timing file: {exc.strerror or exc}") from None
    for table in data:
        if table not in _TOML_TABLES:
            raise ValueError(f"{path}: unknown table [{table}]; known tables: {', '.join('[' + t + ']' for t in _TOML_TABLES)}")
    timing = data.get("timing", {})
    if not isinstance(timing, dict):
        raise ValueError(f"{path}: 'timing' must be a table ([timing])")
    known = field_names()
    overrides = {}
    for key, value in timing.items():
        if key not in known:
            raise ValueError(f"{path}: unknown key {key!r} in [timing]; known keys: {', '.join(known)}")
        overrides[key] = value
    per_model = dict(overrides.pop("compute_cycles_per_lookup", {}) or {})
    extra = data.get("compute_cycles_per_lookup", {})
    if not isinstance(extra, dict):
        raise ValueError(f"{path}: 'compute_cycles_per_lookup' must be a table")
    for model in extra:
        if model not in KNOWN_MODELS:
            raise ValueError(
                f"{path}: unknown model {model!r} in [compute_cycles_per_lookup]; known models: {', '.join(KNOWN_MODELS)}"
            )
    per_model.update(extra)
    if per_model:
        overrides["compute_cycles_per_lookup"] = per_model
    return overrides


def parse_timing_overrides(items: Iterable[str]) -> dict:
    """Turn CLI strings ``key=value`` into overrides for ``TimingModel.with_overrides``.

    ``compute_cycles_per_lookup.MODEL=CYCLES`` sets one model's compute cycles;
    ``peak_dram_gbps=none`` removes the bandwidth cap. ValueError names a bad item.
    """
    known = field_names()
    overrides: dict[str, Any] = {}
    per_model: dict[str, float] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key, text = key.strip(), text.strip()
        if not sep or not key or not text:
            raise ValueError(f"--timing {item!r}: expected KEY=VALUE, e.g. llc_hit_cycles=70")
        if key.startswith("compute_cycles_per_lookup."):
            model = key.split(".", 1)[1]
            if model not in KNOWN_MODELS:
                raise ValueError(f"--timing {item!r}: unknown model {model!r}; known models: {', '.join(KNOWN_MODELS)}")
            per_model[model] = _parse_number(item, text)
            continue
        if key not in known or key == "compute_cycles_per_lookup":
            raise ValueError(
                f"--timing {item!r}: unknown key {key!r}; known keys: "
                f"{', '.join(k for k in known if k != 'compute_cycles_per_lookup')}, compute_cycles_per_lookup.MODEL"
            )
        if key == "name":
            overrides[key] = text
        elif key == "peak_dram_gbps" and text.lower() in ("none", "off", "inf"):
            overrides[key] = None
        elif key == "line_bytes":
            try:
                overrides[key] = int(text)
            except ValueError:
                raise ValueError(f"--timing {item!r}: line_bytes must be an integer") from None
        else:
            overrides[key] = _parse_number(item, text)
    if per_model:
        overrides["compute_cycles_per_lookup"] = per_model
    return overrides


def _parse_number(item: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"--timing {item!r}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"--timing {item!r}: value must be finite")
    return value
