"""The timing model's arithmetic against hand-computed cases, op costs, validation, overrides.

The model knows no representation: work comes as (label, operations per lookup, lookups)
groups, with labels made up here.
"""

from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from sim.timing.model import (
    OP_KINDS,
    TimingModel,
    check_ops,
    field_names,
    load_overrides_toml,
    parse_timing_overrides,
)

# A model with round numbers: 2 GHz, L1 4 / L2 12 / LLC 40 / DRAM 200 cycles, MLP 1; a lookup
# labelled "plain" costs 100 compute cycles whatever its operations.
BASE = TimingModel(freq_ghz=2.0, l1_hit_cycles=4, l2_hit_cycles=12, llc_hit_cycles=40, dram_cycles=200, mlp=1,
                   line_bytes=64, compute_cycles_per_lookup={"plain": 100})
ROW = {"lookups": 1, "divmods": 1, "rows": 1, "adds": 16}


def _work(lookups):
    return [("plain", ROW, lookups)]


def test_all_accesses_hit_in_llc():
    # 10 lookups x 100 compute cycles = 1000; 80 LLC hits x 40 = 3200; no DRAM traffic.
    r = BASE.estimate(_work(10), llc_hits=80)
    assert r.compute_cycles == 1000
    assert r.memory_stall_cycles == 3200
    assert r.cycles == 4200
    assert r.seconds == pytest.approx(4200 / 2e9)
    assert r.dram_bytes == 0 and r.dram_bw_gbps == 0
    assert not r.bandwidth_bound


def test_all_accesses_miss_to_dram():
    # 80 misses x 200 cycles = 16000 stall; 17000 cycles = 8.5 us; 80 x 64 B = 5120 B -> 0.6024 GB/s.
    r = BASE.estimate(_work(10), llc_misses=80)
    assert r.memory_stall_cycles == 16000
    assert r.cycles == 17000
    assert r.seconds == pytest.approx(8.5e-6)
    assert r.dram_read_bytes == 5120 and r.dram_write_bytes == 0
    assert r.dram_bw_gbps == pytest.approx(5120 / 8.5e-6 / 1e9)


def test_each_level_charged_its_own_latency():
    # 3 L1 + 2 L2 + 1 LLC hit + 1 miss = 3*4 + 2*12 + 40 + 200 = 276 cycles of stall.
    r = BASE.estimate(_work(0), l1_hits=3, l2_hits=2, llc_hits=1, llc_misses=1)
    assert r.memory_stall_cycles == 276
    assert r.compute_cycles == 0


def test_mlp_divides_the_stall_cycles_not_the_compute():
    one = BASE.estimate(_work(10), llc_hits=50, llc_misses=30)
    two = BASE.with_overrides(mlp=2).estimate(_work(10), llc_hits=50, llc_misses=30)
    four = BASE.with_overrides(mlp=4).estimate(_work(10), llc_hits=50, llc_misses=30)
    assert two.memory_stall_cycles == one.memory_stall_cycles / 2
    assert four.memory_stall_cycles == two.memory_stall_cycles / 2
    assert one.compute_cycles == two.compute_cycles == 1000


def test_write_backs_add_dram_bytes_but_no_stall():
    without = BASE.estimate(_work(10), llc_misses=80)
    with_wb = BASE.estimate(_work(10), llc_misses=80, dram_write_bytes=640)
    assert with_wb.cycles == without.cycles
    assert with_wb.dram_bytes == 5120 + 640
    assert with_wb.dram_bw_gbps == pytest.approx(5760 / 8.5e-6 / 1e9)


def test_explicit_read_bytes_replace_misses_times_line():
    r = BASE.estimate(_work(10), llc_misses=80, dram_read_bytes=1000)
    assert r.dram_read_bytes == 1000


def test_frequency_converts_cycles_to_seconds():
    slow = BASE.with_overrides(freq_ghz=1.0).estimate(_work(10), llc_hits=80)
    fast = BASE.with_overrides(freq_ghz=4.0).estimate(_work(10), llc_hits=80)
    assert slow.cycles == fast.cycles == 4200
    assert slow.seconds == pytest.approx(4.2e-6)
    assert fast.seconds == pytest.approx(1.05e-6)


def test_bandwidth_cap_binds_when_traffic_exceeds_peak():
    # Uncapped: 5120 B in 8.5 us = 0.60 GB/s. A 0.1 GB/s peak needs 51.2 us.
    capped = BASE.with_overrides(peak_dram_gbps=0.1).estimate(_work(10), llc_misses=80)
    assert capped.bandwidth_bound
    assert capped.seconds == pytest.approx(5120 / 0.1e9)
    assert capped.dram_bw_gbps == pytest.approx(0.1)
    assert capped.cycles == pytest.approx(capped.seconds * 2e9)


def test_bandwidth_cap_does_not_bind_below_peak():
    free = BASE.estimate(_work(10), llc_misses=80)
    capped = BASE.with_overrides(peak_dram_gbps=100.0).estimate(_work(10), llc_misses=80)
    assert not capped.bandwidth_bound
    assert capped.cycles == free.cycles and capped.dram_bw_gbps == free.dram_bw_gbps


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 10**6), st.integers(0, 10**6), st.integers(1, 10**6),
    st.integers(1, 10**6), st.integers(0, 10**6), st.integers(1, 10**6),
)
def test_bandwidth_ratio_is_bytes_ratio_over_time_ratio(lk1, hits1, miss1, lk2, hits2, miss2):
    a = BASE.estimate(_work(lk1), llc_hits=hits1, llc_misses=miss1)
    b = BASE.estimate(_work(lk2), llc_hits=hits2, llc_misses=miss2)
    bw_ratio = a.dram_bw_gbps / b.dram_bw_gbps
    assert bw_ratio == pytest.approx((a.dram_bytes / b.dram_bytes) / (a.seconds / b.seconds), rel=1e-12)


def test_numpy_counts_are_accepted():
    r = BASE.estimate(_work(np.int64(10)), llc_misses=np.uint64(80), dram_write_bytes=np.int64(64))
    assert r.dram_bytes == 80 * 64 + 64


def test_traffic_without_time_is_an_error():
    with pytest.raises(ValueError, match="zero modelled time"):
        BASE.estimate(_work(0), dram_write_bytes=64)


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
    ({"mlp": 0.5}, "mlp .* must be >= 1"),
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
        BASE.mlp = 3  # type: ignore[misc]
    assert hash(BASE) == hash(TimingModel(**{f: getattr(BASE, f) for f in field_names()}))


def test_with_overrides_merges_per_label_cycles_and_rejects_unknown_keys():
    model = BASE.with_overrides(compute_cycles_per_lookup={"small": 50}, llc_hit_cycles=45)
    assert dict(model.compute_cycles_per_lookup) == {"plain": 100, "small": 50}
    assert model.llc_hit_cycles == 45 and BASE.llc_hit_cycles == 40
    with pytest.raises(ValueError, match="unknown parameter 'llc_latency'; known parameters: name, freq_ghz"):
        BASE.with_overrides(llc_latency=3)


# --------------------------------------------------------------------------- CLI strings and TOML

def test_parse_timing_overrides():
    got = parse_timing_overrides(["llc_hit_cycles=70", "mlp = 8", "line_bytes=128", "peak_dram_gbps=none",
                                  "compute_cycles_per_lookup.small=120.5", "name=mine"])
    assert got == {"llc_hit_cycles": 70.0, "mlp": 8.0, "line_bytes": 128, "peak_dram_gbps": None,
                   "compute_cycles_per_lookup": {"small": 120.5}, "name": "mine"}
    model = TimingModel().with_overrides(**got)
    assert model.peak_dram_gbps is None and model.cycles_per_lookup(ROW, "small") == 120.5


@pytest.mark.parametrize("item, message", [
    ("llc", "expected KEY=VALUE"),
    ("llc_latency=3", "unknown key 'llc_latency'"),
    ("mlp=fast", "'fast' is not a number"),
    ("compute_cycles_per_lookup.=3", "needs a label after the dot"),
    ("line_bytes=1.5", "line_bytes must be an integer"),
    ("mlp=inf", "must be finite"),
])
def test_parse_timing_overrides_errors_name_the_item(item, message):
    with pytest.raises(ValueError, match=message) as error:
        parse_timing_overrides([item])
    assert repr(item) in str(error.value) and "--" not in str(error.value)  # the parameter, not a CLI option


def test_toml_round_trip(tmp_path):
    path = tmp_path / "cpu.toml"
    path.write_text(
        "[timing]\nname = \"lab\"\nfreq_ghz = 2.5\nllc_hit_cycles = 60\ndram_cycles = 250\nmlp = 6\n"
        "peak_dram_gbps = 100.0\n\n[compute_cycles_per_lookup]\nsmall = 80\nplain = 40.5\n"
    )
    overrides = load_overrides_toml(path)
    model = TimingModel().with_overrides(**overrides)
    assert (model.name, model.freq_ghz, model.llc_hit_cycles, model.dram_cycles, model.mlp, model.peak_dram_gbps) == (
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
    path.write_text("[timing]\nmlp = 0\n")
    with pytest.raises(ValueError, match="mlp"):
        TimingModel().with_overrides(**load_overrides_toml(path))


def test_describe_is_json_ready():
    import json

    data = json.loads(json.dumps(BASE.describe()))
    assert data["compute_cycles_per_lookup"] == {"plain": 100.0}
    assert set(data) == set(field_names())
