"""The one stream driver: input chunks -> a consumer, with resume, warm-up, checkpoints and stops.

Every long loop of memprof is ``drive(stream, consumer, run)``: a trace file replayed through
one simulator per LLC size (``memprof.analysis.replay``), a workload's batches through the
analysis' simulators (``memprof.analysis.experiment``), a trace through a miss-ratio
accumulator (``memprof.analysis.mrc``). The driver

- skips what a resumed consumer has already seen: a ``Stream`` that can start at step k
  (a seeded workload regenerates batch k directly) is opened there; another (a trace file) is
  re-read from the start and the accesses already seen are dropped, a chunk's seen head too;
- ends the warm-up (``Warmup``: a number of accesses or of steps, resolved once by
  ``resolve_warmup``) by calling ``consumer.end_warmup()`` exactly at the boundary, splitting
  a chunk there;
- after each step, checkpoints when due and stops when Ctrl-C or SIGTERM came (``LongRun``)
  or ``should_stop(position)`` says so; a stop saves a checkpoint and raises
  ``memprof.run.longrun.Interrupted`` with the consumer's partial result;
- shows progress on stderr.

A consumer (``Consumer``) has ``position`` (accesses fed), ``feed(chunk, offset)`` (the
accesses ``offset`` onwards, ``offset == position``), ``result()``, and for checkpoints
``checkpoint_objects()`` (what ``sim.checkpoint`` saves), ``checkpoint_extra()`` and
``restore_extra(extra)`` (JSON state of its own), and ``end_warmup()`` when it has a warm-up.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple, Protocol

import numpy as np

from memprof.run.longrun import Interrupted, LongRun
from memprof.run.progress import Progress
from sim.checkpoint import CheckpointError
from sim.engine.simulator import resolve_warmup as _resolve_accesses
from traces.format.tracefile import DEFAULT_CHUNK_ENTRIES, count_accesses, iter_trace_file


class Consumer(Protocol):
    """What ``drive`` feeds (see the module docstring)."""

    @property
    def position(self) -> int: ...

    def feed(self, chunk, offset: int) -> None: ...

    def result(self) -> Any: ...

    def checkpoint_objects(self) -> Mapping[str, Any]: ...

    def checkpoint_extra(self) -> dict: ...

    def restore_extra(self, extra: dict) -> None: ...


class Emitted(NamedTuple):
    """One step of a workload stream: the addresses a batch's kernel reads, and the batch
    (for consumers that count lookups)."""

    addrs: np.ndarray
    batch: Any


def addresses(item) -> np.ndarray:
    """The address chunk of a stream item (an array, or an ``Emitted`` batch)."""
    return item.addrs if isinstance(item, Emitted) else item


@dataclass
class Stream:
    """A resumable input. ``open(step)`` iterates the input's steps (chunks or batches): from
    step ``step`` when ``seekable``, else from the start whatever ``step`` (the driver then
    drops what was seen). ``steps``/``accesses``: totals when known (progress, messages)."""

    name: str
    open: Callable[[int], Iterable]
    seekable: bool = False
    steps: int | None = None
    accesses: int | None = None


def file_stream(path: str | os.PathLike, chunk_entries: int = DEFAULT_CHUNK_ENTRIES,
                accesses: int | None = None, name: str | None = None) -> Stream:
    """A trace file (memprof .trace, .npy, din) as ``chunk_entries``-access chunks."""
    return Stream(name or os.fspath(path), lambda step: iter_trace_file(path, chunk_entries),
                  accesses=accesses if accesses is not None else count_accesses(path, scan=False))


def chunk_stream(chunks: Iterable[np.ndarray], name: str = "trace", accesses: int | None = None) -> Stream:
    """Any iterable of uint64 address chunks, read once (a resumed run must pass a fresh one)."""
    return Stream(name, lambda step: iter(chunks), accesses=accesses)


def skip_batches(trace, start: int) -> Iterator:
    """The batches of a ``ModelTrace`` from number ``start``: generated directly for a seeded
    workload (batch k does not depend on earlier batches), read and dropped for a dataset."""
    if start <= 0:
        return trace.batches()
    if trace.generator is not None:
        return trace.generator.batches(trace.batch_size, max(trace.num_batches - start, 0), start=start)
    return itertools.islice(trace.batches(), start, None)


def batch_stream(trace, name: str | None = None) -> Stream:
    """A ``ModelTrace``: one step per batch, each ``Emitted(addresses, batch)``; seekable."""

    def steps(start: int) -> Iterator[Emitted]:
        for batch in skip_batches(trace, start):
            yield Emitted(trace.emit(batch), batch)

    return Stream(name or trace.representation.name, steps, seekable=True, steps=trace.num_batches)


# -- warm-up ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Warmup:
    """Where measuring starts: after ``count`` accesses, or (``steps``) after ``count`` steps."""

    count: int = 0
    steps: bool = False

    def __post_init__(self):
        if isinstance(self.count, bool) or not isinstance(self.count, (int, np.integer)) or self.count < 0:
            raise ValueError(f"warm-up {self.count!r}: must be a whole number >= 0")


def resolve_warmup(warmup: int | float, total: int | Callable[[], int] | None = None, *,
                   steps: bool = False) -> int:
    """The one warm-up rule: an int is a count (of accesses, or of steps); a float in [0, 1)
    is a fraction of ``total`` (a number, or a callable that counts the input, called only
    when a fraction needs it). Accesses round down; steps (batches) round to the nearest."""
    if isinstance(warmup, float) and warmup > 0 and callable(total):
        total = total()
    elif callable(total):
        total = None
    if steps and isinstance(warmup, float):
        if not 0.0 <= warmup < 1.0:
            raise ValueError(f"warmup={warmup}: a fraction must be in [0, 1)")
        if total is None:
            raise ValueError("a warm-up fraction of the batches needs the number of batches")
        return int(round(warmup * total))
    return _resolve_accesses(warmup, total)


# -- the driver ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamPosition:
    """How far a stream got: steps and accesses fed (of the totals when known), and whether
    anything was measured (past the warm-up)."""

    name: str
    steps: int
    accesses: int
    measured: bool
    steps_total: int | None = None
    accesses_total: int | None = None
    warmup: Warmup = field(default_factory=Warmup)


def _measured(warmup: Warmup, steps: int, accesses: int) -> bool:
    if warmup.steps:
        return steps > warmup.count
    return not (warmup.count and accesses <= warmup.count)


def _cut(item, start: int, stop: int | None = None):
    if isinstance(item, Emitted):
        raise ValueError("a workload batch is fed whole: its warm-up is counted in batches")
    return item[start:stop]


def _feed(consumer, item, offset: int, warmup: Warmup, step: int) -> None:
    """Feed the unseen part of ``item`` (trace accesses ``offset`` onwards), ending the warm-up at its boundary."""
    chunk = addresses(item)
    seen = consumer.position
    if seen > offset:
        item, offset = _cut(item, seen - offset), seen
        chunk = addresses(item)
    if warmup.steps:
        if step == warmup.count:
            consumer.end_warmup()
        consumer.feed(item, offset)
        return
    boundary = warmup.count
    if boundary and offset < boundary < offset + chunk.shape[0]:
        cut = boundary - offset
        consumer.feed(_cut(item, 0, cut), offset)
        item, offset = _cut(item, cut), boundary
    if boundary and offset == boundary:
        consumer.end_warmup()
    consumer.feed(item, offset)


def drive(stream: Stream, consumer, run: LongRun | None = None, *, warmup: Warmup = Warmup(),
          resume: bool = False, saved: Callable[[], tuple[dict, dict]] | None = None, label: str | None = None,
          progress: bool = True, should_stop: Callable[[StreamPosition], bool] | None = None) -> StreamPosition:
    """Feed ``stream`` to ``consumer`` to the end; return where it ended.

    ``run``: checkpoints (every ``every_seconds`` and on a stop) and Ctrl-C/SIGTERM handling;
    without it a KeyboardInterrupt propagates unchanged. ``resume``: restore the consumer
    from ``run``'s checkpoint and continue from there. ``saved()``: (extra, arrays) of the
    enclosing run (finished results) stored with each checkpoint. ``should_stop(position)``:
    asked after every step; True stops like Ctrl-C. A stop raises ``Interrupted`` (``message``
    the checkpoint note, ``position``, ``result``: the consumer's partial result, or None
    inside the warm-up). A warm-up that covers the whole input is a ValueError.
    """
    objects = consumer.checkpoint_objects()
    step = 0
    if resume:
        extra = run.restore(objects)
        if "stream" not in extra or "consumer" not in extra:
            raise CheckpointError(f"checkpoint {run.path}: written by an older memprof (no stream position); "
                                  "rerun without --resume")
        consumer.restore_extra(extra["consumer"])
        step = int(extra["stream"]["step"])
    if not stream.seekable:
        step = 0  # re-read from the start; what was seen is dropped
    offset = consumer.position if stream.seekable else 0

    def position() -> StreamPosition:
        return StreamPosition(stream.name, step, consumer.position, _measured(warmup, step, consumer.position),
                              stream.steps, stream.accesses, warmup)

    def state():
        outer, arrays = saved() if saved else ({}, {})
        extra = {**outer, "stream": {"step": step}, "consumer": consumer.checkpoint_extra()}
        return objects, extra, arrays

    fraction = (lambda: step / max(stream.steps, 1)) if stream.steps else (lambda: None)
    meter = Progress(label or stream.name, total=stream.accesses, enabled=progress, start=consumer.position,
                     start_fraction=fraction() or 0.0)
    try:
        for item in stream.open(step):
            end = offset + int(addresses(item).shape[0])
            before = consumer.position
            if before < offset:
                raise ValueError(f"trace gap: the consumer has seen {before:,} accesses, the next chunk starts at "
                                 f"{offset:,}")
            if end > before or stream.seekable:  # a workload's empty batch still counts as a step
                _feed(consumer, item, offset, warmup, step)
            offset = end
            step += 1
            meter.update(consumer.position - before, fraction=fraction())
            if run is not None:
                run.step(state)
            if should_stop is not None and should_stop(position()):
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        meter.close()
        if run is None or run.guard.forced:
            raise
        note = run.stopped(state)
        where = position()
        raise Interrupted(None, {}, note, done=where.steps, total=where.steps_total, position=where,
                          result=consumer.result() if where.measured else None, signum=run.guard.signum) from None
    meter.close()
    where = position()
    if not where.measured:
        if warmup.steps:
            raise ValueError(f"no batch left to measure after a warm-up of {warmup.count} batch(es): "
                             "give more --batches or a smaller --warmup")
        raise ValueError(f"the warm-up ({warmup.count:,} accesses) covers the whole trace ({where.accesses:,} "
                         "accesses)")
    return where


__all__ = ["Consumer", "Emitted", "Stream", "StreamPosition", "Warmup", "addresses", "batch_stream",
           "chunk_stream", "drive", "file_stream", "resolve_warmup", "skip_batches"]
