"""CPU presets: public facts, validation, and the host preset read from a fake /sys tree."""

from __future__ import annotations

import pytest

from sim.timing.presets import CacheGeometry, get_preset, host_preset, list_presets, read_host_frequency

MIB = 1 << 20


def test_list_has_the_required_presets():
    assert set(list_presets()) >= {"icx", "spr", "adl", "tgl", "genoa", "host"}


@pytest.mark.parametrize("name", ["icx", "spr", "adl", "tgl", "genoa"])
def test_named_presets_are_consistent(name):
    preset = get_preset(name)
    t = preset.timing
    assert preset.l1d.size_bytes < preset.l2.size_bytes < preset.llc.size_bytes
    assert t.l1_hit_cycles < t.l2_hit_cycles < t.llc_hit_cycles < t.dram_cycles
    dram_ns = t.dram_cycles / t.freq_ghz
    assert 60 <= dram_ns <= 150  # measured DRAM latencies of these platforms: 80-130 ns
    assert 1 <= t.mlp <= 24 and t.peak_dram_gbps > 0
    assert preset.sources and all(isinstance(s, str) and s for s in preset.sources)
    assert any("mlp" in a for a in preset.assumed_values)


# Public facts, from the vendors' product pages (independent of the code's comments).
@pytest.mark.parametrize("name, llc_bytes, freq_ghz, peak_gbps", [
    ("icx", 40 * 3 * MIB // 2, 3.4, 8 * 3200 * 8 / 1000),  # 40 cores x 1.5 MiB; 8ch DDR4-3200
    ("spr", 56 * 15 * MIB // 8, 3.8, 8 * 4800 * 8 / 1000),  # 56 cores x 1.875 MiB; 8ch DDR5-4800
    ("adl", 30 * MIB, 5.1, 2 * 4800 * 8 / 1000),  # 30 MB; dual-channel DDR5-4800
    ("tgl", 12 * MIB, 4.8, 4266 * 16 / 1000),  # 12 MB; 128-bit LPDDR4x-4266
    ("genoa", 32 * MIB, 3.7, 12 * 4800 * 8 / 1000),  # one CCD's L3; 12ch DDR5-4800
])
def test_named_presets_match_public_facts(name, llc_bytes, freq_ghz, peak_gbps):
    preset = get_preset(name)
    assert preset.llc.size_bytes == llc_bytes
    assert preset.timing.freq_ghz == freq_ghz
    assert preset.timing.peak_dram_gbps == pytest.approx(peak_gbps, rel=2e-3)
    assert preset.llc.sets * preset.llc.ways * preset.llc.line_bytes == llc_bytes


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown CPU preset 'm1'; known presets: icx, spr, adl, tgl, genoa, host"):
        get_preset("m1")


def test_names_are_case_insensitive():
    assert get_preset(" ICX ").name == "icx"


def test_cache_geometry_validation():
    assert CacheGeometry(56 * MIB, 16).sets == 57344  # 56 MB at 16 ways: not a power of two
    with pytest.raises(ValueError, match="multiple of ways x line_bytes"):
        CacheGeometry(1000, 16)
    with pytest.raises(ValueError, match="ways must be a positive integer"):
        CacheGeometry(1024, 0)


# --------------------------------------------------------------------------- host

def _cache_index(root, index, level, kind, size, ways=None, line=64, sets=None):
    d = root / "devices" / "system" / "cpu" / "cpu0" / "cache" / f"index{index}"
    d.mkdir(parents=True)
    (d / "level").write_text(f"{level}\n")
    (d / "type").write_text(f"{kind}\n")
    (d / "size").write_text(f"{size}\n")
    if ways is not None:
        (d / "ways_of_associativity").write_text(f"{ways}\n")
    if line is not None:
        (d / "coherency_line_size").write_text(f"{line}\n")
    if sets is not None:
        (d / "number_of_sets").write_text(f"{sets}\n")


@pytest.fixture
def fake_sys(tmp_path):
    root = tmp_path / "sys"
    _cache_index(root, 0, 1, "Data", "48K", 12)
    _cache_index(root, 1, 1, "Instruction", "32K", 8)
    _cache_index(root, 2, 2, "Unified", "1280K", 20)
    _cache_index(root, 3, 3, "Unified", "30720K", 12)
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Test  CPU 9000\ncpu MHz\t\t: 2500.000\n\n"
                       "processor\t: 1\nmodel name\t: Test  CPU 9000\ncpu MHz\t\t: 1200.000\n")
    return root, cpuinfo


def test_host_reads_cache_geometry_from_sysfs(fake_sys):
    root, cpuinfo = fake_sys
    host = host_preset(sysfs_root=root, cpuinfo_path=cpuinfo)
    assert (host.l1d.size_bytes, host.l1d.ways) == (48 * 1024, 12)
    assert (host.l2.size_bytes, host.l2.ways) == (1280 * 1024, 20)
    assert (host.llc.size_bytes, host.llc.ways, host.llc.line_bytes) == (30 * MIB, 12, 64)
    assert "Test  CPU 9000" in host.description
    assert any(v.startswith("LLC:") for v in host.read_values)
    assert any("llc_hit_cycles" in a for a in host.assumed_values)
    assert host.timing.peak_dram_gbps is None


def test_host_frequency_prefers_cpufreq_max(fake_sys):
    root, cpuinfo = fake_sys
    cpufreq = root / "devices" / "system" / "cpu" / "cpu0" / "cpufreq"
    cpufreq.mkdir(parents=True)
    (cpufreq / "cpuinfo_max_freq").write_text("4800000\n")  # kHz
    host = host_preset(sysfs_root=root, cpuinfo_path=cpuinfo)
    assert host.timing.freq_ghz == 4.8
    assert any("cpuinfo_max_freq" in v for v in host.read_values)


def test_host_frequency_falls_back_to_cpuinfo_mhz_of_the_first_cpu(fake_sys):
    root, cpuinfo = fake_sys
    ghz, source = read_host_frequency(root, cpuinfo)
    assert ghz == 2.5 and "cpu MHz" in source
    # DRAM latency assumed 100 ns -> 250 cycles at 2.5 GHz.
    assert host_preset(sysfs_root=root, cpuinfo_path=cpuinfo).timing.dram_cycles == 250


def test_host_with_nothing_readable_says_everything_is_assumed(tmp_path):
    host = host_preset(sysfs_root=tmp_path / "nosys", cpuinfo_path=tmp_path / "nocpuinfo")
    assert host.read_values == ()
    assumed = " ".join(host.assumed_values)
    assert "freq_ghz: unavailable" in assumed and "assumed 3.0 GHz" in assumed
    assert "L1d: not in sysfs" in assumed and "LLC: not in sysfs" in assumed
    assert host.timing.freq_ghz == 3.0


def test_host_derives_ways_from_sets_when_ways_missing(tmp_path):
    root = tmp_path / "sys"
    _cache_index(root, 0, 1, "Data", "32K", 8)
    _cache_index(root, 2, 2, "Unified", "1024K", 8)
    _cache_index(root, 3, 3, "Unified", "16384K", ways=None, sets=16384)  # 16 MiB / (16384 x 64) = 16 ways
    host = host_preset(sysfs_root=root, cpuinfo_path=tmp_path / "none")
    assert host.llc.ways == 16
    assert any("size / sets / line" in v for v in host.read_values)


def test_host_with_inconsistent_sysfs_falls_back_and_says_so(tmp_path):
    root = tmp_path / "sys"
    _cache_index(root, 0, 1, "Data", "32K", 7)  # 32 KiB is not a multiple of 7 x 64
    _cache_index(root, 2, 2, "Unified", "1024K", 8)
    _cache_index(root, 3, 3, "Unified", "16384K", 16)
    host = host_preset(sysfs_root=root, cpuinfo_path=tmp_path / "none")
    assert host.l1d.ways == 8
    assert any(a.startswith("L1d: sysfs values") for a in host.assumed_values)


def test_get_preset_host_passes_the_roots(fake_sys):
    root, cpuinfo = fake_sys
    assert get_preset("host", sysfs_root=root, cpuinfo_path=cpuinfo).llc.size_bytes == 30 * MIB
