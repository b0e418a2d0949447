"""Options and runner shared by the analysis commands (simulate on workloads, reproduce, sweep)."""

from __future__ import annotations

import os

import click

from memprof.analysis.experiment import BASELINE, CacheSetup, run_analysis
from memprof.cli.options import csv_list, make_trace, parse_model_params, parse_models, parse_sizes, size_option
from memprof.report.tables import FORMATS
from sim.timing.presets import list_presets
from sim.timing.model import load_overrides_toml, parse_timing_overrides

DEFAULT_MODELS = "memrec"


def cache_options(func=None, *, llc_default: str | None = "56MB"):
    """LLC geometry, private levels, warm-up, sampling, threads."""
    if func is None:
        return lambda f: cache_options(f, llc_default=llc_default)
    options = [
        size_option("--llc", multiple=True, default=(llc_default,) if llc_default else (),
                    show_default=bool(llc_default),
                    help_text="LLC size; repeat or give a comma list for one row per size"),
        click.option("--ways", type=click.IntRange(min=1), default=16, show_default=True, help="LLC associativity."),
        click.option("--policy", default="lru", show_default=True, help="LLC replacement policy (memprof policies)."),
        click.option("--private-levels/--no-private-levels", default=True, show_default=True,
                     help="Simulate the CPU preset's private L1d and L2 in front of the LLC."),
        click.option("--inclusive/--no-inclusive", default=False, show_default=True,
                     help="LLC inclusive of the private levels (back-invalidation)."),
        click.option("--warmup", type=click.FloatRange(0, 1, max_open=True), default=0.25, show_default=True,
                     help="Fraction of the batches that only warm the caches (statistics reset after)."),
        click.option("--sample-sets", default=None,
                     help="Simulate a seeded fraction of LLC sets (e.g. 1/64; needs --no-private-levels)."),
        click.option("--threads", type=click.IntRange(min=1), default=os.cpu_count() or 1, show_default=True,
                     help="Threads for set-partitioned simulation (same counts as one thread)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def timing_options(func):
    """CPU preset and timing-model overrides."""
    options = [
        click.option("--cpu", default="icx", show_default=True,
                     help=f"Timing preset: {', '.join(list_presets())}."),
        click.option("--timing", "timing_items", multiple=True, metavar="KEY=VALUE",
                     help="Override a timing parameter, e.g. mlp=6 or dram_cycles=400 (repeatable)."),
        click.option("--timing-file", type=click.Path(exists=True, dir_okay=False),
                     help="TOML file with a [timing] table of overrides."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def output_options(func):
    options = [
        click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True),
        click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the table here (atomically)."),
        click.option("--progress/--no-progress", default=True, show_default=True, help="Progress on stderr."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def timing_overrides(cpu: str, items, path) -> dict:
    """Merge --timing-file and --timing (the latter wins); click errors name the problem."""
    if cpu not in list_presets():
        raise click.BadParameter(f"unknown CPU preset {cpu!r}; known: {', '.join(list_presets())}", param_hint="--cpu")
    try:
        overrides = load_overrides_toml(path) if path else {}
        given = parse_timing_overrides(items)
        per_model = {**overrides.get("compute_cycles_per_lookup", {}), **given.pop("compute_cycles_per_lookup", {})}
        overrides.update(given)
        if per_model:
            overrides["compute_cycles_per_lookup"] = per_model
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--timing") from None
    return overrides


def cache_setup(kwargs: dict, llc_sizes: list[int]) -> CacheSetup:
    try:
        return CacheSetup(tuple(llc_sizes), ways=kwargs["ways"], policy=kwargs["policy"],
                          line_bytes=kwargs["line_bytes"], private_levels=kwargs["private_levels"],
                          inclusive=kwargs["inclusive"], warmup=kwargs["warmup"],
                          sample_sets=kwargs["sample_sets"], threads=kwargs["threads"])
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def model_list(models) -> list[str]:
    """The requested models with the dlrm baseline first (added when missing)."""
    chosen = parse_models(models or DEFAULT_MODELS)
    return [BASELINE] + [m for m in chosen if m != BASELINE]


def analyse(kwargs: dict, models: list[str], llc_sizes: list[int], model_params: dict, timing: dict):
    """Build traces, run the analysis; runtime problems become one-line click errors."""
    setup = cache_setup(kwargs, llc_sizes)
    opts = {k: kwargs[k] for k in ("workload", "dim", "data", "batch_size", "batches", "pooling", "alpha",
                                   "seed", "line_bytes")}
    traces = [make_trace(m, opts, model_params) for m in models]
    try:
        frame, metadata = run_analysis(traces, setup, cpu=kwargs["cpu"], timing_overrides=timing,
                                       progress=kwargs.get("progress", True))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    metadata.update(seed=kwargs["seed"], alpha=kwargs["alpha"], pooling=kwargs["pooling"])
    return frame, metadata


def llc_list(values, option="--llc") -> list[int]:
    sizes = parse_sizes(values, option)
    if not sizes:
        raise click.UsageError(f"give at least one {option} size")
    return sizes


__all__ = ["cache_options", "timing_options", "output_options", "analyse", "model_list", "llc_list",
           "timing_overrides", "parse_model_params", "csv_list"]
