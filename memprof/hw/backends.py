"""The three ``memprof profile`` backends: perf, VTune, cachegrind. Each returns long-form rows.

Row schema (one per measured quantity): model, backend, quantity, value, unit, source,
note. ``value`` is a number when measured, else the text "unavailable (<why>)": an
unavailable counter is never a 0 or NaN.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from memprof.hw import perf as perf_mod
from memprof.hw import resctrl
from memprof.hw.host import CpuInfo, read_cpu_info
from memprof.hw.events import EventChoice, Quantity, event_set
from memprof.hw.runspec import RunSpec
from memprof.report.schema import PROFILE_COLUMNS
from sim.sizes import format_size

COLUMNS = PROFILE_COLUMNS  # declared once, in memprof.report.schema


def unavailable(reason: str) -> str:
    return f"unavailable ({reason})"


def _row(spec, backend, quantity, value, unit="", source="", note="") -> dict:
    return dict(zip(COLUMNS, (spec.model, backend, quantity, value, unit, source, note)))


def _run_plain(spec: RunSpec, timeout_s: float, extra_env: dict | None = None) -> dict:
    """Run the kernel without any counter tool: wall time and lookups only."""
    with tempfile.TemporaryDirectory(prefix="memprof-run-") as tmp:
        result = Path(tmp) / "result.json"
        proc = subprocess.run(spec.runner_argv(result=str(result)), capture_output=True, text=True,
                              timeout=timeout_s, env={**os.environ, **(extra_env or {})})
        if proc.returncode != 0:
            raise RuntimeError(f"kernel run failed: {proc.stderr.strip()[-500:]}")
        return json.loads(result.read_text())


def runner_rows(spec: RunSpec, backend: str, runner: dict) -> list[dict]:
    """Wall time and work counts every backend reports (measured by the child itself)."""
    wall_ns = runner["region_wall_ns"]
    return [
        _row(spec, backend, "wall_time_ms", wall_ns / 1e6, "ms", "time.perf_counter_ns around the kernel region"),
        _row(spec, backend, "lookups", runner["lookups"], "count", "kernel_runner"),
        _row(spec, backend, "samples", runner["samples"], "count", "kernel_runner"),
        _row(spec, backend, "ns_per_lookup", wall_ns / max(runner["lookups"], 1), "ns", "wall time / lookups"),
        _row(spec, backend, "table_bytes", runner["memory_bytes"], "bytes", "representation arrays"),
    ]


def choose_events(quantities: tuple[Quantity, ...], perf: str | None) -> dict[str, tuple[EventChoice | None, str]]:
    """Per quantity: the first candidate whose every event opens alone, or (None, why not)."""
    chosen = {}
    for quantity in quantities:
        reasons = []
        pick = None
        for choice in quantity.candidates:
            probes = [perf_mod.probe_event(e, choice.scope, perf) for e in choice.events]
            bad = [p for p in probes if not p.usable]
            if not bad:
                pick = choice
                break
            reasons.append(f"{bad[0].event}: {bad[0].status}: {bad[0].reason}")
        chosen[quantity.name] = (pick, "" if pick else "; ".join(reasons))
    return chosen


def _convert(choice: EventChoice, totals: list) -> tuple[float, str]:
    """Sum the totals of a choice's events and express them in bytes where they are bytes."""
    value = 0.0
    unit = "count"
    for total in totals:
        if total.bytes is not None:
            value += total.bytes
            unit = "bytes"
        elif choice.bytes_per_count is not None:
            value += total.value * choice.bytes_per_count
            unit = "bytes"
        else:
            value += total.value
            unit = "ms" if total.unit == "msec" else (total.unit or "count")
    return value, unit


def llc_plan(llc_bytes: int | None, cpu: CpuInfo, root: str = resctrl.DEFAULT_ROOT):
    """(mask, granted bytes, info, note) for emulating ``llc_bytes`` with resctrl, or Nones and why not."""
    if llc_bytes is None:
        return None, None, None, ""
    ok, why = resctrl.availability(root)
    if not ok:
        return None, None, None, f"--llc {format_size(llc_bytes)} not emulated: {why}; measured with the full LLC"
    if cpu.llc is None:
        return None, None, None, "--llc not emulated: the LLC size is unknown (no sysfs cache tree)"
    info = resctrl.read_info(root)
    mask, granted = resctrl.way_mask(llc_bytes, cpu.llc.size_bytes, info.cbm_mask, info.min_cbm_bits)
    return mask, granted, info, f"LLC limited to {format_size(granted)} by resctrl way mask {mask:#x}"


def profile_perf(spec: RunSpec, *, llc_bytes: int | None = None, cpu: CpuInfo | None = None,
                 perf: str | None = None, resctrl_root: str = resctrl.DEFAULT_ROOT,
                 timeout_s: float = 600) -> list[dict]:
    """Count the kernel region with perf stat (hardware events where they exist)."""
    cpu = cpu or read_cpu_info()
    perf = perf or perf_mod.find_perf()
    rows: list[dict] = []
    mask, granted, info, llc_note = llc_plan(llc_bytes, cpu, resctrl_root)
    if llc_bytes is not None:
        rows.append(_row(spec, "perf", "llc_bytes", granted if granted else unavailable(llc_note),
                         "bytes", "resctrl", llc_note if granted else ""))
    quantities = event_set(cpu)
    if not perf:
        runner = _run_plain(spec, timeout_s)
        rows += runner_rows(spec, "perf", runner)
        why = "perf is not installed (no 'perf' on PATH; set MEMPROF_PERF)"
        rows += [_row(spec, "perf", q.name, unavailable(why), "", "perf") for q in quantities]
        return rows
    chosen = choose_events(quantities, perf)
    task_events = [e for c, _ in chosen.values() if c and c.scope == "task" for e in c.events]
    system_events = [e for c, _ in chosen.values() if c and c.scope == "system" for e in c.events]
    if "task-clock" not in task_events:
        task_events.insert(0, "task-clock")
    fmt = "json" if perf_mod.supports_json(perf_mod.perf_version(perf)) else "csv"
    with tempfile.TemporaryDirectory(prefix="memprof-profile-") as tmp:
        result = Path(tmp) / "result.json"
        with resctrl.llc_group(mask, info) as group:
            argv = spec.runner_argv(result=str(result), mbm=str(group.path) if group else None)
            run = perf_mod.run_counted(argv, task_events, system_events, perf=perf, fmt=fmt, timeout_s=timeout_s,
                                       preexec_fn=group.join if group else None)
        if run.returncode != 0 or not result.exists():
            raise RuntimeError(f"counted kernel run failed (exit {run.returncode}): {run.stderr.strip()[-600:]}")
        runner = json.loads(result.read_text())
    rows += runner_rows(spec, "perf", runner)
    sessions = {s.scope: s for s in run.sessions}
    for quantity in quantities:
        choice, why = chosen[quantity.name]
        if choice is None:
            rows.append(_row(spec, "perf", quantity.name, unavailable(why), "", "perf probe"))
            continue
        session = sessions.get(choice.scope)
        if session is None or session.error:
            reason = session.error if session else "the session did not run"
            rows.append(_row(spec, "perf", quantity.name, unavailable(f"{choice.scope}-wide perf: {reason}"),
                             "", choice.label))
            continue
        found = [perf_mod.lookup(session.counts, e) for e in choice.events]
        problems = [perf_mod.describe_total(t, e) for t, e in zip(found, choice.events)]
        bad = [reason for status, reason in problems if status != "measured"]
        if bad:
            rows.append(_row(spec, "perf", quantity.name, unavailable(bad[0]), "", choice.label))
            continue
        value, unit = _convert(choice, found)
        pcnt = min((t.pcnt_running_min for t in found if t.pcnt_running_min is not None), default=None)
        notes = [choice.note] if choice.note else []
        if choice.scope == "system":
            notes.append("system-wide: counts every core during the region")
        if pcnt is not None and pcnt < 100:
            notes.append(f"multiplexed: counted {pcnt:.1f}% of the region, perf scaled the count")
        rows.append(_row(spec, "perf", quantity.name, value, unit, choice.label, "; ".join(notes)))
    if group is not None:
        mbm = runner.get("mbm_bytes")
        rows.append(_row(spec, "perf", "mbm_dram_bytes", mbm if mbm is not None else unavailable(runner["mbm_status"]),
                         "bytes", "resctrl mbm_total_bytes"))
    rows += _bandwidth_rows(spec, "perf", rows, runner["region_wall_ns"])
    return rows


def _bandwidth_rows(spec, backend, rows, wall_ns) -> list[dict]:
    values = {r["quantity"]: r["value"] for r in rows if isinstance(r["value"], (int, float))}
    dram = None
    source = ""
    if "dram_read_bytes" in values and "dram_write_bytes" in values:
        dram, source = values["dram_read_bytes"] + values["dram_write_bytes"], "dram_read_bytes + dram_write_bytes"
    elif "dram_bytes" in values:
        dram, source = values["dram_bytes"], "dram_bytes"
    elif "mbm_dram_bytes" in values:
        dram, source = values["mbm_dram_bytes"], "mbm_dram_bytes"
    if dram is None:
        return [_row(spec, backend, "dram_bw_gbps",
                     unavailable("no DRAM byte counter on this machine (uncore IMC/UMC/DF or resctrl MBM)"), "GB/s")]
    return [_row(spec, backend, "dram_bw_gbps", dram / wall_ns, "GB/s", f"{source} / wall time")]


def profile_vtune(spec: RunSpec, *, analysis: str = "memory-access", llc_bytes: int | None = None,
                  cpu: CpuInfo | None = None, vtune: str | None = None, timeout_s: float = 1200,
                  resctrl_root: str = resctrl.DEFAULT_ROOT) -> list[dict]:
    """Collect ``analysis`` with VTune, paused outside the kernel when ittapi is importable."""
    from memprof.hw import vtune as vt
    from memprof.hw.region import itt_module

    cpu = cpu or read_cpu_info()
    vtune = vtune or vt.find_vtune()
    rows: list[dict] = []
    mask, granted, info, llc_note = llc_plan(llc_bytes, cpu, resctrl_root)
    if llc_bytes is not None:
        rows.append(_row(spec, "vtune", "llc_bytes", granted if granted else unavailable(llc_note), "bytes",
                         "resctrl", llc_note if granted else ""))
    if not vtune:
        runner = _run_plain(spec, timeout_s)
        rows += runner_rows(spec, "vtune", runner)
        why = "VTune is not installed (no 'vtune' on PATH; install Intel oneAPI VTune or set MEMPROF_VTUNE)"
        rows += [_row(spec, "vtune", q, unavailable(why), "", "vtune") for q in ("cycles", "instructions", "llc_misses",
                                                                               "dram_bw_avg_gbps")]
        return rows
    itt, itt_why = itt_module()
    with tempfile.TemporaryDirectory(prefix="memprof-vtune-") as tmp:
        result_dir = Path(tmp) / "vtune-result"
        result = Path(tmp) / "result.json"
        with resctrl.llc_group(mask, info) as group:
            command = spec.runner_argv(result=str(result), itt=itt is not None, mbm=str(group.path) if group else None)
            argv = vt.build_collect_argv(result_dir, command, analysis=analysis, start_paused=itt is not None,
                                         vtune=vtune)
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s,
                                  preexec_fn=group.join if group else None)
        if proc.returncode != 0 or not result.exists():
            raise RuntimeError(f"vtune collection failed (exit {proc.returncode}): {proc.stderr.strip()[-600:]}")
        runner = json.loads(result.read_text())
        reports = {}
        for report in ("summary", "hw-events"):
            rep = subprocess.run(vt.build_report_argv(result_dir, report, vtune=vtune), capture_output=True,
                                 text=True, timeout=600)
            reports[report] = rep.stdout if rep.returncode == 0 else None
    rows += runner_rows(spec, "vtune", runner)
    scope_note = "kernel only (ittapi resume/pause)" if itt else f"whole process: {itt_why}"
    rows.append(_row(spec, "vtune", "collection_scope", scope_note, "", "vtune"))
    if cpu.vendor != "intel":
        rows.append(_row(spec, "vtune", "hardware_events",
                         unavailable(f"VTune collects hardware events on Intel CPUs only; this is {cpu.vendor_id}"),
                         "", "vtune"))
    if reports["summary"]:
        for quantity, value, unit, source in vt.summary_rows(vt.parse_summary(reports["summary"])):
            rows.append(_row(spec, "vtune", quantity, value, unit, source))
    else:
        rows.append(_row(spec, "vtune", "summary", unavailable("vtune -report summary failed"), "", "vtune"))
    if reports["hw-events"]:
        try:
            for quantity, value, unit, source in vt.hw_event_rows(vt.parse_hw_events(reports["hw-events"])):
                rows.append(_row(spec, "vtune", quantity, value, unit, source))
        except vt.VTuneFormatError as exc:
            rows.append(_row(spec, "vtune", "hw_events", unavailable(str(exc)), "", "vtune"))
    return rows


def cachegrind_geometry(llc_bytes: int | None, cpu: CpuInfo, ways: int | None = None) -> tuple[int, int, int]:
    """(size, ways, line) for --LL: the host LLC, or ``llc_bytes`` with a legal way count."""
    from memprof.hw.cachegrind import check_geometry

    line = (cpu.llc.line_bytes if cpu.llc and cpu.llc.line_bytes else 64)
    size = llc_bytes or (cpu.llc.size_bytes if cpu.llc else None)
    if size is None:
        raise ValueError("no --llc given and the host LLC size is unknown (no sysfs cache tree)")
    if ways:
        check_geometry(size, ways, line)
        return size, ways, line
    candidates = ([cpu.llc.ways] if cpu.llc and cpu.llc.ways else []) + [16, 14, 12, 20, 11, 15, 8]
    errors = []
    for candidate in candidates:
        try:
            check_geometry(size, candidate, line)
            return size, candidate, line
        except ValueError as exc:
            errors.append(str(exc))
    raise ValueError(f"no way count makes {format_size(size)} legal for cachegrind: {errors[0]}")


def profile_cachegrind(spec: RunSpec, *, llc_bytes: int | None = None, ways: int | None = None,
                       cpu: CpuInfo | None = None, timeout_s: float = 1800) -> list[dict]:
    """Cachegrind LL misses of the kernel beside memprof's simulation of the same trace."""
    from memprof.hw import cachegrind_compare

    cpu = cpu or read_cpu_info()
    ll = cachegrind_geometry(llc_bytes, cpu, ways)
    l1 = cpu.l1d
    d1 = (l1.size_bytes, l1.ways or 8, l1.line_bytes or 64) if l1 else (32768, 8, 64)
    cmp = cachegrind_compare.run(spec, ll=ll, d1=d1, timeout_s=timeout_s)
    geometry = f"LL {format_size(ll[0])} {ll[1]}-way {ll[2]} B; D1 {format_size(d1[0])} {d1[1]}-way {d1[2]} B"
    b = "cachegrind"
    rows = [
        _row(spec, b, "ll_bytes", ll[0], "bytes", "--LL", geometry),
        _row(spec, b, "lookups", cmp.lookups, "count", "kernel_runner"),
        _row(spec, b, "trace_accesses", cmp.trace_accesses, "lines", "Representation.emit"),
        _row(spec, b, "cachegrind_ll_read_misses", cmp.cachegrind_ll_read_misses, "count",
             "cachegrind DLmr of the JIT kernel (fn=???)", "includes a few thousand misses of other unsymbolised code"),
        _row(spec, b, "cachegrind_ll_write_misses", cmp.cachegrind_ll_write_misses, "count", "cachegrind DLmw (fn=???)"),
        _row(spec, b, "cachegrind_ll_misses_process", cmp.cachegrind_ll_misses_total, "count",
             "cachegrind summary (whole process: interpreter, imports, setup)"),
        _row(spec, b, "index_array_lines", cmp.index_lines, "lines", "kernel_runner",
             "index/offset arrays the kernel reads (cold after the flush), not in the trace"),
        _row(spec, b, "simulated_ll_misses", cmp.simulated_ll_misses, "count", "sim.engine.simulator, emitted trace",
             "D1 + non-inclusive LL, LRU, real addresses"),
        _row(spec, b, "simulated_ll_misses_with_index", cmp.simulated_with_index, "count",
             "simulated_ll_misses + index_array_lines"),
        _row(spec, b, "difference_pct", 100 * cmp.relative_difference, "%",
             "(cachegrind - simulated_with_index) / simulated_with_index"),
    ]
    if cmp.simulated_exact_ll_misses is not None:
        rows += [
            _row(spec, b, "simulated_ll_misses_full_kernel_trace", cmp.simulated_exact_ll_misses, "count",
                 "sim.engine.simulator, DLRM kernel trace incl. index/offset/output-row accesses"),
            _row(spec, b, "difference_full_kernel_trace_pct", 100 * cmp.exact_relative_difference, "%",
                 "(cachegrind - full-trace simulated) / full-trace simulated"),
        ]
    if not cmp.aligned:
        rows.append(_row(spec, b, "alignment", "tables not line-aligned in the child: trace lines approximate", ""))
    rows.append(_row(spec, b, "valgrind_wall_s", cmp.wall_s, "s", "the whole run under valgrind (not kernel time)"))
    return rows
