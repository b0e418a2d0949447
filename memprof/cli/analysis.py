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

from memprof.cli.analysis_options import cache_options, cache_setup, llc_list, model_list, output_options, timing_options, \
    timing_overrides
from memprof.run.executors import executor_options, open_executor, spec_from_options
from memprof.run.longrun import EXIT_INTERRUPTED, Interrupted, finish_partial
from memprof.report.metadata import run_metadata
from memprof.cli.options import make_trace, parse_model_params, workload_options
from memprof.report import plots
from memprof.report.tables import FORMATS, emit, emit_analysis, render
from memprof.analysis.reproduce import MEMREC_PAPER_PARAMS, PUBLISHED, assumptions, comparison, gather_rows, reproduce_jobs
from memprof.analysis.sweep import SweepCheckpoint, SweepInterrupted, make_jobs, make_trace_jobs, parse_axis, run_sweep
from sim.config import CacheConfig
from sim.timing.presets import get_preset
from sim.time_sampling import TimeSampling
from traces.format.fileio import atomic_write_text

WORKLOAD_KEYS = ("workload", "dim", "data", "batch_size", "batches", "pooling", "alpha", "seed")


def _check_workload(models: list[str], kwargs: dict, model_params: dict) -> None:
    """Build (not run) each model's trace here, so workload mistakes are usage errors before any job."""
    opts = {k: kwargs[k] for k in (*WORKLOAD_KEYS, "line_bytes")}
    for model in models:
        make_trace(model, opts, model_params)


def _interrupted(stop: SweepInterrupted, what: str, hint: str = "") -> str:
    if not stop.done:
        return f"{what} interrupted before any of its {stop.total} configurations finished; nothing written."
    return (f"{what} interrupted: {stop.done} of {stop.total} configurations finished; "
            f"their rows are written, marked partial.{hint}")


@click.command()
@workload_options(batches=100)
@cache_options(llc_default="14MB,28MB,56MB")
@timing_options
@click.option("-o", "--output-dir", type=click.Path(file_okay=False), default="memprof-reproduce",
              show_default=True, help="Directory for CSV, Markdown, JSON and PNG outputs.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Format of the comparison printed on stdout.")
@click.option("--progress/--no-progress", default=True, show_default=True)
@executor_options
@click.pass_context
def reproduce(ctx, output_dir, fmt, params, llc, timing_items, timing_file, jobs, use_dask, scheduler, **kwargs):
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
    """
    spec = spec_from_options(jobs, use_dask, scheduler)
    models = ["dlrm", "memrec"]
    model_params = parse_model_params(params, models)
    model_params["memrec"] = {**MEMREC_PAPER_PARAMS, **model_params.get("memrec", {})}
    timing = timing_overrides(kwargs["cpu"], timing_items, timing_file)
    sizes = llc_list(llc)
    setup = cache_setup({**kwargs, "threads": 1 if spec.parallel else kwargs["threads"]}, sizes)
    _check_workload(models, kwargs, model_params)
    workload = {k: kwargs[k] for k in WORKLOAD_KEYS}
    job_list = reproduce_jobs(models, workload, model_params, setup, kwargs["cpu"], timing, split=spec.parallel,
                              progress=kwargs["progress"] and not spec.parallel)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)

    def done(count, total):
        if kwargs["progress"] and total > 1:
            click.echo(f"reproduce: {count}/{total} LLC sizes done", err=True)

    try:
        with open_executor(spec) as pool:
            frame, metas = run_sweep(job_list, executor=pool, on_done=done)
    except SweepInterrupted as stop:
        if len(stop.frame):
            partial = gather_rows(stop.frame, models, sizes).assign(partial=True)
            meta = run_metadata(partial=True, configurations_done=stop.done, configurations_total=stop.total)
            for name, text in (("results.csv", render(partial, "csv")), ("results.md", render(partial, "markdown")),
                               ("results.json", render(partial, "json")),
                               ("metadata.json", json.dumps(meta, indent=2, default=str) + "\n")):
                atomic_write_text(out / name, text)
        click.echo(_interrupted(stop, "reproduce", f" ({out}/results.*; no comparison or plots)"), err=True)
        ctx.exit(EXIT_INTERRUPTED)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    frame = gather_rows(frame, models, sizes)
    metadata = {**metas[0], "seed": kwargs["seed"], "alpha": kwargs["alpha"], "pooling": kwargs["pooling"]}
    metadata["cache"] = {**metadata["cache"], "llc_sizes": list(sizes)}
    table = comparison(frame)
    notes = assumptions({**metadata, "alpha": kwargs["alpha"]})
    meta = run_metadata(**metadata, executor=spec.describe())
    for name, text in (("results.csv", render(frame, "csv")), ("results.md", render(frame, "markdown")),
                       ("results.json", render(frame, "json")),
                       ("metadata.json", json.dumps(meta, indent=2, default=str) + "\n"),
                       ("comparison.csv", render(table, "csv")),
                       ("comparison.md", render(table, "markdown"))):
        atomic_write_text(out / name, text)
    atomic_write_text(out / "ASSUMPTIONS.md", "# Assumptions\n\n" + "".join(f"- {n}\n" for n in notes)
                      + "\n```json\n" + json.dumps(meta, indent=2, default=str) + "\n```\n")
    title = f"{metadata['workload']['name']}, alpha {kwargs['alpha']}, {kwargs['cpu']} timing"
    plots.ratio_bars(frame, out / "ratios.png", published=PUBLISHED, title=title)
    plots.miss_ratio_by_llc(frame, out / "miss_ratio.png", title=title)
    emit(table, fmt)
    if fmt == "table":
        click.echo("\nAssumptions:\n" + "".join(f"  - {n}\n" for n in notes) + f"Outputs in {out}/")


def _explicit(ctx, name: str) -> bool:
    return ctx.get_parameter_source(name) not in (click.core.ParameterSource.DEFAULT, None)


def _trace_jobs(ctx, trace_path, parsed, models, llc, kwargs, time_sample, window_warmup, threads):
    """A trace sweep's jobs; --warmup and --private-levels default to off, as in simulate --trace."""
    for given, flag in ((models, "--model"), (kwargs["data"], "--data")):
        if given:
            raise click.UsageError(f"{flag} describes a workload sweep; a --trace sweep takes its accesses from the file")
    try:
        sampling = TimeSampling.parse(time_sample, window_warmup) if time_sample else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--time-sample/--window-warmup") from None
    l1 = l2 = None
    if _explicit(ctx, "private_levels") and kwargs["private_levels"]:
        preset = get_preset(kwargs["cpu"])
        l1 = CacheConfig(preset.l1d.size_bytes, preset.l1d.ways, kwargs["line_bytes"], "lru")
        l2 = CacheConfig(preset.l2.size_bytes, preset.l2.ways, kwargs["line_bytes"], "lru")
    warmup = kwargs["warmup"] if _explicit(ctx, "warmup") else 0
    try:
        return make_trace_jobs(trace_path, parsed, llc_list(llc), ways=kwargs["ways"], policy=kwargs["policy"],
                               line_bytes=kwargs["line_bytes"], warmup=warmup, sample_sets=kwargs["sample_sets"],
                               l1=l1, l2=l2, inclusive=kwargs["inclusive"], seed=kwargs["seed"],
                               time_sampling=sampling, threads=threads)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


@click.command()
@click.option("--param", "axes", multiple=True, metavar="NAME=V1,V2,...",
              help="A swept parameter: workload (alpha, pooling, batch_size, batches, seed, dim), cache "
                   "(ways, policy, warmup, sample_sets), timing (mlp, dram_cycles, ...) or a representation "
                   "field (memrec.d, robe.chunk, ...). Repeat for a product. With --trace: cache names only.")
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False),
              help="Sweep cache configurations over this trace file (memprof .trace, .npy or din) instead of "
                   "a workload: one row per configuration (each --llc size x each --param combination); "
                   "--warmup (a fraction of the trace) and --private-levels are off unless given.")
@click.option("--model", "models", multiple=True, help="Representations besides dlrm (comma list) [default: memrec].")
@workload_options(model_params=False, batches=20)
@cache_options(llc_default="14MB,28MB,56MB")
@timing_options
@output_options
@executor_options
@click.option("--checkpoint", "checkpoint_dir", type=click.Path(file_okay=False),
              help="Save each finished configuration's rows in this directory as it finishes.")
@click.option("--resume", is_flag=True, default=False,
              help="With --checkpoint: reuse the configurations already finished there.")
@click.option("--time-sample", metavar="W/P",
              help="With --trace: measure W accesses out of every P (e.g. 1M/16M) and scale; the rows carry "
                   "llc_misses_stderr.")
@click.option("--window-warmup", default="0", show_default=True, metavar="ACCESSES",
              help="With --time-sample: accesses fed before each window without being counted (e.g. 2M).")
@click.option("--plot", type=click.Path(dir_okay=False), help="PNG of each ratio against the first swept parameter.")
@click.option("--all-columns", is_flag=True,
              help="Table/Markdown: every column (CSV and JSON always carry every column).")
@click.option("--metadata", "metadata_path", type=click.Path(dir_okay=False), default=None,
              help="Write the run's metadata (seed, versions, host, parameters) to this JSON file.")
@click.pass_context
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
    spec = spec_from_options(jobs, use_dask, scheduler)
    if resume and not checkpoint_dir:
        raise click.UsageError("--resume needs --checkpoint DIR (where the finished configurations are)")
    if time_sample and not trace_path:
        raise click.UsageError("--time-sample applies to --trace sweeps")
    if not axes and not trace_path:
        raise click.UsageError("give at least one --param NAME=V1,V2,... (or --trace FILE to sweep cache "
                               "configurations over a trace)")
    if trace_path is not None and not Path(trace_path).is_file():
        raise click.BadParameter(f"{trace_path}: no such file", param_hint="--trace")
    chosen = model_list(models)
    try:
        parsed = [a for item in axes for a in parse_axis(item, chosen)]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--param") from None
    threads = 1 if spec.parallel else kwargs["threads"]
    if trace_path:
        if plot:
            raise click.UsageError("--plot draws the analysis ratios versus dlrm: not available with --trace")
        job_list = _trace_jobs(ctx, trace_path, parsed, models, llc, kwargs, time_sample, window_warmup, threads)
    else:
        timing = timing_overrides(kwargs["cpu"], timing_items, timing_file)
        setup = cache_setup({**kwargs, "threads": threads}, llc_list(llc))
        _check_workload(chosen, kwargs, {})
        workload = {k: kwargs[k] for k in WORKLOAD_KEYS}
        job_list = make_jobs(parsed, chosen, workload, {}, setup, kwargs["cpu"], timing)
    try:
        store = SweepCheckpoint(checkpoint_dir, resume=resume) if checkpoint_dir else None
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
                      metadata_path=metadata_path, keep=tuple(first))

    try:
        with open_executor(spec) as pool:
            frame, metas = run_sweep(job_list, executor=pool, on_done=done, checkpoint=store)
    except SweepInterrupted as stop:
        partial = stop.frame[first + [c for c in stop.frame.columns if c not in first]].assign(partial=True) \
            if len(stop.frame) else stop.frame
        hint = (f" Resume with --checkpoint {checkpoint_dir} --resume." if checkpoint_dir
                else " Add --checkpoint DIR to keep finished configurations across runs.")
        meta = run_metadata(axes=list(axes), partial=True, configurations_done=stop.done,
                            configurations_total=stop.total)
        finish_partial(Interrupted(partial, meta, _interrupted(stop, "sweep", hint)), fmt, output, write)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    frame = frame[first + [c for c in frame.columns if c not in first]]
    if plot:
        if not names:
            raise click.UsageError("--plot needs a swept --param (the x axis)")
        plots.sweep_lines(frame, names[0], plot, title=f"sweep over {names[0]}")
    write(frame, run_metadata(axes=list(axes), executor=spec.describe(), **(metas[0] if metas else {})))


COMMANDS = [reproduce, sweep]
