"""memprof CLI commands: ``trace`` (write a representation's access trace), ``trace info``, ``trace export``."""

from __future__ import annotations

import click
import pandas as pd

from memprof.cli.options import (line_option, make_trace, output_file_option, output_options, parse_model_params,
                                 runtime_errors, workload_options, workload_opts)
from memprof.run.progress import Progress
from memprof.report.tables import emit
from traces.representations import REGISTRY
from traces.format.tracefile import TraceWriter, export_trace, trace_info


@click.group(invoke_without_command=True)
@workload_options
@line_option
@click.option("--model", type=click.Choice(list(REGISTRY)), default="memrec", show_default=True,
              help="Embedding representation whose reads are traced.")
@output_file_option("-o", "--output", what="trace file", help="Trace file to write (memprof format).")
@click.pass_context
@runtime_errors
def trace(ctx, model, output, params, **kwargs):
    """Write the exact line-address trace of one representation on a workload.

    \b
    Examples:
      memprof trace --workload criteo-tb --model memrec --batch-size 2048 --batches 10 --seed 0 -o run.trace
      memprof trace info run.trace --format json
      memprof trace export run.trace --to din -o run.din
    """
    if ctx.invoked_subcommand is not None:
        return
    if not output:
        raise click.UsageError("memprof trace needs -o FILE (or a subcommand: info, export)")
    source = make_trace(model, workload_opts(kwargs), parse_model_params(params, [model]))
    header = {**source.header(), "seed": kwargs["seed"]}
    progress = Progress(f"trace {model}", unit="lines")
    with TraceWriter(output, header) as writer:
        for chunk in source:
            writer.write(chunk)
            progress.update(chunk.shape[0])
        if not writer.total:  # raising inside the writer discards the file
            raise click.UsageError(f"{model} on this workload reads nothing ({source.lookups:,} lookups): "
                                   f"no trace written to {output}")
    progress.close()
    click.echo(f"wrote {writer.total:,} line addresses ({source.lookups:,} lookups, "
               f"{source.representation.memory_bytes:,} model bytes) to {output}", err=True)


@trace.command("info")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--line", "line_bytes", type=int, default=None, help="Line size for the footprint [default: the trace's].")
@output_options(output=False, progress=False)
@runtime_errors
def info(path, line_bytes, fmt):
    """Counts, footprint (distinct lines and bytes) and per-table breakdown of a trace file.

    \b
    Example:
      memprof trace info run.trace --format json
    """
    result = trace_info(path, line_bytes=line_bytes)
    frame = pd.DataFrame(
        [{"region": "total", "accesses": result["accesses"], "reads": result["reads"], "writes": result["writes"],
          "distinct_lines": result["distinct_lines"], "footprint_bytes": result["footprint_bytes"]}]
        + [{"region": r["name"], **{k: r[k] for k in ("accesses", "reads", "writes", "distinct_lines",
                                                       "footprint_bytes")}}
           for r in result["regions"] if r["accesses"]]
    )
    metadata = {k: result[k] for k in ("path", "format", "line_bytes", "header")}
    if fmt == "table":
        click.echo(f"{result['path']}: {result['format']} trace, line {result['line_bytes']} B")
    emit(frame, fmt, metadata=metadata, kind="trace-info")


@trace.command("export")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--to", "to", type=click.Choice(["din", "npy"]), required=True,
              help="din: DineroIV text '<label> <hex>' (0 read, 1 write); npy: uint64 byte addresses.")
@output_file_option("-o", "--output", what="export file", required=True, help="File to write ('-' = stdout).")
@runtime_errors
def export(path, to, output):
    """Export a trace to DineroIV din text or a raw .npy of uint64 byte addresses.

    \b
    Example:
      memprof trace export run.trace --to din -o run.din
    """
    count = export_trace(path, to, output)
    click.echo(f"wrote {count:,} accesses to {output}", err=True)


COMMANDS = [trace]
