"""Checkpoints of simulator (and miss-ratio accumulator) state: save, check, restore.

Why: a billion-access run takes hours; a checkpoint lets it stop (Ctrl-C, a crash, a
time limit) and continue later with the same final counts as an uninterrupted run.

One checkpoint is one ``.npz`` document, written to a binary file object the caller opens
(``save_checkpoint``; making the write atomic is the caller's job: write a temporary file
and rename it) and read from a path or a file object: an entry ``__checkpoint__`` holds a UTF-8 JSON document (format, version, the caller's
``trace`` and ``config`` fingerprints, ``extra`` data, and per object its class,
fingerprint and scalar attributes); every numpy array of every object is an entry
``<object>/<attribute>``. No pickle: loading uses ``allow_pickle=False``.

Objects are saved generically so the engine may rename or retype its arrays:

- a ``sim.engine.simulator.Simulator`` saves every ``np.ndarray`` attribute of ``vars(sim)`` and
  every int/float attribute. Restoring needs a freshly constructed Simulator of the same
  configuration (``simulator_fingerprint``: levels, inclusive, prefetch, warm-up, set
  sampling, set partition, partitions, tag bits); array names, shapes and dtypes must
  match and are copied in place (alignment kept); the position attributes (``fed``,
  ``_measured_from``) are copied, every other scalar must be equal;
- any other object (``StackDistances``, ``ShardsRate``, ``ShardsSize``) saves its
  attributes recursively (arrays, lists of arrays, nested objects, scalars); restoring
  replaces them in a fresh object of the same class (arrays may have grown), checking
  names and dtypes.

A checkpoint of another configuration or another trace is refused with one line
(``CheckpointMismatch``, a ``ValueError``).
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import IO, Any, Mapping

import numpy as np

FORMAT = "sim-checkpoint"
VERSION = 1
META_KEY = "__checkpoint__"
EXTRA_PREFIX = "__extra__/"  # arrays the caller stores beside the objects (finished results)
POSITION_ATTRS = ("fed", "_measured_from", "renumberings")  # Simulator scalars that move as the trace is fed


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read or restored."""


class CheckpointMismatch(CheckpointError):
    """A checkpoint of another configuration or trace than the run resuming it."""


def _normal(value: Any) -> Any:
    """JSON round trip: tuples become lists, numpy scalars plain numbers (for comparisons)."""
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _is_simulator(obj: Any) -> bool:
    from sim.engine.simulator import Simulator

    return isinstance(obj, Simulator)


def simulator_fingerprint(sim) -> dict:
    """What must be equal for a Simulator's state to be restored into another."""
    return _normal({
        "levels": list(sim.names),
        "configs": [f"{c.describe()} seed {c.seed} {c.write_policy}" for c in sim.configs],
        "inclusive": sim.inclusive,
        "prefetch": sim.prefetch,
        "warmup": sim.warmup,
        "sampled_sets": sim.sampled_sets,  # with the LLC seed, fixes the sampled subset
        "owned_sets": sim.owned_sets,
        "set_partition": list(sim.set_partition) if sim.set_partition else None,
        "partitions": sim.partitions,
        "tag_bits": sim.tag_bits,
    })


def _scalar(value: Any) -> bool:
    return isinstance(value, (bool, int, float, str, np.generic)) or value is None


def _encode_scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        return {"numpy": value.dtype.str, "value": value.item()}
    return value


def _decode_scalar(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"numpy", "value"}:
        return np.dtype(value["numpy"]).type(value["value"])
    return value


def _capture_simulator(sim, name: str, arrays: dict, record: dict) -> None:
    scalars = {}
    for attr, value in vars(sim).items():
        if isinstance(value, np.ndarray):
            arrays[f"{name}/{attr}"] = value
        elif isinstance(value, (int, float, np.integer, np.floating)):
            scalars[attr] = _encode_scalar(value)
    record.update({"kind": "simulator", "fingerprint": simulator_fingerprint(sim), "scalars": scalars})


def _capture_object(obj: Any, prefix: str, arrays: dict, scalars: dict) -> None:
    """Every attribute of ``obj`` (recursively): arrays to ``arrays``, the rest to ``scalars``."""
    for attr, value in vars(obj).items():
        key = f"{prefix}{attr}"
        if isinstance(value, np.ndarray):
            arrays[key] = value
        elif _scalar(value):
            scalars[key] = _encode_scalar(value)
        elif isinstance(value, (list, tuple)) and all(isinstance(v, np.ndarray) for v in value):
            scalars[key] = {"arrays": len(value)}
            for i, item in enumerate(value):
                arrays[f"{key}#{i}"] = item
        elif hasattr(value, "__dict__") and not isinstance(value, type):
            scalars[key] = {"object": type(value).__name__}
            _capture_object(value, f"{key}.", arrays, scalars)
        else:
            raise CheckpointError(f"cannot checkpoint attribute {key!r} of type {type(value).__name__}")


def save_checkpoint(file: IO[bytes], objects: Mapping[str, Any], *, trace: Mapping,
                    config: Mapping | None = None, extra: Mapping | None = None,
                    arrays: Mapping[str, np.ndarray] | None = None) -> None:
    """Write the state of ``objects`` ({name: Simulator or accumulator}) to the binary ``file``.

    The caller opens ``file`` (and makes the write atomic); nothing is written when
    capturing the state fails.

    ``trace``: the caller's fingerprint of the input (file path, size and mtime, or the
    workload parameters); ``config``: run options that must match on resume (beyond each
    Simulator's own configuration); ``extra``: JSON data the caller needs to continue
    (finished rows, positions). All three are compared or returned by ``restore_checkpoint``.
    ``arrays``: extra numpy arrays (finished curves...), read back by ``read_checkpoint_arrays``.
    """
    entries = {f"{EXTRA_PREFIX}{k}": np.asarray(v) for k, v in (arrays or {}).items()}
    records: dict[str, dict] = {}
    for name, obj in objects.items():
        if "/" in name or name in (META_KEY, EXTRA_PREFIX.rstrip("/")):
            raise ValueError(f"checkpoint object name {name!r}: must not contain '/' or be a reserved name")
        record: dict = {"class": type(obj).__name__}
        if _is_simulator(obj):
            _capture_simulator(obj, name, entries, record)
        else:
            own_arrays: dict = {}
            scalars: dict = {}
            _capture_object(obj, "", own_arrays, scalars)
            entries.update({f"{name}/{k}": v for k, v in own_arrays.items()})
            record.update({"kind": "object", "scalars": scalars})
        records[name] = record
    meta = {"format": FORMAT, "version": VERSION, "trace": _normal(dict(trace)),
            "config": _normal(dict(config or {})), "extra": _normal(dict(extra or {})), "objects": records}
    blob = np.frombuffer(json.dumps(meta, default=_json_default).encode("utf-8"), dtype=np.uint8)
    np.savez(file, **{META_KEY: blob}, **entries)


def _name(source) -> str:
    """How messages name a checkpoint: its path, or the file object's name."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return str(getattr(source, "name", "(file object)"))


def read_checkpoint_meta(path) -> dict:
    """The JSON part of a checkpoint (format, trace, config, extra, objects); CheckpointError if unreadable."""
    with _open(path) as data:
        return _meta(path, data)


def read_checkpoint_arrays(path) -> dict[str, np.ndarray]:
    """The extra arrays saved with ``save_checkpoint(..., arrays=)``."""
    with _open(path) as data:
        _meta(path, data)
        return {k[len(EXTRA_PREFIX):]: data[k] for k in data.files if k.startswith(EXTRA_PREFIX)}


def _open(path):
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"checkpoint {_name(path)}: cannot read ({exc})") from None


def _meta(path, data) -> dict:
    if META_KEY not in data.files:
        raise CheckpointError(f"checkpoint {_name(path)}: not a {FORMAT} file (no {META_KEY} entry)")
    try:
        meta = json.loads(bytes(data[META_KEY]).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"checkpoint {_name(path)}: corrupted metadata ({exc})") from None
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise CheckpointError(f"checkpoint {_name(path)}: format {meta.get('format')!r} version "
                              f"{meta.get('version')!r}, this version reads {FORMAT!r} version {VERSION}")
    return meta


def _differences(saved: Mapping, now: Mapping) -> str:
    keys = sorted(set(saved) | set(now))
    diffs = [f"{k}: {saved.get(k, '(absent)')} in the checkpoint, {now.get(k, '(absent)')} now"
             for k in keys if saved.get(k) != now.get(k)]
    text = "; ".join(diffs[:3]) + (f"; and {len(diffs) - 3} more" if len(diffs) > 3 else "")
    return text


def check_checkpoint(path, meta: dict, *, trace: Mapping, config: Mapping | None = None) -> None:
    """Raise CheckpointMismatch (one line) when ``meta`` was saved for another trace or configuration."""
    where = _name(path)
    trace_now, config_now = _normal(dict(trace)), _normal(dict(config or {}))
    if meta["trace"] != trace_now:
        raise CheckpointMismatch(f"checkpoint {where} was made for another trace ({_differences(meta['trace'], trace_now)}); "
                                 "rerun without --resume or with the original input")
    if meta["config"] != config_now:
        raise CheckpointMismatch(f"checkpoint {where} was made with another configuration "
                                 f"({_differences(meta['config'], config_now)}); rerun without --resume or with "
                                 "the original options")


def restore_checkpoint(path, objects: Mapping[str, Any], *, trace: Mapping,
                       config: Mapping | None = None) -> dict:
    """Check ``path`` against ``trace``/``config``, load its state into ``objects`` (freshly
    constructed, same names and configurations as when saved) and return its ``extra``.
    ``path``: a path or a binary file object, as for every reader here."""
    where = _name(path)
    with _open(path) as data:
        meta = _meta(path, data)
        check_checkpoint(path, meta, trace=trace, config=config)
        records = meta["objects"]
        if sorted(records) != sorted(objects):
            raise CheckpointMismatch(f"checkpoint {where} holds {sorted(records)}, this run has {sorted(objects)}; "
                                     "rerun without --resume or with the original options")
        entries = [k for k in data.files if k != META_KEY and not k.startswith(EXTRA_PREFIX)]
        for name, obj in objects.items():
            record = records[name]
            if record["class"] != type(obj).__name__:
                raise CheckpointMismatch(f"checkpoint {where}: {name} is a {record['class']}, this run has a "
                                         f"{type(obj).__name__}")
            stored = {k[len(name) + 1:]: k for k in entries if k.startswith(name + "/")}
            if _is_simulator(obj):
                _restore_simulator(where, name, obj, record, stored, data)
            else:
                _restore_object(where, name, obj, record["scalars"], stored, data)
        return meta["extra"]


def _restore_simulator(where: str, name: str, sim, record: dict, stored: dict, data) -> None:
    now = simulator_fingerprint(sim)
    if record.get("fingerprint") != now:
        raise CheckpointMismatch(f"checkpoint {where} was made with another configuration of {name} "
                                 f"({_differences(record.get('fingerprint') or {}, now)}); rerun without --resume "
                                 "or with the original options")
    arrays = {attr: value for attr, value in vars(sim).items() if isinstance(value, np.ndarray)}
    if sorted(arrays) != sorted(stored):
        raise CheckpointMismatch(f"checkpoint {where}: {name} state arrays {sorted(stored)} differ from this "
                                 f"version's {sorted(arrays)} (saved by another version?)")
    loaded = {}
    for attr, target in arrays.items():
        value = data[stored[attr]]
        if value.shape != target.shape or value.dtype != target.dtype:
            raise CheckpointMismatch(f"checkpoint {where}: {name}.{attr} is {value.dtype}{list(value.shape)}, "
                                     f"this run needs {target.dtype}{list(target.shape)}")
        loaded[attr] = value
    scalars = {k: _decode_scalar(v) for k, v in record["scalars"].items()}
    current = {attr: value for attr, value in vars(sim).items()
               if isinstance(value, (int, float, np.integer, np.floating))}
    if sorted(scalars) != sorted(current):
        raise CheckpointMismatch(f"checkpoint {where}: {name} scalars {sorted(scalars)} differ from this "
                                 f"version's {sorted(current)} (saved by another version?)")
    moved = [k for k in current if k not in POSITION_ATTRS and scalars[k] != current[k]]
    if moved:
        raise CheckpointMismatch(f"checkpoint {where}: {name} differs in {', '.join(moved)}; rerun without --resume")
    for attr, value in loaded.items():
        arrays[attr][...] = value  # in place: keeps the engine's alignment and any views
    for attr in POSITION_ATTRS:
        if attr in scalars:
            setattr(sim, attr, type(current[attr])(scalars[attr]))


def _restore_object(where: str, name: str, obj: Any, scalars: dict, stored: dict, data) -> None:
    fresh_arrays: dict = {}
    fresh_scalars: dict = {}
    _capture_object(obj, "", fresh_arrays, fresh_scalars)
    if sorted(fresh_scalars) != sorted(scalars) or sorted(fresh_arrays) != sorted(stored):
        raise CheckpointMismatch(f"checkpoint {where}: {name} attributes differ from this version's "
                                 "(saved by another version?)")
    for key, value in fresh_arrays.items():
        saved = data[stored[key]]
        if saved.dtype != value.dtype or saved.ndim != value.ndim:
            raise CheckpointMismatch(f"checkpoint {where}: {name}.{key} is {saved.dtype} ({saved.ndim}-D), this "
                                     f"run needs {value.dtype} ({value.ndim}-D)")
    for key in sorted(scalars, key=lambda k: k.count(".")):  # containers before their members
        value = scalars[key]
        if isinstance(value, dict) and ("object" in value or "arrays" in value):
            if "arrays" in value:
                _set_path(obj, key, [data[stored[f"{key}#{i}"]] for i in range(value["arrays"])])
            continue
        _set_path(obj, key, _decode_scalar(value))
    for key in fresh_arrays:
        if "#" not in key:
            _set_path(obj, key, data[stored[key]])


def _set_path(obj: Any, dotted: str, value: Any) -> None:
    *parents, attr = dotted.split(".")
    for part in parents:
        obj = getattr(obj, part)
    setattr(obj, attr, value)


def save_simulator(file: IO[bytes], sim, *, trace: Mapping, extra: Mapping | None = None) -> None:
    """Checkpoint one Simulator to ``file`` (``save_checkpoint`` with the single object ``sim``)."""
    save_checkpoint(file, {"sim": sim}, trace=trace, extra=extra)


def load_simulator(path, sim, *, trace: Mapping) -> dict:
    """Restore a checkpoint of one Simulator into ``sim`` (freshly constructed); return its extra."""
    return restore_checkpoint(path, {"sim": sim}, trace=trace)


__all__ = ["CheckpointError", "CheckpointMismatch", "simulator_fingerprint", "save_checkpoint", "restore_checkpoint",
           "read_checkpoint_meta", "read_checkpoint_arrays", "check_checkpoint", "save_simulator", "load_simulator"]
