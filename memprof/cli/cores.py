"""memprof CLI: ``cores`` — many cores with private L1/L2 sharing one LLC (throughput mode).

The work lives in ``memprof.analysis.multicore.run_cores``; this module turns options into
specs and a CacheSetup, refuses what the composition does not model, checks the memory a
core count needs up front (one line, exit 2), and hands the frame to ``memprof.report``.
"""

from __future__ import annotations

import click

from memprof.cli.options import (models_option, cache_options, cache_setup, check_cache, cores_options, llc_list, model_list,
                                 output_options, parse_model_params, plot_option, refuse, runtime_errors, timing_options,
                                 timing_overrides, workload_options, workload_opts)
from memprof.report.metadata import run_metadata
from memprof.report.tables import emit_analysis

HEADLINE = ("model", "cores", "tables", "llc_bytes", "lookups", "llc_misses", "llc_misses_per_lookup",
            "core_lookups_per_second", "socket_lookups_per_second", "socket_dram_bw_gbps", "loaded_dram_latency_ns",
            "dram_utilisation")


@click.command("cores")
@models_option(help_text="Representations besides dlrm (comma list) [default: memrec].")
@workload_options
@cache_options(llc_default="56MB")
@timing_options
@cores_options
@plot_option("--plot", help_text="Plot socket lookups/s and LLC misses per lookup versus cores to FILE.")
@output_options(columns=True)
@click.pass_context
@runtime_errors
def cores(ctx, **kwargs):
    """Throughput of N cores sharing one LLC: each core runs the kernel over its own batches
    (one model; core c reads batches c*B .. c*B+B-1 of the seed's stream) through private L1/L2 and TLB; the LLC is shared, round-robin per lookup;
    DRAM latency rises with the socket's bandwidth (docs/multicore.md).

    \b
    Examples:
      memprof cores --model memrec --cores 1..64 --tables shared,private --llc 14MB,28MB,56MB --plot cores.png
      memprof cores --cores 1,2 --llc 56MB --format markdown
    """
    from memprof.analysis.multicore import check_setup, estimate_cores_memory, run_cores
    from memprof.run.memory_budget import MemoryBudgetError, default_budget

    check_cache(ctx, kwargs, preset_levels=True)
    refuse(ctx, ("threads",), "does not apply: the multi-core hierarchy is simulated in one thread")
    if kwargs.get("phase", "forward") != "forward":
        raise click.UsageError("--phase: multi-core runs model read-only traces (forward); a private L2's "
                               "write-backs into the shared LLC are not simulated")
    if kwargs["inclusive"]:
        raise click.BadParameter("the multi-core composition models a non-inclusive LLC", param_hint="--inclusive")
    chosen = model_list(kwargs["models"])
    params = parse_model_params(kwargs["params"], chosen)
    specs = [workload_opts(kwargs, m, params) for m in chosen]
    setup = cache_setup(ctx, kwargs, llc_list(kwargs["llc"]), threads=1)
    try:
        check_setup(setup)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    counts, tables = kwargs["cores"], kwargs["tables"].split(",")
    budget = default_budget(flag=None)
    if kwargs["socket_batches"] is not None and ctx.get_parameter_source("batches").name != "DEFAULT":
        raise click.UsageError("--socket-batches replaces --batches: give one of them")
    for spec in specs:
        try:
            estimate_cores_memory(spec, setup, kwargs["cpu"], max(counts), budget)
        except MemoryBudgetError as exc:
            raise click.BadParameter(f"{max(counts)} cores: {exc}", param_hint="--cores") from None
        if "private" in tables:
            from memprof.analysis.multicore import table_offsets

            try:
                table_offsets(spec.build(), max(counts), "private")
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--cores") from None
    timing = timing_overrides(kwargs["cpu"], kwargs["timing_items"], kwargs["timing_file"], kwargs["call_overhead"])
    progress = (lambda text: click.echo(text, err=True)) if kwargs["progress"] else None
    frame, metadata = run_cores(specs, setup, counts, tables, cpu=kwargs["cpu"], timing_overrides=timing,
                                progress=progress, socket_batches=kwargs["socket_batches"])
    metadata = run_metadata(**metadata, seed=kwargs["seed"], alpha=kwargs["alpha"], pooling=kwargs["pooling"])
    if kwargs["plot"]:
        from memprof.report.cores_plot import cores_plot

        per_core = (f"{kwargs['socket_batches']} batches per socket (at least 4 per core)"
                    if kwargs["socket_batches"] else f"{kwargs['batches']} batches per core")
        cores_plot(frame, kwargs["plot"], title=f"{kwargs['workload']}, batch {kwargs['batch_size']}, {per_core}, "
                                                f"warm-up {kwargs['warmup'] or 'default'}")
    emit_analysis(frame, kwargs["fmt"], kwargs["output"], metadata, all_columns=kwargs["all_columns"],
                  metadata_path=kwargs["metadata_path"], keep=HEADLINE, kind="cores", breakdown=kwargs["breakdown"])


COMMANDS: list = [cores]
