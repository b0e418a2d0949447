"""The parity plot of ``memprof validate``: predicted against measured ns/lookup, log-log, with the
y = x line (a perfect model) and the +-35% band (the per-point target); one colour per
representation variant, so a model that is off in one direction shows as a cloud off the line."""

from __future__ import annotations

import numpy as np
import pandas as pd

from memprof.report.plots import plt, save_figure

BAND = 0.35  # the every-point target of issue 14


def parity_plot(frame: pd.DataFrame, path, title: str = "") -> bytes | None:
    """Scatter measured (x, best of the timed passes) versus predicted (y) ns/lookup; ``path`` as
    in ``memprof.report.plots`` (None: PNG bytes). ValueError when there is nothing to draw."""
    if frame is None or not len(frame):
        raise ValueError("parity plot: the validation table is empty, nothing to plot")
    x_all = pd.to_numeric(frame["measured_ns_per_lookup_best"], errors="coerce").to_numpy(dtype=float)
    y_all = pd.to_numeric(frame["predicted_ns_per_lookup"], errors="coerce").to_numpy(dtype=float)
    good = np.isfinite(x_all) & np.isfinite(y_all) & (x_all > 0) & (y_all > 0)
    if not good.any():
        raise ValueError("parity plot: no point has both a measured and a predicted ns/lookup above 0")
    fig, ax = plt.subplots(figsize=(6.4, 6.0), layout="constrained")
    labels = [m if p in ("", "defaults") else f"{m} [{p}]" for m, p in zip(frame["model"], frame["params"])]
    for label in dict.fromkeys(labels):
        mask = good & np.array([lab == label for lab in labels])
        if mask.any():
            ax.scatter(x_all[mask], y_all[mask], s=22, alpha=0.8, label=label)
    lo = min(x_all[good].min(), y_all[good].min()) / 1.5
    hi = max(x_all[good].max(), y_all[good].max()) * 1.5
    line = np.array([lo, hi])
    ax.plot(line, line, color="black", linewidth=1, label="y = x (predicted = measured)")
    ax.fill_between(line, line * (1 - BAND), line * (1 + BAND), color="grey", alpha=0.15,
                    label=f"within {BAND:.0%}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_xlabel("measured ns/lookup (best of the timed passes, log scale)")
    ax.set_ylabel("predicted ns/lookup (simulator + timing model, log scale)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(title or "memprof validate: predicted vs measured", fontsize=10)
    return save_figure(fig, path)
