"""memprof CLI command ``mrc``: LRU miss-ratio curves at every cache size from one pass.

The work lives in ``memprof.analysis.mrc``; the click command parses options, checks
``--max-memory`` up front, calls it and hands the frame to ``memprof.report``.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
import numpy as np

from memprof.analysis.experiment import trace_identity
from memprof.analysis.mrc import MARKED, _file_bound, _frame, _model_bound, estimate_mrc_memory, make_accumulator, mrc_curves
from memprof.cli.options import (WORKLOAD_PARAMS, csv_list, line_option, long_run_options, make_trace,
                                 models_option, output_options, parse_max_memory, parse_model_params, parse_models,
                                 plot_option, refuse, runtime_errors, workload_options, workload_opts)
from memprof.report.tables import emit
from memprof.cli.options import check_trace_line, checkpoint_policy, finish_partial
from memprof.run.longrun import Interrupted, LongRun, trace_file_fingerprint
from memprof.run.memory_budget import MemoryBudgetError
from sim.sizes import SIZE_HELP, parse_size
from traces.format.tracefile import count_accesses, is_stdin, iter_trace_file

DEFAULT_SIZES = "1MB..128MB"
DEFAULT_POINTS = 24


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
@click.option("--trace", "trace_path", type=click.Path(exists=True, dir_okay=False, allow_dash=True),
              help="Trace file (memprof .trace, raw .npy of uint64 byte addresses, DineroIV din, gzip din); "
                   "- reads a memprof trace or (gzip) din from standard input.")
@models_option(help_text="Representation(s) to trace on the workload, comma list (e.g. dlrm,memrec).")
@workload_options
@line_option
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
@output_options
@plot_option("--plot", "plot_path", help_text="Also draw miss ratio vs size (log x) to this file.")
@long_run_options
@click.pass_context
@runtime_errors
def mrc(ctx, trace_path, models, exact, shards, shards_max, shards_seed, sets, sizes_spec, points, working_set, fmt,
        output, plot_path, progress, checkpoint, checkpoint_every, resume, max_memory, **kwargs):
    """LRU miss-ratio curve at every cache size, from one pass over a trace.

    \b
    Examples:
      memprof mrc --model dlrm,memrec --batches 4 --sizes 1MB..128MB --plot mrc.png
      memprof mrc --trace run.trace --shards 0.01 --format csv -o mrc.csv
      memprof mrc --trace run.trace --exact --sets 57344 --sizes 14MB,28MB,56MB
      memprof mrc --model dlrm --working-set
      memprof mrc --trace big.trace --exact --checkpoint ckpt/ --max-memory 8GB   (Ctrl-C, then add --resume)
    """
    method = _method(exact, shards, shards_max)
    if (trace_path is None) == (not models):
        raise click.UsageError("give either --trace FILE or --model NAME[,NAME...]")
    if trace_path is not None:
        refuse(ctx, WORKLOAD_PARAMS, "describes a workload; with --trace the accesses come from the file")
        check_trace_line(ctx, trace_path, kwargs)
        if is_stdin(trace_path) and resume:
            raise click.UsageError("--resume re-reads the trace from the start; standard input cannot be re-read: "
                                   "give the file")
    try:
        sizes = parse_size_spec(sizes_spec, points)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--sizes") from None
    policy = checkpoint_policy(checkpoint, checkpoint_every, resume, kwargs.pop("overwrite_checkpoint"))
    budget = parse_max_memory(max_memory)
    opts = workload_opts(kwargs)
    line_bytes = opts.line_bytes

    def make():
        return make_accumulator(method, line_bytes=line_bytes, sets=sets, rate=shards, max_lines=shards_max,
                                seed=shards_seed)

    try:
        make()  # validate the method and geometry before reading any trace
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    sources, regions, totals = {}, {}, {}
    metadata = {"method": method, "line_bytes": line_bytes, "sets": sets}
    identity = {}
    if trace_path is not None:
        name = Path(trace_path).name
        totals[name] = count_accesses(trace_path, scan=False)
        if is_stdin(trace_path) and method != "shards-size":
            click.echo("memory: the state of standard input's curve grows with its distinct lines, which cannot "
                       "be counted ahead of the pass; only the rest is checked (--shards-max bounds it)", err=True)

        def plan(sample: bool):
            return estimate_mrc_memory(method, {name: _file_bound(trace_path, totals[name], line_bytes, sample)},
                                       sets=sets, rate=shards, max_lines=shards_max, working_set=working_set,
                                       budget_bytes=budget, file_input=True)

        try:  # the sampling pass over the file only where the estimate is shown or the cheap bound does not fit
            try:
                estimate = plan(sample=budget.given)
            except MemoryBudgetError:
                if budget.given:
                    raise
                estimate = plan(sample=True)
        except MemoryBudgetError as exc:
            raise click.UsageError(str(exc)) from None
        chunk_entries = estimate.chunk_entries
        sources[name] = iter_trace_file(trace_path, chunk_entries)
        metadata["trace"] = str(trace_path)
        identity[name] = trace_file_fingerprint(trace_path)
    else:
        names = parse_models(models)
        params = parse_model_params(kwargs.get("params"), names)
        bounds = {}
        for name in names:
            model_trace = make_trace(name, opts, params)
            sources[name] = model_trace
            regions[name] = model_trace.representation.layout.regions
            metadata.setdefault("traces", {})[name] = model_trace.header()
            identity[name] = trace_identity(model_trace)
            bounds[name] = _model_bound(model_trace)
        try:
            estimate = estimate_mrc_memory(method, bounds, sets=sets, rate=shards, max_lines=shards_max,
                                           working_set=working_set, budget_bytes=budget, file_input=False)
        except MemoryBudgetError as exc:
            raise click.UsageError(str(exc)) from None
    if budget.given:
        click.echo(f"memory estimate {estimate.describe()}", err=True)

    longrun = LongRun("mrc", policy, trace={"sources": identity},
                      config={"method": method, "line_bytes": line_bytes, "sets": sets, "rate": shards,
                              "max_lines": shards_max, "seed": shards_seed, "working_set": working_set})
    try:
        with longrun:
            results = mrc_curves(sources, make, working_set=working_set, progress=progress, longrun=longrun,
                                 totals=totals)
    except Interrupted as stop:
        metadata.update(stop.metadata)
        stop.metadata = metadata
        stop.frame = _frame(stop.frame, sizes, working_set, regions, mark_partial=True)
        finish_partial(stop, fmt, output, kind="working-set" if working_set else "mrc")
    metadata["curves"] = {name: done.curve.describe() for name, done in results.items()}
    frame = _frame(results, sizes, working_set, regions)
    emit(frame, fmt, output, metadata=metadata, kind="working-set" if working_set else "mrc")
    if plot_path is not None:
        from memprof.report.mrc_plot import plot_mrc

        plot_mrc([(name, done.curve) for name, done in results.items()], plot_path, min_bytes=min(sizes),
                 max_bytes=max(sizes),
                 title=f"LRU miss ratio ({'fully associative' if sets == 1 else f'{sets} sets'}, "
                       f"{line_bytes} B lines)")
        click.echo(f"plot written to {os.fspath(plot_path)}", err=True)


COMMANDS = [mrc]
