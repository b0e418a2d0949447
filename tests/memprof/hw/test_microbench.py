"""Memory microbenchmarks: the chase permutation, the k-chase and row kernels, the level picking,
and the provenance of each value. No timing assertions: the curves below are synthetic, with
the expected values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from memprof.hw import microbench as mb

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
L1D, L2, LLC = 32 * KIB, 512 * KIB, 32 * MIB


def linked(n: int, seed: int = 1):
    words = np.zeros(n * 8, dtype=np.uint64)
    order = mb.cyclic_order(n, np.random.default_rng(seed))
    mb.link_cycle(words, order)
    return words, order


@pytest.mark.parametrize("n", [1, 2, 7, 256, 1000])
def test_the_permutation_is_one_cycle_through_every_line(n):
    words, _ = linked(n)
    # slow reference walk: n pointer hops from line 0 visit every line exactly once, then return
    seen, p = [], 0
    for _ in range(n):
        assert p % 8 == 0  # a pointer is the first word of a line
        seen.append(p // 8)
        p = int(words[p])
    assert p == 0
    assert sorted(seen) == list(range(n))
    # the kernel: n steps from line 0 come back to it; the visited word indices are 8 x (0 + 1 + ... + n-1)
    last, total = mb.chase(words, 0, n)
    assert last == 0 and total == 8 * n * (n - 1) // 2


def test_the_permutation_is_seeded_and_not_sequential():
    a, b, c = (mb.cyclic_order(4096, np.random.default_rng(s)) for s in (3, 3, 4))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert not np.array_equal(np.sort(a), a)  # not the identity order


def test_only_the_first_word_of_each_line_is_written():
    words, _ = linked(64)
    lines = words.reshape(64, 8)
    assert not lines[:, 1:].any()


def test_k_chases_visit_the_same_lines_as_k_separate_chases():
    n, k = 96, 4
    words, order = linked(n, seed=5)
    starts = [int(order[j * n // k]) * 8 for j in range(k)]
    # n/k steps each from starts n/k apart along the cycle: together every line once,
    # and each chase ends where the next one began
    positions, total = mb.chase_k(words, starts, n // k)
    assert total == 8 * n * (n - 1) // 2
    assert list(positions) == starts[1:] + starts[:1]
    # more steps than a segment: the same lines (and sums) as the separate single chases
    positions, total = mb.chase_k(words, starts, 50)
    singles = [mb.chase(words, s, 50) for s in starts]
    assert list(positions) == [p for p, _ in singles]
    assert total == sum(t for _, t in singles)


def test_read_rows_sums_every_word_of_each_row():
    words = np.arange(256, dtype=np.uint64)
    # rows of 512 B = 64 words at word 0 and word 128: 0+..+63 + 128+..+191 = 2016 + 10208
    for distance in (0, 1):
        assert mb.read_rows(words, np.array([0, 128]), 512, distance) == 2016 + 10208
    # 64 B rows: words 8..15 twice = 2 x 92
    assert mb.read_rows(words, np.array([8, 8]), 64) == 184


def test_footprints_are_powers_of_two_up_to_the_maximum():
    assert mb.footprints_up_to(128 * KIB) == [16 * KIB, 32 * KIB, 64 * KIB, 128 * KIB]
    assert mb.footprints_up_to(100 * KIB) == [16 * KIB, 32 * KIB, 64 * KIB, 100 * KIB]


def test_level_picking_on_the_host_sizes():
    picked = mb.pick_footprints(mb.footprints_up_to(1 * GIB), L1D, L2, LLC)
    # L1: largest <= 16 KiB; L2: largest in [128 KiB, 256 KiB]; LLC: largest in [2 MiB, 16 MiB];
    # DRAM: smallest >= 8 x 32 MiB
    assert {level: f for level, (f, _) in picked.items()} == {
        "l1": 16 * KIB, "l2": 256 * KIB, "llc": 16 * MIB, "dram": 256 * MIB}
    small = mb.pick_footprints(mb.footprints_up_to(64 * MIB), L1D, L2, LLC)
    assert small["dram"][0] is None and "under 8x" in small["dram"][1]
    # an L2 only twice the L1d leaves no footprint >= 4 x L1d and <= L2 / 2
    tight = mb.pick_footprints(mb.footprints_up_to(1 * GIB), L1D, 2 * L1D, LLC)
    assert tight["l2"][0] is None and "no footprint" in tight["l2"][1]


def synthetic_curve(extra_4k: float = 0.0) -> list[dict]:
    """2 ns up to 32 KiB, 5 ns to 512 KiB, 20 ns to 32 MiB, 100 ns beyond; 4 KiB pages add
    ``extra_4k`` ns from 16 MiB (past the STLB) and 2 x that at DRAM footprints."""
    rows = []
    for f in mb.footprints_up_to(512 * MIB):
        ns = 2.0 if f <= 32 * KIB else 5.0 if f <= 512 * KIB else 20.0 if f <= 32 * MIB else 100.0
        ns += extra_4k * (2 if f > 32 * MIB else 1 if f >= 16 * MIB else 0)
        rows.append({"footprint_bytes": f, "ns_best": ns, "ns_median": ns + 1.0})
    return rows


MLP = [{"k": 1, "lines_in_flight": 1.0, "lines_in_flight_median": 1.0},
       {"k": 8, "lines_in_flight": 6.5, "lines_in_flight_median": 6.0},
       {"k": 16, "lines_in_flight": 9.0, "lines_in_flight_median": 8.0},
       {"k": 32, "lines_in_flight": 8.5, "lines_in_flight_median": 8.5}]
BANDWIDTH = [{"level": lv, "row_bytes": rb, "footprint_bytes": f, "gbps": g, "gbps_median": g / 2,
              "prefetch": "none"}
             for lv, f, g512, g64 in (("l2", 256 * KIB, 60.0, 30.0), ("llc", 16 * MIB, 20.0, 8.0),
                                      ("dram", 256 * MIB, 6.0, 3.0)) for rb, g in ((512, g512), (64, g64))]


class _Timing:
    l1_hit_cycles, l2_hit_cycles, llc_hit_cycles, dram_cycles = 5.0, 14.0, 50.0, 300.0
    page_walk_cycles, fill_buffers, mlp = 20.0, 12.0, 10.0


class _Preset:
    timing = _Timing()
    sources = {"page_walk_cycles": "assumed: ~20 cycles (preset)", "fill_buffers": "AMD optimization guide"}


def values(thp, thp_curve, small_curve, mlp=MLP, bandwidth=BANDWIDTH):
    return mb.memory_values(thp_curve=thp_curve, small_curve=small_curve, mlp=mlp, bandwidth=bandwidth, thp=thp,
                            freq_ghz=2.0, l1d=L1D, l2=L2, llc=LLC, assumed=mb.assumed_values(_Preset(), 2.0),
                            repeat=5)


def test_values_from_a_synthetic_curve():
    got = values(mb.ThpStatus("madvise", True, 1.0), synthetic_curve(), synthetic_curve(extra_4k=3.0))
    # at 2 GHz: 2 ns = 4 cycles (L1), 5 ns = 10 (L2), 20 ns = 40 (LLC at 16 MiB), 100 ns = 200 (DRAM at 256 MiB)
    assert [got[n]["value"] for n in ("l1_hit_cycles", "l2_hit_cycles", "llc_hit_cycles", "dram_cycles")] == [
        4.0, 10.0, 40.0, 200.0]
    assert got["l2_hit_cycles"]["median"] == 12.0  # (5 + 1) ns
    # page walk: 4 KiB minus THP at 16 MiB = 3 ns = 6 cycles; at the DRAM footprint 6 ns = 12 cycles
    assert got["page_walk_cycles"]["value"] == 6.0 and got["page_walk_cycles"]["footprint_bytes"] == 16 * MIB
    assert got["page_walk_dram_cycles"]["value"] == 12.0
    assert got["fill_buffers"]["value"] == 9.0 and got["fill_buffers"]["k"] == 16
    assert (got["l2_row_gbps"]["value"], got["llc_row_gbps"]["value"], got["dram_row_gbps"]["value"]) == (
        60.0, 20.0, 6.0)
    assert got["dram_line_gbps"]["value"] == 3.0
    for name in mb.FIELDS[:-3]:  # the call and output-store costs come from the compute part
        assert got[name]["source"].startswith("measured:"), name
        assert got[name]["unit"] == mb.UNITS[name]
    assert "2 MiB pages" in got["dram_cycles"]["source"]


def test_thp_never_marks_the_page_walk_assumed():
    thp = mb.thp_status(_thp_file("always madvise [never]\n"))
    assert not thp.requested and "'never'" in thp.note
    got = values(thp, None, synthetic_curve(extra_4k=3.0))
    assert got["page_walk_cycles"]["value"] == 20.0
    assert got["page_walk_cycles"]["source"].startswith("assumed: the host preset's page_walk_cycles")
    assert "never" in got["page_walk_cycles"]["source"]
    assert got["page_walk_dram_cycles"]["value"] is None
    assert got["page_walk_dram_cycles"]["source"].startswith("unavailable:")
    # the 4 KiB curve is used, and its sources say the walks are included
    assert got["dram_cycles"]["value"] == 212.0  # (100 + 2 x 3) ns x 2 GHz
    assert "4 KiB pages" in got["dram_cycles"]["source"] and "includes page walks" in got["dram_cycles"]["source"]


def test_thp_requested_but_not_granted_is_said():
    thp = mb.ThpStatus("madvise", True, 0.0)
    assert not thp.granted and "requested but not granted" in thp.describe()
    got = values(thp, synthetic_curve(), synthetic_curve(extra_4k=3.0))
    assert got["page_walk_cycles"]["source"].startswith("assumed:")
    assert "requested but not granted" in got["page_walk_cycles"]["source"]


def test_too_small_a_footprint_assumes_the_dram_values():
    curve = [row for row in synthetic_curve() if row["footprint_bytes"] <= 64 * MIB]
    got = values(mb.ThpStatus("madvise", True, 1.0), curve, curve, mlp=None,
                 bandwidth=[b for b in BANDWIDTH if b["level"] != "dram"])
    assert got["dram_cycles"]["value"] == 300.0 and got["dram_cycles"]["source"].startswith("assumed:")
    assert got["fill_buffers"]["value"] == 12.0 and "AMD optimization guide" in got["fill_buffers"]["source"]
    # Little's law from the assumed values: 12 lines x 64 B / (300 cycles / 2 GHz = 150 ns) = 5.12 GB/s
    assert got["dram_row_gbps"]["value"] == pytest.approx(5.12)
    assert got["dram_row_gbps"]["source"].startswith("assumed: Little's law")
    assert got["dram_line_gbps"]["value"] is None and got["dram_line_gbps"]["source"].startswith("unavailable:")
    assert got["llc_hit_cycles"]["source"].startswith("measured:")


def _thp_file(text):
    import tempfile

    handle = tempfile.NamedTemporaryFile("w", suffix="-thp", delete=False)
    handle.write(text)
    handle.close()
    return handle.name


def test_sysfs_and_proc_readers(tmp_path):
    assert mb.thp_mode(_thp_file("[always] madvise never\n")) == "always"
    assert mb.thp_mode(tmp_path / "missing") is None
    assert not mb.thp_status(tmp_path / "missing").requested
    smaps = tmp_path / "smaps"
    smaps.write_text("7f0000000000-7f0000400000 rw-p 00000000 00:00 0\nSize:  4096 kB\nAnonHugePages:  2048 kB\n"
                     "7f0000400000-7f0000800000 rw-p 00000000 00:00 0\nAnonHugePages:  0 kB\n")
    assert mb.anon_huge_bytes(0x7F0000001000, smaps) == 2 * MIB
    assert mb.anon_huge_bytes(0x7F0000400000, smaps) == 0
    assert mb.anon_huge_bytes(0x1000, smaps) is None
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 100 kB\nMemAvailable:   3145728 kB\n")
    assert mb.memory_available(meminfo) == 3 * GIB


def test_usable_footprint_caps_by_memory_and_refuses_tiny_sizes():
    assert mb.usable_footprint(1 * GIB, None) == (1 * GIB, "")
    # 3 GiB available: two buffers and temporaries in a third of it -> 1 GiB, halved -> 512 MiB
    size, note = mb.usable_footprint(1 * GIB, 3 * GIB)
    assert size == 512 * MIB and "capped" in note
    with pytest.raises(ValueError, match="below 1MiB"):
        mb.usable_footprint(512 * KIB, None)


def test_measure_memory_end_to_end_without_thp(tmp_path):
    """A real (tiny, fast) run with THP 'never' injected: nothing past 1 MiB, so the DRAM
    values and the page walk are assumed and say why; the measured ones say how."""
    thp = tmp_path / "enabled"
    thp.write_text("always madvise [never]\n")
    result = mb.measure_memory(freq_ghz=2.0, l1d=L1D, l2=L2, llc=LLC, preset=_Preset(), max_footprint=1 * MIB,
                               repeat=1, rounds=1, thp_path=thp)
    got = result.values
    assert result.detail["latency_thp"] is None and len(result.detail["latency_4k"]) == 7  # 16 KiB .. 1 MiB
    assert got["l1_hit_cycles"]["source"].startswith("measured:") and got["l1_hit_cycles"]["value"] > 0
    assert got["page_walk_cycles"]["source"].startswith("assumed:") and "never" in got["page_walk_cycles"]["source"]
    assert got["dram_cycles"]["source"].startswith("assumed:")
    assert got["llc_hit_cycles"]["source"].startswith("assumed:")  # no footprint in [2 MiB, 16 MiB]
    assert got["l2_row_gbps"]["source"].startswith("measured:") and got["l2_row_gbps"]["value"] > 0


def test_an_llc_latency_near_dram_is_flagged():
    # 90 ns at the 16 MiB "LLC" footprint against 100 ns at DRAM: 0.9 >= 0.8 -> a warning in the source
    curve = [dict(row, ns_best=90.0 if 2 * MIB < row["footprint_bytes"] <= 32 * MIB else row["ns_best"])
             for row in synthetic_curve()]
    got = values(mb.ThpStatus("madvise", True, 1.0), curve, curve)
    assert got["llc_hit_cycles"]["value"] == 180.0 and "warning: within 20% of the DRAM latency" in got[
        "llc_hit_cycles"]["source"]
    plain = values(mb.ThpStatus("madvise", True, 1.0), synthetic_curve(), synthetic_curve())
    assert "warning" not in plain["llc_hit_cycles"]["source"]


def _curve(points):
    return [{"footprint_bytes": f, "ns_best": ns, "ns_median": ns} for f, ns in points]


def _levels(l2_cycles, dram_cycles, l2_footprint):
    return {"l2_hit_cycles": {"value": l2_cycles, "source": "measured: x", "footprint_bytes": l2_footprint},
            "dram_cycles": {"value": dram_cycles, "source": "measured: y"}}


def test_effective_llc_is_the_last_footprint_below_the_l2_dram_geometric_mean():
    from memprof.hw.microbench import effective_llc

    # 1 GHz so ns = cycles; L2 16 cycles, DRAM 400: threshold sqrt(16 x 400) = 80 cycles.
    curve = _curve([(256 << 10, 16), (1 << 20, 30), (2 << 20, 79), (4 << 20, 81), (8 << 20, 60), (64 << 20, 400)])
    got = effective_llc(curve, _levels(16, 400, 256 << 10), 32 << 20, "2 MiB pages")
    assert got["value"] == 2 << 20  # 4 MiB crosses 80; a later dip below it (noise) does not count
    assert "this core gets less" in got["source"] and "sysfs reports 32MiB" in got["source"]


def test_effective_llc_is_the_sysfs_size_when_the_curve_stays_low_or_was_not_measured():
    from memprof.hw.microbench import effective_llc

    curve = _curve([(256 << 10, 16), (16 << 20, 50), (64 << 20, 400)])
    assert effective_llc(curve, _levels(16, 400, 256 << 10), 16 << 20, "p")["value"] == 16 << 20
    unmeasured = _levels(16, 400, 256 << 10)
    unmeasured["dram_cycles"]["source"] = "assumed: z"
    got = effective_llc(curve, unmeasured, 16 << 20, "p")
    assert got["value"] == 16 << 20 and "not measured" in got["source"]
