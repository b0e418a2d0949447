"""memprof CLI commands: ``simulate`` (the headline analysis on a workload, or a trace file
through the LLC simulator) and ``policies`` (the registered replacement policies).

The work lives in ``memprof.analysis.experiment.run_analysis`` (workload) and
``memprof.analysis.replay.simulate_trace_file`` (one row per LLC size, all sizes fed in one
pass over the file); the command turns options into config objects, refuses options that do
not apply to the mode, checks --max-memory up front, and hands the frame to ``memprof.report``.
Long runs (--checkpoint, --resume, Ctrl-C as a clean stop with partial rows): ``memprof.run.longrun``.
"""

from __future__ import annotations

import json
import os

import click

from memprof.analysis.experiment import estimate_memory, label_unavailable, run_analysis
from memprof.analysis.replay import policies_frame, simulate_trace_file
from memprof.cli.options import (TIMING_PARAMS, WORKLOAD_PARAMS, cache_options, cache_setup, check_cache,
                                 level_config, llc_configs, llc_list, long_run_options, make_trace, model_list,
                                 models_option, output_options, parse_max_memory, parse_model_params, parse_warmup,
                                 refuse, runtime_errors, timing_options, timing_overrides, workload_options,
                                 workload_opts)
from memprof.report.metadata import run_metadata
from memprof.report.output import write_or_keep
from memprof.report.schema import LOOKUPS_UNKNOWN_TRACE
from memprof.report.tables import emit, emit_analysis
from memprof.cli.options import check_trace_line, checkpoint_policy, finish_partial
from memprof.run.longrun import Interrupted
from memprof.run.memory_budget import MemoryBudgetError, plan_trace_simulation
from traces.format.tracefile import DEFAULT_CHUNK_ENTRIES, is_stdin


@click.command("simulate")
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False),
              help="Trace file: memprof .trace, raw .npy of uint64 byte addresses, or DineroIV din text "
                   "(instead of a workload; the workload and timing options then do not apply).")
@models_option(help_text="Without --trace: representations compared with dlrm (comma list) [default: memrec].")
@workload_options
@cache_options(llc_default="56MB")
@timing_options
@output_options(columns=True)
@long_run_options
@click.pass_context
@runtime_errors
def simulate(ctx, trace_path, checkpoint, checkpoint_every, resume, max_memory, **kwargs):
    """Cycles, LLC misses and DRAM bandwidth of each representation versus full DLRM,
    or (with --trace) a memory-access trace replayed through [L1] [L2] LLC; one row per LLC size.

    \b
    Examples:
      memprof simulate --llc 56MB
      memprof simulate --llc 14MB,28MB,56MB --model memrec,robe,ttrec --format markdown
      memprof simulate --llc 56MB --l2 256KB --prefetch          (replace the preset's L2, add a prefetcher)
      memprof simulate --trace run.trace --llc 14MB,28MB,56MB --ways 16 --policy lru
      memprof simulate --trace run.npy --llc 56MB --l1 32KB --l2 1MB --warmup 0.1 --format csv
      memprof simulate --trace big.trace --llc 56MB --sample-sets 1/64 --threads 2
      memprof simulate --trace big.trace --checkpoint ckpt/ --max-memory 2GB   (Ctrl-C, then add --resume)
    """
    on_trace = trace_path is not None
    check_cache(ctx, kwargs, preset_levels=not on_trace)
    policy = checkpoint_policy(checkpoint, checkpoint_every, resume, kwargs.pop("overwrite_checkpoint"))
    budget = parse_max_memory(max_memory)
    if on_trace:
        refuse(ctx, (*WORKLOAD_PARAMS, *TIMING_PARAMS), "describes a workload analysis; with --trace the accesses "
                                                       "come from the file")
        refuse(ctx, ("all_columns",), "applies to a workload analysis (a --trace table always has every column)")
        _simulate_trace(trace_path, kwargs, policy, budget)
    else:
        _simulate_workload(ctx, kwargs, policy, budget)


def _simulate_trace(trace_path, kwargs: dict, checkpoint, budget) -> None:
    """A trace file through [L1] [L2] LLC: one row per LLC size."""
    if not is_stdin(trace_path) and not os.path.exists(trace_path):
        raise click.BadParameter(f"{trace_path}: no such file", param_hint="--trace")
    check_trace_line(click.get_current_context(), trace_path, kwargs)
    sizes = llc_list(kwargs["llc"])
    llcs = llc_configs(kwargs, sizes)
    l1, l2 = level_config(kwargs, "l1"), level_config(kwargs, "l2")
    warm = parse_warmup(kwargs["warmup"] or "0")
    if is_stdin(trace_path) and isinstance(warm, float) and warm > 0:
        raise click.BadParameter(f"{kwargs['warmup']}: a fractional warm-up needs the trace's length, a second pass "
                                 "that standard input cannot give; give an access count or a file",
                                 param_hint="--warmup")
    if is_stdin(trace_path) and checkpoint is not None and checkpoint.resume:
        raise click.UsageError("--resume re-reads the trace from the start; standard input cannot be re-read: "
                               "give the file")
    threads, sample_sets = kwargs["threads"], kwargs["sample_sets"]
    try:
        estimate = plan_trace_simulation(llcs, l1=l1, l2=l2, sample_sets=sample_sets, threads=threads,
                                         budget_bytes=budget, preferred_entries=DEFAULT_CHUNK_ENTRIES)
    except MemoryBudgetError as exc:
        raise click.UsageError(str(exc)) from None
    if budget.given:
        click.echo(f"memory estimate {estimate.describe()}, chunk {estimate.chunk_entries:,} accesses", err=True)
    fmt, output = kwargs["fmt"], kwargs["output"]
    try:
        frame = simulate_trace_file(trace_path, llcs, l1=l1, l2=l2, inclusive=kwargs["inclusive"],
                                    prefetch=kwargs["prefetch"], warmup=warm, sample_sets=sample_sets,
                                    threads=threads, chunk_entries=estimate.chunk_entries,
                                    progress=kwargs["progress"], checkpoint=checkpoint)
    except Interrupted as stop:
        finish_partial(stop, fmt, output, kind="simulate-trace")
    parameters = {"trace": trace_path if is_stdin(trace_path) else os.path.abspath(trace_path),
                  "llc_bytes": sizes, "ways": kwargs["ways"],
                  "policy": kwargs["policy"], "line_bytes": kwargs["line_bytes"], "l1": kwargs["l1_size"],
                  "l2": kwargs["l2_size"], "inclusive": kwargs["inclusive"], "prefetch": kwargs["prefetch"],
                  "warmup": kwargs["warmup"], "sample_sets": sample_sets, "cache_seed": kwargs["cache_seed"]}
    emit(frame, fmt, output, run_metadata(**parameters, lookups=LOOKUPS_UNKNOWN_TRACE), kind="simulate-trace")
    if kwargs["metadata_path"] is not None:
        write_or_keep(kwargs["metadata_path"], json.dumps(run_metadata(**parameters), indent=2) + "\n", "metadata")


def _simulate_workload(ctx, kwargs: dict, checkpoint, budget) -> None:
    """The headline: each representation's kernel trace on a workload, timed, as ratios versus dlrm."""
    fmt, output = kwargs["fmt"], kwargs["output"]

    def write(frame, metadata):
        if fmt in ("table", "markdown"):
            frame = label_unavailable(frame)  # CSV/JSON: null, the reason in the metadata
        emit_analysis(frame, fmt, output, metadata, all_columns=kwargs["all_columns"],
                      metadata_path=kwargs["metadata_path"], breakdown=kwargs["breakdown"])

    chosen = model_list(kwargs["models"])
    timing = timing_overrides(kwargs["cpu"], kwargs["timing_items"], kwargs["timing_file"], kwargs["call_overhead"])
    setup = cache_setup(ctx, kwargs, llc_list(kwargs["llc"]))
    model_params = parse_model_params(kwargs["params"], chosen)
    opts = workload_opts(kwargs)
    traces = [make_trace(m, opts, model_params) for m in chosen]
    try:
        estimate = estimate_memory(traces, setup, kwargs["cpu"], budget)
    except MemoryBudgetError as exc:
        raise click.UsageError(str(exc)) from None
    if budget.given:
        click.echo(f"memory estimate {estimate.describe()}", err=True)
    seeds = {"seed": kwargs["seed"], "alpha": kwargs["alpha"], "pooling": kwargs["pooling"]}
    try:
        frame, metadata = run_analysis(traces, setup, cpu=kwargs["cpu"], timing_overrides=timing,
                                       progress=kwargs["progress"], checkpoint=checkpoint, interruptible=True)
    except Interrupted as stop:
        stop.metadata = run_metadata(**{**stop.metadata, **seeds})
        finish_partial(stop, fmt, None, write)
    write(frame, run_metadata(**{**metadata, **seeds}))


@click.command("policies")
@output_options(output=False, progress=False)
def policies(fmt):
    """List the registered LLC replacement policies.

    \b
    Example:
      memprof policies --format markdown
    """
    emit(policies_frame(), fmt, kind="policies")


COMMANDS: list = [simulate, policies]
