"""memprof CLI command ``simulate-partitioned``: one large cache configuration split by LLC sets
into independent jobs (``memprof.analysis.partitioned``) on local processes or Dask, merged into
exactly the single-process counts.

A separate command rather than ``sweep --partitions``: a sweep's unit is a configuration
and its output one row per configuration; here the unit is a slice of ONE configuration
and the output is its one merged row.
"""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from memprof.cli.options import (WORKLOAD_PARAMS, cache_options, check_cache, level_config, llc_configs,
                                 output_options, parse_model_params, parse_warmup, refuse, runtime_errors,
                                 workload_options, workload_opts)
from memprof.cli.options import check_trace_line, end_progress_lines, executor_options, executor_spec
from memprof.run.driver import resolve_warmup
from memprof.run.memory_budget import MemoryBudgetError, default_budget, plan_trace_simulation
from memprof.run.executors import open_executor
from memprof.run.longrun import Interrupted
from memprof.report.metadata import run_metadata
from memprof.analysis.partitioned import (FileSource, measured_lookups, partition_jobs, result_row,
                                         simulate_partitioned, source_length)
from memprof.report.tables import emit
from sim.time_sampling import TimeSampling
from traces.representations import REGISTRY


def _source(trace_path, model, params, kwargs):
    if trace_path:
        if trace_path == "-":
            raise click.BadParameter("-: every partition reads the whole trace; standard input can be read once: "
                                     "give a file", param_hint="--trace")
        if not Path(trace_path).is_file():
            raise click.BadParameter(f"{trace_path}: no such file", param_hint="--trace")
        return FileSource(trace_path)
    if kwargs["data"]:
        raise click.UsageError("--data: write the dataset's trace once (memprof trace --data FILE -o run.trace) "
                               "and pass --trace run.trace, so every worker reads the same accesses")
    return workload_opts(kwargs, model, parse_model_params(params, [model]))


def _warmup(text: str, source) -> int:
    """An access count, or a fraction of the trace (the trace is then counted once, here)."""
    return resolve_warmup(parse_warmup(text), lambda: source_length(source))


@click.command("simulate-partitioned")
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False),
              help="Trace file every worker can read (memprof .trace, .npy or din) [default: regenerate the "
                   "--model trace of the workload in each worker]; the workload options then do not apply.")
@click.option("--model", type=click.Choice(list(REGISTRY)), default="dlrm", show_default=True,
              help="Without --trace: the representation whose kernel trace is simulated.")
@workload_options
@cache_options(llc_multiple=False, exclude=("private_levels", "threads"))
@click.option("--partitions", type=click.IntRange(min=1), required=True,
              help="Set partitions (one job each; must divide the set count; DRRIP cannot be split).")
@click.option("--time-sample", metavar="W/P", help="Measure W accesses out of every P (e.g. 1M/16M); rows carry "
                                                   "llc_misses_stderr.")
@click.option("--window-warmup", default="0", show_default=True, metavar="ACCESSES",
              help="With --time-sample: accesses fed before each window without being counted.")
@executor_options
@output_options
@click.pass_context
@runtime_errors
def simulate_partitioned_command(ctx, trace_path, model, params, llc, partitions, warmup, sample_sets, time_sample,
                                 window_warmup, jobs, use_dask, scheduler, fmt, output, progress, **kwargs):
    """Simulate ONE cache configuration as --partitions independent jobs (each owns a share of
    the LLC sets and streams the whole trace), merged into exactly the single-process counts.

    \b
    Examples:
      memprof simulate-partitioned --trace big.trace --llc 56MB --partitions 8 --jobs 8
      memprof simulate-partitioned --model dlrm --batches 2000 --partitions 16 --scheduler tcp://10.0.0.5:8786
      memprof simulate-partitioned --trace big.trace --partitions 4 --dask --sample-sets 1/64
    """
    spec = executor_spec(jobs, use_dask, scheduler)
    if trace_path is not None:
        refuse(ctx, ("model", *WORKLOAD_PARAMS), "describes a workload; with --trace every worker reads the file")
    check_cache(ctx, {**kwargs, "sample_sets": sample_sets}, preset_levels=False)
    if trace_path is not None and trace_path != "-":
        check_trace_line(ctx, trace_path, kwargs)
    source = _source(trace_path, model, params, kwargs)
    config = llc_configs(kwargs, [llc])[0]
    try:
        sampling = TimeSampling.parse(time_sample, window_warmup) if time_sample else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--time-sample") from None
    options = dict(l1=level_config(kwargs, "l1"), l2=level_config(kwargs, "l2"), inclusive=kwargs["inclusive"],
                   prefetch=kwargs["prefetch"], warmup=_warmup(warmup or "0", source), sample_sets=sample_sets,
                   time_sampling=sampling)
    try:  # all partitions together hold one simulator's state: checked against the memory available here
        plan_trace_simulation([config], l1=options["l1"], l2=options["l2"], sample_sets=sample_sets,
                              budget_bytes=default_budget(flag=None))
    except MemoryBudgetError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        partition_jobs(source, config, partitions, **options)  # geometry checks before anything runs
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--partitions") from None
    if progress:
        click.echo(f"simulate-partitioned: {partitions} partitions of {config.describe()} on {spec.describe()}",
                   err=True)

    def done(count, total):
        if progress:
            click.echo(f"simulate-partitioned: {count}/{total} partitions done", err=True)

    try:
        with open_executor(spec) as pool:
            result = simulate_partitioned(source, config, partitions, executor=pool, on_done=done, **options)
    except Interrupted as stop:
        end_progress_lines()
        click.echo(stop.message, err=True)
        ctx.exit(stop.exit_code)
    lookups, why = measured_lookups(source, options["warmup"], sampling)
    seed = kwargs["cache_seed"] if trace_path else kwargs["seed"]  # a trace file's only seed is the cache's
    row = result_row(result, source, seed, extra=(("partitions", partitions), ("cache_seed", kwargs["cache_seed"])),
                     lookups=lookups)
    emit(pd.DataFrame([row]), fmt, output, kind="simulate-partitioned",
         metadata=run_metadata(source=source.describe(), llc=config.describe(), partitions=partitions,
                               executor=spec.describe(), **({"lookups": why} if why else {})))


COMMANDS = [simulate_partitioned_command]
