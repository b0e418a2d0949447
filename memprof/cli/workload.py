"""memprof CLI command ``workload stats``: how local a workload's (or dataset's) batches are."""

from __future__ import annotations

import click

from memprof.analysis.locality import locality_frame, trace_locality
from memprof.cli.options import (WORKLOAD_PARAMS, line_option, output_options, refuse, runtime_errors,
                                 workload_options, workload_opts)
from memprof.report.tables import emit

DEFAULT_WINDOW = 2048 * 26 * 8  # accesses of one criteo-tb DLRM batch (2048 samples, 26 tables, 8 lines a row)


@click.group("workload")
def workload():
    """Workload tools (see docs/workloads.md)."""


@workload.command("stats")
@click.option("--trace", "trace_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="An address trace instead of a workload: rows are cache lines, batches windows of --window "
                   "accesses.")
@click.option("--window", type=click.IntRange(min=1), default=None,
              help="With --trace: accesses per window [default: 2048 x 26 x 8, one criteo-tb DLRM batch].")
@workload_options(model_params=False)
@line_option
@output_options
@click.pass_context
@runtime_errors
def stats(ctx, trace_path, window, fmt, output, progress, **kwargs):
    """Within-batch locality: rows used once, the share of lookups to the hottest rows, reuse;
    beside the figures Meta published for its production traces.

    \b
    Examples:
      memprof workload stats --workload criteo-tb --batch-size 65536 --batches 2 --skew meta-2021
      memprof workload stats --data day_0.tsv --workload criteo-tb --batch-size 4096 --batches 10
      memprof workload stats --trace run.trace --window 425984
    """
    published = {"published": "Meta dlrm_datasets embedding_bag/{2021,2022}/locality_stats.txt"}
    if trace_path is not None:
        refuse(ctx, WORKLOAD_PARAMS, "describes a workload; with --trace the accesses come from the file")
        window = window or DEFAULT_WINDOW
        measured = trace_locality(trace_path, window, line_bytes=kwargs["line_bytes"])
        frame = locality_frame(None, f"{trace_path} (lines, windows of {window:,} accesses)", measured=measured,
                               batch_size=window)
        emit(frame, fmt, output, {"trace": trace_path, "window_accesses": window, "row": "cache line",
                                  **published}, kind="workload-stats")
        return
    refuse(ctx, ("window",), "applies to --trace")
    spec = workload_opts(kwargs)
    label = spec.data or f"{spec.workload}" + (f" --skew {spec.skew}" if spec.skew else f" alpha {spec.alpha:g}")
    frame = locality_frame(spec, label)
    emit(frame, fmt, output, {"workload": spec.describe(), "skew": spec.skew, "row": "(table, row) pair",
                              **published}, kind="workload-stats")


COMMANDS = [workload]
