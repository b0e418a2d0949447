"""memprof CLI commands on real hardware: ``bench`` (pyperf timing), ``profile`` (perf, VTune,
cachegrind counters of the kernel region) and ``doctor`` (what this machine can measure)."""

from __future__ import annotations

import sys

import click

from memprof.cli.options import (csv_list, kernel_options, models_option, output_dir_option, output_options,
                                 parse_model_params, parse_models, plot_option, runtime_errors, workload_options)
from memprof.report.tables import emit
from sim.sizes import SIZE_HELP, format_size, parse_size


def _size(value, option: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_size(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def _batch_sizes(value: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(v) for v in csv_list(value))
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected a comma list of integers", param_hint="--batch-sizes") from None
    if not sizes or any(s < 1 for s in sizes):
        raise click.BadParameter(f"{value!r}: batch sizes must be positive", param_hint="--batch-sizes")
    return sizes


def _check_models_params(models, params):
    model_params = parse_model_params(params, models)
    return tuple((m, tuple(sorted(p.items()))) for m, p in model_params.items())


@click.command()
@models_option(default="dlrm,memrec", help_text="Comma list of representations (dlrm, hashing, qr, robe, ttrec, "
                                                 "memrec) [default: dlrm,memrec].")
@click.option("--batch-sizes", default="1,64,128,256,512,1024,16384", show_default=True)
@workload_options(include=("workload", "dim", "alpha", "pooling", "seed", "params"))
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
          plot, threads, prefetch_distance, fmt, output):
    """Latency per item versus batch size of the real kernels, timed with pyperf.

    Each model runs in its own pyperf process tree (worker processes, warm-ups that
    absorb the JIT); tables are capped to fit the memory budget, and the cap and
    footprint are printed on stderr and stored in the JSON metadata.

    \b
    Example:
      memprof bench --model dlrm,memrec --batch-sizes 1,64,1024 --plot latency.png --json-dir bench/
    """
    from memprof.hw.bench import BenchConfig, run_bench
    from memprof.report.plots import latency_lines
    from memprof.report.metadata import run_metadata

    model_list = tuple(parse_models(models))
    sizes = _batch_sizes(batch_sizes)
    kwargs = dict(models=model_list, batch_sizes=sizes, workload=workload, dim=dim, alpha=alpha, pooling=pooling,
                  seed=seed, budget_bytes=_size(budget, "--budget"), params=_check_models_params(model_list, params),
                  threads=threads, prefetch_distance=prefetch_distance)
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
              help=f"Memory budget for the tables [default: half of RAM; cachegrind: 8 x LLC] ({SIZE_HELP}).")
@click.option("--llc", default=None,
              help=f"LLC size to emulate: resctrl way mask for perf/vtune, --LL for cachegrind ({SIZE_HELP}).")
@click.option("--ways", type=click.IntRange(min=1), default=None,
              help="cachegrind LL associativity [default: host LLC's, else one giving power-of-two sets].")
@click.option("--analysis", type=click.Choice(["memory-access", "uarch-exploration"]), default="memory-access",
              show_default=True, help="VTune analysis.")
@click.option("--timeout", "timeout_s", type=float, default=1800, show_default=True, help="Seconds per tool run.")
@kernel_options
@output_options(progress=False)
@runtime_errors
def profile(backend, models, workload, dim, max_rows, budget, batch_size, batches, alpha, pooling, seed, params, llc,
            ways, analysis, timeout_s, threads, prefetch_distance, fmt, output):
    """Hardware counters of only the kernel region (perf, VTune or cachegrind).

    Counters this machine cannot count are reported as "unavailable (why)", never 0.
    Wall time and task-clock are reported everywhere perf runs.

    \b
    Examples:
      memprof profile --backend perf --model dlrm,memrec --llc 28MB
      memprof profile --backend cachegrind --model dlrm --llc 14MB --workload 262144 --batches 4
    """
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
