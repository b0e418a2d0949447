"""memprof CLI commands on real hardware: ``bench`` (pyperf timing), ``profile`` (perf, VTune,
cachegrind counters of the kernel region) and ``doctor`` (what this machine can measure)."""

from __future__ import annotations

import sys

import click

from memprof.cli.options import (TIMING_PARAMS, given, kernel_options, models_option, output_dir_option,
                                 output_options, parse_batch_sizes, parse_model_params, parse_models, parse_sizes,
                                 plot_option, refuse, runtime_errors, timing_options, timing_overrides,
                                 workload_options)
from memprof.report.tables import emit
from sim.sizes import SIZE_HELP, format_size, parse_size


def _size(value, option: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_size(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def _check_models_params(models, params):
    model_params = parse_model_params(params, models)
    return tuple((m, tuple(sorted(p.items()))) for m, p in model_params.items())


@click.command()
@models_option(default="dlrm,memrec", help_text="Comma list of representations (dlrm, hashing, qr, robe, ttrec, "
                                                 "memrec) [default: dlrm,memrec].")
@click.option("--batch-sizes", default="1,64,128,256,512,1024,16384", show_default=True)
@workload_options(include=("workload", "dim", "alpha", "pooling", "seed", "params", "phase", "grad", "optimizer"))
@click.option("--budget", default=None, help=f"Memory budget for one model's tables [default: half of RAM] ({SIZE_HELP}).")
@click.option("--processes", type=click.IntRange(min=1), default=3, show_default=True, help="pyperf worker processes.")
@click.option("--values", type=click.IntRange(min=1), default=3, show_default=True, help="pyperf values per process.")
@click.option("--fast/--no-fast", default=False, show_default=True,
              help="Rough numbers quickly: 1 process, 2 values, 2 loops, a small batch ring.")
@output_dir_option("--json-dir", what="pyperf JSON directory", default=None,
                   help="Keep pyperf JSON files here (MODEL.json; compare with 'python -m pyperf compare_to').")
@plot_option("--plot", help_text="Write latency per item vs batch size (error bars: 1 stdev).")
@kernel_options
@output_options(progress=False)
@runtime_errors
def bench(models, batch_sizes, workload, dim, alpha, pooling, seed, params, budget, processes, values, fast, json_dir,
          plot, threads, prefetch_distance, fmt, output, phase="forward", grad="sparse", optimizer="sgd"):
    """Latency per item versus batch size of the real kernels, timed with pyperf.

    Each model runs in its own pyperf process tree (worker processes, warm-ups that
    absorb the JIT); tables are capped to fit the memory budget, and the cap and
    footprint are printed on stderr and stored in the JSON metadata.

    \b
    Example:
      memprof bench --model dlrm,memrec --batch-sizes 1,64,1024 --plot latency.png --json-dir bench/
      memprof bench --model robe --phase train --grad dense --optimizer adagrad --batch-sizes 1024 --fast
    """
    from memprof.hw.bench import BenchConfig, run_bench
    from memprof.report.plots import latency_lines
    from memprof.report.metadata import run_metadata

    model_list = tuple(parse_models(models))
    sizes = parse_batch_sizes(batch_sizes)
    kwargs = dict(models=model_list, batch_sizes=sizes, workload=workload, dim=dim, alpha=alpha, pooling=pooling,
                  seed=seed, budget_bytes=_size(budget, "--budget"), params=_check_models_params(model_list, params),
                  threads=threads, prefetch_distance=prefetch_distance, phase=phase, grad=grad, optimizer=optimizer)
    config = BenchConfig.quick(**kwargs) if fast else BenchConfig(processes=processes, values=values, **kwargs)
    frame, metadata = run_bench(config, json_dir, log=lambda m: click.echo(m, err=True))
    click.echo(f"memory budget {format_size(metadata['memory_budget_bytes'])} of "
               f"{format_size(metadata['ram_bytes'])} RAM", err=True)
    emit(frame, fmt, output, run_metadata(**metadata), kind="bench")
    if plot:
        latency_lines(frame, plot, title=f"{workload}: latency per item vs batch size")


@click.command()
@click.option("--backend", type=click.Choice(["perf", "vtune", "cachegrind"]), default="perf", show_default=True)
@models_option(default="dlrm", help_text="Comma list of representations [default: dlrm].")
@workload_options(include=("workload", "dim", "batch_size", "batches", "alpha", "pooling", "seed", "params"))
@click.option("--max-rows", type=click.IntRange(min=1), default=None,
              help="Cap every table at this many rows [default: the largest cap within --budget].")
@click.option("--budget", default=None,
              help="Memory budget for the tables [default: half of RAM; cachegrind: 8 x LLC; twin: 4 x the largest "
                   f"LLC, one cap for every representation] ({SIZE_HELP}).")
@click.option("--llc", default=None,
              help="LLC size to emulate: resctrl way mask for perf/vtune, --LL for cachegrind; a comma list "
                   f"(14MB,28MB,56MB) writes the measured twin of the analysis table ({SIZE_HELP}).")
@click.option("--ways", type=click.IntRange(min=1), default=None,
              help="cachegrind LL associativity [default: host LLC's, else one giving power-of-two sets].")
@click.option("--analysis", type=click.Choice(["memory-access", "uarch-exploration"]), default="memory-access",
              show_default=True, help="VTune analysis.")
@click.option("--timeout", "timeout_s", type=float, default=1800, show_default=True, help="Seconds per tool run.")
@click.option("--runs", type=click.IntRange(min=1), default=3, show_default=True,
              help="Twin only: native runs per representation for wall-clock cycles (the fastest is kept).")
@timing_options
@kernel_options
@output_options(progress=False)
@click.pass_context
@runtime_errors
def profile(ctx, backend, models, workload, dim, max_rows, budget, batch_size, batches, alpha, pooling, seed, params,
            llc, ways, analysis, timeout_s, runs, threads, prefetch_distance, fmt, output, **timing):
    """Hardware counters of only the kernel region (perf, VTune or cachegrind).

    Counters this machine cannot count are reported as "unavailable (why)", never 0.
    Wall time and task-clock are reported everywhere perf runs.

    With several --llc sizes: the measured twin of the analysis table, one row per
    representation and LLC size: measured cycles (perf, else wall clock x frequency),
    LLC misses (PMU under a resctrl way mask, else cachegrind --LL of that size), DRAM
    bytes (uncore/MBM, else unavailable), their ratios versus dlrm, and the simulator's
    ratios of the same workload (--cpu, --timing: its timing model).

    \b
    Examples:
      memprof profile --backend perf --model dlrm,memrec --llc 28MB
      memprof profile --backend cachegrind --model dlrm --llc 14MB --workload 262144 --batches 4
      memprof profile --llc 14MB,28MB,56MB -o twin.json     (all six representations)
    """
    sizes = parse_sizes(llc, "--llc") if llc else []
    if len(sizes) > 1:
        return _profile_twin(ctx, sizes, models, workload, dim, max_rows, budget, batch_size, batches, alpha,
                             pooling, seed, params, ways, timeout_s, runs, timing, threads, prefetch_distance, fmt,
                             output)
    refuse(ctx, ("runs", *TIMING_PARAMS), "applies to the measured twin (several --llc sizes)")
    import pandas as pd

    from memprof.hw.bench import default_budget_bytes, table_cap
    from memprof.hw import backends
    from memprof.hw.host import read_cpu_info
    from memprof.hw.runspec import RunSpec
    from traces.spec import TraceSpec
    from memprof.report.metadata import run_metadata

    model_list = parse_models(models)
    model_params = dict(_check_models_params(model_list, params))
    llc_bytes = _size(llc, "--llc")
    cpu = read_cpu_info()
    if backend == "cachegrind":
        try:
            geometry = backends.cachegrind_geometry(llc_bytes, cpu, ways)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--llc/--ways") from None
        default_budget = 8 * geometry[0]
    else:
        default_budget = default_budget_bytes()
    budget_bytes = _size(budget, "--budget") or default_budget
    rows = []
    caps = {}
    for model in model_list:
        params_of = dict(model_params.get(model, ()))
        cap = max_rows
        if cap is None:
            cap, footprint = table_cap(model, workload, dim=dim, params=params_of, budget_bytes=budget_bytes)
        caps[model] = cap
        trace = TraceSpec(model=model, workload=workload, dim=dim, max_rows=cap, params=params_of,
                          batch_size=batch_size, batches=batches, alpha=alpha, pooling=pooling, seed=seed)
        spec = RunSpec(trace, budget_bytes=budget_bytes, threads=threads, prefetch_distance=prefetch_distance)
        click.echo(f"profile {model} with {backend}"
                   + (f": tables capped at {cap:,} rows (budget {format_size(budget_bytes)})" if cap else ""), err=True)
        if backend == "perf":
            rows += backends.profile_perf(spec, llc_bytes=llc_bytes, cpu=cpu, timeout_s=timeout_s)
        elif backend == "vtune":
            rows += backends.profile_vtune(spec, analysis=analysis, llc_bytes=llc_bytes, cpu=cpu, timeout_s=timeout_s)
        else:
            rows += backends.profile_cachegrind(spec, llc_bytes=llc_bytes, ways=ways, cpu=cpu, timeout_s=timeout_s)
    frame = pd.DataFrame(rows, columns=list(backends.COLUMNS))
    meta = run_metadata(backend=backend, workload=workload, batch_size=batch_size, batches=batches, alpha=alpha,
                        pooling=pooling, seed=seed, llc_bytes=llc_bytes, max_rows_caps=caps,
                        budget_bytes=budget_bytes, cpu=cpu.describe())
    emit(frame, fmt, output, meta, kind="profile")


TWIN_MODELS = "dlrm,hashing,qr,robe,ttrec,memrec"
TWIN_BATCHES = {"batch_size": 512, "batches": 8}  # twin defaults: cachegrind is ~50x slower than native
TWIN_BUDGET_LLCS = 4  # default table budget: 4 x the largest LLC (dlrm overflows every size, memory stays small)


def _profile_twin(ctx, sizes, models, workload, dim, max_rows, budget, batch_size, batches, alpha, pooling, seed,
                  params, ways, timeout_s, runs, timing_kwargs, threads, prefetch_distance, fmt, output):
    """``memprof profile --llc A,B,...``: the measured twin table (see ``memprof.analysis.measured``).
    ``timing_kwargs``: the values of ``options.timing_options`` (the simulated side's timing model)."""
    import dataclasses

    from memprof.analysis.experiment import CacheSetup, run_analysis
    from memprof.analysis.measured import twin_frame
    from memprof.hw import backends
    from memprof.hw.bench import table_cap
    from memprof.hw.host import read_cpu_info
    from memprof.hw.runspec import RunSpec
    from memprof.hw.twin import Capabilities, measure
    from memprof.report.metadata import run_metadata
    from traces.spec import TraceSpec

    refuse(ctx, ("backend", "analysis"), "does not apply to the measured twin (several --llc sizes): each quantity "
                                         "comes from the best counter this machine has")
    if threads != 1:
        raise click.BadParameter("the measured twin runs the serial kernel (cachegrind follows one thread)",
                                 param_hint="--threads")
    if any(s < 1 for s in sizes):
        raise click.BadParameter(f"{llc_text(sizes)}: LLC sizes must be positive", param_hint="--llc")
    if len(set(sizes)) != len(sizes):
        raise click.BadParameter(f"{llc_text(sizes)}: an LLC size is repeated", param_hint="--llc")
    model_list = parse_models(models if given(ctx, "models") else TWIN_MODELS)
    if "dlrm" not in model_list:
        model_list.insert(0, "dlrm")
        click.echo("twin: added dlrm, the baseline of every ratio", err=True)
    model_params = dict(_check_models_params(model_list, params))
    cpu_preset = timing_kwargs["cpu"]
    extra = {"call_overhead": timing_kwargs["call_overhead"]} if "call_overhead" in timing_kwargs else {}
    timing = timing_overrides(cpu_preset, timing_kwargs["timing_items"], timing_kwargs["timing_file"], **extra)
    if not given(ctx, "batch_size"):
        batch_size = TWIN_BATCHES["batch_size"]
    if not given(ctx, "batches"):
        batches = TWIN_BATCHES["batches"]
    cpu = read_cpu_info()
    try:
        geometries = {s: backends.cachegrind_geometry(s, cpu, ways) for s in sizes}
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--llc/--ways") from None
    l1 = cpu.l1d
    d1 = (l1.size_bytes, l1.ways or 8, l1.line_bytes or 64) if l1 else (32768, 8, 64)
    budget_bytes = _size(budget, "--budget") or TWIN_BUDGET_LLCS * max(sizes)
    cap = max_rows
    if cap is None:  # one cap for every representation: the same tables and batches (dlrm's cap in the budget)
        cap, _ = table_cap("dlrm", workload, dim=dim, params=dict(model_params.get("dlrm", ())),
                           budget_bytes=budget_bytes)
    try:
        traces = [TraceSpec(model=m, workload=workload, dim=dim, max_rows=cap, params=dict(model_params.get(m, ())),
                            batch_size=batch_size, batches=batches, alpha=alpha, pooling=pooling, seed=seed)
                  for m in model_list]
        specs = [RunSpec(t, prefetch_distance=prefetch_distance) for t in traces]
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    caps = Capabilities.probe()
    how = caps.describe(geometries)
    click.echo(f"twin: {', '.join(model_list)} at LLC {llc_text(sizes)}; workload {workload}, "
               f"{batches} batches of {batch_size}, seed {seed}; tables capped at "
               + (f"{cap:,} rows (budget {format_size(budget_bytes)})" if cap else "no cap (within budget "
                  f"{format_size(budget_bytes)})"), err=True)
    for quantity, text in how.items():
        click.echo(f"twin: {quantity}: {text}", err=True)
    ways_used = sorted({g[1] for g in geometries.values()})
    sim_frames = []  # first: seconds, and a failure here should not cost the minutes of measurement
    for w in ways_used:  # the simulator with cachegrind's LL geometry, measuring from a cold start like the region
        page = ({"page_bytes": timing_kwargs["page_size"]} if "page_size" in timing_kwargs
                and "page_bytes" in {f.name for f in dataclasses.fields(CacheSetup)} else {})
        setup = CacheSetup(llc_sizes=tuple(s for s in sizes if geometries[s][1] == w), ways=w, warmup=0.0, **page)
        frame, sim_meta = run_analysis([t.build() for t in traces], setup, cpu=cpu_preset, timing_overrides=timing,
                                       progress=False)
        sim_frames.append(frame)
    click.echo(f"twin: simulated {len(model_list)} representations at {len(sizes)} LLC sizes (--cpu {cpu_preset})",
               err=True)
    measurements = measure(specs, sizes, geometries, d1, cpu, caps, repeats=runs, timeout_s=timeout_s,
                           log=lambda m: click.echo(m, err=True))
    import pandas as pd

    table = twin_frame(measurements, pd.concat(sim_frames, ignore_index=True))
    meta = run_metadata(kind="measured twin of the analysis table", models=model_list, workload=workload,
                        batch_size=batch_size, batches=batches, alpha=alpha, pooling=pooling, seed=seed,
                        llc_bytes=sizes, max_rows_cap=cap, budget_bytes=budget_bytes, cpu=cpu.describe(),
                        measured_how=how, cachegrind_geometry={str(s): {"size_bytes": g[0], "ways": g[1],
                                                                        "line_bytes": g[2],
                                                                        "sets": g[0] // (g[1] * g[2])}
                                                               for s, g in geometries.items()},
                        d1=list(d1), native_runs=runs,
                        simulated={"cpu_preset": cpu_preset, "timing_overrides": timing, "warmup": 0.0,
                                   "ways": ways_used, "private_levels": sim_meta.get("private_levels"),
                                   "columns": "sim_* = memprof.analysis.experiment.run_analysis of the same traces"})
    emit(table, fmt, output, meta, kind="profile-twin")


def llc_text(sizes) -> str:
    return ",".join(format_size(s) if s > 0 else str(s) for s in sizes)


@click.command()
def doctor():
    """What this machine can measure, and what each missing piece would need.

    Checks perf (version, hardware PMU, paranoid level, vendor events), VTune and
    ittapi, resctrl (cache allocation, MBM), valgrind, and the CPU's cache geometry.

    \b
    Example:
      memprof doctor
    """
    from memprof.hw.doctor import diagnose, render

    sys.stdout.write(render(diagnose()))


COMMANDS = [bench, profile, doctor]
