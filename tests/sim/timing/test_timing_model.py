"""The timing model's arithmetic against hand-computed cases, op counts, validation, overrides."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from sim.timing.model import (
    KNOWN_MODELS,
    OP_KINDS,
    TimingModel,
    balanced_q,
    compute_ops,
    field_names,
    load_overrides_toml,
    parse_timing_overrides,
    total_compute_ops,
    uses_full_table,
)

# A model with round numbers: 2 GHz, L1 4 / L2 12 / LLC 40 / DRAM 200 cycles, MLP 1.
BASE = TimingModel(freq_ghz=2.0, l1_hit_cycles=4, l2_hit_cycles=12, llc_hit_cycles=40, dram_cycles=200, mlp=1,
                   line_bytes=64, compute_cycles_per_lookup={"dlrm": 100})


def test_all_accesses_hit_in_llc():
    # 10 lookups x 100 compute cycles = 1000; 80 LLC hits x 40 = 3200; no DRAM traffic.
    r = BASE.estimate("dlrm", 10, llc_hits=80)
    assert r.compute_cycles == 1000
    assert r.memory_stall_cycles == 3200
    assert r.cycles == 4200
    assert r.seconds == pytest.approx(4200 / 2e9)
    assert r.dram_bytes == 0 and r.dram_bw_gbps == 0
    assert not r.bandwidth_bound


def test_all_accesses_miss_to_dram():
    # 80 misses x 200 cycles = 16000 stall; 17000 cycles = 8.5 us; 80 x 64 B = 5120 B -> 0.6024 GB/s.
    r = BASE.estimate("dlrm", 10, llc_misses=80)
    assert r.memory_stall_cycles == 16000
    assert r.cycles == 17000
    assert r.seconds == pytest.approx(8.5e-6)
    assert r.dram_read_bytes == 5120 and r.dram_write_bytes == 0
    assert r.dram_bw_gbps == pytest.approx(5120 / 8.5e-6 / 1e9)


def test_each_level_charged_its_own_latency():
    # 3 L1 + 2 L2 + 1 LLC hit + 1 miss = 3*4 + 2*12 + 40 + 200 = 276 cycles of stall.
    r = BASE.estimate("dlrm", 0, l1_hits=3, l2_hits=2, llc_hits=1, llc_misses=1)
    assert r.memory_stall_cycles == 276
    assert r.compute_cycles == 0


def test_mlp_divides_the_stall_cycles_not_the_compute():
    one = BASE.estimate("dlrm", 10, llc_hits=50, llc_misses=30)
    two = BASE.with_overrides(mlp=2).estimate("dlrm", 10, llc_hits=50, llc_misses=30)
    four = BASE.with_overrides(mlp=4).estimate("dlrm", 10, llc_hits=50, llc_misses=30)
    assert two.memory_stall_cycles == one.memory_stall_cycles / 2
    assert four.memory_stall_cycles == two.memory_stall_cycles / 2
    assert one.compute_cycles == two.compute_cycles == 1000


def test_write_backs_add_dram_bytes_but_no_stall():
    without = BASE.estimate("dlrm", 10, llc_misses=80)
    with_wb = BASE.estimate("dlrm", 10, llc_misses=80, dram_write_bytes=640)
    assert with_wb.cycles == without.cycles
    assert with_wb.dram_bytes == 5120 + 640
    assert with_wb.dram_bw_gbps == pytest.approx(5760 / 8.5e-6 / 1e9)


def test_explicit_read_bytes_replace_misses_times_line():
    r = BASE.estimate("dlrm", 10, llc_misses=80, dram_read_bytes=1000)
    assert r.dram_read_bytes == 1000


def test_frequency_converts_cycles_to_seconds():
    slow = BASE.with_overrides(freq_ghz=1.0).estimate("dlrm", 10, llc_hits=80)
    fast = BASE.with_overrides(freq_ghz=4.0).estimate("dlrm", 10, llc_hits=80)
    assert slow.cycles == fast.cycles == 4200
    assert slow.seconds == pytest.approx(4.2e-6)
    assert fast.seconds == pytest.approx(1.05e-6)


def test_bandwidth_cap_binds_when_traffic_exceeds_peak():
    # Uncapped: 5120 B in 8.5 us = 0.60 GB/s. A 0.1 GB/s peak needs 51.2 us.
    capped = BASE.with_overrides(peak_dram_gbps=0.1).estimate("dlrm", 10, llc_misses=80)
    assert capped.bandwidth_bound
    assert capped.seconds == pytest.approx(5120 / 0.1e9)
    assert capped.dram_bw_gbps == pytest.approx(0.1)
    assert capped.cycles == pytest.approx(capped.seconds * 2e9)


def test_bandwidth_cap_does_not_bind_below_peak():
    free = BASE.estimate("dlrm", 10, llc_misses=80)
    capped = BASE.with_overrides(peak_dram_gbps=100.0).estimate("dlrm", 10, llc_misses=80)
    assert not capped.bandwidth_bound
    assert capped.cycles == free.cycles and capped.dram_bw_gbps == free.dram_bw_gbps


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 10**6), st.integers(0, 10**6), st.integers(1, 10**6),
    st.integers(1, 10**6), st.integers(0, 10**6), st.integers(1, 10**6),
)
def test_bandwidth_ratio_is_bytes_ratio_over_time_ratio(lk1, hits1, miss1, lk2, hits2, miss2):
    a = BASE.estimate("dlrm", lk1, llc_hits=hits1, llc_misses=miss1)
    b = BASE.estimate("dlrm", lk2, llc_hits=hits2, llc_misses=miss2)
    bw_ratio = a.dram_bw_gbps / b.dram_bw_gbps
    assert bw_ratio == pytest.approx((a.dram_bytes / b.dram_bytes) / (a.seconds / b.seconds), rel=1e-12)


def test_numpy_counts_are_accepted():
    r = BASE.estimate("dlrm", np.int64(10), llc_misses=np.uint64(80), dram_write_bytes=np.int64(64))
    assert r.dram_bytes == 80 * 64 + 64


def test_traffic_without_time_is_an_error():
    with pytest.raises(ValueError, match="zero modelled time"):
        BASE.estimate("dlrm", 0, dram_write_bytes=64)


# --------------------------------------------------------------------------- op counts

def test_dlrm_and_hashing_ops():
    assert compute_ops("dlrm", {"dim": 128}) == {**dict.fromkeys(OP_KINDS, 0.0), "lookups": 1, "divmods": 1,
                                                  "rows": 1, "adds": 128}
    ops = compute_ops("hashing", {"dim": 16, "rows": 100})
    assert (ops["hashes"], ops["rows"], ops["adds"]) == (1, 1, 16)
    # A feature no larger than m keeps its ids: no hash.
    assert compute_ops("hashing", {"dim": 16, "rows": 100}, feature_rows=50)["hashes"] == 0


@pytest.mark.parametrize("combine, adds, muls", [("mult", 64, 64), ("add", 128, 0), ("concat", 64, 0)])
def test_qr_ops(combine, adds, muls):
    ops = compute_ops("qr", {"dim": 64, "combine": combine})
    assert (ops["rows"], ops["adds"], ops["muls"]) == (2, adds, muls)


@pytest.mark.parametrize("dim, chunk, chunks", [(128, 32, 4), (128, 48, 3), (16, 32, 1), (128, 1, 128)])
def test_robe_reads_ceil_dim_over_z_chunks(dim, chunk, chunks):
    ops = compute_ops("robe", {"dim": dim, "chunk": chunk})
    assert ops["hashes"] == ops["rows"] == chunks
    assert ops["divmods"] == 1 + 2 * chunks
    assert ops["adds"] == dim


def _count_tt_fmas(q1, q2, q3, r):
    """Count the multiply-adds of a naive left-to-right contraction G1 (q1 x r), G2 (r x q2 x r), G3 (r x q3)."""
    count = 0
    t12 = {}
    for a in range(q1):
        for b in range(q2):
            for v in range(r):
                for u in range(r):
                    t12[a, b, v] = t12.get((a, b, v), 0) + 1
                    count += 1
    for a in range(q1):
        for b in range(q2):
            for c in range(q3):
                for v in range(r):
                    count += 1
    return count


@pytest.mark.parametrize("q, r", [((2, 2, 4), 4), ((2, 8, 8), 3), ((1, 1, 5), 2)])
def test_ttrec_fmas_match_a_naive_contraction(q, r):
    dim = q[0] * q[1] * q[2]
    ops = compute_ops("ttrec", {"dim": dim, "rank": r, "q_factors": q})
    assert ops["fmas"] == _count_tt_fmas(*q, r)
    assert ops["rows"] == 3 and ops["adds"] == dim


def test_balanced_q_splits_dim_into_three_factors_with_smallest_largest():
    for dim in (128, 16, 96, 100, 7, 1):
        q = balanced_q(dim)
        assert q[0] * q[1] * q[2] == dim and q[0] <= q[1] <= q[2]
        brute = min(max(a, b, dim // (a * b)) for a in range(1, dim + 1) for b in range(1, dim + 1)
                    if dim % (a * b) == 0)
        assert q[2] == brute


def test_memrec_ops():
    ops = compute_ops("memrec", {"dim": 64, "k": 2, "k_weight": 3, "weight_width": 1})
    assert ops["hashes"] == ops["rows"] == 5
    assert ops["adds"] == 2 * 64 + 3
    assert ops["muls"] == 2 * 64


def test_memrec_uses_the_workload_dim_when_l_is_none():
    assert compute_ops("memrec", {"dim": 32, "l": None})["muls"] == 32


def test_unknown_model_and_bad_params():
    with pytest.raises(ValueError, match="known models are dlrm, hashing, qr, robe, ttrec, memrec"):
        compute_ops("word2vec")
    with pytest.raises(ValueError, match="q1\\*q2\\*q3 must equal dim = 128"):
        compute_ops("ttrec", {"dim": 128, "q_factors": (2, 2, 2)})
    with pytest.raises(ValueError, match="combine must be one of"):
        compute_ops("qr", {"combine": "max"})


def test_uncompressed_features_cost_a_dlrm_lookup():
    model = BASE.with_overrides(compute_cycles_per_lookup={"ttrec": 1000, "qr": 500})
    assert uses_full_table("ttrec", {"min_rows": 1000}, 999)
    assert not uses_full_table("ttrec", {"min_rows": 1000}, 1000)
    assert model.cycles_per_lookup("ttrec", {"min_rows": 1000}, 999) == 100  # the dlrm override
    assert model.cycles_per_lookup("qr", {"threshold": 200}, 200) == 100
    assert model.cycles_per_lookup("qr", {"threshold": 200}, 201) == 500
    # 10 lookups in a 5-row feature (full table) + 20 in a large one: 10*100 + 20*1000.
    assert model.compute_cycles("ttrec", [10, 20], {"min_rows": 1000}, cardinalities=[5, 10**7]) == 21000


def test_total_compute_ops_weights_features_by_lookups():
    total = total_compute_ops("qr", {"dim": 8, "threshold": 10}, [3, 4], [5, 100])
    assert total["rows"] == 3 * 1 + 4 * 2
    assert total["muls"] == 4 * 8


def test_op_costs_give_compute_cycles():
    model = TimingModel(cycles_per_lookup_overhead=1, cycles_per_hash=10, cycles_per_divmod=100, cycles_per_row=1000,
                        cycles_per_add=0.5, cycles_per_mul=0.25, cycles_per_fma=2)
    # memrec k=1, k'=4, l=128: 1 lookup + 5 hashes + 1 divmod + 5 rows + 132 adds + 128 muls.
    expected = 1 + 5 * 10 + 100 + 5 * 1000 + 132 * 0.5 + 128 * 0.25
    assert model.cycles_per_lookup("memrec", {"dim": 128, "k": 1, "k_weight": 4}) == expected


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
    ({"compute_cycles_per_lookup": {"bert": 3}}, "unknown model 'bert'"),
    ({"compute_cycles_per_lookup": {"dlrm": -3}}, "must be a finite number >= 0"),
])
def test_invalid_parameters_are_rejected_with_the_constraint(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TimingModel(**kwargs)


def test_model_is_frozen_and_hashable():
    with pytest.raises(AttributeError):
        BASE.mlp = 3  # type: ignore[misc]
    assert hash(BASE) == hash(TimingModel(**{f: getattr(BASE, f) for f in field_names()}))


def test_with_overrides_merges_per_model_cycles_and_rejects_unknown_keys():
    model = BASE.with_overrides(compute_cycles_per_lookup={"memrec": 50}, llc_hit_cycles=45)
    assert dict(model.compute_cycles_per_lookup) == {"dlrm": 100, "memrec": 50}
    assert model.llc_hit_cycles == 45 and BASE.llc_hit_cycles == 40
    with pytest.raises(ValueError, match="unknown parameter 'llc_latency'; known parameters: name, freq_ghz"):
        BASE.with_overrides(llc_latency=3)


# --------------------------------------------------------------------------- CLI strings and TOML

def test_parse_timing_overrides():
    got = parse_timing_overrides(["llc_hit_cycles=70", "mlp = 8", "line_bytes=128", "peak_dram_gbps=none",
                                  "compute_cycles_per_lookup.memrec=120.5", "name=mine"])
    assert got == {"llc_hit_cycles": 70.0, "mlp": 8.0, "line_bytes": 128, "peak_dram_gbps": None,
                   "compute_cycles_per_lookup": {"memrec": 120.5}, "name": "mine"}
    model = TimingModel().with_overrides(**got)
    assert model.peak_dram_gbps is None and model.cycles_per_lookup("memrec") == 120.5


@pytest.mark.parametrize("item, message", [
    ("llc", "expected KEY=VALUE"),
    ("llc_latency=3", "unknown key 'llc_latency'"),
    ("mlp=fast", "'fast' is not a number"),
    ("compute_cycles_per_lookup.bert=3", "unknown model 'bert'"),
    ("line_bytes=1.5", "line_bytes must be an integer"),
    ("mlp=inf", "must be finite"),
])
def test_parse_timing_overrides_errors_name_the_item(item, message):
    with pytest.raises(ValueError, match=message):
        parse_timing_overrides([item])


def test_toml_round_trip(tmp_path):
    path = tmp_path / "cpu.toml"
    path.write_text(
        "[timing]\nname = \"lab\"\nfreq_ghz = 2.5\nllc_hit_cycles = 60\ndram_cycles = 250\nmlp = 6\n"
        "peak_dram_gbps = 100.0\n\n[compute_cycles_per_lookup]\nmemrec = 80\ndlrm = 40.5\n"
    )
    overrides = load_overrides_toml(path)
    model = TimingModel().with_overrides(**overrides)
    assert (model.name, model.freq_ghz, model.llc_hit_cycles, model.dram_cycles, model.mlp, model.peak_dram_gbps) == (
        "lab", 2.5, 60.0, 250.0, 6.0, 100.0)
    assert dict(model.compute_cycles_per_lookup) == {"dlrm": 40.5, "memrec": 80.0}
    # Fields not in the file keep their values.
    assert model.l1_hit_cycles == TimingModel().l1_hit_cycles


def test_toml_unknown_key_names_it_and_the_known_ones(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[timing]\nllc_latency = 3\n")
    with pytest.raises(ValueError, match=r"unknown key 'llc_latency' in \[timing\]; known keys: name, freq_ghz"):
        load_overrides_toml(path)


def test_toml_unknown_table_and_model_and_syntax(tmp_path):
    bad_table = tmp_path / "t.toml"
    bad_table.write_text("[cpu]\nx = 1\n")
    with pytest.raises(ValueError, match=r"unknown table \[cpu\]"):
        load_overrides_toml(bad_table)
    bad_model = tmp_path / "m.toml"
    bad_model.write_text("[compute_cycles_per_lookup]\nbert = 1\n")
    with pytest.raises(ValueError, match="unknown model 'bert'"):
        load_overrides_toml(bad_model)
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
    assert data["compute_cycles_per_lookup"] == {"dlrm": 100.0}
    assert set(data) == set(field_names())


def test_every_known_model_has_finite_default_compute():
    for model in KNOWN_MODELS:
        assert math.isfinite(TimingModel().cycles_per_lookup(model)) and TimingModel().cycles_per_lookup(model) > 0
