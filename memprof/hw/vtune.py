"""Intel VTune: build the collect/report argv and parse the CSV reports.

Collection: ``vtune -collect memory-access -start-paused -r DIR -- cmd``; the child
resumes and pauses collection around the kernel with the ``ittapi`` package
(``memprof.hw.region``), so only the kernel is sampled. Without ittapi the run
is collected unpaused from the start and the output says so.

Reports (``-format csv -csv-delimiter comma``):
- ``-report summary``: rows 'Hierarchy Level,Metric Name,Metric Value'; nested tables
  (e.g. 'Bandwidth Domain,Platform Maximum,Observed Maximum,Average,...' then one row
  per domain such as '"DRAM, GB/sec",118,47.9,8.35,0.0') follow their header row;
  values such as 'N/A with HT on' are kept as text and reported as unavailable.
- ``-report hw-events``: one row per function with 'Hardware Event Count:EVENT'
  columns (sometimes with a ':Self' suffix); the totals are the column sums.
VTune collects hardware events on Intel CPUs only.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil

_NUMBER = re.compile(r"^\s*([+-]?\d[\d,]*(\.\d+)?([eE][+-]?\d+)?)\s*([a-zA-Z%/ ]*)\s*$")


class VTuneFormatError(ValueError):
    """A VTune CSV report that does not have the documented columns."""


def find_vtune() -> str | None:
    return shutil.which(os.environ.get("MEMPROF_VTUNE", "vtune"))


def build_collect_argv(result_dir, command, *, analysis: str = "memory-access", start_paused: bool = True,
                       knobs: dict | None = None, vtune: str = "vtune") -> list[str]:
    if analysis not in ("memory-access", "uarch-exploration", "hotspots"):
        raise ValueError(f"analysis {analysis!r}: expected memory-access, uarch-exploration or hotspots")
    argv = [vtune, "-collect", analysis, "-r", str(result_dir)]
    if start_paused:
        argv.append("-start-paused")
    for key, value in (knobs or {}).items():
        argv += ["-knob", f"{key}={value}"]
    command = [str(c) for c in command]
    if not command:
        raise ValueError("empty command")
    return argv + ["--", *command]


def build_report_argv(result_dir, report: str = "summary", *, vtune: str = "vtune") -> list[str]:
    if report not in ("summary", "hw-events"):
        raise ValueError(f"report {report!r}: expected 'summary' or 'hw-events'")
    return [vtune, "-report", report, "-r", str(result_dir), "-format", "csv", "-csv-delimiter", "comma"]


def number(text: str) -> float | None:
    """'1,234.5', '1.5s', '45.2%' -> float; text that is not a number (N/A ...) -> None."""
    match = _NUMBER.match(text or "")
    if not match:
        return None
    return float(match.group(1).replace(",", ""))


def _rows(text: str) -> list[list[str]]:
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith(("vtune:", "war:"))]
    return [row for row in csv.reader(io.StringIO("\n".join(lines)))]


def parse_summary(text: str) -> dict[str, str]:
    """Metric name -> value text; nested table cells as 'Row: Column'."""
    rows = _rows(text)
    if not rows:
        raise VTuneFormatError("empty VTune summary report")
    header = [h.strip() for h in rows[0]]
    if header[-2:] != ["Metric Name", "Metric Value"]:
        raise VTuneFormatError(f"VTune summary header {header!r}: expected '[Hierarchy Level,]Metric Name,Metric Value'")
    name_col = len(header) - 2
    out: dict[str, str] = {}
    table_columns: list[str] | None = None
    for row in rows[1:]:
        cells = row[name_col:]
        if not cells:
            continue
        name = cells[0].strip()
        values = [c.strip() for c in cells[1:]]
        if len(values) > 1:
            if table_columns is None or all(number(v) is None for v in values if v):
                table_columns = values  # a nested table's header row
                continue
            for column, value in zip(table_columns, values):
                out[f"{name}: {column}"] = value
            continue
        table_columns = None
        out[name] = values[0] if values else ""
    return out


def parse_hw_events(text: str) -> dict[str, float]:
    """Event name -> count summed over all rows of a hw-events report."""
    rows = _rows(text)
    if not rows:
        raise VTuneFormatError("empty VTune hw-events report")
    header = [h.strip() for h in rows[0]]
    columns = {}
    for index, name in enumerate(header):
        if name.startswith("Hardware Event Count:"):
            event = name[len("Hardware Event Count:"):]
            event = re.sub(r":Self$", "", event).strip()
            columns[index] = event
    if not columns:
        raise VTuneFormatError(f"no 'Hardware Event Count:' column in {header!r}")
    totals = {event: 0.0 for event in columns.values()}
    for row in rows[1:]:
        for index, event in columns.items():
            if index < len(row):
                value = number(row[index])
                if value is not None:
                    totals[event] += value
    return totals


SUMMARY_QUANTITIES = {
    "Elapsed Time": ("vtune_elapsed_time_s", "s"),
    "CPU Time": ("vtune_cpu_time_s", "s"),
    "Clockticks": ("cycles", "count"),
    "Instructions Retired": ("instructions", "count"),
    "LLC Miss Count": ("llc_misses", "count"),
    "Memory Bound": ("memory_bound_pct", "%"),
    "DRAM Bound": ("dram_bound_pct", "%"),
    "Average Latency (cycles)": ("average_load_latency_cycles", "cycles"),
    "DRAM, GB/sec: Average": ("dram_bw_avg_gbps", "GB/s"),
}

HW_EVENT_QUANTITIES = {
    "CPU_CLK_UNHALTED.THREAD": ("cycles", "count"),
    "INST_RETIRED.ANY": ("instructions", "count"),
    "MEM_LOAD_RETIRED.L3_MISS": ("llc_load_misses", "count"),
    "UNC_M_CAS_COUNT.RD": ("dram_read_bytes", "bytes"),
    "UNC_M_CAS_COUNT.WR": ("dram_write_bytes", "bytes"),
}


def summary_rows(summary: dict[str, str]) -> list[tuple[str, object, str, str]]:
    """(quantity, value or 'unavailable (...)', unit, VTune metric) for the metrics memprof reports."""
    rows = []
    for metric, (quantity, unit) in SUMMARY_QUANTITIES.items():
        if metric not in summary:
            continue
        text = summary[metric]
        value = number(text)
        rows.append((quantity, value if value is not None else f"unavailable (VTune: {text or 'empty'})", unit,
                     f"summary: {metric}"))
    return rows


def hw_event_rows(events: dict[str, float]) -> list[tuple[str, object, str, str]]:
    rows = []
    for event, (quantity, unit) in HW_EVENT_QUANTITIES.items():
        if event in events:
            value = events[event] * (64 if unit == "bytes" else 1)
            rows.append((quantity, value, unit, f"hw-events: {event}"))
    return rows
