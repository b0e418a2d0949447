"""Working-set report: footprint per representation and per table, and the cache sizes at
which each miss-ratio curve comes within 2x and 1.1x of its compulsory (cold) miss ratio.

Footprints come from the distinct lines the one-pass MRC accumulator saw (exact), or from
the sampled lines scaled by 1 / R (SHARDS; an estimate, marked as such).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from memprof.report.schema import WORKING_SET_COLUMNS
from sim.mrc.stack import MissRatioCurve, region_footprint

PER_CURVE_ONLY = "n/a"  # compulsory ratio and sizes exist per curve (representation), not per table
COLUMNS = WORKING_SET_COLUMNS  # declared once, in memprof.report.schema


def working_set_rows(label: str, curve: MissRatioCurve, lines: np.ndarray | None, scale: float = 1.0,
                     regions=None) -> list[dict]:
    """Rows for one curve: the whole representation, then one row per region (table).

    ``lines``: sorted distinct (or sampled) line indices; ``scale``: 1 / sampling rate.
    """
    def reach(factor):
        size = curve.size_reaching(factor)
        return "unavailable (not reached by the sampled curve)" if size is None else int(round(size))

    rows = [{
        "representation": label,
        "method": curve.method_label,
        "region": "(all)",
        "distinct_lines": int(round(curve.footprint_lines)),
        "footprint_bytes": int(round(curve.footprint_bytes)),
        "compulsory_miss_ratio": curve.compulsory_miss_ratio,
        "size_2x_compulsory_bytes": reach(2.0),
        "size_1_1x_compulsory_bytes": reach(1.1),
    }]
    if regions and lines is not None:
        for entry in region_footprint(lines, regions, curve.line_bytes):
            count = int(round(entry["distinct_lines"] * scale))
            rows.append({
                "representation": label,
                "method": curve.method_label,
                "region": entry["region"],
                "distinct_lines": count,
                "footprint_bytes": count * curve.line_bytes,
                "compulsory_miss_ratio": PER_CURVE_ONLY,
                "size_2x_compulsory_bytes": PER_CURVE_ONLY,
                "size_1_1x_compulsory_bytes": PER_CURVE_ONLY,
            })
    return rows


def working_set_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(COLUMNS))
