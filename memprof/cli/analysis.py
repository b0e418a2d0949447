"""memprof CLI commands: ``reproduce`` (the Mem-Rec LLC-size table) and ``sweep`` (sensitivity,
over a workload's analysis or over a trace file's cache configurations).

Both run their independent configurations through ``memprof.run.executors`` (``--jobs``,
``--dask``, ``--scheduler``); ``sweep`` also checkpoints finished configurations
(``--checkpoint DIR``, ``--resume``). Ctrl-C writes the rows finished so far, marked
``partial``, and exits 130.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from memprof.cli.options import (TIMING_PARAMS, WORKLOAD_PARAMS, cache_options, cache_setup, check_cache,
                                 level_config, llc_list, make_trace, model_list, models_option, output_options,
                                 parse_model_params, parse_warmup, refuse, runtime_errors, timing_options,
                                 timing_overrides, workload_options, workload_opts)
from memprof.cli.options import (end_progress_lines, executor_options, executor_spec, finish_partial,
                                 output_dir_option, plot_option)
from memprof.cli.options import check_analysis_memory, check_trace_line
from memprof.cli.pss import run_pss, refuse_misplaced, table_options
from memprof.run.checkpoint_store import CheckpointStore
from memprof.run.executors import open_executor
from memprof.run.longrun import Interrupted
from memprof.report.metadata import run_metadata
from memprof.report import plots
from memprof.report.output import write_files_or_keep
from memprof.report.tables import emit, emit_analysis, render
from memprof.analysis.reproduce import (MEMREC_PAPER_PARAMS, PUBLISHED, assumptions, cell_notes, comparison, gather_rows,
                                       reproduce_jobs)
from memprof.analysis.sweep import make_jobs, make_trace_jobs, parse_axes, run_sweep
from sim.time_sampling import TimeSampling

def _trace_specs(models: list[str], kwargs: dict, model_params: dict) -> list:
    """Each model's TraceSpec; its trace is built (not run) here, so workload mistakes are usage
    errors before any job."""
    specs = [workload_opts(kwargs, model, model_params) for model in models]
    for spec in specs:
        make_trace(spec.model, spec)
    return specs


def _interrupted(stop: Interrupted, what: str, hint: str = "") -> str:
    if not stop.done:
        return f"{what} interrupted before any of its {stop.total} configurations finished; nothing written."
    return (f"{what} interrupted: {stop.done} of {stop.total} configurations finished; "
            f"their rows are written, marked partial.{hint}")


@click.command()
@workload_options
@cache_options(llc_default="14MB,28MB,56MB")
@timing_options
@output_dir_option("-o", "--output-dir", default="memprof-reproduce", show_default=True,
                   help="Directory for CSV, Markdown, JSON and PNG outputs (created after the run; "
                        "a directory you have is kept, its files of these names replaced).")
@output_options(output=False)
@executor_options
@table_options
@click.pass_context
@runtime_errors
def reproduce(ctx, output_dir, fmt, params, llc, timing_items, timing_file, jobs, use_dask, scheduler, table="memrec",
              budget=None, pss_rows=None, repeats=3, **kwargs):
    """Regenerate the Mem-Rec LLC-size table (14/28/56 MB) beside the published ratios.

    Runs full DLRM and Mem-Rec (d = d' = 75000, k = 1, k' = 4, l = 128 unless --param
    says otherwise), prints published vs memprof ratios with their relative difference,
    and writes results.{csv,md,json}, comparison.{csv,md}, ratios.png, miss_ratio.png and
    ASSUMPTIONS.md into the output directory. With --jobs N, --dask or --scheduler each
    LLC size is one job (same numbers as a serial run).

    \b
    Examples:
      memprof reproduce -o out/ --alpha 1.05 --cpu icx
      memprof reproduce -o out/ --jobs 3
      memprof reproduce --table pss -o pss/ --pss-rows 4M,16M,64M     (PSS Table 2, docs/training.md)
    """
    refuse_misplaced(ctx, table)
    if table == "pss":
        return run_pss(ctx, output_dir, fmt, kwargs["seed"], budget, pss_rows, repeats, kwargs["progress"],
                       cpu=kwargs["cpu"])
    spec = executor_spec(jobs, use_dask, scheduler)
    check_cache(ctx, kwargs, preset_levels=True)
    models = ["dlrm", "memrec"]
    model_params = parse_model_params(params, models)
    model_params["memrec"] = {**MEMREC_PAPER_PARAMS, **model_params.get("memrec", {})}
    timing = timing_overrides(kwargs["cpu"], timing_items, timing_file, kwargs["call_overhead"])
    sizes = llc_list(llc)
    setup = cache_setup(ctx, kwargs, sizes, threads=1 if spec.parallel else None)
    specs = _trace_specs(models, kwargs, model_params)
    check_analysis_memory(specs, setup, kwargs["cpu"])
    job_list = reproduce_jobs(specs, setup, kwargs["cpu"], timing,
                              split=spec.parallel,
                              progress=kwargs["progress"] and not spec.parallel)
    out = Path(output_dir)  # created only when the results are written

    def done(count, total):
        if kwargs["progress"] and total > 1:
            click.echo(f"reproduce: {count}/{total} LLC sizes done", err=True)

    try:
        with open_executor(spec) as pool:
            frame, metas = run_sweep(job_list, executor=pool, on_done=done)
    except Interrupted as stop:
        if len(stop.frame):
            partial = gather_rows(stop.frame, models, sizes).assign(partial=True)
            meta = run_metadata(partial=True, configurations_done=stop.done, configurations_total=stop.total)
            write_files_or_keep(out, {"results.csv": render(partial, "csv", kind="reproduce"),
                                      "results.md": render(partial, "markdown", kind="reproduce"),
                                      "results.json": render(partial, "json", meta, kind="reproduce"),
                                      "metadata.json": json.dumps(meta, indent=2, default=str) + "\n"})
        end_progress_lines()
        click.echo(_interrupted(stop, "reproduce", f" ({out}/results.*; no comparison or plots)"), err=True)
        ctx.exit(stop.exit_code)
    frame = gather_rows(frame, models, sizes)
    metadata = {**metas[0], "seed": kwargs["seed"], "alpha": kwargs["alpha"], "pooling": kwargs["pooling"]}
    metadata["cache"] = {**metadata["cache"], "llc_sizes": list(sizes)}
    table = comparison(frame)
    notes = assumptions({**metadata, "alpha": kwargs["alpha"]})
    cells = cell_notes(frame)
    meta = run_metadata(**metadata, executor=spec.describe())
    title = f"{metadata['workload']['name']}, alpha {kwargs['alpha']}, {kwargs['cpu']} timing"
    write_files_or_keep(out, {
        "results.csv": render(frame, "csv", kind="reproduce"),
        "results.md": render(frame, "markdown", kind="reproduce"),
        "results.json": render(frame, "json", meta, kind="reproduce"),
        "metadata.json": json.dumps(meta, indent=2, default=str) + "\n",
        "comparison.csv": render(table, "csv", kind="comparison"),
        "comparison.md": render(table, "markdown", kind="comparison"),
        "ASSUMPTIONS.md": "# Assumptions\n\n" + "".join(f"- {n}\n" for n in notes)
                          + "\n## Each published cell\n\n" + "".join(f"- {n}\n" for n in cells)
                          + "\n```json\n" + json.dumps(meta, indent=2, default=str) + "\n```\n",
    })
    write_files_or_keep(out, {  # after the tables: a plot that fails never costs the results
        "ratios.png": plots.ratio_bars(frame, None, published=PUBLISHED, title=title),
        "miss_ratio.png": plots.miss_ratio_by_llc(frame, None, title=title),
        "cpi_stack.png": plots.cpi_stack(frame, None, title=f"{title}: where the cycles go"),
    })
    emit(table, fmt, kind="comparison")
    if fmt == "table":
        click.echo("\nAssumptions:\n" + "".join(f"  - {n}\n" for n in notes) + f"Outputs in {out}/")


def _trace_jobs(ctx, trace_path, parsed, llc, kwargs, time_sample, window_warmup, threads):
    """A trace sweep's jobs; --warmup defaults to 0 (as in simulate --trace)."""
    refuse(ctx, (*WORKLOAD_PARAMS, *TIMING_PARAMS), "describes a workload sweep; a --trace sweep takes its "
                                                   "accesses from the file")
    refuse(ctx, ("plot",), "draws the analysis ratios versus dlrm: not available with --trace")
    try:
        sampling = TimeSampling.parse(time_sample, window_warmup) if time_sample else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--time-sample/--window-warmup") from None
    warmup = parse_warmup(kwargs["warmup"] or "0")
    try:
        return make_trace_jobs(trace_path, parsed, llc_list(llc), ways=kwargs["ways"], policy=kwargs["policy"],
                               line_bytes=kwargs["line_bytes"], warmup=warmup, sample_sets=kwargs["sample_sets"],
                               l1=level_config(kwargs, "l1"), l2=level_config(kwargs, "l2"),
                               inclusive=kwargs["inclusive"], prefetch=kwargs["prefetch"],
                               seed=kwargs["cache_seed"], time_sampling=sampling, threads=threads)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


@click.command()
@click.option("--param", "axes", multiple=True, metavar="NAME=V1,V2,...",
              help="A swept parameter: workload (alpha, pooling, batch_size, batches, seed, dim), cache "
                   "(ways, policy, warmup, sample_sets), timing (fill_buffers, dram_cycles, ...) or a representation "
                   "field (memrec.d, robe.chunk, ...). Repeat for a product. With --trace: cache names only.")
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False),
              help="Sweep cache configurations over this trace file (memprof .trace, .npy or din) instead of "
                   "a workload: one row per configuration (each --llc size x each --param combination); "
                   "the workload and timing options then do not apply and --warmup defaults to 0.")
@models_option()
@workload_options(model_params=False)
@cache_options(llc_default="14MB,28MB,56MB")
@timing_options
@output_options(columns=True)
@executor_options
@output_dir_option("--checkpoint", "checkpoint_dir", what="checkpoint directory", default=None,
                   help="Save each finished configuration's rows in this directory as it finishes.")
@click.option("--resume", is_flag=True, default=False,
              help="With --checkpoint: reuse the configurations already finished there.")
@click.option("--time-sample", metavar="W/P",
              help="With --trace: measure W accesses out of every P (e.g. 1M/16M) and scale; the rows carry "
                   "llc_misses_stderr.")
@click.option("--window-warmup", default="0", show_default=True, metavar="ACCESSES",
              help="With --time-sample: accesses fed before each window without being counted (e.g. 2M).")
@plot_option("--plot", help_text="Plot each ratio against the first swept parameter (one line per value of "
                                  "the second, per model and LLC size).")
@click.pass_context
@runtime_errors
def sweep(ctx, axes, trace_path, models, llc, timing_items, timing_file, fmt, output, progress, jobs, use_dask,
          scheduler, checkpoint_dir, resume, time_sample, window_warmup, plot, all_columns, metadata_path, **kwargs):
    """Run the analysis over every combination of parameter values (one long-form table),
    or (with --trace) every cache configuration over a trace file.

    \b
    Examples:
      memprof sweep --param alpha=0.8,1.0,1.2 --llc 14MB,28MB,56MB --plot sweep.png
      memprof sweep --param alpha=0.8,1.0,1.2 --jobs 2 --checkpoint ck/   (Ctrl-C, then add --resume)
      memprof sweep --trace run.trace --llc 14MB,28MB,56MB --param ways=8,16 --param policy=lru,srrip
      memprof sweep --trace big.trace --llc 56MB --param sample_sets=1/64,1/16 --scheduler tcp://host:8786
    """
    spec = executor_spec(jobs, use_dask, scheduler)
    if resume and not checkpoint_dir:
        raise click.UsageError("--resume needs --checkpoint DIR (where the finished configurations are)")
    if not trace_path:
        refuse(ctx, ("time_sample", "window_warmup"), "applies to --trace sweeps")
    check_cache(ctx, kwargs, preset_levels=trace_path is None)
    if not axes and not trace_path:
        raise click.UsageError("give at least one --param NAME=V1,V2,... (or --trace FILE to sweep cache "
                               "configurations over a trace)")
    if trace_path == "-":
        raise click.BadParameter("-: a sweep reads the trace once per configuration; standard input can be read "
                                 "once: give a file", param_hint="--trace")
    if trace_path is not None and not Path(trace_path).is_file():
        raise click.BadParameter(f"{trace_path}: no such file", param_hint="--trace")
    chosen = model_list(models)
    try:
        parsed = parse_axes(axes, chosen)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--param") from None
    threads = 1 if spec.parallel else kwargs["threads"]
    if trace_path:
        check_trace_line(ctx, trace_path, kwargs)
        job_list = _trace_jobs(ctx, trace_path, parsed, llc, kwargs, time_sample, window_warmup, threads)
    else:
        timing = timing_overrides(kwargs["cpu"], timing_items, timing_file, kwargs["call_overhead"])
        setup = cache_setup(ctx, kwargs, llc_list(llc), threads=threads)
        specs = _trace_specs(chosen, kwargs, {})
        check_analysis_memory(specs, setup, kwargs["cpu"])  # the unswept configuration
        job_list = make_jobs(parsed, specs, setup, kwargs["cpu"], timing)
    try:
        store = CheckpointStore(checkpoint_dir, resume=resume) if checkpoint_dir else None
    except (ValueError, OSError) as exc:
        raise click.UsageError(str(exc)) from None
    if progress and spec.parallel:
        click.echo(f"sweep: {len(job_list)} configurations on {spec.describe()}", err=True)

    def done(count, total):
        if progress:
            click.echo(f"sweep: {count}/{total} configurations done", err=True)

    names = list(dict.fromkeys(a.name for a in parsed))
    first = (["trace"] if trace_path else []) + names

    def write(frame, metadata):
        emit_analysis(frame, fmt, output, metadata, all_columns=all_columns or trace_path is not None,
                      metadata_path=metadata_path, keep=tuple(first), kind="sweep", breakdown=kwargs["breakdown"])

    try:
        with open_executor(spec) as pool:
            frame, metas = run_sweep(job_list, executor=pool, on_done=done, checkpoint=store)
    except Interrupted as stop:
        partial = stop.frame[first + [c for c in stop.frame.columns if c not in first]].assign(partial=True) \
            if len(stop.frame) else stop.frame
        hint = (f" Resume with --checkpoint {checkpoint_dir} --resume." if checkpoint_dir
                else " Add --checkpoint DIR to keep finished configurations across runs.")
        meta = run_metadata(axes=list(axes), partial=True, configurations_done=stop.done,
                            configurations_total=stop.total)
        finish_partial(stop.replace(frame=partial, metadata=meta, message=_interrupted(stop, "sweep", hint)), fmt,
                       output, write)
    frame = frame[first + [c for c in frame.columns if c not in first]]
    write(frame, run_metadata(axes=list(axes), executor=spec.describe(), **(metas[0] if metas else {})))
    if plot:  # after the table: a failing plot never costs the results
        plots.sweep_lines(frame, names[0], plot, by=names[1] if len(names) > 1 else None,
                          title=f"sweep over {', '.join(names[:2])}")


COMMANDS = [reproduce, sweep]
