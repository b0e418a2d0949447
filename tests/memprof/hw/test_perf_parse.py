"""perf stat output parsing on fixture files (captured here, or written from the documented formats)."""

from pathlib import Path

import pytest

from memprof.hw.perf_parse import (COUNTED, NOT_COUNTED, NOT_SUPPORTED, PerfParseError, normalize_event,
                                         parse_csv, parse_error, parse_json, parse_output, totals)

FIX = Path(__file__).parents[2] / "fixtures" / "perf"


def text(name):
    return (FIX / name).read_text()


def by_event(records):
    return {r.event: r for r in records}


def test_local_no_pmu_csv_reports_not_supported_never_zero():
    recs = by_event(parse_csv(text("local_nopmu_csv.txt")))
    assert set(recs) == {"cycles", "instructions", "task-clock"}
    for name in ("cycles", "instructions"):
        assert recs[name].status == NOT_SUPPORTED
        assert recs[name].value is None
        assert recs[name].metric_value is None
    assert recs["task-clock"].status == COUNTED
    assert recs["task-clock"].value == pytest.approx(0.81)
    assert recs["task-clock"].unit == "msec"
    assert recs["task-clock"].run_time_ns == 806290
    assert recs["task-clock"].metric_unit == "CPUs utilized"


def test_local_no_pmu_json_matches_csv_semantics():
    recs = by_event(parse_json(text("local_nopmu_json.txt")))
    assert recs["cycles"].status == NOT_SUPPORTED and recs["cycles"].value is None
    assert recs["task-clock"].value == pytest.approx(0.809444)
    assert recs["task-clock"].pcnt_running == 100.0


def test_local_repeat_variance_sits_after_the_event():
    recs = by_event(parse_csv(text("local_nopmu_repeat_csv.txt")))
    assert recs["task-clock"].variance_pct == pytest.approx(12.02)
    assert recs["task-clock"].run_time_ns == 624359  # the field after the variance
    assert recs["task-clock"].pcnt_running == 100.0
    assert recs["cycles"].variance_pct == 0.0 and recs["cycles"].status == NOT_SUPPORTED


def test_local_repeat_json_variance_key():
    recs = by_event(parse_json(text("local_nopmu_repeat_json.txt")))
    assert recs["task-clock"].variance_pct == pytest.approx(3.68)


def test_local_interval_csv_prefix_and_not_counted():
    recs = parse_csv(text("local_nopmu_interval_csv.txt"))
    assert [r.interval_s for r in recs if r.event == "task-clock"] == pytest.approx([0.100212194, 0.200595752,
                                                                                    0.251484385])
    statuses = [r.status for r in recs if r.event == "task-clock"]
    assert statuses == [COUNTED, NOT_COUNTED, COUNTED]
    total = totals(recs)["task-clock"]
    assert total.value == pytest.approx(0.67 + 0.06)  # <not counted> interval contributes nothing, not zero-as-data
    assert total.intervals == 3


def test_local_interval_json():
    recs = parse_json(text("local_nopmu_interval_json.txt"))
    assert sorted({r.interval_s for r in recs}) == pytest.approx([0.100183065, 0.200496578, 0.251801786])
    assert totals(recs)["task-clock"].value == pytest.approx(0.982992 + 0.054882)
    assert totals(recs)["cycles"].status == NOT_SUPPORTED


def test_u_suffix_is_stripped_for_lookup():
    recs = parse_csv(text("local_nopmu_u_suffix_csv.txt"))
    assert [r.event for r in recs] == ["cycles:u", "instructions:u", "task-clock:u"]
    assert [r.base_event for r in recs] == ["cycles", "instructions", "task-clock"]
    assert recs[0].modifiers == "u"
    recs = by_event(parse_csv(text("intel_user_csv.txt")))
    assert recs["mem_load_retired.l3_miss:u"].status == NOT_COUNTED
    assert totals(list(recs.values()))["cycles"].value == 7654321098


def test_normalize_event_forms():
    assert normalize_event("cycles:ukh") == "cycles"
    assert normalize_event("cpu/cycles/u") == "cpu/cycles/"
    assert normalize_event("uncore_imc/cas_count_read/") == "uncore_imc/cas_count_read/"
    assert normalize_event("MEM_LOAD_RETIRED.L3_MISS") == "mem_load_retired.l3_miss"


def test_intel_counts_and_metrics():
    recs = by_event(parse_csv(text("intel_icx_csv.txt")))
    assert recs["cycles"].value == 8193456721
    assert recs["instructions"].metric_value == pytest.approx(1.28)
    assert recs["instructions"].metric_unit == "insn per cycle"
    assert recs["mem_load_retired.l3_miss"].value == 51234567
    assert not any(r.multiplexed for r in recs.values())


def test_multiplexing_percentages():
    recs = by_event(parse_csv(text("intel_multiplex_csv.txt")))
    assert recs["cycles"].pcnt_running == pytest.approx(49.98) and recs["cycles"].multiplexed
    assert recs["mem_load_retired.l2_miss"].pcnt_running == pytest.approx(33.33)
    assert not recs["task-clock"].multiplexed
    assert totals(list(recs.values()))["cycles"].pcnt_running_min == pytest.approx(49.98)


def test_intel_repeat_with_not_supported():
    recs = by_event(parse_csv(text("intel_repeat_csv.txt")))
    assert recs["cycles"].variance_pct == pytest.approx(0.52)
    assert recs["cycles"].run_time_ns == 4012345678
    assert recs["instructions"].metric_value == pytest.approx(1.28)
    assert recs["mem_load_retired.l3_miss"].status == NOT_SUPPORTED


def test_intel_interval_sums_deltas():
    recs = parse_csv(text("intel_interval_csv.txt"))
    t = totals(recs)
    assert t["cycles"].value == 4100000000 + 4090000000 + 2000000000
    assert t["cycles"].intervals == 3
    # one interval of the L3 event never ran: it adds nothing, the others are summed
    assert t["mem_load_retired.l3_miss"].value == 25000000 + 12500000
    assert t["mem_load_retired.l3_miss"].status == COUNTED


def test_uncore_imc_mib_to_bytes_and_metric_line():
    recs = by_event(parse_csv(text("intel_uncore_imc_csv.txt")))
    read = recs["uncore_imc/cas_count_read/"]
    assert read.unit == "MiB"
    assert read.bytes == pytest.approx(3141.59 * 2**20)
    assert recs["uncore_imc/cas_count_write/"].bytes == pytest.approx(512.25 * 2**20)
    extra = recs["uncore_imc/cas_count_write/"].extra_metrics
    assert extra == ((pytest.approx(1820.88), "MB/s  tma_info_system_dram_bw_use"),)


def test_per_socket_prefix_is_summed():
    recs = parse_csv(text("intel_per_socket_csv.txt"))
    assert {r.aggregate for r in recs} == {"S0/28", "S1/28"}
    t = totals(recs)
    assert t["cycles"].value == 8000000000
    assert t["uncore_imc/cas_count_read/"].bytes == pytest.approx(1024 * 2**20)


def test_hybrid_pmu_names():
    recs = by_event(parse_csv(text("intel_hybrid_csv.txt")))
    assert recs["cpu_core/cycles/"].value == 6012345678
    assert recs["cpu_atom/cycles/"].multiplexed


def test_intel_json_with_metric_only_line_and_not_counted():
    recs = by_event(parse_json(text("intel_json.txt")))
    assert recs["cycles"].value == 8193456721
    assert recs["mem_load_retired.l3_miss"].pcnt_running == pytest.approx(49.97)
    assert recs["ocr.demand_data_rd.l3_miss"].status == NOT_COUNTED
    assert recs["ocr.demand_data_rd.l3_miss"].value is None
    assert recs["ocr.demand_data_rd.l3_miss"].extra_metrics == ((12.5, "%  tma_memory_bound"),)


def test_interval_json_uncore_bytes():
    t = totals(parse_json(text("intel_interval_json.txt")))
    assert t["uncore_imc/cas_count_read/"].bytes == pytest.approx(2000.0 * 2**20)
    assert t["cycles"].value == 8190000000


def test_amd_fixtures():
    task = totals(parse_csv(text("amd_zen4_task_csv.txt")))
    assert task["ls_any_fills_from_sys.dram_io_all"].value == 61234567
    system = totals(parse_csv(text("amd_zen4_system_csv.txt")))
    assert system["umc_cas_cmd.rd"].value == 60000000
    zen3 = totals(parse_csv(text("amd_zen3_system_csv.txt")))
    assert sum(t.value for t in zen3.values()) == 36000


def test_autodetect_format():
    assert parse_output(text("local_nopmu_json.txt"))[2].value == pytest.approx(0.809444)
    assert parse_output(text("local_nopmu_csv.txt"))[2].value == pytest.approx(0.81)
    assert parse_output("# only a comment\n\n") == []


@pytest.mark.parametrize("bad", ["garbage line", "1,2,3,4", "abc,,cycles,1,100.00,,"])
def test_malformed_csv_raises_with_line_number(bad):
    with pytest.raises(PerfParseError, match="line 1"):
        parse_csv(bad + "\n")


def test_malformed_json_raises():
    with pytest.raises(PerfParseError, match="line 1"):
        parse_json('{"counter-value" : "12"\n')
    with pytest.raises(PerfParseError, match="not a number"):
        parse_json('{"counter-value" : "abc", "event" : "cycles"}\n')


def test_error_messages_from_captured_stderr():
    assert parse_error(text("local_unknown_event_stderr.txt"), 129) == \
        "perf does not know event 'bogus_event': parser error"
    pmu = parse_error(text("local_unknown_pmu_stderr.txt"), 129)
    assert "amd_umc_0/umc_cas_cmd.rd/" in pmu and "Cannot find PMU" in pmu
    assert parse_error(text("local_group_unsupported_stderr.txt"), 255) == "The cycles event is not supported."
    assert parse_error(text("intel_permission_stderr.txt"), 255).startswith("not permitted")
    assert parse_error("", 3) == "perf exited with status 3"
