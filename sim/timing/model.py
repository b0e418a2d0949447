"""The timing model: cache hits/misses and work per lookup -> cycles, seconds, DRAM bandwidth.

An explicit, deliberately simple model (docs/timing-model.md has the full statement).
For one run of a kernel over groups of token lookups (each group: a label, the operations
of one of its lookups, its lookup count)::

    compute_cycles      = sum over groups of cycles_per_lookup(ops, label) * lookups
    memory_stall_cycles = (l1_hits * l1_hit_cycles + l2_hits * l2_hit_cycles
                           + llc_hits * llc_hit_cycles + llc_misses * dram_cycles) / mlp
    cycles              = compute_cycles + memory_stall_cycles
    seconds             = cycles / (freq_ghz * 1e9)
    dram_bytes          = dram_read_bytes + dram_write_bytes
    dram_bw_gbps        = dram_bytes / seconds / 1e9

``cycles_per_lookup(ops, label)`` is the override for ``label`` when
``compute_cycles_per_lookup`` has one (a calibrated or user-given number), else the sum
over operation kinds of ``ops[kind] * cost[kind]`` (hashes, integer div/mods, row
gathers, element adds, multiplies and fused multiply-adds; element costs are per float32
element, so vectorisation is in the cost: 0.125 cycles/element = one 8-wide vector per
cycle). The caller supplies the operation counts and the labels (the kernels' owner
knows what one lookup does); this module knows only the kinds (``OP_KINDS``).

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
from typing import Any, Iterable, Mapping

# Operation kind counted per lookup -> the TimingModel field holding its cost in cycles.
OP_COST_FIELDS = {
    "lookups": "cycles_per_lookup_overhead",  # loop control, token id load, output pointer
    "hashes": "cycles_per_hash",  # one seeded hash evaluation incl. its range reduction
    "divmods": "cycles_per_divmod",  # one integer division/modulo by a run-time divisor
    "rows": "cycles_per_row",  # one row / chunk / slice gather: address arithmetic
    "adds": "cycles_per_add",  # one float32 element addition
    "muls": "cycles_per_mul",  # one float32 element multiplication
    "fmas": "cycles_per_fma",  # one float32 element multiply-add
}
OP_KINDS = tuple(OP_COST_FIELDS)


def check_ops(ops: Mapping[str, float]) -> dict[str, float]:
    """Operations of one lookup by kind (keys from ``OP_KINDS``, absent = 0), as floats in
    ``OP_KINDS`` order; ValueError on an unknown kind or a count that is not a finite number >= 0."""
    if not isinstance(ops, Mapping):
        raise ValueError(f"timing: operations per lookup must be a mapping of kind -> count, got {ops!r}")
    unknown = [kind for kind in ops if kind not in OP_COST_FIELDS]
    if unknown:
        raise ValueError(f"timing: unknown operation kind(s) {', '.join(map(repr, unknown))}; "
                         f"known kinds: {', '.join(OP_KINDS)}")
    return {kind: float(_count(f"ops[{kind!r}]", ops.get(kind, 0.0))) for kind in OP_KINDS}


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
    holds per-label overrides of the compute cycles of one lookup as sorted (label, cycles)
    pairs (a dict is accepted); the labels are the caller's (those it passes with the work).
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
        object.__setattr__(self, "compute_cycles_per_lookup", _normalise_per_label(self.compute_cycles_per_lookup))

    # -- compute

    def op_costs(self) -> dict[str, float]:
        """Cycles per operation, by kind (keys: ``OP_KINDS``)."""
        return {kind: getattr(self, field) for kind, field in OP_COST_FIELDS.items()}

    def cycles_per_lookup(self, ops: Mapping[str, float], label: str | None = None) -> float:
        """Compute cycles of one lookup: the ``compute_cycles_per_lookup`` entry for ``label``
        when there is one, else ``ops`` (kind -> count, see ``check_ops``) x the per-op costs."""
        ops = check_ops(ops)
        overrides = dict(self.compute_cycles_per_lookup)
        if label is not None and label in overrides:
            return overrides[label]
        costs = self.op_costs()
        return sum(count * costs[kind] for kind, count in ops.items())

    def compute_cycles(self, work: Iterable[tuple[str | None, Mapping[str, float], int]]) -> float:
        """Compute cycles of a run: ``work`` is (label, ops per lookup, lookups) groups, e.g. one
        per feature; each costs ``cycles_per_lookup(ops, label) * lookups``."""
        total = 0
        for item in work:
            try:
                label, ops, lookups = item
            except (TypeError, ValueError):
                raise ValueError(
                    f"timing: work must be (label, ops per lookup, lookups) groups, got {item!r}"
                ) from None
            if _count("lookups", lookups):
                total += self.cycles_per_lookup(ops, label) * lookups
        return total

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

    def estimate(self, work: Iterable[tuple[str | None, Mapping[str, float], int]], **counts: int) -> TimingResult:
        """Cycles, seconds and DRAM bandwidth of the lookups in ``work`` (as in ``compute_cycles``);
        ``counts`` are the keyword counts of ``estimate_cycles`` (l1_hits, l2_hits, llc_hits,
        llc_misses, dram_read_bytes, dram_write_bytes)."""
        return self.estimate_cycles(self.compute_cycles(work), **counts)

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
            merged.update(dict(_normalise_per_label(overrides["compute_cycles_per_lookup"])))
            overrides["compute_cycles_per_lookup"] = merged
        return replace(self, **overrides)

    def describe(self) -> dict:
        """JSON-ready parameters (for result metadata)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["compute_cycles_per_lookup"] = dict(self.compute_cycles_per_lookup)
        return out


def field_names() -> tuple[str, ...]:
    """The parameters a user may override (TOML keys and ``parse_timing_overrides`` keys)."""
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


def _normalise_per_label(value) -> tuple[tuple[str, float], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    try:
        pairs = [(label, cycles) for label, cycles in items]
    except (TypeError, ValueError):
        raise ValueError(
            f"timing: compute_cycles_per_lookup must map labels to cycles, got {value!r}"
        ) from None
    out = {}
    for label, cycles in pairs:
        if not isinstance(label, str) or not label:
            raise ValueError(f"timing: compute_cycles_per_lookup labels must be non-empty strings, got {label!r}")
        if not _finite_number(cycles) or cycles < 0:
            raise ValueError(
                f"timing: compute_cycles_per_lookup[{label!r}] must be a finite number >= 0, got {cycles!r}"
            )
        out[label] = float(cycles)
    return tuple(sorted(out.items()))


# --------------------------------------------------------------------------- TOML and CLI overrides

_TOML_TABLES = ("timing", "compute_cycles_per_lookup")


def load_overrides_toml(path: str | Path) -> dict:
    """Overrides from a TOML file: a ``[timing]`` table of parameters and an optional
    ``[compute_cycles_per_lookup]`` table (label = cycles). Unknown tables or keys raise
    ValueError naming them and the known ones; the caller checks the labels."""
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
    per_label = dict(overrides.pop("compute_cycles_per_lookup", {}) or {})
    extra = data.get("compute_cycles_per_lookup", {})
    if not isinstance(extra, dict):
        raise ValueError(f"{path}: 'compute_cycles_per_lookup' must be a table")
    per_label.update(extra)
    if per_label:
        overrides["compute_cycles_per_lookup"] = per_label
    return overrides


def parse_timing_overrides(items: Iterable[str]) -> dict:
    """Turn strings ``key=value`` into overrides for ``TimingModel.with_overrides``.

    ``compute_cycles_per_lookup.LABEL=CYCLES`` sets one label's compute cycles per lookup
    (the caller checks the labels); ``peak_dram_gbps=none`` removes the bandwidth cap.
    ValueError names a bad item.
    """
    known = field_names()
    overrides: dict[str, Any] = {}
    per_label: dict[str, float] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key, text = key.strip(), text.strip()
        if not sep or not key or not text:
            raise ValueError(f"timing override {item!r}: expected KEY=VALUE, e.g. llc_hit_cycles=70")
        if key.startswith("compute_cycles_per_lookup."):
            label = key.split(".", 1)[1].strip()
            if not label:
                raise ValueError(f"timing override {item!r}: compute_cycles_per_lookup. needs a label after the dot")
            per_label[label] = _parse_number(item, text)
            continue
        if key not in known or key == "compute_cycles_per_lookup":
            raise ValueError(
                f"timing override {item!r}: unknown key {key!r}; known keys: "
                f"{', '.join(k for k in known if k != 'compute_cycles_per_lookup')}, compute_cycles_per_lookup.LABEL"
            )
        if key == "name":
            overrides[key] = text
        elif key == "peak_dram_gbps" and text.lower() in ("none", "off", "inf"):
            overrides[key] = None
        elif key == "line_bytes":
            try:
                overrides[key] = int(text)
            except ValueError:
                raise ValueError(f"timing override {item!r}: line_bytes must be an integer") from None
        else:
            overrides[key] = _parse_number(item, text)
    if per_label:
        overrides["compute_cycles_per_lookup"] = per_label
    return overrides


def _parse_number(item: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"timing override {item!r}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"timing override {item!r}: value must be finite")
    return value
