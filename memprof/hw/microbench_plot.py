"""The latency-versus-footprint figure of the memory microbenchmarks (``memprof calibrate --plot``):
chase latency per load against footprint, log x, one line per page size, the cache sizes marked."""

from __future__ import annotations

from memprof.report.plots import plt, save_figure
from sim.sizes import format_size


def latency_plot(memory: dict, path, freq_ghz: float, title: str = ""):
    """Draw ``Calibration.memory`` (its ``latency_thp`` / ``latency_4k`` curves, ns) to ``path``
    (format from the suffix; None: return PNG bytes). ValueError when no curve was measured."""
    curves = [(label, memory.get(key)) for label, key in (("2 MiB pages (THP)", "latency_thp"),
                                                           ("4 KiB pages", "latency_4k"))]
    curves = [(label, rows) for label, rows in curves if rows]
    if not curves:
        raise ValueError("no latency curve to plot: the calibration has no memory measurements "
                         "(run `memprof calibrate --memory`)")
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for (label, rows), color in zip(curves, ("tab:blue", "tab:orange")):
        xs = [row["footprint_bytes"] for row in rows]
        ax.plot(xs, [row["ns_best"] for row in rows], marker="o", color=color, label=f"{label}, best")
        ax.plot(xs, [row["ns_median"] for row in rows], linestyle=":", color=color, alpha=0.6,
                label=f"{label}, median")
    for name, size in (memory.get("cache_sizes") or {}).items():
        ax.axvline(size, color="grey", linestyle="--", linewidth=0.8)
        ax.annotate(f"{name.upper()} {format_size(size)}", (size, 1), xycoords=("data", "axes fraction"),
                    rotation=90, va="top", ha="right", fontsize=8, color="grey")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ticks = [row["footprint_bytes"] for row in curves[0][1]][::2]
    ax.set_xticks(ticks)
    ax.set_xticklabels([format_size(t) for t in ticks], rotation=45, fontsize=8)
    ax.set_xlabel("footprint (random single-cycle chase over 64 B lines)")
    ax.set_ylabel(f"load-to-use latency (ns; x {freq_ghz:.3f} GHz = cycles)")
    ax.set_title(title or "memory latency versus footprint")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
