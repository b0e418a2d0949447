"""Readers for real data a user brings, all streaming ``traces.batch.Batch`` objects:
Criteo TSV (``criteo``), Avazu CSV (``avazu``), index/offset arrays in ``.npz`` (``npz``).
``open_dataset`` picks the reader by ``kind``, file extension or content.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Sequence

from traces.batch import Batch
from traces.readers.avazu import iter_avazu_batches
from traces.readers.criteo import iter_criteo_batches, open_binary
from traces.readers.npz import iter_npz_batches

KINDS = ("criteo", "avazu", "npz")
_SUFFIX_KIND = {".tsv": "criteo", ".txt": "criteo", ".csv": "avazu", ".npz": "npz"}

__all__ = ["KINDS", "detect_kind", "open_dataset", "iter_criteo_batches", "iter_avazu_batches", "iter_npz_batches"]


def detect_kind(path: str | os.PathLike) -> str:
    """``criteo``, ``avazu`` or ``npz`` from the extension (``.tsv``/``.txt``, ``.csv``, ``.npz``,
    each optionally ``.gz``), else from the content (zip magic; tabs or commas in line 1)."""
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in _SUFFIX_KIND:
        return _SUFFIX_KIND[suffixes[-1]]
    try:
        with open(path, "rb") as probe:
            if probe.read(2) == b"PK":
                return "npz"
        with open_binary(path) as handle:
            first = handle.readline(1 << 16)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if first.count(b"\t") >= 30:
        return "criteo"
    if b"," in first and b"id" in first.split(b",")[0]:
        return "avazu"
    raise ValueError(f"{path}: cannot tell the dataset kind from the name or content; name the file *.tsv or "
                     f"*.txt (Criteo), *.csv (Avazu) or *.npz, each optionally .gz (in the library: kind= one of "
                     f"{KINDS})")


def open_dataset(path: str | os.PathLike, batch_size: int | None, caps: Sequence[int] | None = None,
                 kind: str | None = None, **options) -> Iterator[Batch]:
    """Stream Batches from a Criteo TSV, Avazu CSV or ``.npz`` file (plain or ``.gz`` text).

    ``caps``: one table size per feature (token ids are reduced ``% cap``) or None.
    ``options`` go to the reader (e.g. ``missing="zero"``, ``max_samples=``, ``num_features=``).
    ``batch_size=None`` is only meaningful for ``npz`` (the file's samples as one batch).
    A file without a single sample raises ValueError naming it once the stream ends.
    """
    if kind is None:
        kind = detect_kind(path)
    if kind not in KINDS:
        raise ValueError(f"unknown dataset kind {kind!r}; known: {', '.join(KINDS)}")
    if kind == "npz":
        return _with_rows(iter_npz_batches(path, batch_size, caps, **options), path)
    if batch_size is None:
        raise ValueError(f"{kind} files need a batch_size")
    reader = iter_criteo_batches if kind == "criteo" else iter_avazu_batches
    return _with_rows(reader(path, batch_size, caps, **options), path)


def _with_rows(batches: Iterator[Batch], path) -> Iterator[Batch]:
    """``batches``, or ValueError naming the file when it holds no sample at all (an empty
    dataset is not a workload: nothing would be measured)."""
    samples = 0
    for batch in batches:
        samples += batch.batch_size
        yield batch
    if not samples:
        raise ValueError(f"{os.fspath(path)}: the dataset has no rows (no samples to look up)")
