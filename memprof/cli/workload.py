"""memprof CLI command ``workload stats``: how local a workload's (or dataset's) batches are."""

from __future__ import annotations

import click

from memprof.analysis.locality import locality_frame
from memprof.cli.options import output_options, runtime_errors, workload_options, workload_opts
from memprof.report.tables import emit


@click.group("workload")
def workload():
    """Workload tools (see docs/workloads.md)."""


@workload.command("stats")
@workload_options(model_params=False)
@output_options
@runtime_errors
def stats(fmt, output, progress, **kwargs):
    """Within-batch locality: rows used once, the share of lookups to the hottest rows, reuse;
    beside the figures Meta published for its production traces.

    \b
    Examples:
      memprof workload stats --workload criteo-tb --batch-size 65536 --batches 2 --skew meta-2021
      memprof workload stats --data day_0.tsv --workload criteo-tb --batch-size 4096 --batches 10
    """
    spec = workload_opts(kwargs)
    label = spec.data or f"{spec.workload}" + (f" --skew {spec.skew}" if spec.skew else f" alpha {spec.alpha:g}")
    frame = locality_frame(spec, label)
    emit(frame, fmt, output, {"workload": spec.describe(), "skew": spec.skew, "published": "Meta dlrm_datasets "
                              "embedding_bag/{2021,2022}/locality_stats.txt"}, kind="workload-stats")


COMMANDS = [workload]
