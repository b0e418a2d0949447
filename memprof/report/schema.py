"""The result schemas, declared once: the column sets of each kind of result and the one
versioned JSON envelope every command's ``--format json`` writes.

Envelope: ``{"schema": "memprof.<kind>/<version>", "metadata": {...}, "rows": [...]}``;
``kind`` names what the rows are (one of ``KINDS``). The version moves when a kind's
columns change meaning, so a consumer can refuse rows it does not understand
(``rows_of`` does). Units are in the column names (``_bytes``, ``_cycles``, ``_gbps``).
"""

from __future__ import annotations

SCHEMA_VERSION = 1

KINDS = {
    "analysis": "a workload's representations through the LLC sizes and the timing model (ratios vs dlrm)",
    "sweep": "analysis (or trace-file) rows for every combination of swept parameter values",
    "reproduce": "the Mem-Rec LLC-size analysis rows (memprof reproduce's results.json)",
    "comparison": "published versus memprof ratios, one row per LLC size and metric",
    "simulate-trace": "one cache hierarchy over a trace file",
    "workload-stats": "within-batch locality of a workload or dataset, beside the published production figures",
    "simulate-partitioned": "one cache configuration simulated as set partitions, merged",
    "mrc": "miss-ratio curves, one row per (representation, cache size)",
    "working-set": "working-set footprints per representation and region (table)",
    "policies": "the replacement policies the simulator knows",
    "trace-info": "a trace file's header and access counts",
    "bench": "pyperf latency per item versus batch size",
    "profile": "hardware counter quantities from perf, VTune or cachegrind",
    "profile-twin": "measured cycles, LLC misses, DRAM bytes per representation and LLC size, ratios vs dlrm beside the simulated ratios",
    "calibrate": "measured per-operation compute costs",
    "cpus": "CPU timing presets",
    "validate": "measured versus predicted ns/lookup per (representation, footprint, skew, batch), with speed-ups vs dlrm",
    "validate-cores": "measured versus predicted ns/lookup per core with N cores (processes: private tables; threads: shared)",
    "pss": "the PSS paper's Table 2 on this CPU: ROBE forward / backward ms per iteration beside the published GPU values",
    "cores": "N cores with private L1/L2 sharing one LLC: socket and per-core throughput at the loaded DRAM latency",
}

# An analysis row: what was simulated, the counts, the timing model, the ratios versus dlrm.
# ``lookups`` (token lookups measured, after warm-up) sits next to ``accesses`` (trace accesses).
ANALYSIS_COLUMNS = (
    "model", "llc_bytes", "ways", "policy", "model_bytes", "compression", "lookups", "accesses",
    "llc_accesses", "llc_hits", "llc_misses", "llc_miss_ratio", "dram_read_bytes", "dram_write_bytes",
    "compute_cycles", "memory_stall_cycles", "cycles", "seconds", "dram_bw_gbps",
    "cycles_ratio", "llc_misses_ratio", "dram_bw_ratio",
)
# memprof cores (memprof.analysis.multicore): beside the analysis columns (counts summed over the cores, times
# the mean per core at the idle DRAM latency), the loaded point; ``loaded_cycles_*`` the breakdown per core there.
CORES_COLUMNS = ("cores", "tables", "core_lookups_per_second", "socket_lookups_per_second", "socket_dram_bw_gbps",
                 "llc_misses_per_lookup", "loaded_dram_latency_ns", "loaded_dram_latency_cycles", "dram_utilisation",
                 "core_ns_per_lookup", "loaded_cycles")
# Where the cycles go (sim.timing.model.BREAKDOWN; they sum to ``cycles``), and what priced them.
BREAKDOWN_COLUMNS = ("cycles_compute", "cycles_l2", "cycles_llc", "cycles_dram", "cycles_tlb_walk", "cycles_output",
                     "cycles_calls", "cycles_bandwidth_cap")
BREAKDOWN_LABELS = dict(zip(BREAKDOWN_COLUMNS, ("compute", "L2 rows", "LLC rows", "DRAM rows", "TLB walks",
                                               "output stores", "calls", "socket bandwidth cap")))
TIMING_INPUT_COLUMNS = ("rows", "tlb_walks", "walk_llc_misses", "rows_in_flight")
# The columns a terminal (table, Markdown) shows of an analysis by default: the headline.
ANALYSIS_HEADLINE = (
    "model", "llc_bytes", "model_bytes", "compression", "lookups", "accesses", "llc_misses", "llc_miss_ratio",
    "llc_misses_stderr", "dram_read_bytes", "dram_write_bytes", "cycles", "dram_bw_gbps",
    "cycles_ratio", "llc_misses_ratio", "dram_bw_ratio", "partial",
)
CURVE_COLUMNS = ("representation", "method", "sets", "ways", "line_bytes", "size_bytes", "miss_ratio", "misses",
                 "accesses", "footprint_bytes")
WORKING_SET_COLUMNS = ("representation", "method", "region", "distinct_lines", "footprint_bytes",
                       "compulsory_miss_ratio", "size_2x_compulsory_bytes", "size_1_1x_compulsory_bytes")
PROFILE_COLUMNS = ("model", "backend", "quantity", "value", "unit", "source", "note")
# A calibration row: one machine parameter or one model's compute cost; ``source`` starts with
# measured:/sysfs:/assumed:/unavailable:; the table view shows ``how`` (that first word) instead.
CALIBRATE_COLUMNS = ("quantity", "model", "value", "median", "unit", "how", "footprint_bytes", "source", "note")
# The measured twin of the analysis table (memprof profile --llc A,B,...): a measured cell is a number or
# "unavailable (why)"; ``*_source`` says which counter or formula gave it; ``sim_*`` are the simulator's.
TWIN_COLUMNS = ("model", "llc_bytes", "ll_ways", "lookups", "cycles", "cycles_source", "llc_misses",
                "llc_misses_source", "dram_bytes", "dram_bytes_source", "cycles_ratio", "llc_misses_ratio",
                "dram_bytes_ratio", "sim_cycles_ratio", "sim_llc_misses_ratio", "sim_dram_bw_ratio", "sim_cycles",
                "sim_llc_misses")
BENCH_COLUMNS = ("model", "batch_size", "ms_per_item", "ms_per_item_stdev", "items_per_second", "table_bytes",
                 "max_rows_cap")
# memprof validate: one row per point; error = predicted / measured best - 1, speed-ups = dlrm / row.
VALIDATE_COLUMNS = (
    "model", "params", "skew", "footprint_bytes", "batch_size", "model_bytes", "ring_batches", "lookups",
    "measured_ns_per_lookup_best", "measured_ns_per_lookup_median", "predicted_ns_per_lookup", "error",
    "measured_speedup_vs_dlrm", "predicted_speedup_vs_dlrm", "speedup_error",
)

# Why a row has no ``lookups``: the reason goes into the envelope's metadata["lookups"].
LOOKUPS_UNKNOWN_TRACE = "unknown: a trace file records addresses, not token lookups"


def schema_name(kind: str) -> str:
    """``memprof.<kind>/<version>``; ValueError for a kind not in KINDS."""
    if kind not in KINDS:
        raise ValueError(f"result kind {kind!r}: expected one of {', '.join(KINDS)}")
    return f"memprof.{kind}/{SCHEMA_VERSION}"


def envelope(kind: str, rows: list[dict], metadata: dict | None = None) -> dict:
    """The JSON document of one result: schema name, metadata, rows (JSON-ready values)."""
    return {"schema": schema_name(kind), "metadata": dict(metadata or {}), "rows": list(rows)}


def rows_of(document: dict, kind: str) -> list[dict]:
    """The rows of an envelope of ``kind`` (ValueError when it is another kind or version)."""
    expected = schema_name(kind)
    found = document.get("schema") if isinstance(document, dict) else None
    if found != expected:
        raise ValueError(f"expected a {expected} document, got {found!r}")
    return document["rows"]
