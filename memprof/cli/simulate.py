"""memprof CLI commands: ``simulate`` (a trace file through the LLC simulator) and
``policies`` (the registered replacement policies).

The work lives in ``memprof.analysis.replay.simulate_trace_file`` (one row per LLC size,
all sizes fed in one pass over the file) and, without --trace, in
``memprof.analysis.experiment.run_analysis``; the click command only turns options into config
objects, checks --max-memory up front, and hands the frame to ``memprof.report``. Long runs
(--checkpoint, --resume, Ctrl-C as a clean stop with partial rows): ``memprof.run.longrun``.
"""

from __future__ import annotations

import json
import os

import click

from memprof.analysis.experiment import estimate_memory, run_analysis
from memprof.analysis.replay import policies_frame, simulate_trace_file
from memprof.cli.analysis_options import cache_setup, llc_list, model_list, timing_options, timing_overrides
from memprof.cli.options import (long_run_options, make_trace, parse_max_memory, parse_model_params, parse_sizes,
                                 parse_warmup, runtime_errors)
from memprof.report.metadata import run_metadata
from memprof.report.tables import FORMATS, emit, emit_analysis
from memprof.run.longrun import Interrupted, checkpoint_policy, finish_partial
from memprof.run.memory_budget import MemoryBudgetError, plan_trace_simulation
from sim.config import CacheConfig
from sim.policies import POLICIES
from sim.sampling import parse_fraction
from sim.sizes import SIZE_HELP
from traces.format.fileio import atomic_write_text
from traces.format.tracefile import DEFAULT_CHUNK_ENTRIES


def _level(size: str | None, ways: int, line_bytes: int, policy: str, seed: int, option: str) -> CacheConfig | None:
    if size is None:
        return None
    try:
        return CacheConfig(size, ways, line_bytes, policy, seed)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


@click.command("simulate")
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False),
              help="Trace file: memprof .trace, raw .npy of uint64 byte addresses, or DineroIV din text.")
@click.option("--llc", "llc", multiple=True, default=("56MB",), show_default=True,
              help=f"LLC size; repeat or comma-separate for one row each ({SIZE_HELP}).")
@click.option("--ways", type=int, default=16, show_default=True, help="LLC associativity.")
@click.option("--policy", type=click.Choice(list(POLICIES), case_sensitive=False), default="lru",
              show_default=True, help="LLC replacement policy (see memprof policies).")
@click.option("--line", "line_bytes", type=int, default=64, show_default=True, help="Line size in bytes (all levels).")
@click.option("--l1", "l1_size", default=None, help="Private L1 size in front of the LLC (e.g. 32KB).")
@click.option("--l1-ways", type=int, default=8, show_default=True)
@click.option("--l1-policy", type=click.Choice(list(POLICIES), case_sensitive=False), default="lru", show_default=True)
@click.option("--l2", "l2_size", default=None, help="Private L2 size in front of the LLC (e.g. 1MB).")
@click.option("--l2-ways", type=int, default=16, show_default=True)
@click.option("--l2-policy", type=click.Choice(list(POLICIES), case_sensitive=False), default="lru", show_default=True)
@click.option("--inclusive/--no-inclusive", default=True, show_default=True,
              help="Inclusive LLC (back-invalidates L1/L2 copies of its victims).")
@click.option("--prefetch/--no-prefetch", default=False, show_default=True, help="Next-line prefetcher at the LLC.")
@click.option("--warmup", default=None,
              help="Warm-up before measuring: a fraction of the trace (0.1) or an access count (100000) "
                   "[default: 0 with --trace, 0.25 of the batches on a workload].")
@click.option("--sample-sets", default=None, help="Simulate this fraction of LLC sets (1/64) and scale the counts.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Partitions of the LLC sets simulated in parallel (same counts as 1).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the random/BRRIP/DRRIP streams and of set sampling.")
@click.option("--model", "models", multiple=True,
              help="Without --trace: representations compared with dlrm (comma list) [default: memrec].")
@click.option("--workload", default="criteo-tb", show_default=True, help="Without --trace: table preset or cardinalities.")
@click.option("--dim", type=int, default=None, help="Without --trace: override the embedding dimension.")
@click.option("--data", type=click.Path(exists=True, dir_okay=False), help="Without --trace: lookups from a dataset.")
@click.option("--batch-size", type=click.IntRange(min=1), default=2048, show_default=True)
@click.option("--batches", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--pooling", default=None, help="Bag size: N, per feature list, poisson:MEAN or uniform:LO-HI.")
@click.option("--alpha", type=float, default=1.05, show_default=True, help="Zipf exponent of token popularity.")
@click.option("--param", "params", multiple=True, metavar="[MODEL.]FIELD=VALUE", help="Representation parameter.")
@click.option("--private-levels/--no-private-levels", default=True, show_default=True,
              help="Without --trace: the CPU preset's L1d and L2 in front of the LLC.")
@timing_options
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write to FILE instead of stdout.")
@click.option("--all-columns", is_flag=True,
              help="Table/Markdown: every column (CSV and JSON always carry every column).")
@click.option("--metadata", "metadata_path", type=click.Path(dir_okay=False), default=None,
              help="Write the run's metadata (seed, versions, host, parameters) to this JSON file.")
@click.option("--progress/--no-progress", default=True, show_default=True)
@long_run_options
@runtime_errors
def simulate(trace_path, llc, ways, policy, line_bytes, l1_size, l1_ways, l1_policy, l2_size, l2_ways, l2_policy,
             inclusive, prefetch, warmup, sample_sets, threads, seed, fmt, output, all_columns, metadata_path, models,
             params, progress, timing_items, timing_file, checkpoint, checkpoint_every, resume, max_memory,
             **workload):
    """Cycles, LLC misses and DRAM bandwidth of each representation versus full DLRM,
    or (with --trace) a memory-access trace replayed through [L1] [L2] LLC; one row per LLC size.

    \b
    Examples:
      memprof simulate --llc 56MB
      memprof simulate --llc 14MB,28MB,56MB --model memrec,robe,ttrec --format markdown
      memprof simulate --trace run.trace --llc 14MB,28MB,56MB --ways 16 --policy lru
      memprof simulate --trace run.npy --llc 56MB --l1 32KB --l2 1MB --warmup 0.1 --format csv
      memprof simulate --trace big.trace --llc 56MB --sample-sets 1/64 --threads 2
      memprof simulate --trace big.trace --checkpoint ckpt/ --max-memory 2GB   (Ctrl-C, then add --resume)
    """
    policy_ = checkpoint_policy(checkpoint, checkpoint_every, resume)
    budget = parse_max_memory(max_memory)
    if trace_path is None:
        def write(frame, metadata):
            emit_analysis(frame, fmt, output, metadata, all_columns=all_columns, metadata_path=metadata_path)

        _simulate_workload(llc, ways, policy, line_bytes, inclusive, warmup, sample_sets, threads, seed, fmt, write,
                           models, params, progress, timing_items, timing_file, workload, policy_, budget)
        return
    if not os.path.exists(trace_path):
        raise click.BadParameter(f"{trace_path}: no such file", param_hint="--trace")
    sizes = parse_sizes(llc, "--llc")
    llc_configs = []
    for size in sizes:
        try:
            llc_configs.append(CacheConfig(size, ways, line_bytes, policy, seed))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--llc/--ways/--line") from None
    l1 = _level(l1_size, l1_ways, line_bytes, l1_policy, seed, "--l1")
    l2 = _level(l2_size, l2_ways, line_bytes, l2_policy, seed, "--l2")
    warm = parse_warmup(warmup or "0")
    if sample_sets is not None:
        try:
            parse_fraction(sample_sets)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--sample-sets") from None
    try:
        estimate = plan_trace_simulation(llc_configs, l1=l1, l2=l2, sample_sets=sample_sets, threads=threads,
                                         budget_bytes=budget, preferred_entries=DEFAULT_CHUNK_ENTRIES)
    except MemoryBudgetError as exc:
        raise click.UsageError(str(exc)) from None
    if budget is not None:
        click.echo(f"memory estimate {estimate.describe()}, chunk {estimate.chunk_entries:,} accesses", err=True)
    try:
        frame = simulate_trace_file(trace_path, llc_configs, l1=l1, l2=l2, inclusive=inclusive, prefetch=prefetch,
                                    warmup=warm, sample_sets=sample_sets, threads=threads,
                                    chunk_entries=estimate.chunk_entries, progress=progress, checkpoint=policy_)
    except Interrupted as stop:
        finish_partial(stop, fmt, output)
    emit(frame, fmt, output)
    if metadata_path is not None:
        parameters = {"trace": os.path.abspath(trace_path), "llc_bytes": sizes, "ways": ways, "policy": policy,
                      "line_bytes": line_bytes, "l1": l1_size, "l2": l2_size, "inclusive": inclusive,
                      "prefetch": prefetch, "warmup": warmup, "sample_sets": sample_sets, "seed": seed}
        atomic_write_text(metadata_path, json.dumps(run_metadata(**parameters), indent=2) + "\n")


@click.command("policies")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def policies(fmt):
    """List the registered LLC replacement policies.

    \b
    Example:
      memprof policies --format markdown
    """
    emit(policies_frame(), fmt)


COMMANDS: list = [simulate, policies]



def _simulate_workload(llc, ways, policy, line_bytes, inclusive, warmup, sample_sets, threads, seed, fmt, write,
                       models, params, progress, timing_items, timing_file, workload, checkpoint, budget):
    """The headline: each representation's kernel trace on a workload, timed, as ratios
    versus dlrm; ``write(frame, metadata)`` emits the (possibly partial) table."""
    warm = 0.25 if warmup is None else parse_warmup(warmup)
    if not isinstance(warm, float) and warm != 0:
        raise click.BadParameter("on a workload the warm-up is a fraction of the batches (e.g. 0.25)",
                                 param_hint="--warmup")
    chosen = model_list(models)
    kwargs = {**workload, "ways": ways, "policy": policy.lower(), "line_bytes": line_bytes,
              "inclusive": inclusive, "warmup": float(warm), "sample_sets": sample_sets, "threads": threads,
              "seed": seed, "progress": progress}
    timing = timing_overrides(workload["cpu"], timing_items, timing_file)
    setup = cache_setup(kwargs, llc_list(llc))
    opts = {k: kwargs[k] for k in ("workload", "dim", "data", "batch_size", "batches", "pooling", "alpha", "seed",
                                   "line_bytes")}
    model_params = parse_model_params(params, chosen)
    traces = [make_trace(m, opts, model_params) for m in chosen]
    try:
        estimate = estimate_memory(traces, setup, kwargs["cpu"], budget)
    except MemoryBudgetError as exc:
        raise click.UsageError(str(exc)) from None
    if budget is not None:
        click.echo(f"memory estimate {estimate.describe()}", err=True)
    try:
        frame, metadata = run_analysis(traces, setup, cpu=kwargs["cpu"], timing_overrides=timing, progress=progress,
                                       checkpoint=checkpoint, interruptible=True)
    except Interrupted as stop:
        stop.metadata.update(seed=seed, alpha=kwargs["alpha"], pooling=kwargs["pooling"])
        stop.metadata = run_metadata(**stop.metadata)
        finish_partial(stop, fmt, None, write)
    metadata.update(seed=seed, alpha=kwargs["alpha"], pooling=kwargs["pooling"])
    write(frame, run_metadata(**metadata))
