"""The measured twin of the Mem-Rec table: counters of the real kernels beside the simulator's ratios.

One row per (representation, LLC size): measured cycles, LLC misses and DRAM bytes, each
with its source (``*_source``: which tool or formula), their ratios versus dlrm
(baseline / row, as ``experiment.add_ratios``), and the simulated/modelled ratios of the
same workload (``sim_*``, from ``experiment.run_analysis``). A measured value is a number
or the text "unavailable (why)"; a ratio with an unavailable side is unavailable too
(never a 1 or a 0), and a ratio of two zeros is unavailable (nothing to compare).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

from memprof.analysis.experiment import BASELINE
from memprof.report.schema import TWIN_COLUMNS

MEASURED = ("cycles", "llc_misses", "dram_bytes")  # measured quantity -> f"{name}_ratio"
SIMULATED = {"cycles_ratio": "sim_cycles_ratio", "llc_misses_ratio": "sim_llc_misses_ratio",
             "dram_bw_ratio": "sim_dram_bw_ratio", "cycles": "sim_cycles", "llc_misses": "sim_llc_misses"}


def unavailable(reason: str) -> str:
    return f"unavailable ({reason})"


def is_number(value) -> bool:
    """A measured number (not text, not None, not NaN)."""
    return (isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
            and not math.isnan(float(value)))


def _why(value) -> str:
    """The reason inside an 'unavailable (why)' cell (or a description of a non-number)."""
    text = str(value)
    if text.startswith("unavailable (") and text.endswith(")"):
        return text[len("unavailable ("):-1]
    return f"not a number: {text}"


def measured_ratio(base, value, *, model: str, quantity: str):
    """``base / value`` (dlrm over the row) or the text "unavailable (why)"."""
    if not is_number(base):
        return unavailable(f"{BASELINE} {quantity}: {_why(base)}")
    if not is_number(value):
        return unavailable(f"{model} {quantity}: {_why(value)}")
    if value == 0:
        return float("inf") if base > 0 else unavailable(f"{BASELINE} and {model} {quantity} are both 0")
    return base / value


def add_measured_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """``cycles_ratio``, ``llc_misses_ratio``, ``dram_bytes_ratio`` = dlrm / row, per LLC size."""
    frame = frame.copy()
    for name in MEASURED:
        frame[f"{name}_ratio"] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    for llc, group in frame.groupby("llc_bytes", sort=False):
        base = group[group["model"] == BASELINE]
        if base.empty:
            raise ValueError(f"ratios need the {BASELINE} baseline at every LLC size (missing at {llc} bytes)")
        base = base.iloc[0]
        for idx, row in group.iterrows():
            for name in MEASURED:
                frame.at[idx, f"{name}_ratio"] = measured_ratio(base[name], row[name], model=row["model"],
                                                                quantity=name)
    return frame


def attach_simulated(frame: pd.DataFrame, simulated: pd.DataFrame) -> pd.DataFrame:
    """Add ``sim_*`` columns: the analysis frame's ratios (and cycles, LLC misses) of the same
    (model, LLC size); a NaN there (no lookups) becomes "unavailable (no lookups)"."""
    frame = frame.copy()
    index = {(r["model"], int(r["llc_bytes"])): r for _, r in simulated.iterrows()}
    for source, target in SIMULATED.items():
        values = []
        for _, row in frame.iterrows():
            sim = index.get((row["model"], int(row["llc_bytes"])))
            if sim is None:
                values.append(unavailable("not simulated"))
            elif source not in sim.index or not is_number(sim[source]):
                values.append(unavailable("no lookups" if source.endswith("_ratio") else f"no simulated {source}"))
            else:
                values.append(float(sim[source]))
        frame[target] = pd.Series(values, index=frame.index, dtype=object)
    return frame


def twin_frame(measurements: list[dict], simulated: pd.DataFrame) -> pd.DataFrame:
    """The twin table from one measurement dict per (model, LLC size) (keys: the measured
    columns of ``schema.TWIN_COLUMNS``) and ``run_analysis``'s frame of the same workload."""
    frame = add_measured_ratios(pd.DataFrame(measurements))
    frame = attach_simulated(frame, simulated)
    first = [c for c in TWIN_COLUMNS if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]].reset_index(drop=True)
