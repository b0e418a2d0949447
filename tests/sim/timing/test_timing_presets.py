"""CPU presets: public facts, validation, and building a preset from (value, source) fields.

The host preset (fields measured on the machine) is tested in tests/memprof/hw/test_host_preset.py.
"""

from __future__ import annotations

import pytest

from sim.timing.presets import FIELDS, GENERIC, PRESETS, CacheGeometry, get_preset, list_presets, preset_from_fields
from sim.tlb import page_size_bytes

MIB = 1 << 20


def test_list_has_the_required_presets():
    assert list_presets() == ("icx", "spr", "adl", "tgl", "genoa", "milan")


@pytest.mark.parametrize("name", ["icx", "spr", "adl", "tgl", "genoa", "milan"])
def test_named_presets_are_consistent(name):
    preset = get_preset(name)
    t = preset.timing
    assert preset.l1d.size_bytes < preset.l2.size_bytes < preset.llc.size_bytes
    assert t.l1_hit_cycles < t.l2_hit_cycles < t.llc_hit_cycles < t.dram_cycles
    dram_ns = t.dram_cycles / t.freq_ghz
    assert 60 <= dram_ns <= 150  # measured DRAM latencies of these platforms: 80-130 ns
    assert 10 <= t.fill_buffers <= 24 and 2 <= t.page_walkers <= 6 and t.peak_dram_gbps > 0
    assert set(preset.sources) == {*FIELDS, "compute costs"}
    assert all(isinstance(s, str) and len(s) > 10 for s in preset.sources.values())
    # Published or cited: everything but the walk cost and the paging-structure cache (and compute costs).
    assert preset.assumed == ("page_walk_cycles", "pde_cache", "compute costs")
    for size, tlb in preset.tlb.items():
        assert tlb.dtlb_entries <= tlb.stlb_entries, (name, size)


# Public facts, from the vendors' product pages (independent of the code's comments).
@pytest.mark.parametrize("name, llc_bytes, freq_ghz, peak_gbps", [
    ("icx", 40 * 3 * MIB // 2, 3.4, 8 * 3200 * 8 / 1000),  # 40 cores x 1.5 MiB; 8ch DDR4-3200
    ("spr", 56 * 15 * MIB // 8, 3.8, 8 * 4800 * 8 / 1000),  # 56 cores x 1.875 MiB; 8ch DDR5-4800
    ("adl", 30 * MIB, 5.1, 2 * 4800 * 8 / 1000),  # 30 MB; dual-channel DDR5-4800
    ("tgl", 12 * MIB, 4.8, 4266 * 16 / 1000),  # 12 MB; 128-bit LPDDR4x-4266
    ("genoa", 32 * MIB, 3.7, 12 * 4800 * 8 / 1000),  # one CCD's L3; 12ch DDR5-4800
    ("milan", 32 * MIB, 3.5, 8 * 3200 * 8 / 1000),  # one CCD's L3; 8ch DDR4-3200
])
def test_named_presets_match_public_facts(name, llc_bytes, freq_ghz, peak_gbps):
    preset = get_preset(name)
    assert preset.llc.size_bytes == llc_bytes
    assert preset.timing.freq_ghz == freq_ghz
    assert preset.timing.peak_dram_gbps == pytest.approx(peak_gbps, rel=2e-3)
    assert preset.llc.sets * preset.llc.ways * preset.llc.line_bytes == llc_bytes


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown CPU preset 'm1'; known presets: icx, spr, adl, tgl, genoa, milan$"):
        get_preset("m1")


def test_names_are_case_insensitive():
    assert get_preset(" ICX ").name == "icx"


def test_cache_geometry_validation():
    assert CacheGeometry(56 * MIB, 16).sets == 57344  # 56 MB at 16 ways: not a power of two
    with pytest.raises(ValueError, match="multiple of ways x line_bytes"):
        CacheGeometry(1000, 16)
    with pytest.raises(ValueError, match="ways must be a positive integer"):
        CacheGeometry(1024, 0)


# The numbers of every named preset, from the tables' sources (a change here must be deliberate).
@pytest.mark.parametrize("name, freq, latencies, dram_cycles, core, l1d, l2, llc", [
    # core: (fill buffers, ROB, page walkers, 4 KiB DTLB entries, STLB entries)
    ("icx", 3.4, (5, 14, 70), 374, (12, 352, 2, 64, 2048), (48 << 10, 12), (1280 << 10, 20), (60 * MIB, 12)),
    ("spr", 3.8, (5, 16, 125), 437, (16, 512, 4, 96, 2048), (48 << 10, 12), (2 * MIB, 16), (105 * MIB, 15)),
    ("adl", 5.1, (5, 15, 65), 469, (16, 512, 4, 96, 2048), (48 << 10, 12), (1280 << 10, 10), (30 * MIB, 12)),
    ("tgl", 4.8, (5, 14, 55), 504, (12, 352, 2, 64, 2048), (48 << 10, 12), (1280 << 10, 20), (12 * MIB, 12)),
    ("genoa", 3.7, (4, 14, 50), 426, (22, 320, 6, 72, 3072), (32 << 10, 8), (1 * MIB, 8), (32 * MIB, 16)),
    ("milan", 3.5, (4, 12, 46), 385, (22, 256, 6, 64, 2048), (32 << 10, 8), (512 << 10, 8), (32 * MIB, 16)),
])
def test_named_preset_numbers(name, freq, latencies, dram_cycles, core, l1d, l2, llc):
    preset = get_preset(name)
    t = preset.timing
    assert (t.name, t.freq_ghz, t.dram_cycles, t.line_bytes) == (name, freq, dram_cycles, 64)
    tlb = preset.tlb["4KB"]
    assert (t.fill_buffers, t.rob_entries, t.page_walkers, tlb.dtlb_entries, tlb.stlb_entries) == core
    assert (t.l1_hit_cycles, t.l2_hit_cycles, t.llc_hit_cycles) == latencies
    for geometry, (size, ways) in zip((preset.l1d, preset.l2, preset.llc), (l1d, l2, llc)):
        assert (geometry.size_bytes, geometry.ways, geometry.line_bytes) == (size, ways, 64)
    assert t.compute_cycles_per_lookup == () and t.cycles_per_hash == 4.0  # compute costs: the defaults


def test_presets_are_tables_with_a_source_per_field():
    for name, table in PRESETS.items():
        assert set(table) == {"description", *FIELDS}, name
        for field in FIELDS:
            value, source = table[field]
            assert isinstance(source, str) and source, (name, field)


def test_a_preset_from_fields_takes_missing_ones_from_the_defaults():
    preset = preset_from_fields("lab", "a lab machine", {"freq_ghz": (2.0, "read: the BIOS"),
                                                         "llc": ((16 * MIB, 16, 128), "read: sysfs")}, GENERIC)
    t = preset.timing
    assert t.freq_ghz == 2.0 and t.dram_cycles == 200  # the generic 100 ns at 2 GHz
    assert t.line_bytes == 128 and preset.llc.sets == 16 * MIB // (16 * 128)
    assert t.peak_dram_gbps is None and (preset.l2.size_bytes, preset.l2.ways) == (MIB, 16)
    assert preset.sources["freq_ghz"] == "read: the BIOS"
    assert "freq_ghz" not in preset.assumed and "llc" not in preset.assumed
    assert {"l1d", "l2", "fill_buffers", "tlb", "dram_ns", "l1_hit_cycles"} <= set(preset.assumed)


def test_preset_from_fields_names_missing_and_unknown_fields():
    with pytest.raises(ValueError, match="missing field\\(s\\) l1_hit_cycles"):
        preset_from_fields("x", "", {"freq_ghz": (3.0, "s")})
    with pytest.raises(ValueError, match="unknown field\\(s\\) l3"):
        preset_from_fields("x", "", {"l3": ((MIB, 8), "s")}, GENERIC)
    with pytest.raises(ValueError, match="cache sizes must grow"):
        preset_from_fields("x", "", {"l2": ((64 * MIB, 16), "s")}, GENERIC)


def test_describe_is_json_ready():
    import json

    data = json.loads(json.dumps(get_preset("icx").describe()))
    assert data["llc"]["sets"] == 60 * MIB // (12 * 64)
    assert data["assumed"] == ["page_walk_cycles", "pde_cache", "compute costs"]
    assert data["tlb"]["4KB"] == "TLB 4 KiB pages: DTLB 64x4-way, STLB 2048x16-way, PSC 32 entries"


@pytest.mark.parametrize("text, expected", [("4KB", 4096), ("2mb", 2 << 20), ("1G", 1 << 30), ("4KiB", 4096)])
def test_page_sizes(text, expected):
    assert page_size_bytes(text) == expected


@pytest.mark.parametrize("text", ["8KB", "64KB", "", "huge"])
def test_other_page_sizes_are_refused_naming_the_allowed_ones(text):
    with pytest.raises(ValueError, match="must be one of 4KB, 2MB, 1GB"):
        page_size_bytes(text)


def test_a_preset_tlb_the_stlb_cannot_back_is_refused():
    table = {**PRESETS["icx"], "tlb": ({"4KB": ((128, 4), (64, 4)), "2MB": ((32, 4), (2048, 16)),
                                        "1GB": ((8, 8), (1024, 8))}, "test")}
    with pytest.raises(ValueError, match="larger than the STLB that backs it"):
        preset_from_fields("x", "", {k: v for k, v in table.items() if k != "description"})
