"""memprof validate's library: the summary math on hand-built rows, the grid, and that the measured
kernel and the simulator see the same batches (the warm ring)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from memprof.analysis.validate import (TARGETS, ValidateConfig, Variant, add_errors, default_variants,
                                       label_unavailable, measure_ring, parse_skew, ring_batches,
                                       simulated_trace, summarize, trace_spec)
from memprof.run.driver import resolve_warmup
from traces.spec import TraceSpec

MB = 1 << 20


def _row(model, measured, predicted, *, batch=64, skew="1.05", footprint=8 * MB, params="defaults"):
    return {"model": model, "params": params, "skew": skew, "footprint_bytes": footprint, "batch_size": batch,
            "measured_ns_per_lookup_best": measured, "measured_ns_per_lookup_median": measured * 1.1,
            "predicted_ns_per_lookup": predicted}


def _frame(rows):
    return add_errors(pd.DataFrame(rows))


# --- the summary math -------------------------------------------------------------------------

def test_errors_and_speedups_from_hand_built_rows():
    frame = _frame([_row("dlrm", 100.0, 110.0), _row("memrec", 50.0, 44.0), _row("dlrm", 200.0, 120.0, batch=1)])
    # error = predicted / measured - 1: 110/100, 44/50, 120/200
    assert frame["error"].tolist() == pytest.approx([0.10, -0.12, -0.40])
    memrec = frame[frame["model"] == "memrec"].iloc[0]
    assert memrec["measured_speedup_vs_dlrm"] == pytest.approx(2.0)  # 100 / 50
    assert memrec["predicted_speedup_vs_dlrm"] == pytest.approx(2.5)  # 110 / 44
    assert memrec["speedup_error"] == pytest.approx(0.25)  # 2.5 / 2 - 1
    assert frame[frame["model"] == "dlrm"]["speedup_error"].isna().all()  # the baseline has no ratio


def test_summary_median_worst_and_targets_met_or_not():
    frame = _frame([_row("dlrm", 100.0, 110.0), _row("memrec", 50.0, 44.0), _row("dlrm", 200.0, 120.0, batch=1)])
    summary = summarize(frame)
    assert summary["points"] == 3
    assert summary["median_abs_error"] == pytest.approx(0.12)  # of 0.10, 0.12, 0.40
    assert summary["worst_abs_error"] == pytest.approx(0.40)
    assert summary["worst_point"]["model"] == "dlrm" and summary["worst_point"]["batch_size"] == 1
    assert summary["speedup_pairs"] == 1 and summary["worst_abs_speedup_error"] == pytest.approx(0.25)
    met = [t["met"] for t in summary["targets"]]
    assert met == [True, False, False]  # 12% <= 15%; 40% > 35%; 25% > 20%
    assert "not met (40.0%)" in summary["targets"][1]["line"]
    assert summary["targets"][0]["line"].endswith(": met (12.0%)")


def test_every_target_met():
    frame = _frame([_row("dlrm", 100.0, 105.0), _row("robe", 80.0, 90.0), _row("dlrm", 10.0, 9.0, batch=1)])
    summary = summarize(frame)  # errors 5%, 12.5%, 10%; speed-up 1.25 vs 105/90 = 1.1667: -6.7%
    assert summary["median_abs_error"] == pytest.approx(0.10)
    assert summary["worst_abs_error"] == pytest.approx(0.125)
    assert summary["worst_abs_speedup_error"] == pytest.approx(1 / 15)
    assert [t["met"] for t in summary["targets"]] == [True, True, True]


def test_a_target_exactly_at_its_threshold_is_met():
    frame = _frame([_row("dlrm", 100.0, 135.0), _row("dlrm", 100.0, 115.0, batch=1),
                    _row("dlrm", 100.0, 85.0, batch=2)])
    summary = summarize(frame)
    assert summary["targets"][0]["met"] and summary["targets"][1]["met"]  # median 15%, worst 35%


def test_speedup_target_unavailable_without_other_models():
    summary = summarize(_frame([_row("dlrm", 100.0, 100.0)]))
    third = summary["targets"][2]
    assert third["met"] is None and third["value"] is None
    assert third["line"] == f"{TARGETS[2][0]}: unavailable (no representation besides dlrm at a dlrm point)"


def test_no_dlrm_at_the_point_means_no_speedup_and_says_why():
    frame = _frame([_row("dlrm", 100.0, 100.0, skew="0.8"), _row("qr", 50.0, 60.0, skew="1.05")])
    assert frame["speedup_error"].isna().all()
    view = label_unavailable(frame)
    assert view.loc[1, "speedup_error"] == "unavailable (no dlrm point at this footprint, skew and batch)"
    assert view.loc[0, "measured_speedup_vs_dlrm"] == "unavailable (dlrm is the baseline)"


# --- the grid and its parts --------------------------------------------------------------------

def test_memrec_runs_once_per_pooling_mode_unless_fixed():
    assert [str(v) for v in default_variants(["memrec", "qr"])] == [
        "dlrm", "memrec[pooling=sample]", "memrec[pooling=feature]", "qr"]
    fixed = default_variants(["memrec"], {"memrec": {"pooling": "feature"}})
    assert [str(v) for v in fixed] == ["dlrm", "memrec[pooling=feature]"]


def test_parse_skew():
    assert parse_skew("0.8").alpha == 0.8 and parse_skew("0.8").preset is None
    assert parse_skew("1.050").text == "1.05" and parse_skew("0").text == "0"
    assert parse_skew("meta-2021").preset == "meta-2021"
    with pytest.raises(ValueError, match="meta-2021"):
        parse_skew("zipfy")
    with pytest.raises(ValueError, match=">= 0"):
        parse_skew("-1")


def test_points_dlrm_everywhere_others_at_the_largest_footprint_and_compare_skews():
    config = ValidateConfig(variants=default_variants(["qr"]), footprints=(8 * MB, 64 * MB),
                            skews=("0", "1.05"), compare_skews=("1.05",), batch_sizes=(1, 64))
    groups = config.points()
    dlrm = [(f, s, b) for f, s, b, v in groups if any(x.model == "dlrm" for x in v)]
    qr = [(f, s, b) for f, s, b, v in groups if any(x.model == "qr" for x in v)]
    assert len(dlrm) == 8  # 2 footprints x 2 skews x 2 batches
    assert qr == [(64 * MB, "1.05", 1), (64 * MB, "1.05", 64)]


def test_config_refuses_a_footprint_below_1mb_or_above_the_budget():
    with pytest.raises(ValueError, match="at least 1MiB"):
        ValidateConfig(variants=(Variant("dlrm"),), footprints=(512 * 1024,))
    with pytest.raises(ValueError, match="above the memory budget"):
        ValidateConfig(variants=(Variant("dlrm"),), footprints=(64 * MB,), budget_bytes=32 * MB)
    with pytest.raises(ValueError, match="at least 5"):
        ValidateConfig(variants=(Variant("dlrm"),), footprints=(8 * MB,), repeat=4)


# --- the warm ring: the measured batches are the simulated batches -----------------------------

WORKLOAD = "5000,300,20000"


def _config(**kw):
    return ValidateConfig(variants=default_variants(["memrec"]), footprints=(MB,), workload=WORKLOAD, seed=7, **kw)


def test_ring_is_the_generators_first_batches_and_just_enough_lookups():
    config = _config()
    spec = trace_spec(Variant("dlrm"), config, None, "0.8", 16)
    ring = ring_batches(spec, 100)  # 3 features x 16 samples x pooling 1 = 48 lookups per batch
    assert len(ring) == 3 and sum(b.num_lookups for b in ring) >= 100
    reference = list(TraceSpec("dlrm", WORKLOAD, batch_size=16, batches=3, seed=7, alpha=0.8).build().batches())
    for got, want in zip(ring, reference):
        np.testing.assert_array_equal(got.indices, want.indices)
        np.testing.assert_array_equal(got.offsets, want.offsets)
    assert len(ring_batches(spec, 1)) == 1  # at least one batch


@pytest.mark.parametrize("count", [1, 3, 4])
def test_simulated_trace_is_the_ring_twice_with_the_first_pass_as_warmup(count):
    config = _config()
    variant = default_variants(["memrec"])[1]
    spec = trace_spec(variant, config, None, "1.05", 8)
    rep = spec.representation()
    raw = ring_batches(spec, 24 * count)  # 24 lookups per batch: exactly ``count`` batches
    assert len(raw) == count
    ring = [rep.prepare(b) for b in raw]
    trace = simulated_trace(rep, ring)
    fed = list(trace.batches())
    assert len(fed) == 2 * count and trace.num_batches == 2 * count
    for i, batch in enumerate(fed):
        assert batch is ring[i % count]  # the same objects the kernel is timed on
        np.testing.assert_array_equal(batch.indices, raw[i % count].indices)  # same token ids
    assert resolve_warmup(0.5, trace.num_batches, steps=True) == count  # the analysis' warm-up = pass one


class _Recorder:
    """A stand-in representation that records which batch each kernel call got."""

    dim = 4

    def __init__(self):
        self.calls = []

    def output_features(self, features):
        return features

    def pooled(self, batch, out, **kwargs):
        assert out.shape == (batch.num_features, batch.batch_size, self.dim)
        self.calls.append(batch)


def test_the_kernel_loops_over_the_ring_one_warm_pass_then_the_timed_ones():
    config = _config()
    ring = ring_batches(trace_spec(Variant("dlrm"), config, None, "1.05", 8), 48)  # 2 batches of 24 lookups
    rep = _Recorder()
    # start/end of each pass: the warm pass (1000 ns, not counted), then 96, 48, 144, 96, 240 ns
    ticks = iter([0, 1000, 1000, 1096, 1096, 1144, 1144, 1288, 1288, 1384, 1384, 1624])

    def clock():
        return next(ticks)

    best, median = measure_ring(rep, ring, 5, clock=clock)
    assert rep.calls == ring * 6  # warm pass + 5 timed passes, in ring order
    assert best == pytest.approx(1.0) and median == pytest.approx(2.0)  # ns / 48 lookups: 2, 1, 3, 2, 5


def test_the_simulated_llc_is_the_host_presets_and_the_chase_knee_is_reported():
    from types import SimpleNamespace

    from memprof.analysis.validate import host_llc
    from sim.timing.presets import CacheGeometry

    host = SimpleNamespace(llc=CacheGeometry(32 << 20, 16), sources={"llc": "sysfs index3"})
    knee = SimpleNamespace(values={"llc_effective_bytes": {"value": 2 << 20, "source": "measured: knee"}})
    size, ways, why = host_llc(host, knee)
    assert (size, ways) == (32 << 20, 16)
    assert "knee is at 2 MiB" in why and "not simulated" in why
    assert host_llc(host, SimpleNamespace(values={}))[2] == "the host preset's LLC (sysfs index3)"


def test_small_tables_count_as_4k_pages():
    from types import SimpleNamespace

    import numpy as np

    from memprof.analysis.validate import table_page_bytes

    assert table_page_bytes([SimpleNamespace(weights=np.zeros(16, dtype=np.float32))]) == 4096
