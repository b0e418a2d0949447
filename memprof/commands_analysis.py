"""memprof CLI commands: ``reproduce`` (the Mem-Rec LLC-size table) and ``sweep`` (sensitivity)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from memprof.analysis_cli import (analyse, cache_options, cache_setup, llc_list, model_list, output_options,
                                  timing_options, timing_overrides)
from memprof.metadata import run_metadata
from memprof.options import parse_model_params, workload_options
from memprof.report import plots
from memprof.report.tables import FORMATS, emit, render
from memprof.reproduce import MEMREC_PAPER_PARAMS, PUBLISHED, assumptions, comparison
from memprof.sweep import make_jobs, parse_axis, run_sweep
from traces.fileio import atomic_write_text


@click.command()
@workload_options(batches=100)
@cache_options(llc_default="14MB,28MB,56MB")
@timing_options
@click.option("-o", "--output-dir", type=click.Path(file_okay=False), default="memprof-reproduce",
              show_default=True, help="Directory for CSV, Markdown, JSON and PNG outputs.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Format of the comparison printed on stdout.")
@click.option("--progress/--no-progress", default=True, show_default=True)
def reproduce(output_dir, fmt, params, llc, timing_items, timing_file, **kwargs):
    """Regenerate the Mem-Rec LLC-size table (14/28/56 MB) beside the published ratios.

    Runs full DLRM and Mem-Rec (d = d' = 75000, k = 1, k' = 4, l = 128 unless --param
    says otherwise), prints published vs memprof ratios with their relative difference,
    and writes results.{csv,md,json}, comparison.{csv,md}, ratios.png, miss_ratio.png and
    ASSUMPTIONS.md into the output directory.

    \b
    Example:
      memprof reproduce -o out/ --alpha 1.05 --cpu icx
    """
    models = ["dlrm", "memrec"]
    model_params = parse_model_params(params, models)
    model_params["memrec"] = {**MEMREC_PAPER_PARAMS, **model_params.get("memrec", {})}
    timing = timing_overrides(kwargs["cpu"], timing_items, timing_file)
    frame, metadata = analyse(kwargs, models, llc_list(llc), model_params, timing)
    table = comparison(frame)
    notes = assumptions({**metadata, "alpha": kwargs["alpha"]})
    meta = run_metadata(**metadata)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (("results.csv", render(frame, "csv")), ("results.md", render(frame, "markdown")),
                       ("results.json", render(frame, "json", meta)), ("comparison.csv", render(table, "csv")),
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


@click.command()
@click.option("--param", "axes", multiple=True, required=True, metavar="NAME=V1,V2,...",
              help="A swept parameter: workload (alpha, pooling, batch_size, batches, seed, dim), cache "
                   "(ways, policy, warmup), timing (mlp, dram_cycles, ...) or a representation field "
                   "(memrec.d, robe.chunk, ...). Repeat for a product.")
@click.option("--model", "models", multiple=True, help="Representations besides dlrm (comma list) [default: memrec].")
@workload_options(model_params=False, batches=20)
@cache_options(llc_default="14MB,28MB,56MB")
@timing_options
@output_options
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Local worker processes (each point of the sweep is one job).")
@click.option("--plot", type=click.Path(dir_okay=False), help="PNG of each ratio against the first swept parameter.")
def sweep(axes, models, llc, timing_items, timing_file, fmt, output, progress, jobs, plot, **kwargs):
    """Run the analysis over every combination of parameter values (one long-form table).

    \b
    Example:
      memprof sweep --param alpha=0.8,1.0,1.2 --llc 14MB,28MB,56MB --plot sweep.png
    """
    chosen = model_list(models)
    try:
        parsed = [a for item in axes for a in parse_axis(item, chosen)]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--param") from None
    timing = timing_overrides(kwargs["cpu"], timing_items, timing_file)
    setup = cache_setup({**kwargs, "threads": 1 if jobs > 1 else kwargs["threads"]}, llc_list(llc))
    workload = {k: kwargs[k] for k in ("workload", "dim", "batch_size", "batches", "pooling", "alpha", "seed")}
    job_list = make_jobs(parsed, chosen, workload, {}, setup, kwargs["cpu"], timing)

    def done(count, total):
        if progress:
            click.echo(f"sweep: {count}/{total} configurations done", err=True)

    try:
        frame, metas = run_sweep(job_list, workers=jobs, on_done=done)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    names = list(dict.fromkeys(a.name for a in parsed))
    frame = frame[names + [c for c in frame.columns if c not in names]]
    if plot:
        plots.sweep_lines(frame, names[0], plot, title=f"sweep over {names[0]}")
    emit(frame, fmt, output, metadata=run_metadata(axes=list(axes), **(metas[0] if metas else {})))


COMMANDS = [reproduce, sweep]
