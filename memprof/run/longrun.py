"""Long runs on one machine: checkpoint and resume, Ctrl-C as a clean stop, trace skipping.

Why: a billion-access simulation takes hours. ``LongRun`` saves the state of the run's
simulators (or miss-ratio accumulators) every ``every_seconds`` and when stopped, into
``DIR/<name>.ckpt.npz`` (``sim.checkpoint``); ``--resume`` reloads it, and the run
re-reads (trace file) or regenerates (seeded workload) its input, skipping the accesses
each consumer has already seen, so the final numbers equal an uninterrupted run's.

Ctrl-C: while a ``LongRun`` is open, the first SIGINT only sets a flag; the run stops at
the next step boundary (a chunk or a batch fed to every consumer, so no state is half
updated), checkpoints, and the caller raises ``Interrupted`` carrying the partial result.
A second Ctrl-C aborts at once (no checkpoint). A successful run removes its checkpoint.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import click
import numpy as np

from memprof.report.tables import emit
from sim.checkpoint import (check_checkpoint, read_checkpoint_arrays, read_checkpoint_meta, restore_checkpoint,
                            save_checkpoint)

DEFAULT_EVERY_SECONDS = 60.0
EXIT_INTERRUPTED = 130  # 128 + SIGINT, the shell's convention


@dataclass(frozen=True)
class CheckpointPolicy:
    """Where and how often a run checkpoints, and whether it resumes from an earlier checkpoint."""

    directory: str | os.PathLike
    every_seconds: float = DEFAULT_EVERY_SECONDS
    resume: bool = False

    def __post_init__(self):
        if not str(self.directory):
            raise ValueError("checkpoint directory must not be empty")
        if not self.every_seconds >= 0:
            raise ValueError(f"checkpoint interval {self.every_seconds!r} s: must be >= 0 (0 = after every step)")


class Interrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C: ``frame`` (rows computed so far, ``partial`` column), ``metadata``
    and ``message`` (one line: how much of the input was simulated). A KeyboardInterrupt, so a
    caller that does not handle it stops as before."""

    def __init__(self, frame, metadata: dict, message: str):
        super().__init__(message)
        self.frame, self.metadata, self.message = frame, metadata, message

    def __reduce__(self):  # picklable across process pools
        return (type(self), (self.frame, self.metadata, self.message))


class StopGuard:
    """Context manager: the first SIGINT sets ``requested`` (checked at step boundaries with
    ``check``); a second raises KeyboardInterrupt at once with ``forced`` set. Only the main
    thread can install signal handlers; elsewhere SIGINT keeps its default behaviour."""

    def __init__(self, stream=None):
        self.requested = False
        self.forced = False
        self._previous = None
        self._stream = stream

    def _handler(self, signum, frame):
        if self.requested:
            self.forced = True
            raise KeyboardInterrupt
        self.requested = True
        out = self._stream if self._stream is not None else sys.stderr
        out.write("\nstopping after the current step (Ctrl-C again to abort at once, without a checkpoint)\n")
        out.flush()

    def check(self) -> None:
        """Raise KeyboardInterrupt when a stop was requested."""
        if self.requested:
            raise KeyboardInterrupt

    def __enter__(self) -> "StopGuard":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


class LongRun:
    """Checkpoint cadence, resume and stop requests of one run (use as a context manager).

    ``name`` names the file (``DIR/<name>.ckpt.npz``); ``trace`` and ``config`` are the
    fingerprints a resumed run must match (``sim.checkpoint.check_checkpoint``). Without a
    ``policy`` nothing is saved, but Ctrl-C still stops cleanly.
    """

    def __init__(self, name: str, policy: CheckpointPolicy | None, *, trace: Mapping, config: Mapping | None = None,
                 clock: Callable[[], float] = time.monotonic, stream=None):
        self.name = name
        self.policy = policy
        self.trace = dict(trace)
        self.config = dict(config or {})
        self.path = Path(policy.directory) / f"{name}.ckpt.npz" if policy is not None else None
        self._clock = clock
        self._stream = stream
        self._last_save = clock()
        self.saves = 0
        self.guard = StopGuard(stream)

    def __enter__(self) -> "LongRun":
        self.guard.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.guard.__exit__(*exc)

    def _say(self, text: str) -> None:
        out = self._stream if self._stream is not None else sys.stderr
        out.write(text + "\n")
        out.flush()

    # -- resume -------------------------------------------------------------------------
    def resume_meta(self) -> dict | None:
        """The checkpoint's metadata when resuming from one (checked against this run), else None."""
        if self.policy is None or not self.policy.resume:
            return None
        if not self.path.exists():
            self._say(f"no checkpoint at {self.path}: starting from the beginning")
            return None
        meta = read_checkpoint_meta(self.path)
        check_checkpoint(self.path, meta, trace=self.trace, config=self.config)
        if not meta["objects"]:  # nothing left to check: no state in progress
            self._say(f"resuming from {self.path}")
        return meta

    def saved_arrays(self) -> dict[str, np.ndarray]:
        """The finished results' arrays stored with the checkpoint being resumed."""
        return read_checkpoint_arrays(self.path)

    def restore(self, objects: Mapping[str, Any]) -> dict:
        """Load the checkpoint's state into ``objects`` (fresh, same configuration); return its extra."""
        extra = restore_checkpoint(self.path, objects, trace=self.trace, config=self.config)
        self._say(f"resuming from {self.path}")
        return extra

    # -- saving -------------------------------------------------------------------------
    def due(self) -> bool:
        return self.policy is not None and self._clock() - self._last_save >= self.policy.every_seconds

    def save(self, objects: Mapping[str, Any], extra: Mapping | None = None,
             arrays: Mapping[str, np.ndarray] | None = None) -> None:
        """Checkpoint now (no-op without a policy); ``arrays``: finished results to keep beside the state."""
        if self.policy is None:
            return
        save_checkpoint(self.path, objects, trace=self.trace, config=self.config, extra=extra, arrays=arrays)
        self._last_save = self._clock()
        self.saves += 1

    def step(self, state: Callable[[], tuple[Mapping[str, Any], Mapping]]) -> None:
        """Call after each complete step: stop if Ctrl-C was pressed, checkpoint if due.

        ``state()`` returns (objects, extra[, arrays]) to save; it is called only when saving."""
        self.guard.check()
        if self.due():
            self.save(*state())

    def stopped(self, state: Callable[[], tuple[Mapping[str, Any], Mapping]] | None) -> str:
        """After a KeyboardInterrupt at a step boundary: checkpoint (when configured) and
        return a note for the user. A forced stop (second Ctrl-C) is re-raised as is."""
        if self.guard.forced:
            raise KeyboardInterrupt
        if self.policy is None or state is None:
            return "no checkpoint (give --checkpoint DIR to be able to resume)"
        self.save(*state())
        return f"checkpoint saved to {self.path}; rerun with --resume to continue"

    def finish(self) -> None:
        """The run completed: its checkpoint is obsolete."""
        if self.path is not None and self.path.exists():
            self.path.unlink()


# -- feeding ----------------------------------------------------------------------------------


def position(consumer) -> int:
    """Trace accesses ``consumer`` has seen: ``Simulator.fed`` or an accumulator's ``accesses``."""
    value = getattr(consumer, "fed", None)
    if value is None:
        value = consumer.accesses
    return int(value)


def feed(consumers: Iterable, chunk: np.ndarray, chunk_start: int) -> None:
    """Feed each consumer the part of ``chunk`` (trace accesses ``chunk_start`` onwards) it has
    not seen yet: whole chunks normally, the tail of one chunk, or nothing, after a resume."""
    end = chunk_start + int(chunk.shape[0])
    for consumer in consumers:
        seen = position(consumer)
        if seen < chunk_start:
            raise ValueError(f"trace gap: a consumer has seen {seen:,} accesses, the next chunk starts at "
                             f"{chunk_start:,}")
        if seen >= end:
            continue
        part = chunk[seen - chunk_start:]
        if hasattr(consumer, "feed"):
            consumer.feed(part)
        else:
            consumer.update(part)


def skip_batches(trace, start: int) -> Iterator:
    """The batches of a ``ModelTrace`` from number ``start``: generated directly for a seeded
    workload (batch k does not depend on earlier batches), read and dropped for a dataset."""
    if start <= 0:
        return trace.batches()
    if trace.generator is not None:
        return trace.generator.batches(trace.batch_size, max(trace.num_batches - start, 0), start=start)
    import itertools

    return itertools.islice(trace.batches(), start, None)


# -- trace files --------------------------------------------------------------------------------


def trace_file_fingerprint(path: str | os.PathLike) -> dict:
    """Path, size and modification time: a resumed run must read the same file."""
    stat = os.stat(path)
    return {"path": os.fspath(Path(path).resolve()), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def trace_length(path: str | os.PathLike) -> int | None:
    """Accesses in a trace file when known without reading it (memprof .trace, .npy); None for din."""
    from traces.format.tracefile import TraceReader, detect_format

    kind = detect_format(path)
    if kind == "memprof":
        return int(TraceReader(path).total)
    if kind == "npy":
        try:
            return int(np.load(path, mmap_mode="r", allow_pickle=False).shape[0])
        except (ValueError, OSError, EOFError, IndexError):
            return None
    return None


def simulated_line(done: int, total: int | None, unit: str = "accesses") -> str:
    """'1,234 of 5,678 accesses (21.7%)' or '1,234 accesses (total unknown)'."""
    if total:
        return f"{done:,} of {total:,} {unit} ({100 * done / total:.1f}%)"
    return f"{done:,} {unit} (total not known up front)"


# -- CLI ----------------------------------------------------------------------------------------


def finish_partial(stop: Interrupted, fmt: str, output, emitter: Callable | None = None) -> None:
    """Write the partial frame (when it has rows) like a normal result, the summary line on
    stderr, and exit with status 130. ``emitter(frame, metadata)`` writes the rows the way
    the command writes complete ones (default: ``emit`` with the metadata)."""
    if stop.frame is not None and len(stop.frame):
        if emitter is None:
            emit(stop.frame, fmt, output, metadata=stop.metadata)
        else:
            emitter(stop.frame, stop.metadata)
    click.echo(stop.message, err=True)
    raise click.exceptions.Exit(EXIT_INTERRUPTED)


def checkpoint_policy(directory, every_seconds: float, resume: bool) -> CheckpointPolicy | None:
    """The policy from --checkpoint/--checkpoint-every/--resume; click errors on misuse."""
    if directory is None:
        if resume:
            raise click.UsageError("--resume needs --checkpoint DIR (where the checkpoint was saved)")
        return None
    try:
        return CheckpointPolicy(directory, every_seconds, resume)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--checkpoint-every") from None


__all__ = ["CheckpointPolicy", "Interrupted", "StopGuard", "LongRun", "feed", "position", "skip_batches",
           "trace_file_fingerprint", "trace_length", "simulated_line", "finish_partial", "checkpoint_policy",
           "DEFAULT_EVERY_SECONDS", "EXIT_INTERRUPTED"]
