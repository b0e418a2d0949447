"""The timing model's arithmetic against hand-computed cases, op costs, validation, overrides.

The model knows no representation: work comes as (label, operations per lookup, lookups)
groups, with labels made up here.
"""

from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from sim.timing.model import (
    BREAKDOWN,
    OP_KINDS,
    MemoryCounts,
    TimingModel,
    check_ops,
    field_names,
    load_overrides_toml,
    parse_timing_overrides,
)

# A model with round numbers: 2 GHz, latencies L1 4 / L2 12 / LLC 40 / DRAM 200 cycles, 4 fill
# buffers, a 16-micro-op window (one 1-line row = 6 + 2 micro-ops: E = 2 rows in flight; a row of
# 8 lines needs 22: E = 1), walks 20 cycles with one walker; a lookup labelled "plain" costs
# 100 compute cycles whatever its operations.
BASE = TimingModel(freq_ghz=2.0, l1_hit_cycles=4, l2_hit_cycles=12, llc_hit_cycles=40, dram_cycles=200,
                   fill_buffers=4, rob_entries=16, page_walk_cycles=20, page_walkers=1,
                   line_bytes=64, compute_cycles_per_lookup={"plain": 100})
ROW = {"lookups": 1, "divmods": 1, "rows": 1, "adds": 16}
NO_MEMORY = MemoryCounts()


def _work(lookups):
    return [("plain", ROW, lookups)]


def _dram_rows(rows, lines_per_row, **kw):
    return MemoryCounts(rows=(0, 0, 0, rows), row_lines=(0, 0, 0, rows * lines_per_row), **kw)


def test_one_line_rows_from_dram_two_in_flight():
    # E = 2; latency 10 x 200 / 2 = 1000 >= bandwidth 10 lines x 64 B / (4 x 64 / 200 B per cycle) = 500.
    # Memory 1000 >= compute 10 x 100 = 1000: compute shows 1000 / E = 500; 1500 cycles = 750 ns at 2 GHz.
    r = BASE.estimate(_work(10), _dram_rows(10, 1))
    assert r.independent_rows == 2
    assert r.breakdown["dram"] == 1000 and r.breakdown["compute"] == 500
    assert r.cycles == 1500 and r.seconds == pytest.approx(750e-9)
    assert r.dram_read_bytes == 640 and r.dram_write_bytes == 0
    assert r.dram_bw_gbps == pytest.approx(640 / 750e-9 / 1e9)
    assert not r.bandwidth_bound


def test_a_row_is_charged_once_not_per_line():
    # 10 rows of 8 lines: E = max(1, 16 / 22) = 1; latency 10 x 200 = 2000, bandwidth 80 x 50 = 4000 -> 4000.
    # The same 80 lines as 80 one-line rows: E = 2, latency 80 x 200 / 2 = 8000 -> 8000.
    rows = BASE.estimate(_work(0), _dram_rows(10, 8))
    lines = BASE.estimate(_work(0), MemoryCounts.per_line(llc_misses=80))
    assert rows.cycles == 4000 and rows.independent_rows == 1
    assert lines.cycles == 8000


def test_software_prefetch_adds_rows_in_flight():
    # With 80 fill buffers the bandwidth bound of 10 x 8-line rows is 80 x 200 / 80 = 200; latency
    # bound 10 x 200 / E: E = 1 without prefetch (2000), 1 + 3 with a distance of 3 (500).
    wide = BASE.with_overrides(fill_buffers=80)
    assert wide.estimate(_work(0), _dram_rows(10, 8)).cycles == 2000
    assert wide.with_overrides(prefetch_distance=3).estimate(_work(0), _dram_rows(10, 8)).cycles == 500


def test_a_measured_row_bandwidth_replaces_littles_law():
    # 2 GB/s at 2 GHz = 1 B per cycle: 80 lines x 64 B = 5120 cycles > latency bound 2000.
    r = BASE.with_overrides(dram_row_gbps=2.0).estimate(_work(0), _dram_rows(10, 8))
    assert r.cycles == 5120


def test_each_level_is_charged_its_own_latency():
    # One-line rows, E = 2: 4 L2 rows 4 x 12 / 2 = 24 (bandwidth 4 x 12 / 4 = 12); 5 LLC rows 5 x 40 / 2 = 100;
    # 1 DRAM row 200 / 2 = 100; L1 rows cost nothing beyond compute.
    counts = MemoryCounts(rows=(7, 4, 5, 1), row_lines=(7, 4, 5, 1))
    r = BASE.estimate(_work(0), counts)
    assert (r.breakdown["l2"], r.breakdown["llc"], r.breakdown["dram"]) == (24, 100, 100)
    assert r.cycles == 224


def test_compute_bound_runs_hide_memory_behind_compute():
    # Compute 100 x 100 = 10000 > memory 1000 (first test's rows): memory shows 1000 / E = 500.
    r = BASE.estimate(_work(100), _dram_rows(10, 1))
    assert r.breakdown["compute"] == 10000 and r.breakdown["dram"] == 500
    assert r.cycles == 10500


def test_page_walks_cost_their_reads_and_the_walker():
    # 10 walks, each 20 cycles + a page-table read from the LLC (40), one walker: 600 cycles.
    r = BASE.estimate(_work(0), MemoryCounts(walks=10, walk_reads=(0, 0, 10, 0)))
    assert r.breakdown["tlb_walk"] == 600 and r.cycles == 600


def test_calls_add_kernel_and_framework_overheads():
    model = BASE.with_overrides(kernel_call_cycles=50, call_overhead_cycles=100)
    r = model.estimate(_work(0), NO_MEMORY, calls=3, framework_calls=26)
    assert r.breakdown["calls"] == 3 * 50 + 26 * 100 and r.cycles == 2750


def test_write_backs_take_dram_bandwidth():
    # 100 written-back lines + 10 read lines at 50 cycles a line (Little) = 5500 > latency 1000;
    # compute 1000 shows 500.
    r = BASE.estimate(_work(10), _dram_rows(10, 1, dram_write_bytes=6400))
    assert r.breakdown["dram"] == 5500 and r.cycles == 6000
    assert r.dram_bytes == 640 + 6400


def test_explicit_read_bytes_replace_rows_times_line():
    r = BASE.estimate(_work(10), _dram_rows(10, 1, dram_read_bytes=1000))
    assert r.dram_read_bytes == 1000


def test_bandwidth_cap_binds_when_traffic_exceeds_peak():
    # First test: 640 B in 750 ns; at 0.5 GB/s 640 B take 1.28 us = 2560 cycles: the cap adds 1060.
    r = BASE.with_overrides(peak_dram_gbps=0.5).estimate(_work(10), _dram_rows(10, 1))
    assert r.bandwidth_bound
    assert r.seconds == pytest.approx(1.28e-6) and r.cycles == pytest.approx(2560)
    assert r.breakdown["bandwidth_cap"] == pytest.approx(1060)
    assert r.dram_bw_gbps == pytest.approx(0.5)


def test_bandwidth_cap_does_not_bind_below_peak():
    free = BASE.estimate(_work(10), _dram_rows(10, 1))
    capped = BASE.with_overrides(peak_dram_gbps=100.0).estimate(_work(10), _dram_rows(10, 1))
    assert not capped.bandwidth_bound
    assert capped.cycles == free.cycles and capped.breakdown["bandwidth_cap"] == 0


_LEVEL_COUNTS = st.tuples(*[st.integers(0, 10**5)] * 4)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**5), _LEVEL_COUNTS, st.integers(1, 16), st.integers(0, 10**4), st.integers(0, 8),
       st.integers(0, 10**5), st.booleans())
def test_breakdown_sums_to_cycles(lookups, rows, lines_per_row, walks, distance, calls, capped):
    model = BASE.with_overrides(kernel_call_cycles=30, peak_dram_gbps=0.2 if capped else None,
                                prefetch_distance=distance)
    counts = MemoryCounts(rows=rows, row_lines=tuple(n * lines_per_row for n in rows), walks=walks,
                          walk_reads=(0, walks, 0, walks))
    if lookups == 0 and rows[3] == 0 and calls == 0 and walks == 0:
        return
    r = model.estimate(_work(lookups), counts, calls=calls)
    assert set(r.breakdown) == set(BREAKDOWN)
    assert sum(r.breakdown.values()) == pytest.approx(r.cycles, rel=1e-12)
    assert all(value >= 0 for value in r.breakdown.values())
    assert r.cycles >= max(r.compute_cycles, r.memory_stall_cycles) - 1e-9


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 10**6), st.integers(0, 10**6), st.integers(1, 10**6),
    st.integers(1, 10**6), st.integers(0, 10**6), st.integers(1, 10**6),
)
def test_bandwidth_ratio_is_bytes_ratio_over_time_ratio(lk1, hits1, miss1, lk2, hits2, miss2):
    a = BASE.estimate(_work(lk1), MemoryCounts.per_line(llc_hits=hits1, llc_misses=miss1))
    b = BASE.estimate(_work(lk2), MemoryCounts.per_line(llc_hits=hits2, llc_misses=miss2))
    bw_ratio = a.dram_bw_gbps / b.dram_bw_gbps
    assert bw_ratio == pytest.approx((a.dram_bytes / b.dram_bytes) / (a.seconds / b.seconds), rel=1e-12)


def test_numpy_counts_are_accepted():
    counts = MemoryCounts.per_line(llc_misses=np.uint64(80), dram_write_bytes=np.int64(64))
    r = BASE.estimate(_work(np.int64(10)), counts)
    assert r.dram_bytes == 80 * 64 + 64


def test_traffic_alone_takes_bandwidth_time():
    # 10 written-back lines, nothing read: 10 x 64 B at 4 x 64 / 200 B per cycle = 500 cycles.
    r = BASE.estimate(_work(0), MemoryCounts(dram_write_bytes=640))
    assert r.cycles == 500 and r.dram_bw_gbps == pytest.approx(640 / 250e-9 / 1e9)


@pytest.mark.parametrize("kwargs, message", [
    ({"rows": (1, 2, 3)}, "one count per level"),
    ({"rows": (0, 0, 0, 5), "row_lines": (0, 0, 0, 4)}, "4.0 row lines for 5.0 rows"),
    ({"walks": -1}, "walks must be a finite number >= 0"),
    ({"dram_write_bytes": 1.5}, "dram_write_bytes must be a whole number"),
])
def test_bad_memory_counts_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MemoryCounts(**kwargs)


def test_estimate_needs_memory_counts_and_calls():
    with pytest.raises(ValueError, match="counts must be a MemoryCounts"):
        BASE.estimate(_work(1), {"llc_misses": 3})
    with pytest.raises(ValueError, match="calls must be a finite number >= 0"):
        BASE.estimate(_work(1), NO_MEMORY, calls=-1)


# --------------------------------------------------------------------------- op costs

def test_op_costs_give_compute_cycles():
    model = TimingModel(cycles_per_lookup_overhead=1, cycles_per_hash=10, cycles_per_divmod=100, cycles_per_row=1000,
                        cycles_per_add=0.5, cycles_per_mul=0.25, cycles_per_fma=2)
    ops = {"lookups": 1, "hashes": 5, "divmods": 1, "rows": 5, "adds": 132, "muls": 128, "fmas": 3}
    # 1 + 50 + 100 + 5000 + 66 + 32 + 6
    assert model.cycles_per_lookup(ops) == 5255
    assert model.cycles_per_lookup({}) == 0  # absent kinds count zero
    assert model.cycles_per_lookup(ops, "no override for this label") == 5255


def test_default_costs_price_every_kind():
    # Defaults: overhead 6, hash 4, divmod 10, row 4, add/mul/fma 0.125 per element.
    ops = dict.fromkeys(OP_KINDS, 8)
    assert TimingModel().cycles_per_lookup(ops) == 8 * (6 + 4 + 10 + 4) + 3 * 8 * 0.125


def test_a_label_override_replaces_the_op_count_cost():
    model = BASE.with_overrides(compute_cycles_per_lookup={"big": 1000})
    assert model.cycles_per_lookup(ROW, "plain") == 100
    assert model.cycles_per_lookup(ROW, "big") == 1000
    # Without a label (or an unknown one), the op counts: 10 cycles_per_divmod + 4 + 4 + 6 + 16 x 0.125.
    assert model.cycles_per_lookup(ROW) == model.cycles_per_lookup(ROW, "other") == 22


def test_compute_cycles_sums_the_groups():
    model = BASE.with_overrides(compute_cycles_per_lookup={"big": 1000})
    # 10 lookups at 100 + 20 at 1000; an empty group costs nothing.
    assert model.compute_cycles([("plain", ROW, 10), ("big", ROW, 20), ("big", ROW, 0)]) == 21000
    assert model.compute_cycles([]) == 0
    assert model.compute_cycles([(None, {"rows": 2}, 3)]) == 3 * 2 * 4


@pytest.mark.parametrize("ops, message", [
    ({"hashes": 1, "gathers": 2}, "unknown operation kind.*'gathers'; known kinds: lookups, hashes"),
    ({"adds": -1}, r"ops\['adds'\] must be a finite number >= 0"),
    ({"adds": float("nan")}, "must be a finite number"),
    ([("adds", 1)], "must be a mapping"),
])
def test_bad_operation_counts_are_rejected(ops, message):
    with pytest.raises(ValueError, match=message):
        check_ops(ops)
    with pytest.raises(ValueError, match=message):
        BASE.compute_cycles([("x", ops, 1)])


def test_bad_work_groups_are_rejected():
    with pytest.raises(ValueError, match=r"\(label, ops per lookup, lookups\) groups"):
        BASE.compute_cycles([("plain", ROW)])
    with pytest.raises(ValueError, match="lookups must be a finite number >= 0"):
        BASE.compute_cycles([("plain", ROW, -1)])


# --------------------------------------------------------------------------- validation

@pytest.mark.parametrize("kwargs, message", [
    ({"freq_ghz": 0}, "freq_ghz must be > 0"),
    ({"freq_ghz": float("nan")}, "freq_ghz must be a finite number"),
    ({"fill_buffers": 0.5}, "fill_buffers must be >= 1"),
    ({"page_walkers": 0}, "page_walkers must be >= 1"),
    ({"rob_entries": 4}, "rob_entries must hold at least one row"),
    ({"dram_row_gbps": 0}, "dram_row_gbps must be > 0 or None"),
    ({"call_overhead_cycles": -1}, "call_overhead_cycles must be >= 0"),
    ({"prefetch_distance": -1}, "prefetch_distance must be an integer >= 0"),
    ({"prefetch_distance": 1.5}, "prefetch_distance must be an integer >= 0"),
    ({"l1_hit_cycles": -1}, "l1_hit_cycles must be >= 0"),
    ({"llc_hit_cycles": 500}, "must not decrease down the hierarchy"),
    ({"line_bytes": 0}, "line_bytes must be a positive integer"),
    ({"line_bytes": True}, "line_bytes must be a positive integer"),
    ({"peak_dram_gbps": 0}, "peak_dram_gbps must be > 0 or None"),
    ({"cycles_per_hash": True}, "cycles_per_hash must be a finite number"),
    ({"compute_cycles_per_lookup": {"": 3}}, "labels must be non-empty strings"),
    ({"compute_cycles_per_lookup": {"plain": -3}}, "must be a finite number >= 0"),
])
def test_invalid_parameters_are_rejected_with_the_constraint(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TimingModel(**kwargs)


def test_model_is_frozen_and_hashable():
    with pytest.raises(AttributeError):
        BASE.fill_buffers = 3  # type: ignore[misc]
    assert hash(BASE) == hash(TimingModel(**{f: getattr(BASE, f) for f in field_names()}))


def test_with_overrides_merges_per_label_cycles_and_rejects_unknown_keys():
    model = BASE.with_overrides(compute_cycles_per_lookup={"small": 50}, llc_hit_cycles=45)
    assert dict(model.compute_cycles_per_lookup) == {"plain": 100, "small": 50}
    assert model.llc_hit_cycles == 45 and BASE.llc_hit_cycles == 40
    with pytest.raises(ValueError, match="unknown parameter 'llc_latency'; known parameters: name, freq_ghz"):
        BASE.with_overrides(llc_latency=3)


# --------------------------------------------------------------------------- CLI strings and TOML

def test_parse_timing_overrides():
    got = parse_timing_overrides(["llc_hit_cycles=70", "fill_buffers = 8", "line_bytes=128", "peak_dram_gbps=none",
                                  "compute_cycles_per_lookup.small=120.5", "name=mine"])
    assert got == {"llc_hit_cycles": 70.0, "fill_buffers": 8.0, "line_bytes": 128, "peak_dram_gbps": None,
                   "compute_cycles_per_lookup": {"small": 120.5}, "name": "mine"}
    model = TimingModel().with_overrides(**got)
    assert model.peak_dram_gbps is None and model.cycles_per_lookup(ROW, "small") == 120.5


@pytest.mark.parametrize("item, message", [
    ("llc", "expected KEY=VALUE"),
    ("llc_latency=3", "unknown key 'llc_latency'"),
    ("fill_buffers=fast", "'fast' is not a number"),
    ("compute_cycles_per_lookup.=3", "needs a label after the dot"),
    ("line_bytes=1.5", "line_bytes must be an integer"),
    ("fill_buffers=inf", "must be finite"),
])
def test_parse_timing_overrides_errors_name_the_item(item, message):
    with pytest.raises(ValueError, match=message) as error:
        parse_timing_overrides([item])
    assert repr(item) in str(error.value) and "--" not in str(error.value)  # the parameter, not a CLI option


def test_toml_round_trip(tmp_path):
    path = tmp_path / "cpu.toml"
    path.write_text(
        "[timing]\nname = \"lab\"\nfreq_ghz = 2.5\nllc_hit_cycles = 60\ndram_cycles = 250\nfill_buffers = 6\n"
        "peak_dram_gbps = 100.0\n\n[compute_cycles_per_lookup]\nsmall = 80\nplain = 40.5\n"
    )
    overrides = load_overrides_toml(path)
    model = TimingModel().with_overrides(**overrides)
    assert (model.name, model.freq_ghz, model.llc_hit_cycles, model.dram_cycles, model.fill_buffers, model.peak_dram_gbps) == (
        "lab", 2.5, 60.0, 250.0, 6.0, 100.0)
    assert dict(model.compute_cycles_per_lookup) == {"plain": 40.5, "small": 80.0}
    # Fields not in the file keep their values.
    assert model.l1_hit_cycles == TimingModel().l1_hit_cycles


def test_toml_unknown_key_names_it_and_the_known_ones(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[timing]\nllc_latency = 3\n")
    with pytest.raises(ValueError, match=r"unknown key 'llc_latency' in \[timing\]; known keys: name, freq_ghz"):
        load_overrides_toml(path)


def test_toml_unknown_table_and_syntax(tmp_path):
    bad_table = tmp_path / "t.toml"
    bad_table.write_text("[cpu]\nx = 1\n")
    with pytest.raises(ValueError, match=r"unknown table \[cpu\]"):
        load_overrides_toml(bad_table)
    broken = tmp_path / "b.toml"
    broken.write_text("[timing\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_overrides_toml(broken)
    with pytest.raises(ValueError, match="cannot read timing file"):
        load_overrides_toml(tmp_path / "missing.toml")


def test_toml_values_are_validated_by_the_model(tmp_path):
    path = tmp_path / "v.toml"
    path.write_text("[timing]\nfill_buffers = 0\n")
    with pytest.raises(ValueError, match="fill_buffers"):
        TimingModel().with_overrides(**load_overrides_toml(path))


def test_describe_is_json_ready():
    import json

    data = json.loads(json.dumps(BASE.describe()))
    assert data["compute_cycles_per_lookup"] == {"plain": 100.0}
    assert set(data) == set(field_names())


def test_output_stores_cost_per_line_in_cache_and_in_dram():
    # 100 output lines: in cache at 2 cycles a line = 200; in DRAM without a measured DRAM cost the
    # same (not modelled); a measured DRAM cost of 7 cycles a line gives 700.
    model = BASE.with_overrides(output_store_cycles_cache=2)
    assert model.estimate(_work(0), NO_MEMORY, output_lines=100).breakdown["output"] == 200
    assert model.estimate(_work(0), NO_MEMORY, output_lines=100, output_in_dram=True).cycles == 200
    measured = model.with_overrides(output_store_cycles_dram=7)
    assert measured.estimate(_work(0), NO_MEMORY, output_lines=100, output_in_dram=True).cycles == 700
    with pytest.raises(ValueError, match="output_store_cycles_dram must be >= 0 or None"):
        TimingModel(output_store_cycles_dram=-1)


def test_a_representations_own_call_cost_replaces_the_default():
    model = BASE.with_overrides(kernel_call_cycles=50, kernel_call_cycles_per_label={"plain": 80})
    assert model.estimate(_work(0), NO_MEMORY, calls=2, call_label="plain").breakdown["calls"] == 160
    assert model.estimate(_work(0), NO_MEMORY, calls=2, call_label="other").breakdown["calls"] == 100
    with pytest.raises(ValueError, match=r"kernel_call_cycles_per_label\['plain'\] must be a finite number >= 0"):
        TimingModel(kernel_call_cycles_per_label={"plain": -1})
