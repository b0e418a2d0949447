"""Many cores, one LLC: each core runs a representation's kernel over its own batches (one
model, the workload's seed; core c reads batches c*B .. c*B+B-1 of its stream) through
private L1/L2 and TLB, all sharing one LLC (``sim.multicore``, round-robin per lookup), then the timing model per core plus a loaded
DRAM latency (``sim.timing.loaded``) solved as a fixed point over the socket's demand.

Rows (one per representation, LLC size, core count and table mode): the single-core
analysis columns (``memprof.analysis.experiment.timed_rows``) with counts summed over the
cores (the LLC's from the shared LLC itself), times (``cycles``, ``seconds``, ``cycles_*``)
the mean over cores at the idle DRAM latency, ``dram_bw_gbps`` the socket's at that
latency; so ``cores=1`` gives exactly ``run_analysis``'s row. Then the loaded point:
``loaded_dram_latency_*``, ``dram_utilisation``, ``core_lookups_per_second`` (mean),
``socket_lookups_per_second``, ``socket_dram_bw_gbps``, ``core_ns_per_lookup`` and
``loaded_cycles*`` (mean over cores), and ``llc_misses_per_lookup`` (socket).

``tables``: ``shared`` (threads: one copy of the tables), ``private`` (processes: core c's
addresses offset by c x the layout's span rounded up to 1 GiB; every copy must stay below
the TLB's data limit 2**47).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from memprof.analysis.experiment import (CacheSetup, ModelRun, analysis_timing, estimate_run, private_configs,
                                         timed_rows, tlb_config)
from memprof.hw.host import cpu_preset
from memprof.run.driver import resolve_warmup
from memprof.report.schema import CORES_COLUMNS
from memprof.run.memory_budget import batch_bytes, plan_analysis, simulator_state_bytes
from sim.multicore import MulticoreHierarchy
from sim.stats import SimResult
from sim.timing.loaded import CURVE, U_MAX, solve_loaded_latency
from sim.timing.model import BREAKDOWN, TimingModel
from sim.tlb import DATA_LIMIT
from traces.stream import ModelTrace

TABLE_MODES = ("shared", "private")
GIB = 1 << 30
MEAN_COLUMNS = ("compute_cycles", "memory_stall_cycles", "cycles", "seconds", "rows_in_flight",
                *(f"cycles_{t}" for t in BREAKDOWN))
SUM_COLUMNS = ("lookups", "accesses", "rows", "tlb_walks", "walk_llc_misses", "dram_bw_gbps")
MIN_BATCHES_PER_CORE = 4  # with socket_batches: enough for a warm-up fraction and a measured batch
BATCH_COPIES = 8  # per core and round: addresses, TLB-expanded copy (<= 3x), kinds, served, keys, composed
MULTICORE_COLUMNS = CORES_COLUMNS  # declared once, in memprof.report.schema


def check_tables(tables: str) -> str:
    if tables not in TABLE_MODES:
        raise ValueError(f"tables={tables!r}: expected one of {', '.join(TABLE_MODES)}")
    return tables


def table_offsets(trace: ModelTrace, cores: int, tables: str) -> list[int]:
    """Byte offset of each core's copy of the tables: all 0 (``shared``) or c x the layout's
    span rounded up to 1 GiB (``private``); ValueError when the last copy reaches 2**47."""
    check_tables(tables)
    if tables == "shared":
        return [0] * cores
    regions = trace.representation.layout.regions
    lo, hi = min(r.base_addr for r in regions), max(r.end_addr for r in regions)
    span = -(-(hi - lo) // GIB) * GIB
    top = hi + (cores - 1) * span
    if top > DATA_LIMIT:
        raise ValueError(f"--tables private: {cores} copies of {trace.representation.name}'s tables "
                         f"({span // GIB} GiB apart) end at {top:#x}, above the TLB's data limit 2**47; "
                         f"at most {(DATA_LIMIT - hi) // span + 1} cores")
    return [c * span for c in range(cores)]


def check_setup(setup: CacheSetup) -> None:
    """The composition's preconditions (``sim.multicore``): private levels, non-inclusive,
    no prefetcher, no set sampling."""
    if not setup.private_levels:
        raise ValueError("multi-core runs need the private L1/L2 levels (--private-levels)")
    if setup.inclusive:
        raise ValueError("multi-core runs model a non-inclusive LLC (back-invalidations across cores are not "
                         "simulated): use --no-inclusive")
    if setup.prefetch:
        raise ValueError("multi-core runs do not model the LLC prefetcher: drop --prefetch")
    if setup.sample_sets is not None:
        raise ValueError("multi-core runs simulate every LLC set: drop --sample-sets")


@dataclass
class CoresRun:
    """One representation's multi-core pass: a ModelRun per core (its LLC counts the shared
    LLC's hits/misses it caused) and the socket's SimResult per LLC size."""

    model: str
    cores: int
    tables: str
    core_runs: list
    socket: list


def simulate_cores(trace: ModelTrace, cores: int, setup: CacheSetup, cpu, tables: str = "shared") -> CoresRun:
    """Run ``cores`` cores of ``trace``'s representation through the multi-core hierarchy.
    Core c reads batches c*B .. c*B + B - 1 of the trace's seeded stream (B = its batch
    count): one model (the same seed, so the same hot rows), each core its own batches.
    Batch b of every core forms round b; the warm-up batches warm."""
    check_setup(setup)
    if isinstance(cores, bool) or not isinstance(cores, (int, np.integer)) or cores < 1:
        raise ValueError(f"cores={cores!r}: must be an integer >= 1")
    if trace.generator is None and cores > 1:
        raise ValueError("multi-core runs draw each core's batches from a seeded synthetic workload (not --data)")
    rep = trace.representation
    nb = trace.num_batches
    streams = [trace.batches()] if cores == 1 else [trace.generator.batches(trace.batch_size, nb, start=c * nb)
                                                     for c in range(cores)]
    l1, l2 = private_configs(cpu, setup)
    tlb = tlb_config(cpu, setup)
    hier = MulticoreHierarchy(setup.llc_configs(), cores, l1=l1, l2=l2, tlb=tlb,
                              offsets=table_offsets(trace, cores, tables))
    warm = resolve_warmup(setup.warmup, nb, steps=True)
    lookups = np.zeros((cores, rep.workload.num_features), dtype=np.int64)
    bags = np.zeros(cores, dtype=np.int64)
    measured = 0
    for b in range(nb):
        if b == warm:
            hier.reset_stats()
        batches = [next(s) for s in streams]
        hier.feed_round([trace.emit(batch) for batch in batches], [batch.num_lookups for batch in batches])
        if b >= warm:
            measured += 1
            for c, batch in enumerate(batches):
                lookups[c] += np.diff(batch.offsets).reshape(batch.num_features, batch.batch_size).sum(axis=1)
                bags[c] += batch.batch_size * rep.output_features(batch.num_features)
    if warm >= nb:
        hier.reset_stats()
    sizes = range(len(setup.llc_sizes))
    params = {**rep.describe(), "dim": rep.dim}
    runs = [ModelRun(rep.name, rep.memory_bytes, rep.compression, params, lookups[c].copy(),
                     [hier.core_result(c, s) for s in sizes], [hier.core_rows(c, s) for s in sizes],
                     hier.core_tlb(c), measured, rep.framework_calls_per_batch, int(bags[c]), 4 * rep.dim)
            for c in range(cores)]
    return CoresRun(rep.name, cores, tables, runs, [hier.socket_result(s) for s in sizes])


def _socket_row(per_core: list[dict], socket: SimResult) -> dict:
    """The single-core columns for the socket: counts summed (the LLC's from the shared LLC),
    times the mean over cores, DRAM bandwidth summed; configuration from core 0."""
    row = dict(per_core[0])
    row.update(socket.to_record())
    n = len(per_core)
    for name in SUM_COLUMNS:
        if name in row:
            row[name] = sum(r[name] for r in per_core)
    for name in MEAN_COLUMNS:
        if name in row:
            row[name] = sum(r[name] for r in per_core) / n
    row["bandwidth_bound"] = any(r["bandwidth_bound"] for r in per_core)
    return row


def _loaded(run: CoresRun, s: int, timing: TimingModel, ops) -> dict:
    """The loaded-latency fixed point of LLC size ``s``: each core's estimate at DRAM latency L
    with its share peak / N of the socket's bandwidth; demand(L) = the cores' DRAM bytes per second."""
    n = run.cores
    peak = timing.peak_dram_gbps
    share = timing.with_overrides(peak_dram_gbps=peak / n) if peak is not None else timing
    cache: dict[float, list] = {}

    def estimates(latency: float) -> list:
        if latency not in cache:
            model = share.with_overrides(dram_cycles=latency)
            cache[latency] = [estimate_run(core, s, model, ops) for core in run.core_runs]
        return cache[latency]

    def demand(latency: float) -> float:
        return sum(e.dram_bytes / e.seconds for e in estimates(latency) if e.seconds > 0)

    idle = timing.dram_cycles
    if peak is None:
        latency, utilisation = idle, float("nan")
    else:
        point = solve_loaded_latency(idle, peak * 1e9, demand)
        latency, utilisation = point.latency, point.utilisation
    final = estimates(latency)
    lookups = [int(core.lookups_per_feature.sum()) for core in run.core_runs]
    rates = [lk / e.seconds if e.seconds > 0 else float("nan") for lk, e in zip(lookups, final)]
    out = {
        "cores": n, "tables": run.tables,
        "core_lookups_per_second": float(np.mean(rates)),
        "socket_lookups_per_second": float(np.sum(rates)),
        "socket_dram_bw_gbps": sum(e.dram_bytes / e.seconds for e in final if e.seconds > 0) / 1e9,
        "loaded_dram_latency_cycles": latency,
        "loaded_dram_latency_ns": latency / timing.freq_ghz,
        "dram_utilisation": utilisation,
        "core_ns_per_lookup": float(np.mean([e.seconds / lk * 1e9 if lk else float("nan")
                                             for lk, e in zip(lookups, final)])),
        "loaded_cycles": float(np.mean([e.cycles for e in final])),
        "socket_bandwidth_bound": any(e.bandwidth_bound for e in final),
    }
    for term in BREAKDOWN:
        out[f"loaded_cycles_{term}"] = float(np.mean([e.breakdown[term] for e in final]))
    return out


def timed_cores_rows(run: CoresRun, timing: TimingModel, ops) -> list[dict]:
    """One row per LLC size (module docstring)."""
    per_core = [timed_rows(core, timing, ops) for core in run.core_runs]
    out = []
    for s, socket in enumerate(run.socket):
        row = _socket_row([rows[s] for rows in per_core], socket)
        row.update(_loaded(run, s, timing, ops))
        row["llc_misses_per_lookup"] = row["llc_misses"] / row["lookups"] if row["lookups"] else float("nan")
        out.append(row)
    return out


def estimate_cores_memory(spec, setup: CacheSetup, cpu: str, cores: int, budget_bytes: int | None):
    """Peak memory of a multi-core run: N private [L1, L2] states, one LLC per size, N batches
    in flight (BATCH_COPIES x each; the tables are virtual: no table state); MemoryBudgetError
    when over ``budget_bytes``."""
    preset = cpu_preset(cpu)
    l1, l2 = private_configs(preset, setup)
    state = cores * simulator_state_bytes(l2, l1=l1) + sum(simulator_state_bytes(cfg) for cfg in setup.llc_configs())
    trace = spec.build()
    from memprof.analysis.experiment import batch_lookups_estimate

    one = batch_bytes(batch_lookups_estimate(trace), trace.representation.max_lines_per_lookup(trace.line_bytes))
    return plan_analysis(state, cores * BATCH_COPIES * one, budget_bytes)


def batches_per_core(spec, cores: int, socket_batches: int | None) -> int:
    """``spec.batches``, or with ``socket_batches`` ceil(socket_batches / cores), at least
    MIN_BATCHES_PER_CORE: the socket then simulates about the same lookups at every core count
    (a shared LLC warms N times faster with N cores feeding it)."""
    if socket_batches is None:
        return spec.batches
    return max(MIN_BATCHES_PER_CORE, -(-socket_batches // cores))


def run_cores(specs: list, setup: CacheSetup, cores_list, tables_list=("shared",), cpu: str = "icx",
              timing_overrides: dict | None = None, progress=None,
              socket_batches: int | None = None) -> tuple[pd.DataFrame, dict]:
    """Every (spec, cores, tables) combination; ``specs`` are ``traces.spec.TraceSpec``s (one per
    representation). ``progress(text)``: called before each combination (optional).
    ``socket_batches``: batches per core from ``batches_per_core`` instead of ``spec.batches``."""
    for cores in cores_list:
        if isinstance(cores, bool) or not isinstance(cores, (int, np.integer)) or cores < 1:
            raise ValueError(f"cores={cores!r}: must be an integer >= 1")
    for tables in tables_list:
        check_tables(tables)
    preset, timing, compute_note, _ = analysis_timing(cpu, [spec.build() for spec in specs], timing_overrides)
    rows = []
    for spec in specs:
        for tables in tables_list:
            for cores in cores_list:
                batches = batches_per_core(spec, cores, socket_batches)
                if progress is not None:
                    progress(f"{spec.model}: {cores} core(s), {tables} tables, {batches} batches per core")
                trace = replace(spec, batches=batches).build()
                run = simulate_cores(trace, cores, setup, preset, tables)
                rows += [{**row, "batches_per_core": batches}
                         for row in timed_cores_rows(run, timing, trace.representation.op_counts())]
    frame = pd.DataFrame(rows)
    first = [c for c in dict.fromkeys(("model", "cores", "tables", "llc_bytes", *MULTICORE_COLUMNS)) if c in frame.columns]
    frame = frame[first + [c for c in frame.columns if c not in first]]
    metadata = {
        "cache": asdict(setup), "cpu_preset": preset.name, "timing": timing.describe(), "compute_costs": compute_note,
        "cores": list(cores_list), "tables": list(tables_list),
        "seeds": "one model (the workload's seed: the same hot rows on every core); core c reads batches "
                 "c*B .. c*B+B-1 of that seed's stream (B = batches per core)",
        "batches_per_core": {str(c): batches_per_core(specs[0], c, socket_batches) for c in cores_list},
        "interleaving": "round-robin per lookup: lookup k of core 0, ..., core N-1, then lookup k+1; data access "
                        "i of a batch of A accesses and L lookups belongs to lookup i*L//A (sim.multicore)",
        "loaded_latency": CURVE + f"; each core gets peak/N of the socket's {timing.peak_dram_gbps} GB/s",
        "u_max": U_MAX,
        "not_modelled": "write-backs from private L2s into the LLC (read-only traces only), LLC prefetcher, "
                        "inclusive back-invalidation, on-chip interconnect and LLC bandwidth contention",
        "models": {spec.model: spec.build().representation.describe() for spec in specs},
    }
    return frame, metadata


@dataclass(frozen=True)
class CoresPrediction:
    """``predict_cores``'s answer: predicted ns per lookup of each core and their mean, at the
    loaded DRAM latency (ns) and socket DRAM bandwidth (GB/s) of the fixed point."""

    ns_per_lookup_per_core: tuple[float, ...]
    ns_per_lookup: float
    loaded_dram_latency_ns: float
    socket_dram_bw_gbps: float
    row: dict


def predict_cores(spec, cores: int, tables: str = "private", *, setup: CacheSetup | None = None,
                  cpu: str = "icx", timing_overrides: dict | None = None) -> CoresPrediction:
    """Predicted per-core ns/lookup of ``cores`` cores each running ``spec``'s kernel (a
    ``TraceSpec``) sharing the LLC (``setup``: default the preset's LLC),
    with ``tables`` private (processes) or shared (threads). For ``memprof validate --cores``.
    Core c runs batches c*B .. c*B+B-1 of ``spec``'s stream (B = ``spec.batches``)."""
    trace = spec.build()
    preset, timing, _, _ = analysis_timing(cpu, [trace], timing_overrides)
    if setup is None:
        setup = CacheSetup((preset.llc.size_bytes,), ways=preset.llc.ways)
    if len(setup.llc_sizes) != 1:
        raise ValueError("predict_cores: give one LLC size")
    run = simulate_cores(trace, cores, setup, preset, tables)
    ops = trace.representation.op_counts()
    row = timed_cores_rows(run, timing, ops)[0]
    per_core = _per_core_ns(run, timing, ops, row["loaded_dram_latency_cycles"])
    return CoresPrediction(per_core, row["core_ns_per_lookup"], row["loaded_dram_latency_ns"],
                           row["socket_dram_bw_gbps"], row)


def _per_core_ns(run: CoresRun, timing: TimingModel, ops, latency: float) -> tuple[float, ...]:
    peak = timing.peak_dram_gbps
    model = timing.with_overrides(dram_cycles=latency, **({"peak_dram_gbps": peak / run.cores} if peak else {}))
    out = []
    for core in run.core_runs:
        est = estimate_run(core, 0, model, ops)
        lookups = int(core.lookups_per_feature.sum())
        out.append(est.seconds / lookups * 1e9 if lookups else float("nan"))
    return tuple(out)
