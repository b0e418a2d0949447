"""Long runs on one machine: checkpoint and resume, Ctrl-C and SIGTERM as a clean stop.

Why: a billion-access simulation takes hours. ``LongRun`` saves the state of the run's
simulators (or miss-ratio accumulators) every ``every_seconds`` and when stopped, into
``DIR/<name>.ckpt.npz`` (``memprof.run.checkpoint_store``); ``--resume`` reloads it, and the
run re-reads (trace file) or regenerates (seeded workload) its input, skipping the accesses
each consumer has already seen, so the final numbers equal an uninterrupted run's. The loop
that feeds the input and calls ``LongRun.step`` is ``memprof.run.driver.drive``.

Signals: while a ``LongRun`` is open, the first SIGINT (Ctrl-C) or SIGTERM (a batch
scheduler's stop) only sets a flag; the run stops at the next step boundary (a chunk or a
batch fed to every consumer, so no state is half updated), checkpoints, and raises
``Interrupted`` carrying the partial result and the exit status (130 for SIGINT, 143 for
SIGTERM). A second signal aborts at once (no checkpoint), except while a checkpoint is being
written: the save finishes first. A successful run removes its checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from memprof.run.checkpoint_store import CheckpointStore
from sim.checkpoint import CheckpointMismatch

DEFAULT_EVERY_SECONDS = 60.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class CheckpointPolicy:
    """Where and how often a run checkpoints, and whether it resumes from an earlier checkpoint."""

    directory: str | os.PathLike
    every_seconds: float = DEFAULT_EVERY_SECONDS
    resume: bool = False
    overwrite: bool = False  # replace a checkpoint left in ``directory`` instead of refusing to start

    def __post_init__(self):
        if not str(self.directory):
            raise ValueError("checkpoint directory must not be empty")
        if not self.every_seconds >= 0:
            raise ValueError(f"checkpoint interval {self.every_seconds!r} s: must be >= 0 (0 = after every step)")


class Interrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C or SIGTERM (the one stop exception of memprof).

    ``frame``: what was computed so far (rows with a ``partial`` column; a caller may put
    other partial results here); ``metadata``; ``message``: one line saying how far the run
    got; ``done``/``total``: steps or jobs finished (when counted); ``position``: where a
    stream stopped (``memprof.run.driver.StreamPosition``); ``result``: the stopped
    consumer's partial result (None inside the warm-up); ``signum``: the signal, which gives
    ``exit_code`` (128 + signum). A KeyboardInterrupt, so a caller that does not handle it
    stops as before.
    """

    def __init__(self, frame, metadata, message: str, *, done: int | None = None, total: int | None = None,
                 position=None, result=None, signum: int = signal.SIGINT):
        super().__init__(message)
        self.frame, self.metadata, self.message = frame, metadata, message
        self.done, self.total, self.position, self.result = done, total, position, result
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal (130 after Ctrl-C, 143 after SIGTERM)."""
        return 128 + self.signum

    def replace(self, **changes) -> "Interrupted":
        """A copy with some fields changed (a caller adding its frame and message)."""
        fields = {"frame": self.frame, "metadata": self.metadata, "message": self.message, "done": self.done,
                  "total": self.total, "position": self.position, "result": self.result, "signum": self.signum}
        fields.update(changes)
        return Interrupted(fields.pop("frame"), fields.pop("metadata"), fields.pop("message"), **fields)

    def __reduce__(self):  # picklable across process pools
        return (_rebuild, (self.frame, self.metadata, self.message, self.done, self.total, self.position,
                           self.result, self.signum))


def _rebuild(frame, metadata, message, done, total, position, result, signum) -> Interrupted:
    return Interrupted(frame, metadata, message, done=done, total=total, position=position, result=result,
                       signum=signum)


class StopGuard:
    """Context manager for SIGINT and SIGTERM.

    ``defer=True``: the first signal sets ``requested`` (checked at step boundaries with
    ``check``); a second raises KeyboardInterrupt at once with ``forced`` set, except inside
    ``saving()``, where it is held until the save is done. ``defer=False``: every signal
    raises KeyboardInterrupt at once (SIGINT's default, extended to SIGTERM). ``signum`` is
    the first signal received. Only the main thread can install signal handlers; elsewhere
    both signals keep their default behaviour.
    """

    def __init__(self, stream=None, *, defer: bool = True):
        self.requested = False
        self.forced = False
        self.signum = signal.SIGINT
        self.defer = defer
        self._received = False
        self._saving = 0
        self._previous: dict = {}
        self._stream = stream

    def _say(self, text: str) -> None:
        out = self._stream if self._stream is not None else sys.stderr
        out.write(text)
        out.flush()

    def _handler(self, signum, frame):
        if not self._received:
            self.signum, self._received = signum, True
        if self._saving and self.requested:
            self._say("\nwriting the checkpoint: waiting for it to finish\n")
            return
        if not self.defer and not self._saving:
            raise KeyboardInterrupt
        if self.requested:
            self.forced = True
            raise KeyboardInterrupt
        self.requested = True
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        self._say(f"\n{name}: stopping after the current step (again to abort at once, without a checkpoint)\n")

    def request(self) -> None:
        """Ask for a stop, as a first signal does (e.g. a caller's time limit)."""
        self.requested = True

    def check(self) -> None:
        """Raise KeyboardInterrupt when a stop was requested."""
        if self.requested:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def saving(self):
        """A block (writing a checkpoint) that signals do not interrupt: they are held until it ends."""
        self._saving += 1
        try:
            yield
        finally:
            self._saving -= 1

    def __enter__(self) -> "StopGuard":
        if threading.current_thread() is threading.main_thread():
            for number in STOP_SIGNALS:
                self._previous[number] = signal.signal(number, self._handler)
        return self

    def __exit__(self, *exc) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous)
        self._previous = {}


class LongRun:
    """Checkpoint cadence, resume and stop requests of one run (use as a context manager).

    ``name`` names the state in the store (``DIR/<name>.ckpt.npz``); ``trace`` and
    ``config`` are the fingerprints a resumed run must match (``sim.checkpoint``). Without a
    ``policy`` nothing is saved, but Ctrl-C and SIGTERM still stop cleanly. A state already
    saved under ``name`` is another run's: without ``resume`` or ``overwrite`` it is refused
    (ValueError) rather than replaced and, at the end, deleted.
    """

    def __init__(self, name: str, policy: CheckpointPolicy | None, *, trace: Mapping, config: Mapping | None = None,
                 clock: Callable[[], float] = time.monotonic, stream=None):
        self.name = name
        self.policy = policy
        self.trace = dict(trace)
        self.config = dict(config or {})
        self.store = CheckpointStore(policy.directory, resume=policy.resume) if policy is not None else None
        self.path = self.store.state_path(name) if self.store is not None else None
        if policy is not None and not policy.resume and not policy.overwrite and self.path.exists():
            raise ValueError(f"checkpoint {self.path} holds another run's saved state: add --resume to continue "
                             "it, --overwrite-checkpoint to replace it, or give another --checkpoint DIR")
        self._clock = clock
        self._stream = stream
        self._last_save = clock()
        self._fresh = False  # nothing fed since the last save
        self.saves = 0
        self.guard = StopGuard(stream)

    def __enter__(self) -> "LongRun":
        self.guard.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.guard.__exit__(*exc)

    def _say(self, text: str) -> None:
        from memprof.run.progress import end_open_lines

        end_open_lines()  # a message starts its own line, not the progress meter's
        out = self._stream if self._stream is not None else sys.stderr
        out.write(text + "\n")
        out.flush()

    # -- resume -------------------------------------------------------------------------
    def resume_meta(self) -> dict | None:
        """The checkpoint's metadata when resuming from one (checked against this run), else None."""
        if self.policy is None or not self.policy.resume:
            return None
        meta = self.store.state_meta(self.name, trace=self.trace, config=self.config)
        if meta is None:
            self._say(f"no checkpoint at {self.path}: starting from the beginning")
            return None
        if not meta["objects"]:  # nothing left to check: no state in progress
            self._say(f"resuming from {self.path}")
        return meta

    def saved_arrays(self) -> dict[str, np.ndarray]:
        """The finished results' arrays stored with the checkpoint being resumed."""
        return self.store.state_arrays(self.name)

    def restore(self, objects: Mapping[str, Any]) -> dict:
        """Load the checkpoint's state into ``objects`` (fresh, same configuration); return its extra.
        A checkpoint of other caches is refused naming them by size (not by internal keys)."""
        meta = self.store.state_meta(self.name, trace=self.trace, config=self.config)
        if meta is not None and sorted(meta["objects"]) != sorted(objects):
            saved = _caches([record.get("fingerprint") for record in meta["objects"].values()], meta["objects"])
            now = _caches([_fingerprint(obj) for obj in objects.values()], objects)
            raise CheckpointMismatch(f"checkpoint {self.path} was saved for {saved}, this run has {now}; rerun "
                                     "without --resume or with the original options")
        extra = self.store.restore_state(self.name, objects, trace=self.trace, config=self.config)
        self._say(f"resuming from {self.path}")
        return extra

    # -- saving -------------------------------------------------------------------------
    def due(self) -> bool:
        return self.policy is not None and self._clock() - self._last_save >= self.policy.every_seconds

    def save(self, objects: Mapping[str, Any], extra: Mapping | None = None,
             arrays: Mapping[str, np.ndarray] | None = None) -> None:
        """Checkpoint now (no-op without a policy); ``arrays``: finished results to keep beside the state.
        Signals during the save wait for it."""
        if self.policy is None:
            return
        with self.guard.saving():
            self.store.save_state(self.name, objects, trace=self.trace, config=self.config, extra=extra,
                                  arrays=arrays)
        self._last_save = self._clock()
        self._fresh = True
        self.saves += 1

    def _save_state(self, state: Callable[[], tuple]) -> None:
        with self.guard.saving():  # state() runs inside too: a signal cannot split it from the save
            self.save(*state())

    def step(self, state: Callable[[], tuple[Mapping[str, Any], Mapping]]) -> None:
        """Call after each complete step: stop if a stop was requested, checkpoint if due.

        ``state()`` returns (objects, extra[, arrays]) to save; it is called only when saving."""
        self._fresh = False
        self.guard.check()
        if self.due():
            self._save_state(state)
            self.guard.check()  # a signal during the save: stop now, the checkpoint is fresh

    def stopped(self, state: Callable[[], tuple[Mapping[str, Any], Mapping]] | None) -> str:
        """After a KeyboardInterrupt at a step boundary: checkpoint (when configured and not
        just done) and return a note for the user. A forced stop (second signal) is re-raised."""
        if self.guard.forced:
            raise KeyboardInterrupt
        if self.policy is None or state is None:
            return "no checkpoint (give --checkpoint DIR to be able to resume)"
        if not self._fresh:
            self._save_state(state)
        return f"checkpoint saved to {self.path}; rerun with --resume to continue"

    def finish(self) -> None:
        """The run completed: its checkpoint is obsolete."""
        if self.store is not None:
            self.store.remove_state(self.name)


def _fingerprint(obj) -> dict | None:
    """A simulator's checkpoint fingerprint (its level configurations); None for other state."""
    from sim.checkpoint import simulator_fingerprint

    try:
        return simulator_fingerprint(obj)
    except AttributeError:
        return None


def _caches(fingerprints, names) -> str:
    """'LLC sizes 14MiB, 28MiB' from simulator fingerprints (the LLC is each one's last level;
    its description starts with the size); the state's names when they are not simulators."""
    sizes = [str(f["configs"][-1]).split()[0] for f in fingerprints if f and f.get("configs")]
    if len(sizes) != len(fingerprints):
        return ", ".join(sorted(names))
    return ("LLC size " if len(sizes) == 1 else "LLC sizes ") + ", ".join(sizes)


def trace_file_fingerprint(path: str | os.PathLike) -> dict:
    """Path, size and modification time: a resumed run must read the same file (standard
    input, ``-``, has none of them: a run on it cannot be resumed)."""
    if os.fspath(path) == "-":
        return {"path": "-"}
    stat = os.stat(path)
    return {"path": os.fspath(Path(path).resolve()), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def simulated_line(done: int, total: int | None, unit: str = "accesses") -> str:
    """'1,234 of 5,678 accesses (21.7%)' or '1,234 accesses (total not known up front)'."""
    if total:
        return f"{done:,} of {total:,} {unit} ({100 * done / total:.1f}%)"
    return f"{done:,} {unit} (total not known up front)"


__all__ = ["CheckpointPolicy", "Interrupted", "StopGuard", "LongRun", "trace_file_fingerprint", "simulated_line",
           "DEFAULT_EVERY_SECONDS", "STOP_SIGNALS"]
