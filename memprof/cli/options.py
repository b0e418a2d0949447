"""Every click option of the memprof commands, declared once, and their parsing.

Groups: ``workload_options`` (where lookups come from), ``cache_options`` (LLC, private
levels, prefetcher, warm-up, sampling, threads, cache seed), ``timing_options`` (CPU preset
and overrides), ``output_options`` (format, file, progress), ``long_run_options``. One default
per concept: the LLC is non-inclusive unless ``--inclusive``; ``--seed`` seeds the workload's
token generator and ``--cache-seed`` the policy and set-sampling streams; ``--threads``
defaults to the CPU count (counts are identical at any thread count); ``--batches`` to 100.
An option that does not apply to the chosen mode is a usage error naming it (``refuse``),
detected with click's parameter source, never by comparing with the default.
"""

from __future__ import annotations

import functools
import math
import os

import click

from sim.config import CacheConfig
from sim.policies import POLICIES
from sim.sampling import parse_fraction
from sim.sizes import SIZE_HELP, parse_size
from sim.timing.model import load_overrides_toml, parse_timing_overrides
from memprof.hw.calibrate import check_model_overrides
from memprof.hw.host import cpu_preset_names
from traces.representations import REGISTRY, config_fields
from traces.skew import SKEW_PRESETS
from traces.stream import ModelTrace
from traces.training import GRADS, OPTIMIZERS, PHASES
from traces.workloads import PRESETS

DEFAULT_ALPHA = 1.05
DEFAULT_BATCHES = 100
DEFAULT_THREADS = os.cpu_count() or 1
DEFAULT_MODELS = "memrec"
POLICY = click.Choice(list(POLICIES), case_sensitive=False)


def csv_list(value: str | tuple | None) -> list[str]:
    """Split comma lists from one or several option values."""
    if value is None:
        return []
    values = value if isinstance(value, (list, tuple)) else [value]
    return [item.strip() for text in values for item in str(text).split(",") if item.strip()]


def parse_batch_sizes(value: str, option: str = "--batch-sizes") -> tuple[int, ...]:
    """A comma list of batch sizes, each >= 1 (BadParameter naming the option otherwise)."""
    try:
        sizes = tuple(int(v) for v in csv_list(value))
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected a comma list of integers", param_hint=option) from None
    if not sizes or any(s < 1 for s in sizes):
        raise click.BadParameter(f"{value!r}: batch sizes must be >= 1", param_hint=option)
    return sizes


def parse_sizes(values, option: str) -> list[int]:
    """Sizes from repeatable/comma-list options ("14MB,28MB"); BadParameter names the bad one."""
    try:
        return [parse_size(v) for v in csv_list(values)]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def parse_models(values) -> list[str]:
    models = csv_list(values)
    unknown = [m for m in models if m not in REGISTRY]
    if unknown:
        raise click.BadParameter(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(REGISTRY)}",
                                 param_hint="--model")
    return models


def _coerce(model: str, field: str, text: str):
    """``--param`` text as the field's type (``traces.spec.coerce_param``: the one coercer); click error otherwise."""
    from traces.spec import coerce_param

    try:
        return coerce_param(model, field, text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--param") from None


def parse_model_params(values, models: list[str]) -> dict[str, dict]:
    """``--param memrec.d=50000 --param k=2`` -> {model: {field: value}}; an unprefixed
    field applies to every listed model that has it."""
    out: dict[str, dict] = {m: {} for m in models}
    for item in values or ():
        key, sep, text = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: expected FIELD=VALUE or MODEL.FIELD=VALUE", param_hint="--param")
        model, dot, field = key.strip().rpartition(".")
        targets = [model] if dot else [m for m in models if field in config_fields(m)]
        if dot and model not in REGISTRY:
            raise click.BadParameter(f"{item!r}: unknown model {model!r}", param_hint="--param")
        if dot and model not in models:
            raise click.BadParameter(f"{item!r}: {model} is not among the selected models ({', '.join(models)}); "
                                     f"add it to --model or drop the parameter", param_hint="--param")
        if not targets:
            raise click.BadParameter(f"{item!r}: no selected model has a parameter {field!r}", param_hint="--param")
        for target in targets:
            fields = config_fields(target)
            if field not in fields:
                raise click.BadParameter(
                    f"{item!r}: {target} has no parameter {field!r}; known: {', '.join(fields) or '(none)'}",
                    param_hint="--param")
            out.setdefault(target, {})[field] = _coerce(target, field, text.strip())
    return out


def _apply(func, options):
    for option in reversed(options):
        func = option(func)
    return func


WORKLOAD_OPTIONS = {
    "workload": click.option("--workload", default="criteo-tb", show_default=True,
                             help=f"Table preset ({', '.join(PRESETS)}) or a comma list of cardinalities."),
    "dim": click.option("--dim", type=click.IntRange(min=1), default=None, help="Override the embedding dimension."),
    "data": click.option("--data", type=click.Path(exists=True, dir_okay=False),
                         help="Read lookups from a dataset (Criteo TSV, Avazu CSV, .npz) instead of generating them."),
    "batch_size": click.option("--batch-size", type=click.IntRange(min=1), default=2048, show_default=True),
    "batches": click.option("--batches", type=click.IntRange(min=1), default=DEFAULT_BATCHES, show_default=True,
                            help="Number of batches (with --data: at most this many)."),
    "pooling": click.option("--pooling", default=None,
                            help="Bag size: N, one per feature (3,2,...), poisson:MEAN or uniform:LO-HI "
                                 "[default: the workload's, else 1]."),
    "alpha": click.option("--alpha", type=float, default=DEFAULT_ALPHA, show_default=True,
                          help="Zipf exponent of token popularity (0 = uniform; <= 1 allowed)."),
    "skew": click.option("--skew", type=click.Choice(list(SKEW_PRESETS)), default=None,
                         help="Skew preset: Zipf exponent, pooling and per-batch active rows fitted to published "
                              "production locality (docs/workloads.md); replaces --alpha and --pooling."),
    "seed": click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
                         help="Seed of the workload's token generator (the cache's streams: --cache-seed)."),
    "params": click.option("--param", "params", multiple=True, metavar="[MODEL.]FIELD=VALUE",
                           help="Representation parameter, e.g. memrec.d=50000 or robe.chunk=16 (repeatable)."),
    "phase": click.option("--phase", type=click.Choice(PHASES), default="forward", show_default=True,
                          help="Pass traced: forward (inference reads), backward (gradient scatter) or train "
                               "(forward + backward + optimizer step; stores flagged). docs/training.md."),
    "grad": click.option("--grad", type=click.Choice(GRADS), default="sparse", show_default=True,
                         help="Backward's gradient (--phase backward/train): sparse (unique rows) or dense "
                              "(a buffer the size of the parameters)."),
    "optimizer": click.option("--optimizer", type=click.Choice(OPTIMIZERS), default="sgd", show_default=True,
                              help="Optimizer step of --phase train: sgd or adagrad (row-wise)."),
}
# The parameters that describe a workload (refused where accesses come from a trace file).
WORKLOAD_PARAMS = ("models", *WORKLOAD_OPTIONS)


def workload_options(func=None, *, model_params: bool = True, include: tuple[str, ...] | None = None):
    """Options describing where lookups come from (synthetic workload or a dataset file).

    ``model_params=False`` leaves out ``--param`` (for commands that give it another meaning);
    ``include`` picks a subset by parameter name (commands without dataset input).
    """
    if func is None:
        return lambda f: workload_options(f, model_params=model_params, include=include)
    names = [n for n in (include or WORKLOAD_OPTIONS) if model_params or n != "params"]
    return _apply(func, [WORKLOAD_OPTIONS[n] for n in names])


def models_option(default: str | None = None, help_text: str = "Representations besides dlrm (comma list) "
                                                                 "[default: memrec]."):
    """--model: a comma list of representations (the analysis adds the dlrm baseline)."""
    return click.option("--model", "models", multiple=True, default=(default,) if default else (), help=help_text)


def line_option(func):
    """--line: the cache line size (all levels; the trace's line addresses)."""
    return click.option("--line", "line_bytes", type=click.IntRange(min=1), default=64, show_default=True,
                        help="Cache line bytes (all levels).")(func)


def make_trace(model: str, opts, model_params: dict | None = None) -> ModelTrace:
    """The ModelTrace of ``model`` on the workload of ``opts`` (a ``TraceSpec``, or a command's
    workload option values: see ``workload_opts``); errors become click errors."""
    spec = workload_opts(opts, model, model_params)
    try:
        return spec.build()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def workload_opts(kwargs, model: str = "dlrm", model_params: dict | None = None):
    """The ``traces.spec.TraceSpec`` of ``model`` that a command's workload option values describe.

    ``kwargs``: the command's keyword arguments (the workload_options and --line values are
    picked from them) or a ``TraceSpec`` to re-target at ``model``. ``model_params``:
    ``parse_model_params``'s {model: {field: value}} (default: none, or the spec's own when
    it already describes ``model``). A violated constraint is a click usage error.
    """
    from dataclasses import replace

    from traces.spec import TraceSpec

    try:
        if isinstance(kwargs, TraceSpec):
            own = kwargs.params if kwargs.model == model else ()
            params = own if model_params is None else tuple((model_params.get(model) or {}).items())
            return replace(kwargs, model=model, params=params)
        keys = ("workload", "dim", "batch_size", "batches", "pooling", "alpha", "seed", "line_bytes", "skew",
                "phase", "grad", "optimizer")
        fields = {k: kwargs[k] for k in keys if kwargs.get(k) is not None}
        ctx = click.get_current_context(silent=True)
        if fields.get("skew") and ctx is not None:
            refuse(ctx, ("alpha", "pooling"), f"does not apply with --skew {fields['skew']} (the preset sets it)")
        return TraceSpec(model=model, data=kwargs.get("data") or None,
                         params=tuple(((model_params or {}).get(model) or {}).items()), **fields)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def size_option(*names, help_text: str, **kw):
    return click.option(*names, help=f"{help_text} ({SIZE_HELP}).", **kw)


class InputFileError(click.ClickException):
    """A malformed input file named on the command line (--trace, a trace argument): a usage error,
    exit 2, in one line (no usage text: the option was right, the file's content is not)."""

    exit_code = 2


def runtime_errors(func):
    """The one error decorator: ValueError/OSError/RuntimeError raised while running become one
    line and exit 1 (no traceback); a malformed trace file given by the user exits 2 like other
    usage errors; click's own exits pass through. Any open progress line is ended first."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except BaseException as exc:
            end_progress_lines()  # a message must start on its own line, not after the meter
            if isinstance(exc, (click.exceptions.Exit, click.exceptions.Abort)):
                raise  # click's own exits (Exit is a RuntimeError)
            from traces.format.tracefile import TraceFormatError

            if isinstance(exc, TraceFormatError):
                raise InputFileError(str(exc)) from None
            if isinstance(exc, (ValueError, OSError, RuntimeError)):
                raise click.ClickException(str(exc)) from None
            raise

    return wrapper


# -- "given by the user" and refusing options that do not apply ----------------------------

def given(ctx: click.Context, name: str) -> bool:
    """Whether parameter ``name`` came from the user (command line, environment, prompt)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source not in (click.core.ParameterSource.DEFAULT,
                                                 click.core.ParameterSource.DEFAULT_MAP)


def flag(ctx: click.Context, name: str) -> str:
    """The option's flag as the user knows it (``--l1-ways``; ``--inclusive/--no-inclusive``)."""
    for param in ctx.command.params:
        if param.name == name:
            opts = [o for o in param.opts if o.startswith("--")] or list(param.opts)
            return "/".join(opts + list(param.secondary_opts))
    return "--" + name.replace("_", "-")


def refuse(ctx: click.Context, names, why: str) -> None:
    """UsageError ``--opt why`` for the first of ``names`` the user gave."""
    for name in names:
        if given(ctx, name):
            raise click.UsageError(f"{flag(ctx, name)} {why}")


def check_trace_line(ctx: click.Context, trace_path, kwargs: dict) -> None:
    """--line against the line size a memprof trace records (its header's ``line_bytes``): a
    different --line is a usage error naming both; without --line the trace's size is used
    (said on stderr). Traces without the field (.npy, din, standard input) keep --line."""
    from traces.format.tracefile import header_line_bytes

    recorded = header_line_bytes(trace_path)
    if recorded is None or recorded == kwargs["line_bytes"]:
        return
    if given(ctx, "line_bytes"):
        raise click.BadParameter(f"{kwargs['line_bytes']} B, but {trace_path} holds the addresses of "
                                 f"{recorded} B lines (its header's line_bytes): give --line {recorded} "
                                 "or leave --line out", param_hint="--line")
    click.echo(f"--line not given: using the trace's line size, {recorded} B (its header's line_bytes)", err=True)
    kwargs["line_bytes"] = recorded


# -- cache options ---------------------------------------------------------------------------

CACHE_OPTIONS = {
    "ways": click.option("--ways", type=click.IntRange(min=1), default=16, show_default=True,
                         help="LLC associativity."),
    "policy": click.option("--policy", type=POLICY, default="lru", show_default=True,
                           help="LLC replacement policy (memprof policies; case-insensitive)."),
    "line_bytes": line_option,
    "l1_size": click.option("--l1", "l1_size", default=None, metavar="SIZE",
                            help=f"Private L1 in front of the LLC, e.g. 32KB; on a workload it replaces the CPU "
                                 f"preset's L1d ({SIZE_HELP})."),
    "l1_ways": click.option("--l1-ways", type=click.IntRange(min=1), default=8, show_default=True,
                            help="With --l1: its associativity."),
    "l1_policy": click.option("--l1-policy", type=POLICY, default="lru", show_default=True,
                              help="With --l1: its replacement policy."),
    "l2_size": click.option("--l2", "l2_size", default=None, metavar="SIZE",
                            help=f"Private L2 in front of the LLC, e.g. 1MB; on a workload it replaces the CPU "
                                 f"preset's L2 ({SIZE_HELP})."),
    "l2_ways": click.option("--l2-ways", type=click.IntRange(min=1), default=16, show_default=True,
                            help="With --l2: its associativity."),
    "l2_policy": click.option("--l2-policy", type=POLICY, default="lru", show_default=True,
                              help="With --l2: its replacement policy."),
    "private_levels": click.option("--private-levels/--no-private-levels", default=True, show_default=True,
                                   help="On a workload: the CPU preset's L1d and L2 in front of the LLC."),
    "inclusive": click.option("--inclusive/--no-inclusive", default=False, show_default=True,
                              help="Inclusive LLC (back-invalidates L1/L2 copies of its victims); default "
                                   "non-inclusive in every command and mode."),
    "prefetch": click.option("--prefetch/--no-prefetch", default=False, show_default=True,
                             help="Next-line prefetcher at the LLC."),
    "warmup": click.option("--warmup", default=None,
                           help="Warm-up before measuring (statistics reset after): a fraction (0.25) or, on a "
                                "trace, an access count (100000) [default: 0.25 of the batches on a workload, "
                                "0 on a trace]."),
    "sample_sets": click.option("--sample-sets", default=None, metavar="FRACTION",
                                help="Simulate a seeded fraction of the LLC sets (e.g. 1/64) and scale the counts "
                                     "(LLC-only: no private levels)."),
    "threads": click.option("--threads", type=click.IntRange(min=1), default=DEFAULT_THREADS,
                            show_default=f"the CPU count, {DEFAULT_THREADS} here",
                            help="Threads for set-partitioned simulation (same counts at any thread count)."),
    "cache_seed": click.option("--cache-seed", type=click.IntRange(min=0), default=0, show_default=True,
                               help="Seed of the random/BRRIP/DRRIP policy streams and of set sampling."),
}


def cache_options(func=None, *, llc_default: str | None = "56MB", llc_multiple: bool = True,
                  exclude: tuple[str, ...] = ()):
    """The simulated hierarchy: --llc, --ways, --policy, --line, --l1/--l2 (+ ways, policy),
    --private-levels, --inclusive, --prefetch, --warmup, --sample-sets, --threads, --cache-seed.

    ``llc_multiple=False``: one --llc size; ``exclude``: parameters a command has no use for.
    """
    if func is None:
        return lambda f: cache_options(f, llc_default=llc_default, llc_multiple=llc_multiple, exclude=exclude)
    if llc_multiple:
        llc = size_option("--llc", multiple=True, default=(llc_default,) if llc_default else (),
                          show_default=bool(llc_default),
                          help_text="LLC size; repeat or give a comma list for one row per size")
    else:
        llc = size_option("--llc", default=llc_default, show_default=bool(llc_default), help_text="LLC size")
    return _apply(func, [llc] + [o for n, o in CACHE_OPTIONS.items() if n not in exclude])


def check_cache(ctx: click.Context, kwargs: dict, preset_levels: bool) -> None:
    """Refuse cache options that do not apply: a private level's ways/policy without its size,
    --private-levels where the CPU preset's levels do not apply (``preset_levels=False``: a
    trace file), a private level with --no-private-levels, set sampling behind private levels."""
    for level in ("l1", "l2"):
        if not given(ctx, f"{level}_size"):
            refuse(ctx, (f"{level}_ways", f"{level}_policy"), f"needs --{level} SIZE (the level it describes)")
    private = [n for n in ("l1_size", "l2_size") if given(ctx, n)]
    if not preset_levels:
        refuse(ctx, ("private_levels",), "applies to a workload analysis (the CPU preset's L1d and L2); "
                                         "with --trace give --l1/--l2")
    elif not kwargs["private_levels"] and private:
        raise click.UsageError(f"{flag(ctx, private[0])} replaces one of the CPU preset's private levels, which "
                               "--no-private-levels removes: give one or the other")
    elif kwargs["private_levels"] and kwargs.get("sample_sets") is not None and not private:
        raise click.UsageError("--sample-sets applies to LLC-only simulations; the CPU preset's private levels "
                               "(on by default) sit in front of the LLC: add --no-private-levels")
    if private and kwargs.get("sample_sets") is not None:
        raise click.UsageError(f"--sample-sets applies to LLC-only simulations; {flag(ctx, private[0])} puts "
                               "a private level in front of the LLC")
    if kwargs.get("sample_sets") is not None:
        try:
            parse_fraction(kwargs["sample_sets"])
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--sample-sets") from None


def level_config(kwargs: dict, level: str) -> CacheConfig | None:
    """The --l1/--l2 level as a CacheConfig (None when not given); BadParameter names it."""
    size = kwargs.get(f"{level}_size")
    if size is None:
        return None
    try:
        return CacheConfig(size, kwargs[f"{level}_ways"], kwargs["line_bytes"], kwargs[f"{level}_policy"],
                           kwargs["cache_seed"])
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=f"--{level}") from None


def llc_list(values, option: str = "--llc") -> list[int]:
    """The --llc sizes (at least one)."""
    sizes = parse_sizes(values, option)
    if not sizes:
        raise click.UsageError(f"give at least one {option} size")
    return sizes


def llc_configs(kwargs: dict, sizes: list[int]) -> list[CacheConfig]:
    """One LLC CacheConfig per size from --ways/--line/--policy/--cache-seed."""
    try:
        return [CacheConfig(size, kwargs["ways"], kwargs["line_bytes"], kwargs["policy"], kwargs["cache_seed"])
                for size in sizes]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--llc/--ways/--line") from None


def workload_warmup(text: str | None) -> float:
    """--warmup on a workload: a fraction of the batches (default 0.25)."""
    value = 0.25 if text is None else parse_warmup(text)
    if not isinstance(value, float) and value != 0:
        raise click.BadParameter("on a workload the warm-up is a fraction of the batches (e.g. 0.25)",
                                 param_hint="--warmup")
    return float(value)


def cache_setup(ctx: click.Context, kwargs: dict, llc_sizes: list[int], threads: int | None = None):
    """The workload analysis' CacheSetup from cache_options values (after ``check_cache``)."""
    from memprof.analysis.experiment import CacheSetup

    try:
        return CacheSetup(tuple(llc_sizes), ways=kwargs["ways"], policy=kwargs["policy"],
                          line_bytes=kwargs["line_bytes"], private_levels=kwargs["private_levels"],
                          l1=level_config(kwargs, "l1"), l2=level_config(kwargs, "l2"),
                          inclusive=kwargs["inclusive"], prefetch=kwargs["prefetch"],
                          warmup=workload_warmup(kwargs["warmup"]), sample_sets=kwargs["sample_sets"],
                          threads=kwargs["threads"] if threads is None else threads, seed=kwargs["cache_seed"],
                          page_bytes=kwargs.get("page_size", 4096))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


# -- timing and output options ---------------------------------------------------------------

TIMING_PARAMS = ("cpu", "timing_items", "timing_file", "page_size", "call_overhead", "breakdown")


def _page_size(ctx, param, value):
    from sim.tlb import page_size_bytes

    try:
        return page_size_bytes(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def _call_overhead(ctx, param, value):
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise click.BadParameter(f"{value}: cycles per call must be a finite number >= 0", ctx=ctx, param=param)
    return value


def timing_options(func):
    """CPU preset, timing-model overrides, the TLB's page size, a framework's call overhead and
    the cycle breakdown in the table view."""
    return _apply(func, [
        click.option("--cpu", default="icx", show_default=True,
                     help=f"Timing preset (and private levels): {', '.join(cpu_preset_names())}."),
        click.option("--timing", "timing_items", multiple=True, metavar="KEY=VALUE",
                     help="Override a timing parameter, e.g. fill_buffers=16 or dram_cycles=400 (repeatable)."),
        click.option("--timing-file", type=click.Path(exists=True, dir_okay=False),
                     help="TOML file with a [timing] table of overrides."),
        click.option("--page-size", default="4KB", show_default=True, callback=_page_size,
                     help="Pages of the tables' memory, for the simulated DTLB/STLB and the page walks "
                          "(whose page-table reads go through the caches): 4KB, 2MB or 1GB."),
        click.option("--call-overhead", type=float, default=None, metavar="CYCLES", callback=_call_overhead,
                     help="Cycles of one framework operator call (e.g. PyTorch's dispatch), charged per "
                          "embedding call a framework makes (dlrm: one per table) [default: 0, memprof's "
                          "own kernels]."),
        click.option("--breakdown", is_flag=True,
                     help="Show where the cycles go (compute, L2, LLC, DRAM, TLB walks, calls, bandwidth cap) "
                          "in the table view; CSV and JSON always carry it."),
    ])


def timing_overrides(cpu: str, items, path, call_overhead: float | None = None) -> dict:
    """Merge --timing-file and --timing (the latter wins) and --call-overhead; click errors name the problem."""
    if cpu not in cpu_preset_names():
        raise click.BadParameter(f"unknown CPU preset {cpu!r}; known: {', '.join(cpu_preset_names())}", param_hint="--cpu")
    try:
        overrides = load_overrides_toml(path) if path else {}
        given_items = parse_timing_overrides(items)
        per_model = {**overrides.get("compute_cycles_per_lookup", {}),
                     **given_items.pop("compute_cycles_per_lookup", {})}
        overrides.update(given_items)
        if per_model:
            overrides["compute_cycles_per_lookup"] = per_model
        check_model_overrides(overrides)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--timing") from None
    if call_overhead is not None:
        overrides["call_overhead_cycles"] = call_overhead
    return overrides


def _checked(check, what: str):
    """A click callback running ``check(path, what)`` (ValueError -> usage error naming the option)
    at parse time, so a bad output path fails before any work starts."""

    def callback(ctx, param, value):
        for item in (value if isinstance(value, (list, tuple)) else (value,)):
            if item is not None:
                try:
                    check(item, what)
                except ValueError as exc:
                    raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
        return value

    return callback


def _check_plot(path, what: str) -> None:
    from memprof.report.output import check_writable, plot_format

    plot_format(path)
    check_writable(path, what)


def _check_file(path, what: str) -> None:
    from memprof.report.output import check_writable

    check_writable(path, what)


def _check_dir(path, what: str) -> None:
    from memprof.report.output import check_writable_dir

    check_writable_dir(path, what)


def output_file_option(*names, what: str = "output", **kw):
    """An option naming a file the command writes ('-' = stdout), checked before any work."""
    return click.option(*names, type=click.Path(dir_okay=False, allow_dash=True), default=None,
                        callback=_checked(_check_file, what), **kw)


def output_dir_option(*names, what: str = "output directory", **kw):
    """An option naming a directory the command writes into (created later, by the writer), checked
    before any work: it must be a writable directory or creatable."""
    return click.option(*names, type=click.Path(file_okay=False), callback=_checked(_check_dir, what), **kw)


def plot_option(*names, help_text: str, **kw):
    """--plot FILE: .png, .pdf or .svg (matplotlib's format from the suffix), checked before any work."""
    return click.option(*names, type=click.Path(dir_okay=False), default=None,
                        callback=_checked(_check_plot, "plot"),
                        help=f"{help_text} The suffix picks the format: .png, .pdf or .svg.", **kw)


def _format_default(ctx, param, value):
    """--format not given: the one -o's suffix implies. Click processes the options the user gave
    before the defaults, so ``output`` is already parsed when it was given."""
    if value is not None:
        return value
    from memprof.report.output import infer_format

    return infer_format(ctx.params.get("output"))


def end_progress_lines() -> None:
    """End any progress line left open on stderr (before an error or a message)."""
    from memprof.run.progress import end_open_lines

    end_open_lines()


def output_options(func=None, *, output: bool = True, progress: bool = True, columns: bool = False):
    """--format, -o/--output, --progress; ``columns``: --all-columns and --metadata FILE too."""
    if func is None:
        return lambda f: output_options(f, output=output, progress=progress, columns=columns)
    from memprof.report.tables import FORMATS

    options = [click.option("--format", "fmt", type=click.Choice(FORMATS), default=None, callback=_format_default,
                            help="Output format [default: from the -o suffix (.csv, .json, .md), else table].")]
    if output:
        options.append(output_file_option("-o", "--output", what="output",
                                          help="Write to FILE (atomically; '-' = stdout) instead of stdout."))
    if progress:
        options.append(click.option("--progress/--no-progress", default=True, show_default=True,
                                    help="Progress on stderr."))
    if columns:
        options += [
            click.option("--all-columns", is_flag=True,
                         help="Table/Markdown: every column (CSV and JSON always carry every column)."),
            output_file_option("--metadata", "metadata_path", what="metadata file",
                               help="Write the run's metadata (seed, versions, host, parameters) to this JSON file."),
        ]
    return _apply(func, options)


def model_list(models) -> list[str]:
    """The requested models with the dlrm baseline first (added when missing)."""
    from memprof.analysis.experiment import BASELINE

    chosen = parse_models(models or DEFAULT_MODELS)
    return [BASELINE] + [m for m in chosen if m != BASELINE]


def long_run_options(func):
    """--checkpoint DIR, --checkpoint-every SECONDS, --resume/--no-resume, --overwrite-checkpoint and
    --max-memory SIZE (see docs/long-runs.md); the command receives checkpoint, checkpoint_every, resume,
    overwrite_checkpoint, max_memory."""
    options = [
        output_dir_option("--checkpoint", "checkpoint", what="checkpoint directory", default=None, metavar="DIR",
                          help="Save the run's state into DIR every --checkpoint-every seconds and on Ctrl-C."),
        click.option("--checkpoint-every", "checkpoint_every", type=click.FloatRange(min=0), default=60.0,
                     show_default=True, metavar="SECONDS", help="Seconds between checkpoints (0 = every step)."),
        click.option("--resume/--no-resume", default=False, show_default=True,
                     help="Continue from the checkpoint in --checkpoint DIR (same input and options); "
                          "the final numbers equal an uninterrupted run's."),
        click.option("--overwrite-checkpoint", "overwrite_checkpoint", is_flag=True, default=False,
                     help="Without --resume: replace a checkpoint already in --checkpoint DIR (by default "
                          "the run refuses to start rather than lose it)."),
        click.option("--max-memory", "max_memory", default=None, metavar="SIZE",
                     help=f"Peak-memory budget: pick a chunk size that fits, or refuse up front ({SIZE_HELP}) "
                          "[default: the memory available when the run starts]."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def parse_max_memory(text: str | None):
    """The run's memory budget (``memprof.run.memory_budget.Budget``): --max-memory when given,
    else the memory available now; BadParameter on a malformed or zero size."""
    from memprof.run.memory_budget import Budget, default_budget

    try:
        return default_budget() if text is None else Budget(parse_size(text))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-memory") from None


def check_analysis_memory(specs, setup, cpu: str) -> None:
    """For commands without --max-memory (reproduce, sweep): the headline analysis' peak-memory
    estimate for ``specs`` (TraceSpecs) under ``setup`` against the memory available now;
    over it is a usage error before anything is allocated."""
    from memprof.analysis.experiment import estimate_memory
    from memprof.run.memory_budget import MemoryBudgetError, default_budget

    try:
        estimate_memory([make_trace(spec.model, spec) for spec in specs], setup, cpu, default_budget(flag=None))
    except MemoryBudgetError as exc:
        raise click.UsageError(str(exc)) from None


def parse_warmup(text: str) -> int | float:
    """--warmup: an access count ("100000") or a fraction in [0, 1) ("0.1"); click error otherwise."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < 1.0:
        raise click.BadParameter(f"{text!r}: expected a fraction in [0, 1) such as 0.1, or an access count",
                                 param_hint="--warmup")
    return value


# -- long runs and executors (memprof.run) ------------------------------------------------------


def checkpoint_policy(directory, every_seconds: float, resume: bool, overwrite: bool = False):
    """The ``memprof.run.longrun.CheckpointPolicy`` of --checkpoint/--checkpoint-every/--resume/
    --overwrite-checkpoint (None without --checkpoint); click errors on misuse."""
    from memprof.run.longrun import CheckpointPolicy

    if directory is None:
        if resume or overwrite:
            raise click.UsageError(f"{'--resume' if resume else '--overwrite-checkpoint'} needs --checkpoint DIR "
                                   "(where the checkpoint is saved)")
        return None
    if resume and overwrite:
        raise click.UsageError("--resume continues the checkpoint and --overwrite-checkpoint replaces it: give one")
    try:
        return CheckpointPolicy(directory, every_seconds, resume, overwrite)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--checkpoint-every") from None


def finish_partial(stop, fmt: str, output, emitter=None, *, kind: str | None = None) -> None:
    """After ``memprof.run.longrun.Interrupted``: write the partial frame (when it has rows)
    like a normal result, the summary line on stderr, and exit with the stop's status (130
    after Ctrl-C, 143 after SIGTERM). ``emitter(frame, metadata)`` writes the rows the way
    the command writes complete ones (default: ``emit`` with the metadata, as a ``kind`` result)."""
    from memprof.report.tables import emit

    end_progress_lines()
    if stop.frame is not None and len(stop.frame):
        if emitter is None:
            emit(stop.frame, fmt, output, metadata=stop.metadata, kind=kind)
        else:
            emitter(stop.frame, stop.metadata)
    click.echo(stop.message, err=True)
    raise click.exceptions.Exit(stop.exit_code)


def executor_options(func):
    """``--jobs N`` / ``--dask`` / ``--scheduler ADDRESS`` (turned into a spec by ``executor_spec``)."""
    options = [
        click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Local worker processes (1: run in this process). With --dask: the local "
                          "cluster's workers [default there: one per core]."),
        click.option("--dask", "use_dask", is_flag=True, default=False,
                     help="Run the jobs on a local Dask cluster (needs memprof[dask])."),
        click.option("--scheduler", metavar="ADDRESS", default=None,
                     help="Run the jobs on an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 "
                          "(its workers need memprof installed; needs memprof[dask])."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def executor_spec(jobs: int, use_dask: bool, scheduler: str | None):
    """The ``memprof.run.executors.ExecutorSpec`` of ``executor_options`` values; conflicting
    flags are a usage error."""
    from memprof.run.executors import ExecutorSpec

    if use_dask and scheduler:
        raise click.UsageError("--dask starts a local cluster and --scheduler uses an existing one: give one")
    if scheduler and jobs > 1:
        raise click.UsageError("--jobs counts local processes; with --scheduler the scheduler's workers run "
                               "the jobs: leave --jobs out")
    try:
        return ExecutorSpec(jobs=jobs, dask=use_dask, scheduler=scheduler)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _kernel_threads(ctx, param, value):
    from sim.jit import check_threads

    try:
        return check_threads(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def kernel_options(func):
    """``--threads`` / ``--prefetch-distance`` of the pooled() kernels (bench, profile, calibrate).

    Unlike the simulator's ``--threads`` (cache_options), the kernels default to one thread:
    their timings are per-core costs unless asked otherwise."""
    from traces.representations.base import DEFAULT_PREFETCH_DISTANCE

    options = [
        click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, callback=_kernel_threads,
                     help="Threads of the pooled() kernel (1: the serial kernel; more: the parallel one, "
                          "numba's thread count set for the call)."),
        click.option("--prefetch-distance", type=click.IntRange(min=0), default=DEFAULT_PREFETCH_DISTANCE,
                     show_default=True, help="Software-prefetch each row this many lookups ahead (0: off)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _core_counts(ctx, param, value):
    """--cores: a comma list of counts >= 1, or LO..HI (the powers of two from LO to HI)."""
    counts = []
    try:
        for item in csv_list(value):
            if ".." in item:
                lo, hi = (int(v) for v in item.split("..", 1))
                if lo < 1 or hi < lo:
                    raise ValueError
                counts += [c for c in (1 << k for k in range(hi.bit_length())) if lo <= c <= hi]
            else:
                counts.append(int(item))
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected core counts >= 1 as a comma list (1,2,4) or a "
                                 "power-of-two range LO..HI (1..64)", ctx=ctx, param=param) from None
    if not counts or min(counts) < 1:
        raise click.BadParameter(f"{value!r}: every core count must be >= 1", ctx=ctx, param=param)
    return list(dict.fromkeys(counts))


def cores_options(func):
    """--cores N[,N...] | LO..HI and --tables shared|private (comma list): the multi-core runs
    (``memprof.analysis.multicore``, docs/multicore.md)."""
    options = [
        click.option("--cores", "cores", default="1", show_default=True, callback=_core_counts,
                     help="Cores sharing the LLC, each with private L1/L2 and TLB: a comma list (1,2,4) or a "
                          "power-of-two range (1..64); one model (--seed: the same hot rows on every core), core c reading batches "
                          "c*B .. c*B+B-1 of its stream (B = batches per core)."),
        click.option("--tables", "tables", default="shared", show_default=True,
                     type=click.Choice(["shared", "private", "shared,private", "private,shared"]),
                     help="shared: one copy of the tables (threads); private: one copy per core (processes); "
                          "shared,private: both."),
        click.option("--socket-batches", "socket_batches", type=click.IntRange(min=1), default=None,
                     help="Instead of --batches: each core runs ceil(N / cores) batches (at least 4), so every "
                          "core count simulates about the same lookups."),
    ]
    for option in reversed(options):
        func = option(func)
    return func
