"""memprof CLI: ``validate`` (the timing model's predicted ns/lookup against the real kernels on
this machine; ``memprof.analysis.validate``)."""

from __future__ import annotations

import datetime as _dt
import os

import click

from memprof.cli.options import (WORKLOAD_OPTIONS, csv_list, kernel_options, models_option, output_options,
                                 parse_batch_sizes, parse_model_params, parse_models, plot_option, runtime_errors)
from sim.sizes import SIZE_HELP, format_size, parse_size

QUICK = {"footprints": "8MB", "skews": "1.05", "batch_sizes": "1,64,1024", "ring_lookups": 1 << 14}


class NoCalibration(click.ClickException):
    """No usable calibration: one line, exit 2 (the user runs `memprof calibrate` or adds --calibrate)."""

    exit_code = 2


def _budget(text) -> int:
    """--budget, else half of RAM (``memprof bench``'s budget) or half the memory available now when
    that is less: on a shared machine the largest footprint must not push other processes out."""
    from memprof.hw.bench import default_budget_bytes
    from memprof.run.memory_budget import available_memory_bytes

    if text is None:
        return min(default_budget_bytes(), available_memory_bytes() // 2)
    try:
        return parse_size(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--budget") from None


def _footprints(text: str | None, budget: int) -> tuple[int, ...]:
    from memprof.analysis.validate import DEFAULT_FOOTPRINTS_MB, MIN_FOOTPRINT_BYTES

    items = csv_list(text) or [f"{mb}MB" for mb in DEFAULT_FOOTPRINTS_MB] + ["budget"]
    sizes = []
    for item in items:
        try:
            size = budget if item.lower() == "budget" else parse_size(item)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--footprints") from None
        if size < MIN_FOOTPRINT_BYTES:
            raise click.BadParameter(f"{item}: a footprint must be at least {format_size(MIN_FOOTPRINT_BYTES)}",
                                     param_hint="--footprints")
        if size > budget:
            raise click.BadParameter(f"{item}: above the memory budget {format_size(budget)} (--budget)",
                                     param_hint="--footprints")
        sizes.append(size)
    return tuple(dict.fromkeys(sizes))


def _batch_sizes(text: str) -> tuple[int, ...]:
    return tuple(dict.fromkeys(parse_batch_sizes(text)))


def _skews(text: str, option: str) -> tuple[str, ...]:
    from memprof.analysis.validate import parse_skew

    items = csv_list(text)
    if not items:
        raise click.BadParameter("give at least one skew", param_hint=option)
    try:
        return tuple(dict.fromkeys(parse_skew(item).text for item in items))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def _calibration(calibrate: bool, variants, log) -> dict:
    """The calibration the host preset will use (path, date, CPU); with --calibrate, `memprof
    calibrate` (its defaults, its own process) runs first; NoCalibration when none is usable here."""
    import subprocess
    import sys

    from memprof.hw import calibrate as cal
    from memprof.hw.host import host_cpu_name

    path = cal.calibration_path()
    if calibrate:
        log(f"running `memprof calibrate` (stored in {path}) ...")
        done = subprocess.run([sys.executable, "-m", "memprof", "calibrate", "--format", "csv", "-o", os.devnull],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            lines = (done.stderr or "").strip().splitlines()
            raise RuntimeError(f"memprof calibrate failed (exit {done.returncode}): {lines[-1] if lines else ''}")
    try:
        stored = cal.read_calibration(path)
    except ValueError as exc:
        raise NoCalibration(f"{exc}, or add --calibrate") from None
    here = host_cpu_name()
    if stored is None:
        raise NoCalibration(f"no calibration at {path}: run `memprof calibrate` first, or add --calibrate")
    if stored.host_cpu != here:
        raise NoCalibration(f"the calibration at {path} is for {stored.host_cpu!r}, this CPU is {here!r}: run "
                            "`memprof calibrate` here, or add --calibrate")
    missing = sorted({v.model for v in variants} - set(stored.models))
    if missing:
        raise NoCalibration(f"the calibration at {path} has no entry for {', '.join(missing)}: run "
                            f"`memprof calibrate --models {','.join(missing)}`, or add --calibrate")
    return {"path": str(path), "created": stored.created, "host_cpu": stored.host_cpu, "freq_ghz": stored.freq_ghz,
            "freq_source": stored.freq_source, "models": sorted(stored.models)}


@click.command("validate")
@models_option(default=None, help_text="Comma list of representations [default: dlrm,memrec,robe,qr,hashing,ttrec; "
                                        "memrec runs once per pooling mode unless --param memrec.pooling=... is given; "
                                        "dlrm is always included].")
@WORKLOAD_OPTIONS["params"]
@WORKLOAD_OPTIONS["workload"]
@WORKLOAD_OPTIONS["seed"]
@click.option("--footprints", default=None, metavar="LIST",
              help=f"dlrm table footprints (each table capped to fit), 1MB .. the budget; 'budget' = the budget "
                   f"[default: 8MB,64MB,512MB,budget] ({SIZE_HELP}).")
@click.option("--budget", default=None, metavar="SIZE",
              help="Memory budget for the tables [default: half of RAM, or half the memory available now if less].")
@click.option("--skews", default=None, metavar="LIST",
              help="dlrm skews: Zipf exponents or presets (meta-2021, meta-2022) [default: 0,0.8,1.05,meta-2021].")
@click.option("--compare-skews", default="1.05", show_default=True, metavar="LIST",
              help="Skews at which the other representations run (at the largest footprint, beside dlrm).")
@click.option("--batch-sizes", default=None, metavar="LIST", help="Batch sizes [default: 1,64,1024,16384].")
@click.option("--ring-lookups", type=click.IntRange(min=1), default=None,
              help="Lookups in each point's ring of batches (at least one batch) [default: 131072; --quick: 16384].")
@click.option("--repeat", type=click.IntRange(min=5), default=5, show_default=True,
              help="Timed passes over the ring after the warm pass (best and median reported).")
@click.option("--quick", is_flag=True, default=False,
              help="A smoke run: footprint 8MB, skew 1.05, batches 1,64,1024, 16384-lookup rings "
                   "(options given explicitly win).")
@click.option("--calibrate/--no-calibrate", "calibrate", default=False, show_default=True,
              help="Run `memprof calibrate` first (otherwise a missing calibration is an error).")
@click.option("--cores", type=click.IntRange(min=1), default=None,
              help="Validate the many-core model instead: N processes (private tables) and N threads (shared "
                   "tables) at the first footprint [default here: 64MB] and batch size [1024], skew 1.05, "
                   "models dlrm,memrec unless --model; N at most the CPUs here.")
@plot_option("--plot", help_text="Write the parity plot (predicted vs measured, log-log, y = x).")
@kernel_options
@output_options(progress=True)
@runtime_errors
def validate_command(models, params, workload, seed, footprints, budget, skews, compare_skews, batch_sizes,
                     ring_lookups, repeat, quick, calibrate, cores, plot, threads, prefetch_distance, fmt, output,
                     progress):
    """Predicted (simulator + timing model, host preset + calibration) against measured ns/lookup
    of the real kernels on this machine, one row per point, a parity plot and a summary with the
    targets (median |error| <= 15%, every point <= 35%, speed-ups vs dlrm within 20%).

    dlrm runs at every footprint, skew and batch size; the other representations at the largest
    footprint, the --compare-skews and every batch size. Both sides see the same ring of batches
    (the kernel loops over it after a warm pass; the simulator runs it twice, the first pass as
    warm-up). The measured timings are never used to fit a parameter. The summary goes to stderr
    and into the JSON metadata.

    \b
    Examples:
      memprof validate --plot parity.png -o validate.json
      memprof validate --quick --model dlrm,memrec --footprints 8MB,64MB
      memprof validate --cores 2 -o cores.json          (two processes and two threads against the model)
    """
    from memprof.analysis.validate import (DEFAULT_BATCHES, DEFAULT_RING_LOOKUPS, DEFAULT_SKEWS, MODELS, ValidateConfig,
                                           default_variants, label_unavailable, run_validate, summarize,
                                           summary_lines, speedup_unavailable)
    from memprof.hw.host import read_cpu_info
    from memprof.report.metadata import run_metadata
    from memprof.report.tables import emit

    log = (lambda m: click.echo(m, err=True)) if progress else (lambda _m: None)
    if cores is not None:
        return _validate_cores(models, params, workload, seed, footprints, budget, batch_sizes, repeat, calibrate,
                               cores, threads, fmt, output, log)
    chosen = parse_models(models) if models else None
    model_names = list(dict.fromkeys(["dlrm", *(chosen or MODELS)]))
    variants = default_variants(model_names, parse_model_params(params, model_names))
    budget_bytes = _budget(budget)
    quick_or = (lambda key, default: QUICK[key] if quick else default)
    config = ValidateConfig(
        variants=variants,
        footprints=_footprints(footprints or (QUICK["footprints"] if quick else None), budget_bytes),
        skews=_skews(skews or quick_or("skews", ",".join(DEFAULT_SKEWS)), "--skews"),
        compare_skews=_skews(compare_skews, "--compare-skews"),
        batch_sizes=_batch_sizes(batch_sizes or quick_or("batch_sizes", ",".join(map(str, DEFAULT_BATCHES)))),
        budget_bytes=budget_bytes, workload=workload, seed=seed,
        ring_lookups=ring_lookups or quick_or("ring_lookups", DEFAULT_RING_LOOKUPS), repeat=repeat,
        threads=threads, prefetch_distance=prefetch_distance)
    calibration = _calibration(calibrate, variants, log)
    load_before = os.getloadavg()
    started = _dt.datetime.now(_dt.timezone.utc)
    result = run_validate(config, log=log)
    summary = summarize(result.frame)
    cpu = read_cpu_info()
    metadata = run_metadata(
        kind="validate", started_utc=started.isoformat(timespec="seconds"), machine=cpu.describe(),
        logical_cpus=cpu.logical_cpus, load_average_before=[round(x, 2) for x in load_before],
        load_average_after=[round(x, 2) for x in os.getloadavg()], calibration=calibration,
        workload=workload, seed=seed, budget_bytes=budget_bytes, footprints_requested=list(config.footprints),
        skews=list(config.skews), compare_skews=list(config.compare_skews), batch_sizes=list(config.batch_sizes),
        variants=[str(v) for v in variants], ring_lookups=config.ring_lookups, repeat=config.repeat,
        threads=threads, prefetch_distance=prefetch_distance,
        measurement=("in-process perf_counter_ns: one warm pass over the ring, then --repeat timed passes; "
                     "error uses the best pass"),
        prediction="run_analysis(cpu='host') over the ring twice, the first pass as warm-up, at the host LLC",
        fitting="none: the measured timings are never used to fit a parameter",
        speedup_unavailable={str(k): v for k, v in speedup_unavailable(result.frame).items()},
        summary=summary, **result.metadata)
    frame = result.frame
    if (fmt or "table") in ("table", "markdown"):
        frame = label_unavailable(frame)
    emit(frame, fmt, output, metadata, kind="validate")
    if plot:
        from memprof.report.parity_plot import parity_plot

        parity_plot(result.frame, plot, title=f"memprof validate on {cpu.model_name} ({started:%Y-%m-%d})")
    for line in summary_lines(summary):
        click.echo(line, err=True)
    click.echo(f"{result.metadata['points']} points in {result.metadata['elapsed_seconds']:.0f} s; load average "
               f"{load_before[0]:.2f} at the start (a shared machine makes the measured side noisy)", err=True)


COMMANDS = [validate_command]


def _validate_cores(models, params, workload, seed, footprints, budget, batch_sizes, repeat, calibrate, cores,
                    threads, fmt, output, log) -> None:
    """``--cores N``: ``memprof.analysis.validate_cores`` at one point per model."""
    from memprof.analysis.validate import Variant, parse_skew
    from memprof.analysis.validate_cores import run_validate_cores
    from memprof.hw.bench import table_cap
    from memprof.hw.host import read_cpu_info
    from memprof.report.metadata import run_metadata
    from memprof.report.tables import emit
    from traces.spec import TraceSpec

    if threads != 1:
        raise click.BadParameter("--cores sets the threads itself (N for the threads mode)", param_hint="--threads")
    cpu = read_cpu_info()
    if cores > cpu.logical_cpus:
        raise click.BadParameter(f"{cores}: this machine has {cpu.logical_cpus} CPUs", param_hint="--cores")
    model_names = parse_models(models) if models else ["dlrm", "memrec"]
    model_params = parse_model_params(params, model_names)
    budget_bytes = _budget(budget)
    footprint = _footprints(footprints or "64MB", budget_bytes // cores)[0]
    batch = _batch_sizes(batch_sizes or "1024")[0]
    _calibration(calibrate, [Variant(m, ()) for m in model_names], log)
    cap, _ = table_cap("dlrm", workload, budget_bytes=footprint)
    specs = [TraceSpec(m, workload, max_rows=cap, batch_size=batch, seed=seed,
                       params=tuple(sorted(model_params.get(m, {}).items())), **parse_skew("1.05").spec_fields())
             for m in model_names]
    frame = run_validate_cores(specs, cores, repeat=repeat, log=log)
    worst = float(frame["error"].abs().max())
    log(f"validate --cores {cores}: median |error| {float(frame['error'].abs().median()):.1%}, worst {worst:.1%}")
    emit(frame, fmt, output, run_metadata(kind="validate-cores", machine=cpu.describe(), cores=cores,
                                          footprint_bytes=footprint, batch_size=batch, workload=workload, seed=seed),
         kind="validate-cores")
