"""Click options shared by the commands that build embedding traces, and their parsing.

One place turns ``--workload/--data/--batch-size/--batches/--pooling/--alpha/--seed/
--param`` into a ``traces.stream.ModelTrace``, so trace, simulate, mrc and sweep agree.
"""

from __future__ import annotations

import functools
import itertools

import click

from sim.sizes import SIZE_HELP, parse_size
from traces.representations import REGISTRY, build, config_fields
from traces.stream import ModelTrace, model_trace
from traces.workloads import PRESETS, get_workload

DEFAULT_ALPHA = 1.05


def csv_list(value: str | tuple | None) -> list[str]:
    """Split comma lists from one or several option values."""
    if value is None:
        return []
    values = value if isinstance(value, (list, tuple)) else [value]
    return [item.strip() for text in values for item in str(text).split(",") if item.strip()]


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


def _coerce(name: str, field: str, default, text: str):
    if isinstance(default, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise click.BadParameter(f"{name}.{field}={text}: expected true or false", param_hint="--param")
    kind = type(default) if default is not None else int
    try:
        return kind(text)
    except ValueError:
        raise click.BadParameter(f"{name}.{field}={text}: expected {kind.__name__}", param_hint="--param") from None


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
        if not targets:
            raise click.BadParameter(f"{item!r}: no selected model has a parameter {field!r}", param_hint="--param")
        for target in targets:
            fields = config_fields(target)
            if field not in fields:
                raise click.BadParameter(
                    f"{item!r}: {target} has no parameter {field!r}; known: {', '.join(fields) or '(none)'}",
                    param_hint="--param")
            out.setdefault(target, {})[field] = _coerce(target, field, fields[field], text.strip())
    return out


def workload_options(func=None, *, model_params: bool = True, batches: int = 10):
    """Options describing where lookups come from (synthetic workload or a dataset file).

    ``model_params=False`` leaves out ``--param`` (for commands that give it another meaning).
    """
    if func is None:
        return lambda f: workload_options(f, model_params=model_params, batches=batches)
    options = [
        click.option("--workload", default="criteo-tb", show_default=True,
                     help=f"Table preset ({', '.join(PRESETS)}) or a comma list of cardinalities."),
        click.option("--dim", type=int, default=None, help="Override the embedding dimension."),
        click.option("--data", type=click.Path(exists=True, dir_okay=False),
                     help="Read lookups from a dataset (Criteo TSV, Avazu CSV, .npz) instead of generating them."),
        click.option("--batch-size", type=click.IntRange(min=1), default=2048, show_default=True),
        click.option("--batches", type=click.IntRange(min=1), default=batches, show_default=True,
                     help="Number of batches (with --data: at most this many)."),
        click.option("--pooling", default=None,
                     help="Bag size: N, one per feature (3,2,...), poisson:MEAN or uniform:LO-HI "
                          "[default: the workload's, else 1]."),
        click.option("--alpha", type=float, default=DEFAULT_ALPHA, show_default=True,
                     help="Zipf exponent of token popularity (0 = uniform; <= 1 allowed)."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed of the token generator."),
        click.option("--line", "line_bytes", type=int, default=64, show_default=True, help="Cache line bytes."),
    ]
    if model_params:
        options.append(click.option("--param", "params", multiple=True, metavar="[MODEL.]FIELD=VALUE",
                                    help="Representation parameter, e.g. memrec.d=50000 or robe.chunk=16 "
                                         "(repeatable)."))
    for option in reversed(options):
        func = option(func)
    return func


def make_trace(model: str, opts: dict, model_params: dict | None = None) -> ModelTrace:
    """Build the ModelTrace of ``model`` from workload_options values; errors become click errors."""
    try:
        workload = get_workload(opts["workload"], opts.get("dim"))
        params = (model_params or {}).get(model, {})
        if opts.get("data"):
            from traces.readers import open_dataset

            rep = build(model, workload, **params)
            batches = open_dataset(opts["data"], opts["batch_size"], caps=list(workload.cardinalities))
            limited = itertools.islice(batches, opts["batches"])
            return ModelTrace(rep, limited, batch_size=opts["batch_size"], num_batches=opts["batches"],
                              line_bytes=opts["line_bytes"], source={"source": "dataset", "path": str(opts["data"])})
        return model_trace(model, workload, batch_size=opts["batch_size"], batches=opts["batches"],
                           seed=opts["seed"], alpha=opts["alpha"], pooling=opts["pooling"],
                           line_bytes=opts["line_bytes"], **params)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def workload_opts(kwargs: dict) -> dict:
    """The workload_options subset of a command's kwargs."""
    keys = ("workload", "dim", "data", "batch_size", "batches", "pooling", "alpha", "seed", "line_bytes")
    return {k: kwargs[k] for k in keys if k in kwargs}


def size_option(*names, help_text: str, **kw):
    return click.option(*names, help=f"{help_text} ({SIZE_HELP}).", **kw)


def runtime_errors(func):
    """Turn ValueError/OSError raised while running into one line and exit 1 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (ValueError, OSError) as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def long_run_options(func):
    """--checkpoint DIR, --checkpoint-every SECONDS, --resume/--no-resume and --max-memory SIZE
    (see docs/long-runs.md); the command receives checkpoint, checkpoint_every, resume, max_memory."""
    options = [
        click.option("--checkpoint", "checkpoint", type=click.Path(file_okay=False), default=None, metavar="DIR",
                     help="Save the run's state into DIR every --checkpoint-every seconds and on Ctrl-C."),
        click.option("--checkpoint-every", "checkpoint_every", type=click.FloatRange(min=0), default=60.0,
                     show_default=True, metavar="SECONDS", help="Seconds between checkpoints (0 = every step)."),
        click.option("--resume/--no-resume", default=False, show_default=True,
                     help="Continue from the checkpoint in --checkpoint DIR (same input and options); "
                          "the final numbers equal an uninterrupted run's."),
        click.option("--max-memory", "max_memory", default=None, metavar="SIZE",
                     help=f"Peak-memory budget: pick a chunk size that fits, or refuse up front ({SIZE_HELP})."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def parse_max_memory(text: str | None) -> int | None:
    """--max-memory as bytes (None when not given); BadParameter on a malformed size."""
    if text is None:
        return None
    try:
        return parse_size(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-memory") from None


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
