"""Figures: formats from the suffix, ratio bars from parity with plain ticks, one line per value
of a second swept parameter, latency error bars and the cap note, empty tables refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer, ErrorbarContainer

from memprof.report import plots
from memprof.report.mrc_plot import plot_mrc

MIB = 1 << 20


def _analysis(ratios=(0.5, 3.0)) -> pd.DataFrame:
    rows = []
    for size, ratio in zip((14 * MIB, 28 * MIB), ratios):
        rows.append({"model": "dlrm", "llc_bytes": size, "llc_miss_ratio": 0.9, "cycles_ratio": 1.0,
                     "llc_misses_ratio": 1.0, "dram_bw_ratio": 1.0})
        rows.append({"model": "memrec", "llc_bytes": size, "llc_miss_ratio": 0.4, "cycles_ratio": ratio,
                     "llc_misses_ratio": ratio * 2, "dram_bw_ratio": ratio / 2})
    return pd.DataFrame(rows)


@pytest.fixture
def figures(monkeypatch):
    """The figures the plot functions save (still open for inspection)."""
    saved = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: saved.append(fig))
    return saved


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".pdf", b"%PDF"), (".svg", b"<?xml")])
def test_the_suffix_picks_the_format(tmp_path, suffix, magic):
    target = tmp_path / f"miss{suffix}"
    plots.miss_ratio_by_llc(_analysis(), target)
    data = target.read_bytes()
    assert data.startswith(magic)
    if suffix == ".svg":
        assert b"<svg" in data


def test_an_unknown_suffix_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"unknown suffix '\.jpeg'; use one of \.png, \.pdf, \.svg"):
        plots.miss_ratio_by_llc(_analysis(), tmp_path / "x.jpeg")
    assert list(tmp_path.iterdir()) == []


def test_without_a_path_the_png_bytes_are_returned():
    assert plots.ratio_bars(_analysis(), None).startswith(b"\x89PNG")


def test_ratio_bars_hang_from_parity_with_plain_tick_labels(figures):
    plots.ratio_bars(_analysis(ratios=(0.5, 3.0)), "unused.png", title="t")
    (fig,) = figures
    cycles = fig.axes[0]
    (bars,) = [c for c in cycles.containers if isinstance(c, BarContainer)]
    spans = sorted((min(p.get_y(), p.get_y() + p.get_height()), max(p.get_y(), p.get_y() + p.get_height()))
                   for p in bars.patches)
    assert spans == [pytest.approx((0.5, 1.0)), pytest.approx((1.0, 3.0))]  # from 1 down to 0.5, up to 3
    fig.canvas.draw()
    labels = {t.get_text() for t in cycles.get_yticklabels() if t.get_text()}
    assert {"0.5x", "1x", "2x"} <= labels
    assert not any("10^" in t or "times" in t for t in labels)
    for ax in fig.axes:
        assert ax.get_ylabel() and ax.get_xlabel() == "LLC size (MiB)"


def _two_parameter_sweep() -> pd.DataFrame:
    rows = []
    for alpha in (0.8, 1.0, 1.2):
        for ways in (8, 16):
            for model in ("dlrm", "memrec"):
                ratio = 1.0 if model == "dlrm" else alpha * ways / 10
                rows.append({"alpha": alpha, "ways": ways, "model": model, "llc_bytes": 14 * MIB,
                             "cycles_ratio": ratio, "llc_misses_ratio": ratio, "dram_bw_ratio": ratio})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=1)  # the order of finished jobs


def test_a_two_parameter_sweep_draws_one_line_per_value_of_the_second(figures):
    plots.sweep_lines(_two_parameter_sweep(), "alpha", "unused.png", by="ways")
    (fig,) = figures
    for ax in fig.axes:
        lines = [line for line in ax.get_lines() if len(line.get_xdata()) > 2 or line.get_label().startswith("memrec")]
        assert sorted(line.get_label() for line in lines) == ["memrec @ 14 MiB, ways=16", "memrec @ 14 MiB, ways=8"]
        for line in lines:
            ways = 16 if line.get_label().endswith("16") else 8
            assert list(line.get_xdata()) == [0.8, 1.0, 1.2]  # monotone in x: no zig-zag
            np.testing.assert_allclose(line.get_ydata(), [a * ways / 10 for a in (0.8, 1.0, 1.2)])


def test_latency_plot_has_error_bars_and_says_the_tables_were_capped(figures):
    frame = pd.DataFrame([
        {"model": "dlrm", "batch_size": b, "ms_per_item": m, "ms_per_item_stdev": s, "max_rows_cap": 1_000_000}
        for b, m, s in ((1, 0.5, 0.05), (64, 0.1, 0.01))
    ] + [
        {"model": "memrec", "batch_size": b, "ms_per_item": m, "ms_per_item_stdev": s,
         "max_rows_cap": "none (full tables)"}
        for b, m, s in ((1, 0.2, 0.02), (64, 0.05, 0.004))
    ])
    plots.latency_lines(frame, "unused.png")
    (fig,) = figures
    (ax,) = fig.axes
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 2 and all(c.has_yerr for c in bars)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["dlrm (tables capped at 1,000,000 rows)", "memrec"]
    assert "capped" in ax.get_title()
    assert "ms" in ax.get_ylabel() and "batch size" in ax.get_xlabel()


@pytest.mark.parametrize("draw", [
    lambda path: plots.ratio_bars(pd.DataFrame(columns=["model", "llc_bytes", "cycles_ratio"]), path),
    lambda path: plots.ratio_bars(_analysis()[lambda f: f["model"] == "dlrm"], path),
    lambda path: plots.miss_ratio_by_llc(pd.DataFrame(columns=["model", "llc_bytes", "llc_miss_ratio"]), path),
    lambda path: plots.sweep_lines(pd.DataFrame(columns=["alpha", "model", "llc_bytes", "cycles_ratio"]),
                                   "alpha", path),
    lambda path: plots.latency_lines(pd.DataFrame(columns=["model", "batch_size", "ms_per_item"]), path),
    lambda path: plot_mrc([], path, min_bytes=1, max_bytes=2),
])
def test_an_empty_table_is_refused_and_writes_nothing(tmp_path, draw):
    with pytest.raises(ValueError, match="nothing to plot|no curve to draw"):
        draw(tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []
