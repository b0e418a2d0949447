"""Matplotlib figures of analysis results (Agg backend, no display).

Every figure function takes the frame and a ``path``: the figure is written there
atomically in the format its suffix names (.png, .pdf, .svg; ``output.plot_format``),
or, with ``path=None``, returned as PNG bytes (for a caller that writes several files at
once). A table with nothing to draw is a ValueError, never an empty figure.

Ratios versus dlrm are drawn on a log axis as bars from 1 (parity), so a ratio below 1 is
a bar hanging down from the parity line, with plain tick labels (0.5x, 1x, 2x, 10x).
"""

from __future__ import annotations

import io
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from memprof.report.output import plot_format, write_or_keep  # noqa: E402
from memprof.report.schema import BREAKDOWN_LABELS  # noqa: E402

# (column, panel title, y label): each ratio is dlrm's quantity over the model's
RATIOS = (
    ("cycles_ratio", "cycles", "speed-up: dlrm cycles / model cycles"),
    ("llc_misses_ratio", "LLC misses", "dlrm LLC misses / model LLC misses"),
    ("dram_bw_ratio", "DRAM bandwidth", "dlrm DRAM GB/s / model DRAM GB/s"),
)
MIB = 1 << 20
DPI = 120


def save_figure(fig, path: str | os.PathLike | None) -> bytes | None:
    """Write ``fig`` to ``path`` (format from the suffix) atomically and close it; with
    ``path=None`` return its PNG bytes. A failed write keeps the bytes in a temporary file
    (``output.OutputKept``)."""
    fmt = "png" if path is None else plot_format(path)
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format=fmt, dpi=DPI)
    finally:
        plt.close(fig)
    if path is None:
        return buffer.getvalue()
    write_or_keep(path, buffer.getvalue(), "plot")
    return None


def _finite(values) -> np.ndarray:
    """Ratios for plotting: inf (never missed) drawn at the axis top is misleading, so mask it."""
    arr = np.asarray(values, dtype=float)
    return np.where(np.isfinite(arr) & (arr > 0), arr, np.nan)


def _times(value, _pos=None) -> str:
    """A ratio tick: 0.5x, 1x, 2x, 10x."""
    return f"{value:g}x"


def ratio_axis(ax, values, label: str) -> None:
    """A log y axis for ratios: parity (1x) drawn, plain tick labels, limits that show 1 and the data."""
    finite = np.asarray([v for v in np.ravel(values) if np.isfinite(v) and v > 0], dtype=float)
    low = min(0.5, finite.min() / 1.5) if finite.size else 0.5
    high = max(2.0, finite.max() * 1.5) if finite.size else 2.0
    ax.set_yscale("log")
    ax.set_ylim(low, high)
    subs = (1.0, 2.0, 5.0) if high / low > 20 else (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)  # a narrow range: more ticks
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.yaxis.set_major_formatter(FuncFormatter(_times))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.axhline(1.0, color="0.3", linewidth=0.9, zorder=1)
    ax.set_ylabel(f"{label} (x, log scale)")
    ax.grid(True, axis="y", which="major", alpha=0.3)


def _analysis_rows(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    """The non-dlrm rows with at least one finite ratio; ValueError when there are none."""
    if frame is None or not len(frame):
        raise ValueError(f"{what}: the result table is empty, nothing to plot")
    rows = frame[frame["model"] != "dlrm"] if "model" in frame.columns else frame
    columns = [c for c, _, _ in RATIOS if c in rows.columns]
    if not len(rows) or not columns or not np.isfinite(_finite(rows[columns].to_numpy())).any():
        raise ValueError(f"{what}: no model besides dlrm has a finite ratio, nothing to plot")
    return rows


def _size_label(size_bytes) -> str:
    return f"{size_bytes / MIB:g} MiB"


def ratio_bars(frame: pd.DataFrame, path, published: dict | None = None, title: str = "") -> bytes | None:
    """Grouped bars: per LLC size, each model's three ratios versus dlrm, drawn from 1 on a log axis.

    ``published`` maps llc_bytes -> (cycles, misses, bandwidth) ratios drawn as hollow hatched bars.
    """
    rows = _analysis_rows(frame, "ratio plot")
    models = list(dict.fromkeys(rows["model"]))
    sizes = sorted(frame["llc_bytes"].unique())
    series = [(m, rows[rows["model"] == m].set_index("llc_bytes")) for m in models]
    if published:
        series.append(("published Mem-Rec", None))
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.6), layout="constrained")
    width = 0.8 / max(len(series), 1)
    x = np.arange(len(sizes))
    for index, (ax, (column, panel, label)) in enumerate(zip(axes, RATIOS)):
        drawn = []
        for i, (name, by_size) in enumerate(series):
            if by_size is None:
                values = _finite([published.get(s, (np.nan,) * 3)[index] for s in sizes])
                style = dict(fill=False, hatch="//", edgecolor="black")
            else:
                values = _finite([by_size[column].get(s, np.nan) for s in sizes])
                style = {}
            bars = ax.bar(x + i * width, values - 1.0, width, bottom=1.0, label=name, zorder=2, **style)
            # the value at the bar's free end (a bar at parity has no height to see)
            for bar, value in zip(bars, values):
                if np.isfinite(value):
                    ax.annotate(f"{value:.3g}x", (bar.get_x() + bar.get_width() / 2, value),
                                xytext=(0, 2 if value >= 1 else -2), textcoords="offset points", ha="center",
                                va="bottom" if value >= 1 else "top", fontsize=7)
            drawn.extend(values)
        ratio_axis(ax, drawn, label)
        ax.set_xticks(x + width * (len(series) - 1) / 2, [_size_label(s) for s in sizes])
        ax.set_xlabel("LLC size (MiB)")
        ax.set_title(panel)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=max(len(series), 1), fontsize=9)
    if title:
        fig.suptitle(title + " (above 1x: the model beats dlrm)")
    return save_figure(fig, path)


def miss_ratio_by_llc(frame: pd.DataFrame, path, title: str = "") -> bytes | None:
    """LLC miss ratio against LLC size, one line per model."""
    if frame is None or not len(frame) or not np.isfinite(pd.to_numeric(frame["llc_miss_ratio"],
                                                                         errors="coerce")).any():
        raise ValueError("miss-ratio plot: the result table has no miss ratio, nothing to plot")
    fig, ax = plt.subplots(figsize=(6.5, 4.4), layout="constrained")
    for i, (model, rows) in enumerate(frame.groupby("model", sort=False)):
        rows = rows.sort_values("llc_bytes")
        # distinct markers and line styles: two models at the same miss ratio must both stay visible
        ax.plot(rows["llc_bytes"] / MIB, rows["llc_miss_ratio"], marker="osD^v"[i % 5], markersize=7 - min(i, 3),
                linestyle=("-", "--", ":", "-.")[i % 4], label=model)
    sizes = sorted(frame["llc_bytes"].unique())
    ax.set_xticks([s / MIB for s in sizes], [f"{s / MIB:g}" for s in sizes])
    ax.set_xlabel("LLC size (MiB)")
    ax.set_ylabel("LLC miss ratio (misses / LLC accesses)")
    ax.set_ylim(0, 1.05)  # a ratio of 1 must not sit on the frame
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return save_figure(fig, path)


def _param_label(param: str) -> str:
    """An axis label for a swept parameter, with its unit where it has one."""
    units = {"batch_size": "samples per batch", "batches": "count", "dim": "floats per row", "ways": "count",
             "alpha": "Zipf exponent", "warmup": "fraction of batches", "dram_cycles": "cycles",
             "fill_buffers": "lines in flight"}
    name = param.rpartition(".")[2]
    unit = units.get(name) or ("bytes" if name.endswith("_bytes") else None)
    return f"{param} ({unit})" if unit else param


def sweep_lines(frame: pd.DataFrame, param: str, path, by: str | None = None, title: str = "") -> bytes | None:
    """For a sweep over ``param``: each ratio against it, one line per (model, LLC size) and, with
    ``by`` (a second swept parameter), per value of ``by``."""
    rows = _analysis_rows(frame, "sweep plot")
    if param not in rows.columns or (by is not None and by not in rows.columns):
        missing = param if param not in rows.columns else by
        raise ValueError(f"sweep plot: the table has no column {missing!r}")
    numeric = pd.api.types.is_numeric_dtype(rows[param])
    keys = ["model", "llc_bytes"] + ([by] if by else [])
    # colour: (model, LLC size); line style and marker: the value of ``by`` (lines may coincide)
    colours = {k: f"C{i % 10}" for i, k in enumerate(dict.fromkeys(zip(rows["model"], rows["llc_bytes"])))}
    styles = {v: i for i, v in enumerate(dict.fromkeys(rows[by]))} if by else {}
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.8), layout="constrained")
    for ax, (column, panel, label) in zip(axes, RATIOS):
        drawn = []
        for key, group in rows.groupby(keys, sort=False):
            model, size = key[0], key[1]
            group = group.sort_values(param) if numeric else group
            xs = group[param] if numeric else group[param].astype(str)
            name = f"{model} @ {_size_label(size)}" + (f", {by}={key[2]}" if by else "")
            values = _finite(group[column])
            style = styles.get(key[2], 0) if by else 0
            ax.plot(xs, values, color=colours[(model, size)], linestyle=("-", "--", ":", "-.")[style % 4],
                    marker="osD^v"[style % 5], markersize=6 - min(style, 3), label=name)
            drawn.extend(values)
        ratio_axis(ax, drawn, label)
        ax.set_xlabel(_param_label(param))
        ax.set_title(panel)
        ax.grid(True, axis="x", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4), fontsize=8)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def latency_lines(frame: pd.DataFrame, path, title: str = "") -> bytes | None:
    """Latency per item (ms, mean with one-stdev error bars) against batch size, log-log, one line
    per model; models whose tables were capped to fit memory say so in their label."""
    if frame is None or not len(frame):
        raise ValueError("latency plot: the result table is empty, nothing to plot")
    fig, ax = plt.subplots(figsize=(7.2, 4.6), layout="constrained")
    capped = False
    for model, group in frame.groupby("model", sort=False):
        group = group.sort_values("batch_size")
        stdev = (pd.to_numeric(group["ms_per_item_stdev"], errors="coerce").to_numpy()  # None: one value, no bar
                 if "ms_per_item_stdev" in group.columns else None)
        cap = group["max_rows_cap"].iloc[0] if "max_rows_cap" in group.columns else None
        label = model
        if isinstance(cap, (int, np.integer)) and not isinstance(cap, bool) and cap > 0:  # else "none (full tables)"
            label += f" (tables capped at {int(cap):,} rows)"
            capped = True
        ax.errorbar(group["batch_size"], group["ms_per_item"], yerr=stdev, marker="o", capsize=3, label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    sizes = sorted(int(b) for b in frame["batch_size"].unique())
    ax.set_xticks(sizes, [str(b) for b in sizes], fontsize=8)  # the batch sizes measured
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
    ax.set_xlabel("batch size (samples, log scale)")
    ax.set_ylabel("latency per item (ms, log scale; bars: 1 stdev)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    heading = title or "latency per item vs batch size"
    if capped:
        heading += "\n(capped tables fit the memory budget: smaller than the real model's)"
    ax.set_title(heading, fontsize=10)
    return save_figure(fig, path)


def cpi_stack(frame: pd.DataFrame, path, title: str = "") -> bytes | None:
    """Stacked bars, one per (representation, LLC size): the modelled cycles per lookup split
    into the timing model's breakdown terms (they sum to ``cycles``; docs/timing-model.md)."""
    columns = [c for c in BREAKDOWN_LABELS if c in frame.columns]
    if frame is None or not len(frame) or not columns:
        raise ValueError("CPI stack: the result table has no cycle breakdown, nothing to plot")
    rows = frame[frame["lookups"] > 0]
    if not len(rows):
        raise ValueError("CPI stack: no row has lookups, nothing to plot")
    labels = [f"{r['model']}\n{_size_label(r['llc_bytes'])}" for _, r in rows.iterrows()]
    per_lookup = rows[columns].to_numpy(dtype=float) / rows["lookups"].to_numpy(dtype=float)[:, None]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(rows) + 2), 4.6), layout="constrained")
    x = np.arange(len(rows))
    bottom = np.zeros(len(rows))
    for j, column in enumerate(columns):
        ax.bar(x, per_lookup[:, j], 0.7, bottom=bottom, label=BREAKDOWN_LABELS[column], zorder=2)
        bottom += per_lookup[:, j]
    for xi, total in zip(x, bottom):
        ax.annotate(f"{total:.3g}", (xi, total), xytext=(0, 2), textcoords="offset points", ha="center",
                    va="bottom", fontsize=8)
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("modelled cycles per lookup (core cycles)")
    ax.grid(axis="y", alpha=0.3, zorder=0)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(title or "where the cycles go (timing model breakdown)")
    return save_figure(fig, path)
