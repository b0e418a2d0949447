"""The multi-core sweep's figure: socket throughput (lookups/s) and LLC misses per lookup
against cores, one column per LLC size, one line per representation and table mode
("how many cores until Mem-Rec falls out of the LLC")."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from memprof.report.plots import save_figure  # noqa: E402
from sim.sizes import format_size  # noqa: E402

STYLE = {"shared": "o-", "private": "s--"}


def cores_plot(frame: pd.DataFrame, path=None, title: str = "") -> bytes | None:
    """Write (or return the PNG bytes of) the figure of ``memprof cores`` rows."""
    needed = {"model", "tables", "cores", "llc_bytes", "socket_lookups_per_second", "llc_misses_per_lookup"}
    missing = needed - set(frame.columns)
    if missing or not len(frame):
        raise ValueError(f"cores plot: need rows with columns {', '.join(sorted(needed))}")
    sizes = sorted(frame["llc_bytes"].unique())
    fig, axes = plt.subplots(2, len(sizes), figsize=(4.2 * len(sizes), 6.4), layout="constrained", squeeze=False)
    models = list(dict.fromkeys(frame["model"]))
    for col, size in enumerate(sizes):
        part = frame[frame["llc_bytes"] == size]
        for (model, tables), group in part.groupby(["model", "tables"], sort=False):
            group = group.sort_values("cores")
            style = dict(color=f"C{models.index(model)}", label=f"{model}, {tables} tables")
            axes[0, col].plot(group["cores"], group["socket_lookups_per_second"], STYLE.get(tables, "^-"), **style)
            axes[1, col].plot(group["cores"], group["llc_misses_per_lookup"], STYLE.get(tables, "^-"), **style)
        axes[0, col].set_title(f"LLC {format_size(int(size))}", fontsize=9)
        axes[0, col].set_ylabel("socket lookups per second")
        axes[1, col].set_ylabel("LLC misses per lookup")
        cores = sorted(int(c) for c in part["cores"].unique())
        for row in (0, 1):
            ax = axes[row, col]
            ax.set_xscale("log", base=2)
            ax.set_xticks(cores, [str(c) for c in cores])
            ax.set_yscale("log" if row == 0 else "linear")  # misses can be 0: a linear axis keeps them
            ax.set_xlabel("cores sharing the LLC")
            ax.grid(True, which="both", alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)
