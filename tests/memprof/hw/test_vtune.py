"""VTune argv builders and CSV report parsers (fixtures written from VTune's documented CSV output)."""

from pathlib import Path

import pytest

from memprof.hw import vtune

FIX = Path(__file__).parents[2] / "fixtures" / "vtune"


def test_collect_and_report_argv():
    argv = vtune.build_collect_argv("/tmp/r", ["python", "-m", "x"], knobs={"sampling-interval": 1})
    assert argv[:5] == ["vtune", "-collect", "memory-access", "-r", "/tmp/r"]
    assert "-start-paused" in argv
    assert argv[argv.index("-knob") + 1] == "sampling-interval=1"
    assert argv[argv.index("--") + 1:] == ["python", "-m", "x"]
    assert "-start-paused" not in vtune.build_collect_argv("/r", ["a"], start_paused=False)
    assert vtune.build_report_argv("/tmp/r", "hw-events") == [
        "vtune", "-report", "hw-events", "-r", "/tmp/r", "-format", "csv", "-csv-delimiter", "comma"]
    with pytest.raises(ValueError):
        vtune.build_collect_argv("/r", ["a"], analysis="threading")
    with pytest.raises(ValueError):
        vtune.build_report_argv("/r", "top-down")


def test_summary_with_nested_bandwidth_table():
    summary = vtune.parse_summary((FIX / "memory_access_summary.csv").read_text())
    assert summary["Elapsed Time"] == "2.513000"
    assert summary["LLC Miss Count"] == "51200000"
    assert summary["DRAM, GB/sec: Average"] == "8.352945"
    assert summary["DRAM Single-Package, GB/sec: Observed Maximum"] == "47.600000"
    assert summary["Computer Name"] == "icx-node-07"
    rows = {q: (v, u) for q, v, u, _ in vtune.summary_rows(summary)}
    assert rows["llc_misses"] == (51200000, "count")
    assert rows["dram_bw_avg_gbps"] == (pytest.approx(8.352945), "GB/s")
    assert rows["dram_bound_pct"][0] == pytest.approx(45.6)


def test_summary_not_available_values_are_unavailable_not_zero():
    summary = vtune.parse_summary((FIX / "uarch_summary_na.csv").read_text())
    rows = {q: v for q, v, _, _ in vtune.summary_rows(summary)}
    assert rows["cycles"] == 4012345678 and rows["instructions"] == 5123456789
    assert rows["memory_bound_pct"] == "unavailable (VTune: N/A with HT on)"


def test_hw_events_column_sums():
    events = vtune.parse_hw_events((FIX / "hw_events.csv").read_text())
    assert events["CPU_CLK_UNHALTED.THREAD"] == 3600000000 + 200000000 + 12000000
    assert events["MEM_LOAD_RETIRED.L3_MISS"] == 49000000  # ':Self' suffix dropped
    assert "Hardware Event Sample Count" not in " ".join(events)
    rows = {q: v for q, v, _, _ in vtune.hw_event_rows(events)}
    assert rows["instructions"] == 4409000000


def test_number_and_format_errors():
    assert vtune.number("1,234.5") == 1234.5 and vtune.number("2.5s") == 2.5 and vtune.number("N/A") is None
    with pytest.raises(vtune.VTuneFormatError):
        vtune.parse_summary("Function,CPU Time\nf,1\n")
    with pytest.raises(vtune.VTuneFormatError):
        vtune.parse_hw_events("Function,Module\nf,m\n")


@pytest.mark.hardware
@pytest.mark.skipif(vtune.find_vtune() is None, reason="VTune is not installed (no 'vtune' on PATH)")
def test_real_vtune_version():
    import subprocess

    out = subprocess.run([vtune.find_vtune(), "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "VTune" in out.stdout
