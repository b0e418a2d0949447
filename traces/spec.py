"""What a trace is made of, described once: ``TableSpec``, ``Workload`` and ``TraceSpec``.

``TraceSpec`` is "model + workload + batches": the one description that the CLI, the
sweep's jobs, the set-partition jobs and the hardware child processes (kernel runner,
valgrind, perf) share. It is a frozen dataclass of plain picklable fields, so it
crosses process pools as is; ``build()`` makes the ``ModelTrace`` in this process and
``to_argv()`` gives the command-line arguments that rebuild the same spec in another
(``memprof trace``/``simulate``/... and ``python -m memprof.hw.kernel_runner`` read them).

``phase`` (forward, default | backward | train), ``grad`` (sparse | dense) and ``optimizer``
(sgd | adagrad) pick the pass traced (traces.training); the last two matter only off forward.

``coerce_param`` is the one parser of representation parameters given as text
(``--param memrec.d=50000``, sweep axes, child argv): the type comes from the
representation's config field; booleans accept true/false, 1/0, yes/no, on/off.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from traces.format.tracefile import DEFAULT_CHUNK_ENTRIES
from traces.generator import SyntheticGenerator, parse_pooling
from traces.skew import get_skew
from traces.representations import REGISTRY, Representation, build, config_fields
from traces.stream import ModelTrace
from traces.training import TrainConfig, check_grad, check_optimizer, check_phase
from traces.workloads import TableSpec, Workload, get_workload

__all__ = ["TableSpec", "Workload", "TraceSpec", "coerce_param", "parse_param_items", "format_param",
           "TRUE_WORDS", "FALSE_WORDS"]

TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")
NONE_WORDS = ("none", "null")


def _field_kind(model: str, field: str):
    """(default, type name) of a representation's config field, from its annotation."""
    _, config_cls = REGISTRY[model]
    for f in dataclasses.fields(config_cls):
        if f.name == field:
            annotation = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
            return f.default, annotation.replace(" ", "")
    raise KeyError(field)


def coerce_param(model: str, field: str, value):
    """Representation parameter ``model.field`` as its config type (text or an already typed value).

    Booleans: true/false, 1/0, yes/no, on/off (any case); an optional field (default None)
    also takes "none". ValueError names the parameter and the expected type.
    """
    if model not in REGISTRY:
        raise ValueError(f"unknown representation {model!r}; known: {', '.join(REGISTRY)}")
    fields = config_fields(model)
    if field not in fields:
        raise ValueError(f"{model} has no parameter {field!r}; known: {', '.join(fields) or '(none)'}")
    default, annotation = _field_kind(model, field)
    optional = default is None or annotation.endswith("|None") or annotation.startswith("None|")
    base = annotation.replace("|None", "").replace("None|", "")
    if isinstance(value, str):
        text = value.strip()
        if optional and text.lower() in NONE_WORDS:
            return None
    elif value is None:
        if optional:
            return None
        raise ValueError(f"{model}.{field}=None: expected {base}")
    else:
        text = None
    if base == "bool":
        if text is None:
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            text = str(value)
        if text.lower() in TRUE_WORDS:
            return True
        if text.lower() in FALSE_WORDS:
            return False
        raise ValueError(f"{model}.{field}={text}: expected a boolean ({'/'.join(TRUE_WORDS)} or "
                         f"{'/'.join(FALSE_WORDS)})")
    kind = {"int": int, "float": float, "str": str}.get(base, type(default) if default is not None else str)
    if text is None:
        if kind is int and isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return int(value)
        if kind is float and isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            return float(value)
        if kind is str and isinstance(value, str):
            return value
        text = str(value)
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{model}.{field}={text}: expected {kind.__name__}") from None


def format_param(value) -> str:
    """A parameter value as text that ``coerce_param`` reads back to the same value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def parse_param_items(model: str, items) -> dict:
    """``["d=50000", "memrec.k=2", "robe.chunk=8"]`` -> {field: typed value} for ``model``;
    items prefixed with another model's name are skipped (one argv serves several models)."""
    out = {}
    for item in items or ():
        key, sep, text = str(item).partition("=")
        prefix, dot, field = key.strip().rpartition(".")
        if not sep or not field:
            raise ValueError(f"parameter {item!r}: expected FIELD=VALUE or MODEL.FIELD=VALUE")
        if dot and prefix != model:
            if prefix not in REGISTRY:
                raise ValueError(f"parameter {item!r}: unknown model {prefix!r}; known: {', '.join(REGISTRY)}")
            continue
        out[field] = coerce_param(model, field, text)
    return out


def _whole(name: str, value, minimum: int | None, optional: bool = False):
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}={value!r}: must be an integer" + (f" >= {minimum}" if minimum is not None else ""))
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}={value}: must be >= {minimum}")
    return int(value)


@dataclass(frozen=True)
class TraceSpec:
    """One representation's trace: the model, its workload and the batches that drive it.

    ``workload``: a preset name or a comma list of table cardinalities; ``dim`` overrides its
    embedding dimension and ``max_rows`` caps every table. ``data``: a dataset file (Criteo
    TSV, Avazu CSV, .npz) to read lookups from instead of generating them (``batches`` is
    then an upper limit and ``alpha``/``pooling``/``seed`` do not apply). ``params``: the
    representation's config fields as sorted (field, value) pairs (a dict or text values
    are accepted and coerced with ``coerce_param``).
    """

    model: str = "dlrm"
    workload: str = "criteo-tb"
    dim: int | None = None
    batch_size: int = 2048
    batches: int = 10
    seed: int = 0
    alpha: float = 1.05
    pooling: str | None = None
    line_bytes: int = 64
    params: tuple[tuple[str, object], ...] = ()
    data: str | None = None
    max_rows: int | None = None
    skew: str | None = None  # a traces.skew preset: sets alpha, pooling and the batch's active rows
    phase: str = "forward"  # forward | backward | train (forward + backward + optimizer step)
    grad: str = "sparse"  # the backward's gradient: sparse | dense
    optimizer: str = "sgd"  # sgd | adagrad (row-wise)

    def __post_init__(self) -> None:
        if self.model not in REGISTRY:
            raise ValueError(f"unknown model {self.model!r}; known: {', '.join(REGISTRY)}")
        if not isinstance(self.workload, str) or not self.workload.strip():
            raise ValueError(f"workload={self.workload!r}: give a preset name or a comma list of cardinalities")

        def set_(name, value):  # normalise a field of this frozen instance
            object.__setattr__(self, name, value)

        check_phase(self.phase)
        check_grad(self.grad)
        check_optimizer(self.optimizer)
        set_("dim", _whole("dim", self.dim, 1, optional=True))
        set_("max_rows", _whole("max_rows", self.max_rows, 1, optional=True))
        set_("batch_size", _whole("batch_size", self.batch_size, 1))
        set_("batches", _whole("batches", self.batches, 1))
        set_("seed", _whole("seed", self.seed, 0))
        set_("line_bytes", _whole("line_bytes", self.line_bytes, 1))
        if self.line_bytes & (self.line_bytes - 1):
            raise ValueError(f"line_bytes={self.line_bytes}: must be a positive power of two")
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float, np.integer, np.floating)) \
                or not (self.alpha >= 0 and math.isfinite(self.alpha)):
            raise ValueError(f"alpha={self.alpha!r}: must be a finite number >= 0")
        set_("alpha", float(self.alpha))
        if self.skew is not None:
            if self.data is not None:
                raise ValueError(f"skew={self.skew!r} shapes generated tokens; a dataset (data) brings its own")
            preset = get_skew(self.skew)
            if self.pooling is not None and str(self.pooling).strip() != str(preset.pooling):
                raise ValueError(f"skew={self.skew!r} sets the pooling ({preset.pooling}); give one or the other")
            set_("alpha", preset.alpha)
            set_("pooling", str(preset.pooling))
        workload = self.workload_spec()  # ValueError for an unknown preset or a bad cardinality list
        table_bytes = sum(t.rows for t in workload.tables) * workload.dim * 4
        if table_bytes >= 1 << 62:  # byte addresses are 63-bit (bit 63 marks writes), with room for the layout
            raise ValueError(f"workload {self.workload!r}: {sum(t.rows for t in workload.tables):,} rows of dim "
                             f"{workload.dim} are {table_bytes:,} bytes of tables, beyond the 62-bit address "
                             "space traces use; give smaller cardinalities")
        if self.pooling is not None:
            set_("pooling", str(self.pooling).strip())
            parse_pooling(self.pooling, workload.num_features, workload.pooling)
        if self.data is not None:
            set_("data", os.fspath(self.data))
        pairs = self.params.items() if isinstance(self.params, dict) else self.params
        typed = {}
        for pair in pairs:
            if len(pair) != 2:
                raise ValueError(f"params: expected (field, value) pairs, got {pair!r}")
            typed[str(pair[0])] = coerce_param(self.model, str(pair[0]), pair[1])
        set_("params", tuple(sorted(typed.items())))

    @property
    def param_dict(self) -> dict:
        return dict(self.params)

    def workload_spec(self) -> Workload:
        """The workload's tables (``dim`` applied, then the ``max_rows`` cap)."""
        workload = get_workload(self.workload, self.dim)
        return workload.capped(self.max_rows) if self.max_rows is not None else workload

    def representation(self) -> Representation:
        """The representation, configured and sized (tables not allocated)."""
        return build(self.model, self.workload_spec(), **self.param_dict)

    def build(self, representation: Representation | None = None, *,
              chunk_entries: int = DEFAULT_CHUNK_ENTRIES) -> ModelTrace:
        """The ``ModelTrace``: seeded synthetic batches, or the first ``batches`` batches of ``data``.

        ``representation``: one built from this spec already (e.g. with allocated tables).
        """
        rep = representation if representation is not None else self.representation()
        if self.data is not None:
            from traces.readers import open_dataset

            batches = itertools.islice(open_dataset(self.data, self.batch_size,
                                                    caps=list(rep.workload.cardinalities)), self.batches)
            return ModelTrace(rep, batches, batch_size=self.batch_size, num_batches=self.batches,
                              line_bytes=self.line_bytes, chunk_entries=chunk_entries,
                              source={"source": "dataset", "path": str(self.data)}, **self.training())
        active_reuse = get_skew(self.skew).active_reuse if self.skew is not None else 0.0
        generator = SyntheticGenerator(rep.workload, alpha=self.alpha, pooling=self.pooling, seed=self.seed,
                                       active_reuse=active_reuse)
        return ModelTrace(rep, generator=generator, batch_size=self.batch_size, num_batches=self.batches,
                          line_bytes=self.line_bytes, chunk_entries=chunk_entries, **self.training())

    def training(self) -> dict:
        """ModelTrace's phase arguments: the phase and its ``TrainConfig``."""
        return {"phase": self.phase, "train": TrainConfig(grad=self.grad, optimizer=self.optimizer)}

    def chunks(self) -> Iterator[np.ndarray]:
        """The trace's address chunks (a set-partition job's source protocol, with ``describe``)."""
        return iter(self.build())

    def lookups_after(self, warmup_accesses: int = 0) -> int | None:
        """Token lookups of the batches after the first ``warmup_accesses`` trace accesses.

        None when the warm-up ends inside a batch: a lookup there is neither warm-up nor
        measured, so no whole count exists. With no warm-up only the batches are drawn.
        """
        trace = self.build()
        if warmup_accesses <= 0:
            return int(sum(batch.num_lookups for batch in trace.batches()))
        position, lookups = 0, 0
        for batch in trace.batches():
            start, position = position, position + int(trace.emit(batch).shape[0])
            if start < warmup_accesses < position:
                return None
            if start >= warmup_accesses:
                lookups += batch.num_lookups
        return lookups

    def describe(self) -> dict:
        """The spec as result columns: model, workload, batches and the representation parameters."""
        out = {"model": self.model, "workload": self.workload}
        if self.dim is not None:
            out["dim"] = self.dim
        if self.max_rows is not None:
            out["max_rows"] = self.max_rows
        if self.data is not None:
            out["data"] = self.data
        out.update(batch_size=self.batch_size, batches=self.batches, seed=self.seed, alpha=self.alpha)
        if self.pooling is not None:
            out["pooling"] = self.pooling
        if self.phase != "forward":
            out.update(phase=self.phase, grad=self.grad, optimizer=self.optimizer)
        return {**out, **self.param_dict}

    def to_argv(self) -> list[str]:
        """Command-line arguments that rebuild this spec: ``--model``, the workload options of
        ``memprof trace``/``simulate``/..., and one ``--param MODEL.FIELD=VALUE`` per parameter
        (``--max-rows`` only when set: the kernel runner reads it, the analysis commands do not)."""
        argv = ["--model", self.model, "--workload", self.workload, "--batch-size", str(self.batch_size),
                "--batches", str(self.batches), "--seed", str(self.seed), "--line", str(self.line_bytes)]
        if self.skew is not None:  # the preset sets alpha and pooling
            argv += ["--skew", self.skew]
        else:
            argv += ["--alpha", repr(self.alpha)] + (["--pooling", self.pooling] if self.pooling is not None else [])
        if self.dim is not None:
            argv += ["--dim", str(self.dim)]
        if self.data is not None:
            argv += ["--data", self.data]
        if self.max_rows is not None:
            argv += ["--max-rows", str(self.max_rows)]
        if self.phase != "forward":
            argv += ["--phase", self.phase, "--grad", self.grad, "--optimizer", self.optimizer]
        for key, value in self.params:
            argv += ["--param", f"{self.model}.{key}={format_param(value)}"]
        return argv
