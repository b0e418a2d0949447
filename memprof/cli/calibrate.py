"""memprof CLI commands: calibrate (measure compute cycles per lookup) and cpus (list CPU presets)."""

from __future__ import annotations

import click
import pandas as pd

from memprof.hw import calibrate as cal
from memprof.cli.options import (WORKLOAD_OPTIONS, csv_list, kernel_options, output_options, parse_model_params,
                                 runtime_errors)
from memprof.report.tables import emit
from memprof.hw.host import cpu_preset, cpu_preset_names
from sim.sizes import SIZE_HELP, parse_size


NOISY = 1.25  # median/best ratio above which a measurement is flagged as disturbed


def _models(value) -> list[str]:
    models = csv_list(value) or list(cal.MODELS)
    unknown = [m for m in models if m not in cal.MODELS]
    if unknown:
        raise click.BadParameter(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(cal.MODELS)}",
                                 param_hint="--models")
    return list(dict.fromkeys(models))


def _frame(calibration: cal.Calibration) -> pd.DataFrame:
    rows = []
    for model, entry in calibration.models.items():
        rows.append({
            "model": model,
            "cycles_per_lookup": entry.cycles_per_lookup,
            "ns_per_lookup_best": entry.ns_per_lookup_best,
            "ns_per_lookup_median": entry.ns_per_lookup_median,
            "op_count_default_cycles": cal.op_count_cycles(entry),
            "lookups_per_call": entry.lookups_per_call,
            "repeat": entry.repeat,
            "model_bytes": entry.memory_bytes,
        })
    return pd.DataFrame(rows)


def _metadata(calibration: cal.Calibration, path) -> dict:
    return {
        "host_cpu": calibration.host_cpu, "created": calibration.created, "freq_ghz": calibration.freq_ghz,
        "freq_source": calibration.freq_source, "freq_assumed": calibration.freq_assumed,
        "budget_bytes": calibration.budget_bytes, "method": calibration.method, "versions": calibration.versions,
        "params": {m: e.params for m, e in calibration.models.items()}, "path": str(path),
    }


@click.command("calibrate")
@click.option("--models", "models", default=None, metavar="LIST",
              help=f"Comma list of representations [default: all: {','.join(cal.MODELS)}].")
@WORKLOAD_OPTIONS["params"]
@click.option("--dim", type=click.IntRange(min=1), default=128, show_default=True, help="Embedding dimension l.")
@click.option("--repeat", type=click.IntRange(min=1), default=cal.DEFAULT_REPEAT, show_default=True,
              help="Timed kernel calls per model (the best one is used).")
@click.option("--rounds", type=click.IntRange(min=1), default=cal.DEFAULT_ROUNDS, show_default=True,
              help="Split the calls into this many rounds interleaved over the models.")
@click.option("--budget", default=None, metavar="SIZE",
              help=f"Keep each model's arrays under SIZE [default: half the host L2] ({SIZE_HELP}).")
@WORKLOAD_OPTIONS["seed"]
@click.option("--save/--no-save", default=True, show_default=True,
              help=f"Store the result in the cache (${cal.CACHE_ENV} or $XDG_CACHE_HOME/memprof).")
@click.option("--show", is_flag=True, help="Print the stored calibration and measure nothing.")
@kernel_options
@output_options(progress=False)
@runtime_errors
def calibrate_command(models, params, dim, repeat, rounds, budget, seed, save, show, threads, prefetch_distance, fmt,
                      output):
    """Measure each representation's compute cycles per lookup on this machine.

    Times the real Numba kernel on tables small enough to stay in L1/L2, converts
    ns/lookup to cycles with the host frequency (its source is printed), and stores
    the result for the `host` CPU preset.

    \b
    Example:
      memprof calibrate --models dlrm,memrec --repeat 30
    """
    path = cal.calibration_path()
    if show:
        stored = cal.read_calibration(path)
        if stored is None:
            raise click.ClickException(f"no calibration at {path}; run `memprof calibrate`")
        emit(_frame(stored), fmt, output, metadata=_metadata(stored, path), kind="calibrate")
        return
    selected = _models(models)
    model_params = parse_model_params(params, selected)
    budget_bytes = None
    if budget is not None:
        try:
            budget_bytes = parse_size(budget)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--budget") from None
    result = cal.calibrate(
        selected, model_params, dim=dim, repeat=repeat, rounds=rounds, seed=seed, budget_bytes=budget_bytes,
        threads=threads, prefetch_distance=prefetch_distance, progress=lambda m: click.echo(f"calibrating {m} ...", err=True),
    )
    click.echo(f"frequency: {result.freq_ghz:.3f} GHz from {result.freq_source}", err=True)
    for model, entry in result.models.items():
        if entry.ns_per_lookup_median > NOISY * entry.ns_per_lookup_best:
            click.echo(f"warning: {model}: median {entry.ns_per_lookup_median:.1f} ns/lookup is "
                       f"{entry.ns_per_lookup_median / entry.ns_per_lookup_best:.2f}x the best "
                       f"({entry.ns_per_lookup_best:.1f}): the machine was busy; rerun when it is quiet", err=True)
    if save:
        merged, note = cal.merge_calibrations(cal.read_calibration(path), result)
        cal.save_calibration(merged, path)
        click.echo(f"saved to {path} ({note})", err=True)
    emit(_frame(result), fmt, output, metadata=_metadata(result, path), kind="calibrate")


@click.command("cpus")
@output_options(progress=False)
@runtime_errors
def cpus_command(fmt, output):
    """List the CPU presets of the timing model (host = this machine).

    \b
    Example:
      memprof cpus --format markdown
    """
    rows, meta = [], {}
    for name in cpu_preset_names():
        preset = cpu_preset(name)
        t = preset.timing
        rows.append({
            "cpu": name, "freq_ghz": t.freq_ghz, "l1_hit_cycles": t.l1_hit_cycles, "l2_hit_cycles": t.l2_hit_cycles,
            "llc_hit_cycles": t.llc_hit_cycles, "dram_cycles": t.dram_cycles, "mlp": t.mlp,
            "l1d_bytes": preset.l1d.size_bytes, "l2_bytes": preset.l2.size_bytes, "llc_bytes": preset.llc.size_bytes,
            "llc_ways": preset.llc.ways, "peak_dram_gbps": t.peak_dram_gbps if t.peak_dram_gbps else "unknown (no cap)",
            "description": preset.description,
        })
        meta[name] = {"sources": dict(preset.sources), "assumed": list(preset.assumed)}
    emit(pd.DataFrame(rows), fmt, output, metadata=meta, kind="cpus")


COMMANDS = [calibrate_command, cpus_command]
