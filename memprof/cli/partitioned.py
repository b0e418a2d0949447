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

from memprof.cli.analysis_options import output_options
from memprof.run.executors import executor_options, open_executor, spec_from_options
from memprof.run.longrun import EXIT_INTERRUPTED
from memprof.report.metadata import run_metadata
from memprof.cli.options import parse_model_params, parse_warmup, runtime_errors, size_option, workload_options
from memprof.analysis.partitioned import FileSource, ModelSource, partition_jobs, result_row, simulate_partitioned
from memprof.report.tables import emit
from memprof.analysis.sweep import count_accesses
from sim.config import CacheConfig
from sim.engine.simulator import resolve_warmup
from sim.policies import POLICIES
from sim.sampling import parse_fraction
from sim.time_sampling import TimeSampling
from traces.representations import REGISTRY
from traces.workloads import get_workload



def _level(size, ways, line_bytes, option) -> CacheConfig | None:
    if size is None:
        return None
    try:
        return CacheConfig(size, ways, line_bytes, "lru")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def _source(trace_path, model, params, kwargs):
    if trace_path:
        if not Path(trace_path).is_file():
            raise click.BadParameter(f"{trace_path}: no such file", param_hint="--trace")
        return FileSource(trace_path)
    if kwargs["data"]:
        raise click.UsageError("--data: write the dataset's trace once (memprof trace --data FILE -o run.trace) "
                               "and pass --trace run.trace, so every worker reads the same accesses")
    try:
        get_workload(kwargs["workload"], kwargs["dim"])
        model_params = parse_model_params(params, [model]).get(model, {})
        return ModelSource(model, kwargs["workload"], kwargs["dim"], kwargs["batch_size"], kwargs["batches"],
                           kwargs["seed"], kwargs["alpha"], kwargs["pooling"], kwargs["line_bytes"],
                           tuple(model_params.items()))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _warmup(text: str, source) -> int:
    """An access count, or a fraction of the trace (the trace is then counted once, here)."""
    value = parse_warmup(text)
    if isinstance(value, float) and value > 0:
        total = count_accesses(source.path) if isinstance(source, FileSource) else \
            sum(int(c.shape[0]) for c in source.chunks())
        return resolve_warmup(value, total)
    return resolve_warmup(value, None)


@click.command("simulate-partitioned")
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False),
              help="Trace file every worker can read (memprof .trace, .npy or din) [default: regenerate the "
                   "--model trace of the workload in each worker].")
@click.option("--model", type=click.Choice(list(REGISTRY)), default="dlrm", show_default=True,
              help="Without --trace: the representation whose kernel trace is simulated.")
@workload_options(batches=10)
@size_option("--llc", default="56MB", show_default=True, help_text="LLC size")
@click.option("--ways", type=click.IntRange(min=1), default=16, show_default=True, help="LLC associativity.")
@click.option("--policy", type=click.Choice(list(POLICIES), case_sensitive=False), default="lru", show_default=True,
              help="LLC replacement policy (DRRIP cannot be split by sets).")
@size_option("--l1", "l1_size", default=None, help_text="Private L1 in front of the LLC (e.g. 32KB)")
@click.option("--l1-ways", type=click.IntRange(min=1), default=8, show_default=True)
@size_option("--l2", "l2_size", default=None, help_text="Private L2 in front of the LLC (e.g. 1MB)")
@click.option("--l2-ways", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--inclusive/--no-inclusive", default=True, show_default=True)
@click.option("--prefetch/--no-prefetch", default=False, show_default=True, help="Next-line prefetcher at the LLC.")
@click.option("--partitions", type=click.IntRange(min=1), required=True,
              help="Set partitions (one job each; must divide the set count).")
@click.option("--warmup", default="0", show_default=True,
              help="Accesses fed before counting starts, or a fraction of the trace (0.25).")
@click.option("--sample-sets", default=None, help="Simulate this fraction of LLC sets (1/64); rows carry "
                                                   "llc_misses_stderr.")
@click.option("--time-sample", metavar="W/P", help="Measure W accesses out of every P (e.g. 1M/16M); rows carry "
                                                   "llc_misses_stderr.")
@click.option("--window-warmup", default="0", show_default=True, metavar="ACCESSES",
              help="With --time-sample: accesses fed before each window without being counted.")
@executor_options
@output_options
@click.pass_context
@runtime_errors
def simulate_partitioned_command(ctx, trace_path, model, params, llc, ways, policy, l1_size, l1_ways, l2_size,
                                 l2_ways, inclusive, prefetch, partitions, warmup, sample_sets, time_sample,
                                 window_warmup, jobs, use_dask, scheduler, fmt, output, progress, **kwargs):
    """Simulate ONE cache configuration as --partitions independent jobs (each owns a share of
    the LLC sets and streams the whole trace), merged into exactly the single-process counts.

    \b
    Examples:
      memprof simulate-partitioned --trace big.trace --llc 56MB --partitions 8 --jobs 8
      memprof simulate-partitioned --model dlrm --batches 2000 --partitions 16 --scheduler tcp://10.0.0.5:8786
      memprof simulate-partitioned --trace big.trace --partitions 4 --dask --sample-sets 1/64
    """
    spec = spec_from_options(jobs, use_dask, scheduler)
    source = _source(trace_path, model, params, kwargs)
    line_bytes = kwargs["line_bytes"]
    try:
        config = CacheConfig(llc, ways, line_bytes, policy, kwargs["seed"])
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--llc/--ways/--line") from None
    try:
        if sample_sets is not None:
            parse_fraction(sample_sets)
        sampling = TimeSampling.parse(time_sample, window_warmup) if time_sample else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--sample-sets/--time-sample") from None
    options = dict(l1=_level(l1_size, l1_ways, line_bytes, "--l1"), l2=_level(l2_size, l2_ways, line_bytes, "--l2"),
                   inclusive=inclusive, prefetch=prefetch, warmup=_warmup(warmup, source), sample_sets=sample_sets,
                   time_sampling=sampling)
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
    except KeyboardInterrupt:
        click.echo("simulate-partitioned interrupted: a merged result needs every partition; nothing written",
                   err=True)
        ctx.exit(EXIT_INTERRUPTED)
    row = result_row(result, source, kwargs["seed"], extra=(("partitions", partitions),))
    emit(pd.DataFrame([row]), fmt, output,
         metadata=run_metadata(source=source.describe(), llc=config.describe(), partitions=partitions,
                               executor=spec.describe()))


COMMANDS = [simulate_partitioned_command]
