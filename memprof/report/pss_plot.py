"""One figure per panel of the PSS Table 2 reproduction: ms per iteration against table rows,
a line per compression (or chunk size), measured here (solid) beside the published GPU
values (dashed, same colour; their unit is not printed in the paper's caption)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from memprof.report.plots import save_figure  # noqa: E402

TITLES = {"a": "(a) forward", "b": "(b) backward, dense gradients", "c": "(c) backward, sparse gradients",
          "d": "(d) forward vs chunk size", "e": "(e) backward dense vs chunk size",
          "f": "(f) backward sparse vs chunk size"}


def panel_plot(frame: pd.DataFrame, panel: str, path=None, title: str = "") -> bytes | None:
    """Write (or return the PNG bytes of) one panel; cells over the memory budget are left out
    and the title says so."""
    part = frame[frame["panel"] == panel]
    if not len(part):
        raise ValueError(f"pss plot: no rows for panel {panel!r}")
    axis = "compression" if panel in "abc" else "chunk"
    fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    skipped = False
    for i, (key, group) in enumerate(part.groupby(axis, sort=True)):
        group = group.sort_values("rows")
        colour = f"C{i}"
        label = f"{key}x" if axis == "compression" else f"Z={key}"
        measured = pd.to_numeric(group["measured_ms_per_iteration"], errors="coerce").to_numpy(dtype=float)
        skipped |= bool(np.isnan(measured).any())
        ax.plot(group["rows"], measured, "o-", color=colour, label=f"{label} this CPU (ms)")
        ax.plot(group["rows"], group["published_gpu"], "x--", color=colour, alpha=0.6, label=f"{label} paper GPU")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    rows = sorted(part["rows"].unique())
    ax.set_xticks(rows, [part[part["rows"] == r]["rows_label"].iloc[0] for r in rows])
    ax.set_xlabel("table rows n")
    ax.set_ylabel("time per iteration (ms; paper: as printed)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    heading = (title + "\n" if title else "") + TITLES[panel]
    if skipped:
        heading += " (missing points: over the memory budget)"
    ax.set_title(heading, fontsize=9)
    return save_figure(fig, path)
