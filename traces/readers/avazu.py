"""Avazu CTR CSV reader (header line, then one impression per line), streaming.

Columns of the public train file: ``id,click,hour,C1,banner_pos,site_id,site_domain,
site_category,app_id,app_domain,app_category,device_id,device_ip,device_model,
device_type,device_conn_type,C14,C15,C16,C17,C18,C19,C20,C21`` (the test file lacks
``click``). The categorical features are every column except ``id``, ``click`` and
``hour``, in file order: 21 for the public files, matching the ``avazu`` preset.

Hashing (deterministic, documented): a value made only of 1-16 hex digits (all of
Avazu's hashed ids, and its decimal columns too, read as hex) becomes ``int(x, 16)``;
any other non-empty value becomes ``zlib.crc32(x as bytes)``. Then ``% cap``.
Empty fields are missing values (empty bag, or token 0 with ``missing="zero"``).
Plain comma-separated text only: quoted fields are not supported (Avazu has none).
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from traces.batch import Batch
from traces.readers.criteo import (
    BLOCK_BYTES,
    FieldBlock,
    batches_from_rows,
    check_caps,
    iter_line_blocks,
    open_binary,
    reduce_tokens,
)
from traces.format.tracefile import parse_hex_fields

NON_CATEGORICAL = ("id", "click", "hour")
AVAZU_COLUMNS = (
    "id", "click", "hour", "C1", "banner_pos", "site_id", "site_domain", "site_category", "app_id",
    "app_domain", "app_category", "device_id", "device_ip", "device_model", "device_type",
    "device_conn_type", "C14", "C15", "C16", "C17", "C18", "C19", "C20", "C21",
)


def read_header(path: str | os.PathLike) -> list[str]:
    """Column names from the first line; a ValueError if the first line is not a header."""
    with open_binary(path) as handle:
        first = handle.readline()
    names = [name.strip() for name in first.decode("utf-8", "replace").rstrip("\r\n").split(",")]
    if not first.strip():
        raise ValueError(f"{path}: line 1: expected a CSV header line (id,click,hour,C1,...), the file starts empty")
    if "id" not in names:
        raise ValueError(f"{path}: line 1: expected a CSV header line with an 'id' column "
                         f"(id,click,hour,C1,...), got {first[:60]!r}")
    return names


def categorical_columns(names: Sequence[str], exclude: Sequence[str] = NON_CATEGORICAL) -> list[int]:
    """Indices of the categorical columns: every column not in ``exclude``."""
    return [j for j, name in enumerate(names) if name not in exclude]


def _avazu_rows(path: Path, names: list[str], cats: list[int], caps: np.ndarray | None, block_bytes: int):
    ncols = len(names)
    cat_idx = np.asarray(cats)
    with open_binary(path) as handle:
        handle.readline()  # header
        for block, first_line in iter_line_blocks(handle, block_bytes):
            fields = FieldBlock(path, block, first_line + 1, b",", ncols)
            if fields.rows == 0:
                continue
            all_starts = np.concatenate((fields.line_starts[:, None], fields.seps[:, :-1] + 1), axis=1)
            starts = all_starts[:, cat_idx]
            ends = fields.seps[:, cat_idx]
            values, ok = parse_hex_fields(fields.buf, starts.ravel(), ends.ravel())
            values, ok = values.reshape(starts.shape), ok.reshape(starts.shape)
            is_missing = ends == starts
            for row, col in zip(*np.nonzero(~ok & ~is_missing)):
                raw = fields.buf[starts[row, col] : ends[row, col]].tobytes()
                values[row, col] = zlib.crc32(raw)
            yield reduce_tokens(values, caps, os.fspath(path)), is_missing


def iter_avazu_batches(path: str | os.PathLike, batch_size: int, caps: Sequence[int] | None = None,
                       missing: str = "empty", max_samples: int | None = None, *,
                       exclude: Sequence[str] = NON_CATEGORICAL, block_bytes: int = BLOCK_BYTES) -> Iterator[Batch]:
    """Stream an Avazu CSV (plain or .gz) as Batches of ``batch_size`` samples (the last may be smaller).

    ``caps``: one table size per categorical column (21 for the public files) or None.
    A line with the wrong number of fields is a ValueError naming file and line.
    """
    path = Path(path)
    if int(block_bytes) <= 0:
        raise ValueError(f"block_bytes must be positive, got {block_bytes}")
    names = read_header(path)
    cats = categorical_columns(names, exclude)
    if not cats:
        raise ValueError(f"{path}: no categorical columns (every column is in {tuple(exclude)})")
    caps_arr = check_caps(caps, len(cats), os.fspath(path))
    return batches_from_rows(_avazu_rows(path, names, cats, caps_arr, int(block_bytes)), batch_size, missing, max_samples)
