"""memprof CLI commands: calibrate (measure compute cycles per lookup and the memory system) and
cpus (list CPU presets)."""

from __future__ import annotations

import click
import pandas as pd

from memprof.hw import calibrate as cal
from memprof.hw import microbench
from memprof.cli.options import (WORKLOAD_OPTIONS, csv_list, kernel_options, output_options, parse_model_params,
                                 plot_option, runtime_errors)
from memprof.report.schema import CALIBRATE_COLUMNS
from memprof.report.tables import emit
from memprof.hw.host import cpu_preset, cpu_preset_names
from sim.sizes import SIZE_HELP, format_size, parse_size


NOISY = 1.25  # median/best ratio above which a measurement is flagged as disturbed


def _models(value) -> list[str]:
    models = csv_list(value) or list(cal.MODELS)
    unknown = [m for m in models if m not in cal.MODELS]
    if unknown:
        raise click.BadParameter(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(cal.MODELS)}",
                                 param_hint="--models")
    return list(dict.fromkeys(models))


def _max_footprint(ctx, param, value):
    """--max-footprint: a size of at least 1 MiB (one line and exit 2 otherwise)."""
    try:
        size = parse_size(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if size < microbench.MIN_MAX_FOOTPRINT:
        raise click.BadParameter(f"{value!r} is below 1 MiB: the latency curve needs footprints past the L1 and L2")
    return size


def _number(v, unit: str):
    """A table cell: bytes as whole numbers, large values without decimals, the rest to 3 figures."""
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return v
    if unit == "bytes" or abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"


def _how(source: str) -> str:
    return source.split(":", 1)[0] if ":" in source else "?"


def _frame(calibration: cal.Calibration, fmt: str | None = None) -> pd.DataFrame:
    """One row per machine parameter, then one per model's compute cost (``CALIBRATE_COLUMNS``);
    the table and Markdown views leave out the long ``source`` and ``note`` (CSV/JSON carry them)."""
    rows = []
    for name, entry in calibration.values.items():
        measured = entry.get("value")
        rows.append({
            "quantity": name, "model": "",
            "value": measured if measured is not None else "unavailable",
            "median": entry.get("median", ""), "unit": entry["unit"], "how": _how(entry["source"]),
            "footprint_bytes": entry.get("footprint_bytes", ""), "source": entry["source"], "note": "",
        })
    for model, entry in calibration.models.items():
        level = {"l1": "half the L1d", "l2": "half the L2", "budget": "--budget"}.get(entry.resident_level,
                                                                                    entry.resident_level)
        rows.append({
            "quantity": "compute_cycles_per_lookup", "model": model, "value": entry.cycles_per_lookup,
            "median": entry.ns_per_lookup_median * calibration.freq_ghz, "unit": "cycles/lookup", "how": "measured",
            "footprint_bytes": entry.memory_bytes,
            "source": (f"measured: best of {entry.repeat} pooled() calls of {entry.lookups_per_call} lookups, arrays "
                       f"{entry.memory_bytes} bytes within {level} ({entry.budget_bytes} bytes), minus the empty "
                       f"call; {entry.ns_per_lookup_best:.2f} ns x {calibration.freq_ghz:.3f} GHz"),
            "note": (f"resident in {entry.resident_level}; ns/lookup best {entry.ns_per_lookup_best:.2f}, median "
                     f"{entry.ns_per_lookup_median:.2f}; op-count default {cal.op_count_cycles(entry):.1f} cycles"),
        })
    frame = pd.DataFrame(rows, columns=list(CALIBRATE_COLUMNS))
    if fmt in ("table", "markdown"):
        frame = frame.drop(columns=["source", "note"])
        for column in ("value", "median"):
            frame[column] = [_number(v, unit) for v, unit in zip(frame[column], frame["unit"])]
    return frame


def _metadata(calibration: cal.Calibration, path) -> dict:
    return {
        "host_cpu": calibration.host_cpu, "created": calibration.created, "freq_ghz": calibration.freq_ghz,
        "freq_source": calibration.freq_source, "freq_assumed": calibration.freq_assumed,
        "budget_bytes": calibration.budget_bytes, "method": calibration.method, "versions": calibration.versions,
        "params": {m: e.params for m, e in calibration.models.items()},
        "resident_level": {m: e.resident_level for m, e in calibration.models.items()}, "path": str(path),
        "memory": calibration.memory,
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
              help=f"Keep each model's arrays under SIZE [default: half the host L1d, else half its L2] ({SIZE_HELP}).")
@WORKLOAD_OPTIONS["seed"]
@click.option("--memory/--no-memory", default=True, show_default=True,
              help="Also measure the memory system: latency per level (dependent pointer chase, 4 KiB pages and "
                   "THP), page-walk cost, lines in flight, per-core row bandwidth.")
@click.option("--max-footprint", default=format_size(microbench.DEFAULT_MAX_FOOTPRINT), metavar="SIZE",
              callback=_max_footprint, show_default=True,
              help=f"Largest footprint of the memory part, at least 1MiB; capped by the memory available "
                   f"({SIZE_HELP}).")
@plot_option("--plot", help_text="Write the latency-versus-footprint curve (both page sizes, log x) to FILE.")
@click.option("--save/--no-save", default=True, show_default=True,
              help=f"Store the result in the cache (${cal.CACHE_ENV} or $XDG_CACHE_HOME/memprof).")
@click.option("--show", is_flag=True, help="Print the stored calibration and measure nothing.")
@kernel_options
@output_options(progress=False)
@runtime_errors
def calibrate_command(models, params, dim, repeat, rounds, budget, seed, memory, max_footprint, plot, save, show,
                      threads, prefetch_distance, fmt, output):
    """Measure this machine for the timing model: compute per lookup and the memory system.

    Times the real Numba kernels on tables small enough to stay in L1 (else L2), the
    kernel call overhead, and (--memory) load-to-use latency per level, page-walk cost,
    lines in flight and row bandwidth; cycles = ns x the host frequency (its source is
    printed). Every value says whether it was measured, read from sysfs or assumed.
    Stored for the `host` CPU preset.

    \b
    Example:
      memprof calibrate --models dlrm,memrec --plot latency.png
      memprof calibrate --no-memory --repeat 30
    """
    path = cal.calibration_path()
    if show:
        stored = cal.read_calibration(path)
        if stored is None:
            raise click.ClickException(f"no calibration at {path}; run `memprof calibrate`")
        if plot:
            from memprof.hw.microbench_plot import latency_plot

            latency_plot(stored.memory, plot, stored.freq_ghz, title=f"{stored.host_cpu}, {stored.created[:10]}")
        emit(_frame(stored, fmt), fmt, output, metadata=_metadata(stored, path), kind="calibrate")
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
        threads=threads, prefetch_distance=prefetch_distance, memory=memory, max_footprint=max_footprint,
        progress=lambda model: click.echo(f"calibrating {model} ...", err=True),
        log=lambda message: click.echo(message, err=True),
    )
    click.echo(f"frequency: {result.freq_ghz:.3f} GHz from {result.freq_source}", err=True)
    for model, entry in result.models.items():
        if entry.ns_per_lookup_median > NOISY * entry.ns_per_lookup_best:
            click.echo(f"warning: {model}: median {entry.ns_per_lookup_median:.1f} ns/lookup is "
                       f"{entry.ns_per_lookup_median / entry.ns_per_lookup_best:.2f}x the best "
                       f"({entry.ns_per_lookup_best:.1f}): the machine was busy; rerun when it is quiet", err=True)
    for name in microbench.FIELDS:
        entry = result.values.get(name)
        if entry is not None and entry["source"].startswith("assumed"):
            click.echo(f"note: {name} is assumed, not measured: {entry['source']}", err=True)
    if save:
        try:
            old = cal.read_calibration(path)
        except ValueError as exc:  # an unreadable or old-schema file is replaced, and the user told
            click.echo(f"replacing {path}: {exc}", err=True)
            old = None
        merged, note = cal.merge_calibrations(old, result)
        cal.save_calibration(merged, path)
        click.echo(f"saved to {path} ({note})", err=True)
    if plot and result.memory:
        from memprof.hw.microbench_plot import latency_plot

        latency_plot(result.memory, plot, result.freq_ghz, title=f"{result.host_cpu}, {result.created[:10]}")
        click.echo(f"latency curve written to {plot}", err=True)
    elif plot:
        click.echo("no latency curve: --no-memory measured none", err=True)
    emit(_frame(result, fmt), fmt, output, metadata=_metadata(result, path), kind="calibrate")


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
            "llc_hit_cycles": t.llc_hit_cycles, "dram_cycles": t.dram_cycles,
            # the timing model is being rewritten (issue 14): show what this version has
            **{name: getattr(t, name) for name in ("mlp", "fill_buffers", "page_walk_cycles") if hasattr(t, name)},
            "l1d_bytes": preset.l1d.size_bytes, "l2_bytes": preset.l2.size_bytes, "llc_bytes": preset.llc.size_bytes,
            "llc_ways": preset.llc.ways, "peak_dram_gbps": t.peak_dram_gbps if t.peak_dram_gbps else "unknown (no cap)",
            "description": preset.description,
        })
        meta[name] = {"sources": dict(preset.sources), "assumed": list(preset.assumed)}
    emit(pd.DataFrame(rows), fmt, output, metadata=meta, kind="cpus")


COMMANDS = [calibrate_command, cpus_command]
