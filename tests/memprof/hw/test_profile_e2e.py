"""End to end: ``memprof profile --backend perf`` on this machine.

On a machine without a hardware PMU (VMs, containers, this project's CI) the hardware
events must come out as "unavailable (<why>)" while task-clock and wall time are
measured; on a machine with a PMU, cycles must be a positive count instead.
"""

import json

import pytest
from click.testing import CliRunner

pytest.importorskip("traces.representations")

from memprof.cli.main import main
from memprof.hw import perf as perf_mod

needs_perf = pytest.mark.skipif(perf_mod.find_perf() is None, reason="perf is not installed on this machine")

ARGS = ["profile", "--backend", "perf", "--model", "dlrm", "--workload", "20000,300", "--dim", "32",
        "--batch-size", "256", "--batches", "4", "--format", "json"]


def rows_of(output):
    payload = json.loads(output)
    return {r["quantity"]: r for r in payload["rows"]}, payload["metadata"]


@needs_perf
def test_profile_perf_reports_unavailable_hardware_events_with_reason():
    result = CliRunner().invoke(main, ARGS + ["--llc", "14MB"])
    assert result.exit_code == 0, result.output
    rows, meta = rows_of(result.stdout)
    assert meta["backend"] == "perf"
    assert isinstance(rows["task_clock_ms"]["value"], float) and rows["task_clock_ms"]["value"] > 0
    assert isinstance(rows["wall_time_ms"]["value"], float) and rows["wall_time_ms"]["value"] > 0
    assert rows["lookups"]["value"] == 2 * 256 * 4
    # task-clock is CPU time inside the region: about the region's wall time, never the whole process
    assert rows["task_clock_ms"]["value"] < 20 * rows["wall_time_ms"]["value"] + 5
    cycles = perf_mod.probe_event("cycles")
    if cycles.usable:
        assert isinstance(rows["cycles"]["value"], float) and rows["cycles"]["value"] > 0
    else:
        assert rows["cycles"]["value"].startswith("unavailable (") and cycles.reason in rows["cycles"]["value"]
        assert rows["instructions"]["value"].startswith("unavailable (")
    for row in rows.values():  # an unavailable counter is never a number 0
        assert row["value"] is not None and row["value"] != 0 or row["quantity"] in ("lookups",)
    llc = rows["llc_bytes"]["value"]
    from memprof.hw import resctrl
    ok, why = resctrl.availability()
    if not ok:
        assert llc.startswith("unavailable (") and "resctrl" in llc


@needs_perf
def test_profile_table_format_says_unavailable():
    result = CliRunner().invoke(main, ARGS[:-2] + ["--format", "table"])
    assert result.exit_code == 0, result.output
    line = next(l for l in result.stdout.splitlines() if " task_clock_ms " in l)
    assert "unavailable" not in line
    if not perf_mod.probe_event("cycles").usable:
        cycles_line = next(l for l in result.stdout.splitlines() if " cycles " in l)
        assert "unavailable (" in cycles_line


def test_profile_bad_input_is_one_line_exit_2():
    result = CliRunner().invoke(main, ["profile", "--backend", "cachegrind", "--llc", "56MB", "--ways", "16"])
    assert result.exit_code == 2
    assert "power-of-two number of sets" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["profile", "--model", "nosuch"])
    assert result.exit_code == 2 and "unknown model" in result.output


def test_profile_vtune_says_when_vtune_is_absent(monkeypatch):
    monkeypatch.setenv("MEMPROF_VTUNE", "/nonexistent/vtune")
    result = CliRunner().invoke(main, ["profile", "--backend", "vtune"] + ARGS[3:])
    assert result.exit_code == 0, result.output
    rows, _ = rows_of(result.stdout)
    assert rows["llc_misses"]["value"].startswith("unavailable (VTune is not installed")
    assert rows["wall_time_ms"]["value"] > 0
