"""memprof CLI command ``mrc``: LRU miss-ratio curves at every cache size from one pass.

The work lives in ``mrc_curves`` (library function: traces in, curves out) and
``curve_frame`` (curves -> one long DataFrame); the click command parses options, calls
them and hands the frame to ``memprof.report``.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
import numpy as np
import pandas as pd

from memprof.options import csv_list, make_trace, parse_model_params, parse_models, runtime_errors, \
    workload_options, workload_opts
from memprof.report.tables import FORMATS, emit
from memprof.working_set import working_set_frame, working_set_rows
from sim.mrc import MissRatioCurve, StackDistances
from sim.shards import ShardsRate, ShardsSize
from sim.sizes import SIZE_HELP, parse_size

MB = 1 << 20
MARKED = (14 * MB, 28 * MB, 56 * MB)
DEFAULT_SIZES = "1MB..128MB"
DEFAULT_POINTS = 24

CURVE_COLUMNS = ("representation", "method", "sets", "ways", "line_bytes", "size_bytes", "miss_ratio", "misses",
                 "accesses", "footprint_bytes")


def parse_size_spec(text: str, points: int = DEFAULT_POINTS) -> list[int]:
    """'A..B' -> ``points`` log-spaced sizes from A to B plus 14/28/56 MB where inside;
    'A,B,C' -> those sizes. Binary units. ValueError names the problem."""
    text = str(text).strip()
    if ".." in text:
        low_text, _, high_text = text.partition("..")
        low, high = parse_size(low_text), parse_size(high_text)
        if high < low:
            raise ValueError(f"size range {text!r}: the end must not be below the start")
        if points < 2:
            raise ValueError(f"--points {points}: need at least 2 points for a range")
        sizes = set(np.geomspace(low, high, points).round().astype(np.int64).tolist())
        sizes.update(m for m in MARKED if low <= m <= high)
        return sorted(int(s) for s in sizes)
    sizes = [parse_size(item) for item in csv_list(text)]
    if not sizes:
        raise ValueError(f"sizes {text!r}: give a range A..B or a comma list")
    return sorted(set(sizes))


def make_accumulator(method: str, *, line_bytes: int, sets: int = 1, rate: float | None = None,
                     max_lines: int | None = None, seed: int = 0):
    """The one-pass accumulator for ``method`` ('exact', 'shards-rate', 'shards-size')."""
    if method == "exact":
        return StackDistances(line_bytes=line_bytes, sets=sets)
    if sets != 1:
        raise ValueError("--sets needs --exact: SHARDS samples lines, which estimates fully-associative curves only")
    if method == "shards-rate":
        return ShardsRate(rate, line_bytes=line_bytes, seed=seed)
    if method == "shards-size":
        return ShardsSize(max_lines, line_bytes=line_bytes, seed=seed)
    raise ValueError(f"method {method!r}: expected exact, shards-rate or shards-size")


def mrc_curves(traces: dict, make) -> dict:
    """Feed each named trace (an iterable of uint64 chunks) to a fresh accumulator from
    ``make()``; return {name: accumulator} (call ``.curve()`` on each)."""
    out = {}
    for name, chunks in traces.items():
        acc = make()
        for chunk in chunks:
            acc.update(chunk)
        out[name] = acc
    return out


def curve_frame(curves: dict[str, MissRatioCurve], sizes: list[int]) -> pd.DataFrame:
    """One long frame: a row per (curve, size); sizes round down to whole ways (lines per set)."""
    frames = []
    for label, curve in curves.items():
        table = curve.table(sizes)
        n = table["size_bytes"].size
        frames.append(pd.DataFrame({
            "representation": [label] * n,
            "method": [curve.method_label] * n,
            "sets": np.full(n, curve.sets, np.int64),
            "ways": (table["size_bytes"] // (curve.sets * curve.line_bytes)).astype(np.int64),
            "line_bytes": np.full(n, curve.line_bytes, np.int64),
            "size_bytes": table["size_bytes"].astype(np.int64),
            "miss_ratio": table["miss_ratio"].astype(np.float64),
            "misses": np.round(table["misses"]).astype(np.int64),
            "accesses": np.full(n, curve.accesses, np.int64),
            "footprint_bytes": np.full(n, int(round(curve.footprint_bytes)), np.int64),
        }))
    if not frames:
        return pd.DataFrame(columns=list(CURVE_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(CURVE_COLUMNS)]


def _method(exact: bool, shards: float | None, shards_max: int | None) -> str:
    chosen = [name for name, on in (("--exact", exact), ("--shards", shards is not None),
                                    ("--shards-max", shards_max is not None)) if on]
    if len(chosen) > 1:
        raise click.UsageError(f"choose one method, got {' and '.join(chosen)}")
    if shards is not None:
        if not 0 < shards <= 1:
            raise click.BadParameter(f"{shards}: the sampling rate must be in (0, 1]", param_hint="--shards")
        return "shards-rate"
    if shards_max is not None:
        return "shards-size"
    return "exact"


@click.command("mrc")
@click.option("--trace", "trace_path", type=click.Path(exists=True, dir_okay=False),
              help="Trace file (memprof .trace, raw .npy of uint64 byte addresses, or DineroIV din).")
@click.option("--model", "models", default=None,
              help="Representation(s) to trace on the workload, comma list (e.g. dlrm,memrec).")
@workload_options
@click.option("--exact", is_flag=True, help="Exact LRU stack distances (the default method).")
@click.option("--shards", type=float, default=None, metavar="RATE",
              help="Fixed-rate SHARDS at sampling rate RATE, e.g. 0.01 (approximate, fast).")
@click.option("--shards-max", type=click.IntRange(min=1), default=None, metavar="LINES",
              help="Fixed-size SHARDS keeping at most LINES sampled lines (bounded memory).")
@click.option("--shards-seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the SHARDS sampling hash.")
@click.option("--sets", type=click.IntRange(min=1), default=1, show_default=True,
              help="Set count for set-associative LRU curves (set = line mod N; point k = N x k ways x line "
                   "bytes); 1 = fully associative.")
@click.option("--sizes", "sizes_spec", default=DEFAULT_SIZES, show_default=True,
              help=f"Range A..B (log-spaced, plus 14/28/56MB inside it) or comma list ({SIZE_HELP}).")
@click.option("--points", type=click.IntRange(min=2), default=DEFAULT_POINTS, show_default=True,
              help="Points of a size range.")
@click.option("--working-set", is_flag=True,
              help="Print the working-set report (footprint per representation and table, sizes reaching 2x "
                   "and 1.1x the compulsory miss ratio) instead of the curve.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write to FILE (atomically).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Also draw miss ratio vs size (log x) to this PNG.")
@runtime_errors
def mrc(trace_path, models, exact, shards, shards_max, shards_seed, sets, sizes_spec, points, working_set, fmt,
        output, plot_path, **kwargs):
    """LRU miss-ratio curve at every cache size, from one pass over a trace.

    \b
    Examples:
      memprof mrc --model dlrm,memrec --batches 4 --sizes 1MB..128MB --plot mrc.png
      memprof mrc --trace run.trace --shards 0.01 --format csv -o mrc.csv
      memprof mrc --trace run.trace --exact --sets 57344 --sizes 14MB,28MB,56MB
      memprof mrc --model dlrm --working-set
    """
    method = _method(exact, shards, shards_max)
    if (trace_path is None) == (models is None):
        raise click.UsageError("give either --trace FILE or --model NAME[,NAME...]")
    try:
        sizes = parse_size_spec(sizes_spec, points)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--sizes") from None
    opts = workload_opts(kwargs)
    line_bytes = opts["line_bytes"]

    traces, regions, metadata = {}, {}, {"method": method, "line_bytes": line_bytes, "sets": sets}
    if trace_path is not None:
        from traces.tracefile import iter_trace_file

        traces[Path(trace_path).name] = iter_trace_file(trace_path)
        metadata["trace"] = str(trace_path)
    else:
        names = parse_models(models)
        params = parse_model_params(kwargs.get("params"), names)
        for name in names:
            model_trace = make_trace(name, opts, params)
            traces[name] = model_trace
            regions[name] = model_trace.representation.layout.regions
            metadata.setdefault("traces", {})[name] = model_trace.header()

    def make():
        return make_accumulator(method, line_bytes=line_bytes, sets=sets, rate=shards, max_lines=shards_max,
                                seed=shards_seed)

    try:
        make()  # validate the method and geometry before reading any trace
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    accumulators = mrc_curves(traces, make)
    curves = {name: acc.curve() for name, acc in accumulators.items()}
    metadata["curves"] = {name: c.describe() for name, c in curves.items()}

    if working_set:
        rows = []
        for name, acc in accumulators.items():
            lines, scale = acc.footprint_sample()
            rows.extend(working_set_rows(name, curves[name], lines, scale, regions.get(name)))
        frame = working_set_frame(rows)
    else:
        frame = curve_frame(curves, sizes)
    emit(frame, fmt, output, metadata=metadata)
    if plot_path is not None:
        from memprof.report.mrc_plot import plot_mrc

        plot_mrc(list(curves.items()), plot_path, min_bytes=min(sizes), max_bytes=max(sizes),
                 title=f"LRU miss ratio ({'fully associative' if sets == 1 else f'{sets} sets'}, "
                       f"{line_bytes} B lines)")
        click.echo(f"plot written to {os.fspath(plot_path)}", err=True)


COMMANDS = [mrc]
