"""Criteo TSV reader (``label \\t 13 integer fields \\t 26 hex categorical fields``), streaming.

Also the vectorised engine for delimited text that ``traces.readers.avazu`` shares:
the file (plain or gzip, detected by its magic bytes) is read in blocks of whole lines;
per block, numpy finds the field separators, checks the field count of every line
and parses the hex fields at once, so a 45 GB day file streams at block-sized memory.

Token ids: a categorical field ``x`` becomes ``int(x, 16) % cap`` (``cap`` = that
feature's table rows; no reduction when ``caps`` is None). Only hex digits are
accepted (no ``0x``, no sign). Empty fields are missing values: an empty bag
(``missing="empty"``, default) or token 0 (``missing="zero"``). The label and the
integer (dense) fields are not used and not validated. Blank lines are skipped.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from traces.batch import Batch
from traces.format.fileio import iter_line_blocks as read_line_blocks
from traces.format.tracefile import parse_hex_fields

NUM_DENSE = 13
NUM_CATEGORICAL = 26
BLOCK_BYTES = 1 << 22
MISSING_MODES = ("empty", "zero")


def open_binary(path: str | os.PathLike):
    """Open a file for binary reading, transparently decompressing gzip (by magic bytes)."""
    with open(path, "rb") as probe:
        magic = probe.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def _unix(block: bytes) -> bytes:
    return block.replace(b"\r\n", b"\n") if b"\r" in block else block


def iter_line_blocks(handle, block_bytes: int = BLOCK_BYTES) -> Iterator[tuple[bytes, int]]:
    """Yield ``(block, first_line_number)``: blocks of whole lines, each ending with ``\\n``;
    ``\\r\\n`` line ends become ``\\n``."""
    for block, line_no, _ in read_line_blocks(handle, block_bytes):
        yield _unix(block), line_no


class FieldBlock:
    """Field boundaries of a block of lines that all have ``ncols`` fields (blank lines dropped).

    ``field(j)`` gives ``(starts, ends)`` byte offsets of column ``j`` for every kept line;
    ``line_numbers`` maps kept rows back to 1-based file line numbers.
    """

    def __init__(self, path: Path, block: bytes, first_line: int, delimiter: bytes, ncols: int):
        self.buf = np.frombuffer(block, dtype=np.uint8)
        newline = self.buf == 10
        line_ends = np.flatnonzero(newline)
        line_starts = np.concatenate(([0], line_ends[:-1] + 1))
        is_sep = newline | (self.buf == delimiter[0])
        seps = np.flatnonzero(is_sep)
        # fields per line = separators up to and including the line's newline
        sep_count = np.diff(np.concatenate(([0], np.searchsorted(seps, line_ends, side="right"))))
        blank = line_ends == line_starts
        bad = ~blank & (sep_count != ncols)
        if bad.any():
            row = int(np.argmax(bad))
            raise ValueError(
                f"{path}: line {first_line + row}: expected {ncols} fields separated by "
                f"{delimiter.decode()!r}, got {int(sep_count[row])}"
            )
        if blank.any():
            seps = seps[~np.isin(seps, line_ends[blank])]
            line_starts = line_starts[~blank]
        self.seps = seps.reshape(-1, ncols)
        self.line_starts = line_starts
        self.line_numbers = first_line + np.flatnonzero(~blank)
        self.rows = self.seps.shape[0]

    def field(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        starts = self.line_starts if j == 0 else self.seps[:, j - 1] + 1
        return starts, self.seps[:, j]

    def text(self, row: int, j: int) -> str:
        start, end = (int(v[row]) for v in self.field(j))
        return self.buf[start:end].tobytes().decode("utf-8", "replace")


def check_caps(caps: Sequence[int] | None, count: int, what: str) -> np.ndarray | None:
    """Validate per-feature caps (table rows) -> uint64 array, or None."""
    if caps is None:
        return None
    arr = np.asarray(list(caps), dtype=np.int64) if not isinstance(caps, np.ndarray) else caps.astype(np.int64)
    if arr.ndim != 1 or arr.shape[0] != count:
        from traces.workloads import PRESETS

        fitting = [name for name, make in PRESETS.items() if len(make().tables) == count]
        hint = (f"use --workload {' or --workload '.join(fitting)}" if fitting
                else f"use a --workload with {count} tables (a comma list of {count} cardinalities)")
        raise ValueError(f"{what}: the data has {count} categorical features but the workload has "
                         f"{arr.shape[0] if arr.ndim == 1 else arr.shape} tables (one per feature): {hint}")
    if np.any(arr <= 0):
        raise ValueError(f"{what}: caps must be positive, got {int(arr.min())} for feature {int(np.argmin(arr))}")
    return arr.astype(np.uint64)


def reduce_tokens(values: np.ndarray, caps: np.ndarray | None, what: str) -> np.ndarray:
    """Reduce (rows, features) uint64 values by each feature's cap -> int64 token ids."""
    if caps is not None:
        return (values % caps[None, :]).astype(np.int64)
    if values.size and int(values.max()) >= 1 << 63:
        raise ValueError(f"{what}: a value does not fit in int64 token ids; pass caps to reduce it")
    return values.astype(np.int64)


def batches_from_rows(rows: Iterator[tuple[np.ndarray, np.ndarray]], batch_size: int, missing: str,
                      max_samples: int | None) -> Iterator[Batch]:
    """Check the arguments now, then lazily turn a stream of (tokens (n, T) int64, is_missing (n, T) bool) blocks into table-major Batches."""
    if int(batch_size) <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if missing not in MISSING_MODES:
        raise ValueError(f"missing must be one of {MISSING_MODES}, not {missing!r}")
    if max_samples is not None and int(max_samples) < 0:
        raise ValueError(f"max_samples must be >= 0, got {max_samples}")
    return _batches(rows, int(batch_size), missing, None if max_samples is None else int(max_samples))


def make_batch(tokens: np.ndarray, is_missing: np.ndarray, missing: str) -> Batch:
    """One table-major Batch from per-sample rows: tokens (n, T) int64, is_missing (n, T) bool."""
    n, t = tokens.shape
    if missing == "zero":
        tokens = np.where(is_missing, 0, tokens)
        present = np.ones((t, n), dtype=bool)
    else:
        present = ~is_missing.T
    indices = tokens.T[present]  # C order of the (T, n) view: feature 0's n bags, then feature 1's
    offsets = np.zeros(t * n + 1, dtype=np.int64)
    np.cumsum(present.ravel(), out=offsets[1:])
    return Batch(indices, offsets, t, n)


def _batches(rows, batch_size: int, missing: str, budget: int | None) -> Iterator[Batch]:
    pending_tokens: list[np.ndarray] = []
    pending_missing: list[np.ndarray] = []
    have = 0
    if budget == 0:
        return
    for tokens, is_missing in rows:
        if budget is not None:
            tokens, is_missing = tokens[:budget], is_missing[:budget]
            budget -= tokens.shape[0]
        pending_tokens.append(tokens)
        pending_missing.append(is_missing)
        have += tokens.shape[0]
        if have >= batch_size:
            all_tokens = np.concatenate(pending_tokens)
            all_missing = np.concatenate(pending_missing)
            start = 0
            while have - start >= batch_size:
                end = start + batch_size
                yield make_batch(all_tokens[start:end], all_missing[start:end], missing)
                start = end
            pending_tokens, pending_missing = [all_tokens[start:]], [all_missing[start:]]
            have -= start
        if budget == 0:
            break
    if have:
        yield make_batch(np.concatenate(pending_tokens), np.concatenate(pending_missing), missing)


def _criteo_rows(path: Path, caps: np.ndarray | None, label: bool, block_bytes: int):
    first_cat = NUM_DENSE + (1 if label else 0)
    ncols = first_cat + NUM_CATEGORICAL
    with open_binary(path) as handle:
        for block, first_line in iter_line_blocks(handle, block_bytes):
            fields = FieldBlock(path, block, first_line, b"\t", ncols)
            if fields.rows == 0:
                continue
            starts = fields.seps[:, first_cat - 1 : ncols - 1] + 1
            ends = fields.seps[:, first_cat:ncols]
            values, ok = parse_hex_fields(fields.buf, starts.ravel(), ends.ravel())
            values, ok = values.reshape(starts.shape), ok.reshape(starts.shape)
            is_missing = ends == starts
            bad = ~ok & ~is_missing
            if bad.any():
                _resolve_bad_fields(path, fields, values, bad, first_cat, caps)
            yield reduce_tokens(values, caps, os.fspath(path)), is_missing


def _resolve_bad_fields(path: Path, fields: FieldBlock, values: np.ndarray, bad: np.ndarray, first_cat: int,
                        caps: np.ndarray | None) -> None:
    """Fields the vectorised parser could not take: hex longer than 16 digits is reduced
    exactly (``int(x, 16) % cap``, in place); anything else is an error naming line and field."""
    for row, col in zip(*np.nonzero(bad)):
        j = first_cat + int(col)
        text = fields.text(int(row), j)
        if text and all(c in "0123456789abcdefABCDEF" for c in text):
            if caps is None:
                raise ValueError(f"{path}: line {int(fields.line_numbers[row])}, field index {j} (C{int(col) + 1}): "
                                 f"{text!r} does not fit in int64 token ids; pass caps to reduce it")
            values[row, col] = int(text, 16) % int(caps[col])
            continue
        raise ValueError(
            f"{path}: line {int(fields.line_numbers[row])}, field index {j} (C{int(col) + 1}): "
            f"{text!r} is not a hexadecimal value"
        )


def iter_criteo_batches(path: str | os.PathLike, batch_size: int, caps: Sequence[int] | None = None,
                        missing: str = "empty", max_samples: int | None = None, *, label: bool = True,
                        block_bytes: int = BLOCK_BYTES) -> Iterator[Batch]:
    """Stream a Criteo TSV (plain or .gz) as Batches of ``batch_size`` samples (the last may be smaller).

    ``caps``: 26 table sizes (token = int(hex, 16) % cap) or None. ``label=False`` reads
    files without the label column (Criteo Kaggle's test.txt: 39 fields).
    """
    path = Path(path)
    caps_arr = check_caps(caps, NUM_CATEGORICAL, os.fspath(path))
    if int(block_bytes) <= 0:
        raise ValueError(f"block_bytes must be positive, got {block_bytes}")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    return batches_from_rows(_criteo_rows(path, caps_arr, label, int(block_bytes)), batch_size, missing, max_samples)
