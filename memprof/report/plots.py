"""Matplotlib figures of analysis results, written atomically as PNG (Agg backend, no display)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from traces.format.fileio import atomic_open  # noqa: E402

RATIOS = (("cycles_ratio", "cycles"), ("llc_misses_ratio", "LLC misses"), ("dram_bw_ratio", "DRAM bandwidth"))
MIB = 1 << 20


def save_figure(fig, path: str | os.PathLike) -> None:
    """Save ``fig`` as PNG to ``path`` atomically and close it."""
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)


def _finite(values) -> np.ndarray:
    """Ratios for plotting: inf (never missed) drawn at the axis top is misleading, so mask it."""
    arr = np.asarray(values, dtype=float)
    return np.where(np.isfinite(arr), arr, np.nan)


def ratio_bars(frame: pd.DataFrame, path, published: dict | None = None, title: str = "") -> None:
    """Grouped bars: per LLC size, each model's three ratios versus dlrm (log scale).

    ``published`` maps llc_bytes -> (cycles, misses, bandwidth) ratios drawn as hollow bars.
    """
    models = [m for m in dict.fromkeys(frame["model"]) if m != "dlrm"]
    sizes = sorted(frame["llc_bytes"].unique())
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    series = [(m, frame[frame["model"] == m].set_index("llc_bytes")) for m in models]
    if published:
        series.append(("published Mem-Rec", None))
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(sizes))
    for ax, (column, label) in zip(axes, RATIOS):
        for i, (name, rows) in enumerate(series):
            if rows is None:
                values = [published.get(s, (np.nan,) * 3)[[c for c, _ in RATIOS].index(column)] for s in sizes]
                ax.bar(x + i * width, values, width, label=name, fill=False, hatch="//", edgecolor="black")
            else:
                values = _finite([rows[column].get(s, np.nan) for s in sizes])
                ax.bar(x + i * width, values, width, label=name)
        ax.axhline(1.0, color="grey", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_xticks(x + width * (len(series) - 1) / 2, [f"{s / MIB:g} MiB" for s in sizes])
        ax.set_title(f"{label}: dlrm / model (x)")
        ax.set_xlabel("LLC size")
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    save_figure(fig, path)


def miss_ratio_by_llc(frame: pd.DataFrame, path, title: str = "") -> None:
    """LLC miss ratio against LLC size, one line per model."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for model, rows in frame.groupby("model", sort=False):
        rows = rows.sort_values("llc_bytes")
        ax.plot(rows["llc_bytes"] / MIB, rows["llc_miss_ratio"], marker="o", label=model)
    ax.set_xlabel("LLC size (MiB)")
    ax.set_ylabel("LLC miss ratio (misses / LLC accesses)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    save_figure(fig, path)


def sweep_lines(frame: pd.DataFrame, param: str, path, title: str = "") -> None:
    """For a sweep over ``param``: each ratio against the parameter, one line per (model, LLC size)."""
    rows = frame[frame["model"] != "dlrm"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    numeric = pd.api.types.is_numeric_dtype(rows[param])
    for ax, (column, label) in zip(axes, RATIOS):
        for (model, size), group in rows.groupby(["model", "llc_bytes"], sort=False):
            group = group.sort_values(param) if numeric else group
            xs = group[param] if numeric else group[param].astype(str)
            ax.plot(xs, _finite(group[column]), marker="o", label=f"{model} @ {size / MIB:g} MiB")
        ax.set_yscale("log")
        ax.set_xlabel(param)
        ax.set_title(f"{label}: dlrm / model (x)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    save_figure(fig, path)
