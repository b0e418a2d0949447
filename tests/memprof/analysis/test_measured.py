"""The measured twin's ratio logic on hand-built measurements: dlrm / row, unavailable stays unavailable."""

import math

import pandas as pd
import pytest

from memprof.analysis.measured import add_measured_ratios, attach_simulated, measured_ratio, twin_frame

MB = 1 << 20
NO_DRAM = "unavailable (no DRAM byte counter: test)"


def cell(model, llc, cycles, misses, dram=NO_DRAM):
    return {"model": model, "llc_bytes": llc, "ll_ways": 14, "lookups": 100, "cycles": cycles,
            "cycles_source": "hand", "llc_misses": misses, "llc_misses_source": "hand", "dram_bytes": dram,
            "dram_bytes_source": "hand"}


def test_ratio_is_baseline_over_row_per_llc_size():
    frame = add_measured_ratios(pd.DataFrame([
        cell("dlrm", 14 * MB, 1200.0, 900), cell("memrec", 14 * MB, 300.0, 30),
        cell("dlrm", 56 * MB, 1000.0, 500), cell("memrec", 56 * MB, 400.0, 20),
    ]))
    rows = {(r.model, r.llc_bytes): r for r in frame.itertuples()}
    assert rows[("memrec", 14 * MB)].cycles_ratio == pytest.approx(4.0)     # 1200 / 300
    assert rows[("memrec", 14 * MB)].llc_misses_ratio == pytest.approx(30.0)  # 900 / 30
    assert rows[("memrec", 56 * MB)].cycles_ratio == pytest.approx(2.5)     # 1000 / 400, not the 14 MB dlrm
    assert rows[("memrec", 56 * MB)].llc_misses_ratio == pytest.approx(25.0)  # 500 / 20


def test_unavailable_measurements_give_unavailable_ratios_never_one_or_zero():
    frame = add_measured_ratios(pd.DataFrame([
        cell("dlrm", 14 * MB, "unavailable (no PMU: test)", 900, NO_DRAM),
        cell("memrec", 14 * MB, 300.0, "unavailable (valgrind missing: test)", 64.0),
    ]))
    dlrm, memrec = frame.iloc[0], frame.iloc[1]
    for value in (dlrm.cycles_ratio, dlrm.dram_bytes_ratio, memrec.cycles_ratio, memrec.llc_misses_ratio,
                  memrec.dram_bytes_ratio):
        assert isinstance(value, str) and value.startswith("unavailable (")
    assert "no PMU: test" in memrec.cycles_ratio and "dlrm" in memrec.cycles_ratio
    assert "valgrind missing: test" in memrec.llc_misses_ratio and "memrec" in memrec.llc_misses_ratio
    assert "no DRAM byte counter" in memrec.dram_bytes_ratio  # the baseline's reason
    assert dlrm.llc_misses_ratio == 1.0  # dlrm against itself, both measured: a real 1


def test_zero_denominator_is_inf_and_zero_over_zero_is_unavailable():
    assert measured_ratio(900, 0, model="memrec", quantity="llc_misses") == math.inf
    both = measured_ratio(0, 0, model="memrec", quantity="llc_misses")
    assert both.startswith("unavailable (") and "both 0" in both
    assert measured_ratio(float("nan"), 3, model="memrec", quantity="cycles").startswith("unavailable (")


def test_every_llc_size_needs_the_baseline():
    with pytest.raises(ValueError, match="dlrm baseline"):
        add_measured_ratios(pd.DataFrame([cell("dlrm", 14 * MB, 1.0, 1), cell("memrec", 28 * MB, 1.0, 1)]))


def test_simulated_columns_come_from_the_analysis_frame_and_nan_stays_unavailable():
    simulated = pd.DataFrame([
        {"model": "dlrm", "llc_bytes": 14 * MB, "cycles": 5e6, "llc_misses": 4000, "cycles_ratio": 1.0,
         "llc_misses_ratio": 1.0, "dram_bw_ratio": 1.0},
        {"model": "memrec", "llc_bytes": 14 * MB, "cycles": 2e6, "llc_misses": 100, "cycles_ratio": 2.5,
         "llc_misses_ratio": 40.0, "dram_bw_ratio": float("nan")},
    ])
    frame = twin_frame([cell("dlrm", 14 * MB, 10.0, 8), cell("memrec", 14 * MB, 5.0, 2),
                        cell("qr", 14 * MB, 5.0, 2)], simulated)
    rows = {r["model"]: r for _, r in frame.iterrows()}
    assert rows["memrec"]["sim_cycles_ratio"] == 2.5 and rows["memrec"]["sim_llc_misses_ratio"] == 40.0
    assert rows["memrec"]["sim_llc_misses"] == 100 and rows["memrec"]["sim_cycles"] == 2e6
    assert rows["memrec"]["sim_dram_bw_ratio"] == "unavailable (no lookups)"
    assert rows["qr"]["sim_cycles_ratio"] == "unavailable (not simulated)"
    assert rows["memrec"]["llc_misses_ratio"] == pytest.approx(4.0)  # measured 8 / 2, beside the simulated 40
    assert list(frame.columns[:4]) == ["model", "llc_bytes", "ll_ways", "lookups"]


def test_attach_simulated_keeps_the_measured_cells():
    measured = add_measured_ratios(pd.DataFrame([cell("dlrm", MB, 3.0, 3)]))
    out = attach_simulated(measured, pd.DataFrame([{"model": "dlrm", "llc_bytes": MB, "cycles": 1.0,
                                                     "llc_misses": 1, "cycles_ratio": 1.0,
                                                     "llc_misses_ratio": 1.0, "dram_bw_ratio": 1.0}]))
    assert out.iloc[0]["cycles"] == 3.0 and out.iloc[0]["dram_bytes"] == NO_DRAM
