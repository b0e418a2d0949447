"""Plot miss-ratio curves: miss ratio against cache size (log x), one line per curve.

The LLC sizes of the Mem-Rec analysis (14, 28 and 56 MB) are marked on every curve.
Written atomically in the format the path's suffix names (.png, .pdf, .svg).
"""

from __future__ import annotations

import os

import numpy as np

from sim.sizes import format_size

MB = 1 << 20
MARKED_SIZES = (14 * MB, 28 * MB, 56 * MB)


def plot_mrc(curves, path: str | os.PathLike, *, min_bytes: int, max_bytes: int,
             marks=MARKED_SIZES, title: str | None = None, points: int = 256) -> None:
    """Draw ``curves`` (a list of (label, sim.mrc.stack.MissRatioCurve)) between two sizes into
    ``path`` (.png, .pdf or .svg); ValueError when there is no curve to draw."""
    from memprof.report.plots import plt, save_figure

    if min_bytes <= 0 or max_bytes < min_bytes:
        raise ValueError(f"plot range {min_bytes}..{max_bytes} bytes: need 0 < min <= max")
    if not curves:
        raise ValueError("miss-ratio plot: no curve to draw (no trace had any access)")
    fig, ax = plt.subplots(figsize=(7.5, 4.5), layout="constrained")
    dense = np.unique(np.geomspace(min_bytes, max_bytes, points).astype(np.int64))
    inside = [m for m in marks if min_bytes <= m <= max_bytes]
    for label, curve in curves:
        table = curve.table(dense)
        (line,) = ax.plot(table["size_bytes"] / MB, table["miss_ratio"], label=f"{label} ({curve.method_label})",
                          linewidth=1.6, drawstyle="steps-post" if curve.sets > 1 else "default")
        if inside:
            ratios = curve.miss_ratio(np.array(inside) // (curve.sets * curve.line_bytes) * curve.sets
                                      * curve.line_bytes)
            ax.plot(np.array(inside) / MB, ratios, "o", color=line.get_color(), markersize=5)
    for mark in inside:
        ax.axvline(mark / MB, color="0.75", linewidth=0.8, linestyle="--", zorder=0)
        ax.annotate(format_size(mark), (mark / MB, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(2, -10), textcoords="offset points", fontsize=8, color="0.4")
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
    ax.set_xlabel("cache size (MiB, log scale)")
    ax.set_ylabel("LRU miss ratio (misses / accesses)")
    ax.set_ylim(bottom=0)
    ax.grid(True, which="both", alpha=0.25)
    ax.set_title(title or "Miss-ratio curves")
    ax.legend(fontsize=8)
    save_figure(fig, path)
