"""The host CPU preset: fields read from a fake /sys tree and /proc/cpuinfo, the rest assumed."""

from __future__ import annotations

import pytest

from memprof.hw.host import (cpu_preset, cpu_preset_names, host_cpu_name, host_fields, host_preset,
                             read_cpu_info, read_host_frequency)

MIB = 1 << 20


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
    assert (host.l1d.size_bytes, host.l1d.ways) == (48 * 1024, 12)  # the instruction cache is skipped
    assert (host.l2.size_bytes, host.l2.ways) == (1280 * 1024, 20)
    assert (host.llc.size_bytes, host.llc.ways, host.llc.line_bytes) == (30 * MIB, 12, 64)
    assert host.description == "this machine: Test CPU 9000"
    assert host.sources["llc"].startswith("read: size, line, ways from sysfs index3")
    assert set(host.assumed) == {"l1_hit_cycles", "l2_hit_cycles", "llc_hit_cycles", "dram_ns", "fill_buffers",
                                 "rob_entries", "page_walkers", "page_walk_cycles", "tlb", "pde_cache",
                                 "peak_dram_gbps", "compute costs"}
    assert host.timing.peak_dram_gbps is None and host.timing.name == "host"


@pytest.mark.parametrize("family, model, fill_buffers, rob, stlb", [
    (25, 1, 22, 256, 2048),  # family 19h model 01h: Milan, Zen 3 (AMD's public table of family/model numbers)
    (25, 0x11, 22, 320, 3072),  # family 19h model 11h: Genoa, Zen 4
])
def test_host_takes_core_structures_from_the_preset_with_the_same_core(fake_sys, family, model, fill_buffers, rob,
                                                                      stlb):
    root, cpuinfo = fake_sys
    cpuinfo.write_text(f"processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: {family}\nmodel\t\t: {model}\n"
                       "model name\t: AMD EPYC\n\n")
    host = host_preset(sysfs_root=root, cpuinfo_path=cpuinfo)
    assert (host.timing.fill_buffers, host.timing.rob_entries, host.tlb["4KB"].stlb_entries) == (fill_buffers, rob,
                                                                                                 stlb)
    assert host.sources["tlb"].startswith("from the ")
    assert {"fill_buffers", "rob_entries", "page_walkers", "tlb"}.isdisjoint(host.assumed)


def test_host_frequency_prefers_cpufreq_max(fake_sys):
    root, cpuinfo = fake_sys
    cpufreq = root / "devices" / "system" / "cpu" / "cpu0" / "cpufreq"
    cpufreq.mkdir(parents=True)
    (cpufreq / "cpuinfo_max_freq").write_text("4800000\n")  # kHz
    host = host_preset(sysfs_root=root, cpuinfo_path=cpuinfo)
    assert host.timing.freq_ghz == 4.8 and host.timing.dram_cycles == 480  # 100 ns assumed x 4.8 GHz
    assert "cpuinfo_max_freq" in host.sources["freq_ghz"]
    assert read_cpu_info(cpuinfo, root).max_freq_khz == 4_800_000


def test_host_frequency_falls_back_to_cpuinfo_mhz_of_the_first_cpu(fake_sys):
    root, cpuinfo = fake_sys
    ghz, source = read_host_frequency(root, cpuinfo)
    assert ghz == 2.5 and "cpu MHz" in source
    # DRAM latency assumed 100 ns -> 250 cycles at 2.5 GHz.
    assert host_preset(sysfs_root=root, cpuinfo_path=cpuinfo).timing.dram_cycles == 250


def test_host_with_nothing_readable_says_everything_is_assumed(tmp_path):
    assert host_fields(tmp_path / "nosys", tmp_path / "nocpuinfo") == {}
    host = host_preset(sysfs_root=tmp_path / "nosys", cpuinfo_path=tmp_path / "nocpuinfo")
    assert set(host.assumed) == set(host.sources)
    assert host.timing.freq_ghz == 3.0 and host.timing.dram_cycles == 300
    assert (host.l1d.size_bytes, host.l2.size_bytes, host.llc.size_bytes) == (32 << 10, MIB, 32 * MIB)
    assert host.description == "this machine: unknown"
    freq, why = read_host_frequency(tmp_path / "nosys", tmp_path / "nocpuinfo")
    assert freq is None and why.startswith("unavailable")


def test_host_derives_ways_from_sets_when_ways_missing(tmp_path):
    root = tmp_path / "sys"
    _cache_index(root, 0, 1, "Data", "32K", 8)
    _cache_index(root, 2, 2, "Unified", "1024K", 8)
    _cache_index(root, 3, 3, "Unified", "16384K", ways=None, sets=16384)  # 16 MiB / (16384 x 64) = 16 ways
    host = host_preset(sysfs_root=root, cpuinfo_path=tmp_path / "none")
    assert host.llc.ways == 16
    assert "ways (size / sets / line)" in host.sources["llc"]


def test_host_partly_read_level_says_the_rest_is_assumed(tmp_path):
    root = tmp_path / "sys"
    _cache_index(root, 3, 3, "Unified", "8192K", ways=None, line=None)  # size only: 16 ways, 64 B assumed
    fields = host_fields(root, tmp_path / "none")
    assert fields["llc"][0] == (8 * MIB, 16, 64)
    assert fields["llc"][1].endswith("the rest assumed")
    assert "l1d" not in fields and "l2" not in fields


def test_host_with_inconsistent_sysfs_falls_back_and_says_so(tmp_path):
    root = tmp_path / "sys"
    _cache_index(root, 0, 1, "Data", "32K", 7)  # 32 KiB is not a multiple of 7 x 64
    _cache_index(root, 2, 2, "Unified", "1024K", 8)
    _cache_index(root, 3, 3, "Unified", "16384K", 16)
    host = host_preset(sysfs_root=root, cpuinfo_path=tmp_path / "none")
    assert host.l1d.ways == 8 and "are inconsistent" in host.sources["l1d"] and "l1d" in host.assumed
    assert (host.l2.size_bytes, host.l2.ways) == (MIB, 8) and "l2" not in host.assumed


def test_host_sizes_that_do_not_grow_are_all_assumed(tmp_path):
    root = tmp_path / "sys"
    _cache_index(root, 0, 1, "Data", "32K", 8)
    _cache_index(root, 2, 2, "Unified", "64M", 16)  # an L2 larger than the LLC
    _cache_index(root, 3, 3, "Unified", "16M", 16)
    host = host_preset(sysfs_root=root, cpuinfo_path=tmp_path / "none")
    assert (host.l1d.size_bytes, host.l2.size_bytes, host.llc.size_bytes) == (32 << 10, MIB, 32 * MIB)
    assert {"l1d", "l2", "llc"} <= set(host.assumed) and "do not grow" in host.sources["l2"]


def test_cpu_preset_resolves_named_presets_and_the_host(fake_sys):
    root, cpuinfo = fake_sys
    assert cpu_preset_names() == ("icx", "spr", "adl", "tgl", "genoa", "milan", "host")
    assert cpu_preset("host", sysfs_root=root, cpuinfo_path=cpuinfo).llc.size_bytes == 30 * MIB
    assert cpu_preset(" ICX ").llc.size_bytes == 60 * MIB
    with pytest.raises(ValueError, match="unknown CPU preset 'm1'; known presets: icx, spr, adl, tgl, genoa, milan, host"):
        cpu_preset("m1")


def test_host_cpu_name_is_single_spaced(fake_sys):
    _, cpuinfo = fake_sys
    assert host_cpu_name(cpuinfo) == "Test CPU 9000"
    assert host_cpu_name(cpuinfo.parent / "missing") == "unknown"
