"""``memprof reproduce --table pss``: the glue between the reproduce command's options and
``memprof.analysis.pss`` (the PSS paper's Table 2 measured with the real kernels)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from memprof.cli.options import given, refuse

PSS_OPTIONS = ("budget", "pss_rows", "repeats")  # reproduce's options that only --table pss reads
NOT_PSS = ("models", "workload", "dim", "data", "batch_size", "batches", "pooling", "alpha", "skew", "params",
           "phase", "grad", "optimizer", "llc", "jobs", "use_dask", "scheduler", "timing_items", "timing_file")

TABLE_OPTIONS = [
    click.option("--table", "table", type=click.Choice(["memrec", "pss"]), default="memrec", show_default=True,
                 help="memrec: the Mem-Rec LLC-size table; pss: the PSS paper's Table 2 (ROBE forward / backward "
                      "ms per iteration vs compression, rows and chunk size) measured with the real kernels."),
    click.option("--budget", default=None, metavar="SIZE",
                 help="--table pss: memory for one cell's ROBE memory plus its dense gradient; larger cells are "
                      "reported unavailable [default: 2GiB, for a run of a few minutes]."),
    click.option("--pss-rows", default=None, metavar="LIST",
                 help="--table pss: table rows, a comma list of 4M,8M,16M,32M,64M,128M,256M [default: all]."),
    click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True,
                 help="--table pss: timed iterations per cell (the median is kept)."),
]


def table_options(func):
    for option in reversed(TABLE_OPTIONS):
        func = option(func)
    return func


def _rows(text):
    from memprof.analysis.pss import ROW_LABELS, ROWS

    if text is None:
        return ROWS
    labels = [t.strip().upper() for t in text.split(",") if t.strip()]
    bad = [t for t in labels if t not in ROW_LABELS]
    if bad or not labels:
        raise click.BadParameter(f"{text!r}: expected a comma list of {', '.join(ROW_LABELS)}",
                                 param_hint="--pss-rows")
    return tuple(ROWS[ROW_LABELS.index(t)] for t in dict.fromkeys(labels))


def refuse_misplaced(ctx: click.Context, table: str) -> None:
    """Options of the other table are usage errors (exit 2)."""
    if table == "pss":
        refuse(ctx, [n for n in NOT_PSS if n in ctx.params], "does not apply to --table pss")
    else:
        refuse(ctx, [n for n in PSS_OPTIONS if given(ctx, n)], "applies to --table pss only")


def run_pss(ctx: click.Context, output_dir, fmt, seed: int, budget, pss_rows, repeats: int, progress: bool,
            cpu: str = "icx") -> None:
    """Measure the table, write pss.{csv,md,json}, metadata.json and pss_<panel>.png, print the grids."""
    from memprof.analysis.pss import GIB, PANELS, PssConfig, grids_markdown, pss_table
    from memprof.report.metadata import run_metadata
    from memprof.report.output import write_files_or_keep
    from memprof.report.pss_plot import panel_plot
    from memprof.report.tables import render
    from sim.sizes import parse_size

    try:
        budget_bytes = parse_size(budget) if budget is not None else 2 * GIB
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--budget") from None
    config = PssConfig(rows=_rows(pss_rows), repeats=repeats, seed=seed, budget_bytes=budget_bytes, cpu=cpu)
    log = (lambda m: click.echo(m, err=True)) if progress else None
    frame, metadata = pss_table(config, log=log)
    meta = run_metadata(**metadata)
    grids = grids_markdown(frame, metadata)
    out = Path(output_dir)
    write_files_or_keep(out, {"pss.csv": render(frame, "csv", kind="pss"),
                              "pss.json": render(frame, "json", meta, kind="pss"),
                              "pss.md": grids,
                              "metadata.json": json.dumps(meta, indent=2, default=str) + "\n"})
    write_files_or_keep(out, {f"pss_{p}.png": panel_plot(frame, p) for p in PANELS})
    if fmt in (None, "table", "markdown"):
        click.echo(grids)
        click.echo(f"\nOutputs in {out}/ (budget {budget_bytes / GIB:.2f} GiB per cell; "
                   f"{metadata['elapsed_s']} s)", err=True)
    else:
        click.echo(render(frame, fmt, meta, kind="pss"), nl=False)
