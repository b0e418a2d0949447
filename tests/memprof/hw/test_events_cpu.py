"""CPU identification and the per-vendor event sets."""

import pytest

from memprof.hw.host import CacheLevel, CpuInfo, parse_cpuinfo, read_cpu_info, zen_generation
from memprof.hw.events import EventChoice, event_set

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 106
model name\t: Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz
flags\t\t: fpu avx2 avx512f

processor\t: 1
vendor_id\t: GenuineIntel
model name\t: ignored second block
"""


def cpu(vendor, family, model, caches=()):
    vendor_id = {"intel": "GenuineIntel", "amd": "AuthenticAMD"}.get(vendor, "Other")
    return CpuInfo(vendor, vendor_id, family, model, "x", frozenset(), tuple(caches))


def test_parse_cpuinfo_first_block_and_count():
    info = parse_cpuinfo(CPUINFO)
    assert info["vendor_id"] == "GenuineIntel" and info["model"] == "106"
    assert info["model name"].startswith("Intel(R) Xeon(R) Platinum 8380")
    assert info["_count"] == "2"


def test_read_cpu_info_from_files(tmp_path):
    (tmp_path / "cpuinfo").write_text(CPUINFO)
    cache = tmp_path / "sys" / "devices" / "system" / "cpu" / "cpu0" / "cache" / "index3"
    cache.mkdir(parents=True)
    for name, value in (("level", "3"), ("type", "Unified"), ("size", "61440K"), ("ways_of_associativity", "12"),
                        ("coherency_line_size", "64"), ("number_of_sets", "81920")):
        (cache / name).write_text(value + "\n")
    info = read_cpu_info(tmp_path / "cpuinfo", tmp_path / "sys")
    assert info.vendor == "intel" and info.family == 6 and info.model == 106
    assert info.has_avx512 and info.logical_cpus == 2
    assert info.llc == CacheLevel(3, "Unified", 61440 * 1024, 12, 64, 81920)
    assert info.microarch == "intel"


def test_read_cpu_info_missing_files(tmp_path):
    info = read_cpu_info(tmp_path / "nope", tmp_path / "nosys")
    assert info.vendor == "other" and info.llc is None and info.model_name == "unknown"


@pytest.mark.parametrize("family,model,zen", [
    (0x17, 0x01, 1), (0x17, 0x31, 2), (0x19, 0x01, 3), (0x19, 0x21, 3), (0x19, 0x11, 4), (0x19, 0x61, 4),
    (0x19, 0xA0, 4), (0x1A, 0x02, 5), (0x15, 0x01, None)])
def test_zen_generation(family, model, zen):
    assert zen_generation(family, model) == zen


def names(quantities):
    return {q.name: q for q in quantities}


def test_intel_event_set():
    qs = names(event_set(cpu("intel", 6, 106)))
    assert qs["llc_load_misses"].candidates[0].events == ("mem_load_retired.l3_miss",)
    assert qs["llc_miss_lines"].candidates[0].events == ("ocr.demand_data_rd.l3_miss",)
    read = qs["dram_read_bytes"].candidates[0]
    assert read.events == ("uncore_imc/cas_count_read/",) and read.scope == "system"
    assert qs["task_clock_ms"].certain and qs["cycles"].certain and not qs["llc_load_misses"].certain


def test_amd_event_sets_never_use_cache_misses_as_llc():
    zen4 = names(event_set(cpu("amd", 0x19, 0x11)))
    zen3 = names(event_set(cpu("amd", 0x19, 0x01)))
    zen5 = names(event_set(cpu("amd", 0x1A, 0x02)))
    assert zen4["dram_fill_lines"].candidates[0].events == ("ls_any_fills_from_sys.dram_io_all",)
    assert zen5["dram_fill_lines"].candidates[0].events == ("ls_any_fills_from_sys.dram_io_all",)
    assert zen3["dram_fill_lines"].candidates[0].events == ("ls_any_fills_from_sys.mem_io_local",)
    assert zen4["llc_misses"].candidates[0].events == ("l3_lookup_state.l3_miss",)
    assert zen4["dram_read_bytes"].candidates[0].bytes_per_count == 64
    assert len(zen3["dram_bytes"].candidates[0].events) == 8
    for qs in (zen3, zen4, zen5):
        for q in qs.values():
            for choice in q.candidates:
                assert "cache-misses" not in choice.events and "LLC-load-misses" not in choice.events


def test_unknown_vendor_gets_generic_only():
    assert set(names(event_set(cpu("other", None, None)))) == {"task_clock_ms", "cycles", "instructions"}


def test_event_choice_validates():
    with pytest.raises(ValueError):
        EventChoice(())
    with pytest.raises(ValueError, match="scope"):
        EventChoice(("cycles",), scope="socket")
