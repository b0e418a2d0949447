"""The one checkpoint store: a directory holding a run's state and the finished jobs of a sweep.

Two kinds of entry, both written atomically (temporary file, then rename), so a crash or a
signal while saving leaves the previous entry intact:

- ``<name>.ckpt.npz``: the state of a streaming run (simulators or a miss-ratio
  accumulator, its position, finished results) in the ``sim.checkpoint`` format, checked
  against the run's input and configuration fingerprints when resumed;
- ``job-<key>.json``: the rows and metadata of one finished job (a sweep configuration),
  ``key`` a hash of everything that determines them.

A directory that already holds finished jobs is only reused with ``resume=True``, so two
different sweeps never mix silently.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from sim.checkpoint import (check_checkpoint, read_checkpoint_arrays, read_checkpoint_meta, restore_checkpoint,
                            save_checkpoint)
from traces.format.fileio import atomic_open, atomic_write_text

JOB_FORMAT = 1


def _json_scalar(value):
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return repr(value)


class CheckpointStore:
    """Checkpoints in ``directory`` (created on the first save); ``resume``: reuse what is there."""

    def __init__(self, directory: str | os.PathLike, resume: bool = False):
        if not str(directory):
            raise ValueError("checkpoint directory must not be empty")
        self.directory = Path(directory)
        self.resume = resume
        if self.directory.exists() and not self.directory.is_dir():
            raise ValueError(f"checkpoint {self.directory}: exists and is not a directory")
        jobs = list(self.directory.glob("job-*.json")) if self.directory.is_dir() else []
        if jobs and not resume:
            raise ValueError(f"checkpoint {self.directory} already holds {len(jobs)} finished job(s): "
                             "add --resume to reuse them, or give an empty directory")

    # -- a streaming run's state ------------------------------------------------------------
    def state_path(self, name: str) -> Path:
        return self.directory / f"{name}.ckpt.npz"

    def state_meta(self, name: str, *, trace: Mapping, config: Mapping) -> dict | None:
        """The saved state's metadata, checked against ``trace``/``config``; None when there is none."""
        path = self.state_path(name)
        if not path.exists():
            return None
        meta = read_checkpoint_meta(path)
        check_checkpoint(path, meta, trace=trace, config=config)
        return meta

    def state_arrays(self, name: str) -> dict[str, np.ndarray]:
        return read_checkpoint_arrays(self.state_path(name))

    def restore_state(self, name: str, objects: Mapping[str, Any], *, trace: Mapping, config: Mapping) -> dict:
        """Load the saved state into ``objects`` (fresh, same configuration); return its extra."""
        return restore_checkpoint(self.state_path(name), objects, trace=trace, config=config)

    def save_state(self, name: str, objects: Mapping[str, Any], *, trace: Mapping, config: Mapping,
                   extra: Mapping | None = None, arrays: Mapping[str, np.ndarray] | None = None) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with atomic_open(self.state_path(name), "wb") as handle:
            save_checkpoint(handle, objects, trace=trace, config=config, extra=extra, arrays=arrays)

    def remove_state(self, name: str) -> None:
        """The run completed: its state is obsolete."""
        self.state_path(name).unlink(missing_ok=True)

    # -- finished jobs ----------------------------------------------------------------------
    def _job_path(self, key: str) -> Path:
        return self.directory / f"job-{key}.json"

    def load_job(self, key: str) -> tuple[list[dict], dict] | None:
        """The saved rows and metadata of job ``key``, or None when it has not finished (or not resuming)."""
        path = self._job_path(key)
        if not self.resume or not path.exists():
            return None
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            return saved["rows"], saved["metadata"]
        except (ValueError, KeyError) as exc:
            raise ValueError(f"checkpoint file {path} is unreadable ({exc}): delete it to recompute that job") \
                from None

    def save_job(self, key: str, rows: list[dict], metadata: dict, description: Any = None) -> None:
        """Save a finished job's rows and metadata (``description``: what the job was, for a reader)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        payload = {"format": JOB_FORMAT, "job": description, "rows": rows, "metadata": metadata}
        atomic_write_text(self._job_path(key), json.dumps(payload, default=_json_scalar))


__all__ = ["CheckpointStore", "JOB_FORMAT"]
