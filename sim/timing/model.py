"""The timing model: where each access was served, and the work per lookup -> cycles, seconds,
DRAM bandwidth, and a breakdown of the cycles that sums to the total.

docs/timing-model.md states every term with its source; in short, for one run of a kernel:

- **compute** ``C`` = sum over (label, operations, lookups) groups of
  ``cycles_per_lookup(ops, label) * lookups``: a measured cache-resident (L1) cost per
  lookup (``memprof calibrate``) or op counts x per-op costs. L1 hits are inside it.
- **rows**: the lines of one contiguous read are issued together, so a row is charged once,
  at the level of its slowest line (``MemoryCounts.rows`` / ``row_lines`` per level,
  counted exactly by ``sim.rows``). A row of ``n`` lines served by level L costs
  ``max(latency_L / E, n * line_bytes / bandwidth_L)`` cycles, where ``E`` is the number of
  independent rows the core has in flight (``independent_rows``: the rows an instruction
  window of ``rob_entries`` holds, plus the kernel's software prefetch distance) and
  ``bandwidth_L`` is one core's bandwidth for independent rows from L (measured by
  ``memprof calibrate``; without a measurement Little's law with the core's fill buffers:
  ``fill_buffers * line_bytes / latency_L``). DRAM write-backs take DRAM bandwidth too.
- **TLB walks**: each walk costs ``page_walk_cycles`` plus the latency of the level that
  served each of its page-table reads (the reads went through the simulated caches);
  ``min(E, page_walkers)`` walks overlap.
- **overlap**: memory ``M`` = rows + walks; with ``E`` independent lookups in flight the
  core runs one lookup's compute under the others' misses:
  ``core = max(C, M) + min(C, M) / E``.
- **calls**: ``calls * kernel_call_cycles + framework_calls * call_overhead_cycles`` (the
  kernel's own per-call cost, measured; and a framework's, e.g. PyTorch's, given by the user).
- **bandwidth**: ``seconds = max(cycles / f, dram_bytes / peak_dram_gbps)`` (the socket's peak).

The breakdown (``TimingResult.breakdown``, cycles) attributes ``cycles`` to ``BREAKDOWN``
terms: when memory dominates (``M >= C``) the memory terms keep their values and compute
shows its exposed part ``C / E``; otherwise compute keeps ``C`` and each memory term is
divided by ``E``; calls add; ``bandwidth_cap`` is what the socket peak added. The terms
sum to ``cycles``.
"""

from __future__ import annotations

import math
import numbers
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
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

LEVELS = ("l1", "l2", "llc", "dram")  # where an access can be served, nearest first
LATENCY_FIELDS = {"l1": "l1_hit_cycles", "l2": "l2_hit_cycles", "llc": "llc_hit_cycles", "dram": "dram_cycles"}
BANDWIDTH_FIELDS = {"l2": "l2_row_gbps", "llc": "llc_row_gbps", "dram": "dram_row_gbps"}
BREAKDOWN = ("compute", "l2", "llc", "dram", "tlb_walk", "output", "calls", "bandwidth_cap")
# Micro-ops one row of n lines takes in the window: a load and an add per line, plus the
# per-lookup index load, address arithmetic, loop and prefetch (assumed; see the docs).
UOPS_PER_LINE = 2
UOPS_PER_ROW = 6


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


# --------------------------------------------------------------------------- inputs and results

@dataclass(frozen=True)
class MemoryCounts:
    """Where a run's accesses were served, per level of ``LEVELS`` (l1, l2, llc, dram).

    ``rows[L]``: data rows (contiguous reads) whose slowest line was served by L;
    ``row_lines[L]``: the lines of those rows; ``walks``: page walks; ``walk_reads[L]``:
    page-table reads served by L; DRAM bytes read and written (read bytes default to the
    DRAM rows' lines). Counts may be scaled estimates (set sampling), hence floats.
    """

    rows: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    row_lines: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    walks: float = 0.0
    walk_reads: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    dram_read_bytes: int | None = None
    dram_write_bytes: int = 0

    def __post_init__(self) -> None:
        for name in ("rows", "row_lines", "walk_reads"):
            values = tuple(getattr(self, name))
            if len(values) != len(LEVELS):
                raise ValueError(f"timing: {name} needs one count per level {LEVELS}, got {values!r}")
            object.__setattr__(self, name, tuple(float(_count(f"{name}[{lvl}]", v)) for lvl, v in zip(LEVELS, values)))
        for lvl, rows, lines in zip(LEVELS, self.rows, self.row_lines):
            if lines < rows:
                raise ValueError(f"timing: {lvl}: {lines} row lines for {rows} rows (a row has at least one line)")
        object.__setattr__(self, "walks", float(_count("walks", self.walks)))
        if self.dram_read_bytes is not None:
            object.__setattr__(self, "dram_read_bytes", _whole("dram_read_bytes", self.dram_read_bytes))
        object.__setattr__(self, "dram_write_bytes", _whole("dram_write_bytes", self.dram_write_bytes))

    @classmethod
    def per_line(cls, *, l1_hits: float = 0, l2_hits: float = 0, llc_hits: float = 0, llc_misses: float = 0,
                 dram_read_bytes: int | None = None, dram_write_bytes: int = 0) -> "MemoryCounts":
        """Counts without row information: every line its own row (no overlap of a row's lines)."""
        lines = (l1_hits, l2_hits, llc_hits, llc_misses)
        return cls(rows=lines, row_lines=lines, dram_read_bytes=dram_read_bytes, dram_write_bytes=dram_write_bytes)


@dataclass(frozen=True)
class TimingResult:
    """Modelled time and DRAM traffic of one run (cycles are core cycles).

    ``compute_cycles`` and ``memory_stall_cycles`` are the terms before overlap;
    ``breakdown`` attributes ``cycles`` to the ``BREAKDOWN`` terms (they sum to it);
    ``independent_rows`` is the ``E`` the run was priced with.
    """

    compute_cycles: float
    memory_stall_cycles: float
    cycles: float
    seconds: float
    dram_read_bytes: int
    dram_write_bytes: int
    dram_bw_gbps: float
    bandwidth_bound: bool  # True when the socket's peak bandwidth set the time
    breakdown: Mapping[str, float] = field(default_factory=dict)
    independent_rows: float = 1.0

    @property
    def dram_bytes(self) -> int:
        return self.dram_read_bytes + self.dram_write_bytes

    def as_dict(self) -> dict:
        out = asdict(self)
        out["breakdown"] = dict(self.breakdown)
        out["dram_bytes"] = self.dram_bytes
        return out


# --------------------------------------------------------------------------- the model

_FLOAT_FIELDS = (
    "freq_ghz", "l1_hit_cycles", "l2_hit_cycles", "llc_hit_cycles", "dram_cycles", "fill_buffers", "rob_entries",
    "page_walk_cycles", "page_walkers", "kernel_call_cycles", "call_overhead_cycles", "output_store_cycles_cache",
    *OP_COST_FIELDS.values(),
)
_OPTIONAL_POSITIVE = ("l2_row_gbps", "llc_row_gbps", "dram_row_gbps", "peak_dram_gbps")
_OPTIONAL_NON_NEGATIVE = ("output_store_cycles_dram",)


def _finite_number(value) -> bool:
    """A real, finite number (Python or numpy scalar), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class TimingModel:
    """One core: frequency, load-to-use latencies (core cycles), the core's memory
    parallelism (fill buffers, instruction window, page walkers), per-level row bandwidth,
    call costs and compute costs. See the module docstring for the formulas.

    Latencies are in core cycles, so overriding ``freq_ghz`` alone does not rescale them.
    ``*_row_gbps`` (GB/s, decimal) of None means "derive by Little's law from
    ``fill_buffers``". ``compute_cycles_per_lookup`` holds per-label overrides of the
    compute cycles of one lookup as sorted (label, cycles) pairs (a dict is accepted).
    """

    name: str = "custom"
    freq_ghz: float = 3.0
    l1_hit_cycles: float = 5.0
    l2_hit_cycles: float = 14.0
    llc_hit_cycles: float = 50.0
    dram_cycles: float = 300.0
    fill_buffers: float = 12.0  # lines one core keeps in flight beyond its L1
    rob_entries: float = 352.0  # micro-ops in the instruction window
    l2_row_gbps: float | None = None
    llc_row_gbps: float | None = None
    dram_row_gbps: float | None = None
    page_walk_cycles: float = 20.0  # a walk's cost beyond the latency of its page-table reads
    page_walkers: float = 2.0  # walks in flight at once
    kernel_call_cycles: float = 0.0  # one call of the kernel (argument checks, dispatch)
    output_store_cycles_cache: float = 1.0  # storing one 64 B output line that stays in the caches
    output_store_cycles_dram: float | None = None  # ... one that lives in DRAM (None: not measured, cache cost)
    call_overhead_cycles: float = 0.0  # one call of a framework operator (e.g. PyTorch's)
    prefetch_distance: int = 0  # lookups the kernel software-prefetches ahead (the analysis sets its kernels')
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
    kernel_call_cycles_per_label: tuple[tuple[str, float], ...] = ()  # per-label kernel_call_cycles

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
        for name in _FLOAT_FIELDS[1:]:
            if getattr(self, name) < 0:
                raise ValueError(f"timing: {name} must be >= 0, got {getattr(self, name)}")
        if not (self.l1_hit_cycles <= self.l2_hit_cycles <= self.llc_hit_cycles <= self.dram_cycles):
            raise ValueError(
                "timing: latencies must not decrease down the hierarchy: l1_hit_cycles <= l2_hit_cycles <= "
                f"llc_hit_cycles <= dram_cycles, got {self.l1_hit_cycles} / {self.l2_hit_cycles} / "
                f"{self.llc_hit_cycles} / {self.dram_cycles}"
            )
        for name in ("fill_buffers", "page_walkers"):
            if getattr(self, name) < 1:
                raise ValueError(f"timing: {name} must be >= 1, got {getattr(self, name)}")
        if self.rob_entries < UOPS_PER_ROW + UOPS_PER_LINE:
            raise ValueError(f"timing: rob_entries must hold at least one row's micro-ops "
                             f"({UOPS_PER_ROW + UOPS_PER_LINE}), got {self.rob_entries}")
        if isinstance(self.prefetch_distance, bool) or not _finite_number(self.prefetch_distance) \
                or self.prefetch_distance < 0 or self.prefetch_distance != int(self.prefetch_distance):
            raise ValueError(f"timing: prefetch_distance must be an integer >= 0, got {self.prefetch_distance!r}")
        object.__setattr__(self, "prefetch_distance", int(self.prefetch_distance))
        if isinstance(self.line_bytes, bool) or not isinstance(self.line_bytes, numbers.Integral) or self.line_bytes < 1:
            raise ValueError(f"timing: line_bytes must be a positive integer, got {self.line_bytes!r}")
        object.__setattr__(self, "line_bytes", int(self.line_bytes))
        for name in _OPTIONAL_POSITIVE:
            value = getattr(self, name)
            if value is not None:
                if not _finite_number(value) or value <= 0:
                    raise ValueError(f"timing: {name} must be > 0 or None, got {value!r}")
                object.__setattr__(self, name, float(value))
        for name in _OPTIONAL_NON_NEGATIVE:
            value = getattr(self, name)
            if value is not None:
                if not _finite_number(value) or value < 0:
                    raise ValueError(f"timing: {name} must be >= 0 or None, got {value!r}")
                object.__setattr__(self, name, float(value))
        object.__setattr__(self, "compute_cycles_per_lookup", _normalise_per_label(self.compute_cycles_per_lookup))
        object.__setattr__(self, "kernel_call_cycles_per_label",
                           _normalise_per_label(self.kernel_call_cycles_per_label, "kernel_call_cycles_per_label"))

    def call_cycles(self, label: str | None = None) -> float:
        """One kernel call: the ``kernel_call_cycles_per_label`` entry of ``label`` (a measured
        representation), else ``kernel_call_cycles``."""
        return dict(self.kernel_call_cycles_per_label).get(label, self.kernel_call_cycles)

    # -- compute

    def op_costs(self) -> dict[str, float]:
        """Cycles per operation, by kind (keys: ``OP_KINDS``)."""
        return {kind: getattr(self, field_) for kind, field_ in OP_COST_FIELDS.items()}

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

    def latency(self, level: str) -> float:
        """Load-to-use latency of ``level`` (``LEVELS``), core cycles."""
        return getattr(self, LATENCY_FIELDS[level])

    def row_bandwidth(self, level: str) -> float:
        """One core's bandwidth for independent rows served by ``level``, bytes per core cycle:
        the measured ``*_row_gbps``, else Little's law ``fill_buffers * line_bytes / latency``."""
        gbps = getattr(self, BANDWIDTH_FIELDS[level])
        if gbps is not None:
            return gbps / self.freq_ghz
        return self.fill_buffers * self.line_bytes / max(self.latency(level), 1.0)

    def independent_rows(self, lines_per_row: float) -> float:
        """``E``: rows the core has in flight at once: those the instruction window holds
        (``rob_entries`` / micro-ops of one row) plus the kernel's software prefetch distance."""
        if not _finite_number(lines_per_row) or lines_per_row < 0:
            raise ValueError(f"timing: lines per row must be a finite number >= 0, got {lines_per_row!r}")
        window = self.rob_entries / (UOPS_PER_ROW + UOPS_PER_LINE * max(lines_per_row, 1.0))
        return max(1.0, window) + self.prefetch_distance

    def memory_terms(self, counts: MemoryCounts, independent: float) -> dict[str, float]:
        """Memory cycles before overlap with compute: ``l2``, ``llc``, ``dram`` rows and
        ``tlb_walk``. DRAM's bandwidth bound counts every DRAM byte (prefetch fills and
        write-backs included), its latency bound the demand rows."""
        terms = {}
        for index, level in enumerate(LEVELS[1:], start=1):
            lines = counts.row_lines[index]
            if level == "dram":
                lines = self.dram_bytes(counts)[0] / self.line_bytes + counts.dram_write_bytes / self.line_bytes
            latency_bound = counts.rows[index] * self.latency(level) / independent
            bandwidth_bound = lines * self.line_bytes / self.row_bandwidth(level)
            terms[level] = max(latency_bound, bandwidth_bound)
        walk = counts.walks * self.page_walk_cycles + sum(
            n * self.latency(level) for level, n in zip(LEVELS, counts.walk_reads))
        terms["tlb_walk"] = walk / min(independent, self.page_walkers)
        return terms

    def output_store_cycles(self, in_dram: bool) -> float:
        """Cycles to store one 64 B line of output: ``output_store_cycles_dram`` when the output
        lives in DRAM (``in_dram``) and that cost was measured or given, else the cache-resident
        ``output_store_cycles_cache`` (no published figure prices a core's sequential store stream
        to DRAM: a preset leaves it unmodelled rather than guess it)."""
        if in_dram and self.output_store_cycles_dram is not None:
            return self.output_store_cycles_dram
        return self.output_store_cycles_cache

    def dram_bytes(self, counts: MemoryCounts) -> tuple[int, int]:
        """(read, write) DRAM bytes: read bytes default to the DRAM rows' lines."""
        read = counts.dram_read_bytes
        if read is None:
            read = round(counts.row_lines[LEVELS.index("dram")]) * self.line_bytes
        return read, counts.dram_write_bytes

    # -- the whole run

    def estimate(self, work: Iterable[tuple[str | None, Mapping[str, float], int]], counts: MemoryCounts, *,
                 calls: float = 0, framework_calls: float = 0, output_lines: float = 0,
                 output_in_dram: bool = False, call_label: str | None = None) -> TimingResult:
        """Cycles, seconds, DRAM bandwidth and the breakdown of the lookups in ``work`` (as in
        ``compute_cycles``) whose accesses were served as ``counts`` says; ``calls`` kernel
        calls, ``framework_calls`` framework operator calls; ``output_lines`` 64 B lines of
        pooled output stored (one row per bag), ``output_in_dram`` when the output array does
        not fit the LLC; ``call_label`` picks the kernel's per-label call cost (``call_cycles``)."""
        return self.estimate_cycles(self.compute_cycles(work), counts, calls=calls, framework_calls=framework_calls,
                                    output_lines=output_lines, output_in_dram=output_in_dram, call_label=call_label)

    def estimate_cycles(self, compute_cycles: float, counts: MemoryCounts, *, calls: float = 0,
                        framework_calls: float = 0, output_lines: float = 0,
                        output_in_dram: bool = False, call_label: str | None = None) -> TimingResult:
        """As ``estimate``, from compute cycles already known (op counts or measured)."""
        if not _finite_number(compute_cycles) or compute_cycles < 0:
            raise ValueError(f"timing: compute_cycles must be a finite number >= 0, got {compute_cycles!r}")
        if not isinstance(counts, MemoryCounts):
            raise ValueError(f"timing: counts must be a MemoryCounts, got {type(counts).__name__}")
        calls = _count("calls", calls)
        framework_calls = _count("framework_calls", framework_calls)
        all_rows, all_lines = sum(counts.rows), sum(counts.row_lines)
        independent = self.independent_rows(all_lines / all_rows if all_rows else 1.0)
        read_bytes, write_bytes = self.dram_bytes(counts)
        terms = self.memory_terms(counts, independent)
        terms["output"] = _count("output_lines", output_lines) * self.output_store_cycles(bool(output_in_dram))
        compute = float(compute_cycles)
        memory = sum(terms.values())
        breakdown = dict.fromkeys(BREAKDOWN, 0.0)
        if memory >= compute:
            breakdown.update(terms)
            breakdown["compute"] = compute / independent
        else:
            breakdown.update({name: value / independent for name, value in terms.items()})
            breakdown["compute"] = compute
        breakdown["calls"] = calls * self.call_cycles(call_label) + framework_calls * self.call_overhead_cycles
        cycles = sum(breakdown.values())
        seconds = cycles / (self.freq_ghz * 1e9)
        dram_bytes = read_bytes + write_bytes
        bound = False
        if self.peak_dram_gbps is not None and dram_bytes > 0:
            floor_seconds = dram_bytes / (self.peak_dram_gbps * 1e9)
            if floor_seconds > seconds:
                breakdown["bandwidth_cap"] = floor_seconds * self.freq_ghz * 1e9 - cycles
                seconds, cycles, bound = floor_seconds, floor_seconds * self.freq_ghz * 1e9, True
        bandwidth = dram_bytes / seconds / 1e9 if dram_bytes else 0.0  # DRAM bytes always take time
        return TimingResult(compute, memory, cycles, seconds, read_bytes, write_bytes, bandwidth, bound,
                            breakdown, independent)

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
        for name in ("compute_cycles_per_lookup", "kernel_call_cycles_per_label"):
            if name in overrides:
                merged = dict(getattr(self, name))
                merged.update(dict(_normalise_per_label(overrides[name], name)))
                overrides[name] = merged
        return replace(self, **overrides)

    def describe(self) -> dict:
        """JSON-ready parameters (for result metadata)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["compute_cycles_per_lookup"] = dict(self.compute_cycles_per_lookup)
        out["kernel_call_cycles_per_label"] = dict(self.kernel_call_cycles_per_label)
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


def _normalise_per_label(value, name: str = "compute_cycles_per_lookup") -> tuple[tuple[str, float], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    try:
        pairs = [(label, cycles) for label, cycles in items]
    except (TypeError, ValueError):
        raise ValueError(f"timing: {name} must map labels to cycles, got {value!r}") from None
    out = {}
    for label, cycles in pairs:
        if not isinstance(label, str) or not label:
            raise ValueError(f"timing: {name} labels must be non-empty strings, got {label!r}")
        if not _finite_number(cycles) or cycles < 0:
            raise ValueError(f"timing: {name}[{label!r}] must be a finite number >= 0, got {cycles!r}")
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
    (the caller checks the labels); ``peak_dram_gbps=none`` removes the bandwidth cap and
    ``dram_row_gbps=none`` (l2/llc likewise) derives that bandwidth from the fill buffers.
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
        elif key in (*_OPTIONAL_POSITIVE, *_OPTIONAL_NON_NEGATIVE) and text.lower() in ("none", "off", "inf"):
            overrides[key] = None
        elif key in ("line_bytes", "prefetch_distance"):
            try:
                overrides[key] = int(text)
            except ValueError:
                raise ValueError(f"timing override {item!r}: {key} must be an integer") from None
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
