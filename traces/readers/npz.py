"""Index/offset arrays in ``.npz`` files, re-batched into ``Batch`` objects.

Two layouts are accepted:

(a) per table (TorchRec / FBGEMM per-feature): ``indices_<t>`` and ``offsets_<t>`` for
    every table ``t`` (suffixes ordered numerically when all are integers, else in file
    order). ``offsets_<t>`` has either ``B + 1`` entries (starts at 0, ends at
    ``len(indices_<t>)``) or ``B`` entries (bag ``B-1`` implicitly ends at
    ``len(indices_<t>)``). Auto-detection takes the ``B + 1`` form when every table's
    offsets end at ``len(indices)``; that reading is ambiguous only when every table's
    last bag is empty, so pass ``offsets_have_end=True/False`` to force it.
(b) table-major (Meta's dlrm_datasets once loaded into numpy): ``indices``, ``offsets``
    with ``T * B + 1`` global entries, and optionally ``lengths`` of shape ``(T, B)``
    (which gives T and B). Without a 2-D ``lengths``, T is ``num_features`` or, when not
    given, the number of ``caps`` (the workload's tables: ``--workload`` on the command line).

Uncompressed members (``np.savez``) are memory-mapped, so a multi-GB file is streamed
batch by batch; members of ``np.savez_compressed`` files are loaded whole.
Token ids are reduced by ``% caps[t]`` when ``caps`` is given.
"""

from __future__ import annotations

import os
import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from traces.batch import Batch
from traces.readers.criteo import check_caps

_CHECK_ENTRIES = 1 << 22  # validation works in slices of this many entries (bounded memory)


def _npy_header(raw) -> tuple | None:
    """(shape, fortran_order, dtype) of the .npy starting at the file position, or None if not readable."""
    version = np.lib.format.read_magic(raw)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(raw)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(raw)
    return None


def load_npz_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Arrays of an ``.npz``: memory-mapped for stored (uncompressed) members, else loaded."""
    path = Path(path)
    out: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as archive, open(path, "rb") as raw:
            for info in archive.infolist():
                key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                header = None
                if info.compress_type == zipfile.ZIP_STORED:
                    raw.seek(info.header_offset)
                    local = raw.read(30)
                    name_len, extra_len = struct.unpack("<HH", local[26:30])
                    raw.seek(info.header_offset + 30 + name_len + extra_len)
                    header = _npy_header(raw)
                if header is not None:
                    shape, fortran, dtype = header
                    if dtype.hasobject:
                        raise ValueError(f"{path}: array {key!r} holds Python objects; only numeric arrays are read")
                    out[key] = np.memmap(path, dtype=dtype, mode="r", offset=raw.tell(), shape=shape,
                                         order="F" if fortran else "C") if int(np.prod(shape)) else np.zeros(shape, dtype)
                else:
                    with archive.open(info) as member:
                        try:
                            out[key] = np.lib.format.read_array(member, allow_pickle=False)
                        except ValueError as exc:
                            raise ValueError(f"{path}: array {key!r}: {exc}") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{path}: not a readable .npz file: {exc}") from None
    return out


@dataclass(frozen=True)
class _Table:
    name: str
    indices: np.ndarray  # 1-D integer (memory-mapped or not); bags index into it
    offsets: np.ndarray  # 1-D integer, B or B + 1 entries
    end: int  # position where the last bag ends (len(indices) for per-table, offsets[-1] for table-major)

    def bounds(self, b0: int, b1: int) -> np.ndarray:
        """Offsets of bags b0..b1 (b1 - b0 + 1 entries)."""
        if b1 < self.offsets.shape[0]:
            return np.asarray(self.offsets[b0 : b1 + 1], dtype=np.int64)
        return np.concatenate((np.asarray(self.offsets[b0:b1], dtype=np.int64), [self.end]))


def _check_1d_int(path: Path, name: str, arr: np.ndarray) -> None:
    if arr.ndim != 1:
        raise ValueError(f"{path}: array {name!r} must be 1-D, got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{path}: array {name!r} must hold integers, got dtype {arr.dtype}")


def _check_offsets(path: Path, name: str, offsets: np.ndarray, start: int, limit: int) -> None:
    """offsets[0] == start, non-decreasing, every entry <= limit (checked slice by slice)."""
    if offsets.shape[0] == 0:
        return
    if int(offsets[0]) != start:
        raise ValueError(f"{path}: array {name!r} must start at {start}, got {int(offsets[0])}")
    prev = start
    for lo in range(0, offsets.shape[0], _CHECK_ENTRIES):
        part = np.asarray(offsets[lo : lo + _CHECK_ENTRIES], dtype=np.int64)
        steps = np.diff(np.concatenate(([prev], part)))
        if np.any(steps < 0):
            k = lo + int(np.argmax(steps < 0))
            raise ValueError(f"{path}: array {name!r} must be non-decreasing; entry {k} ({int(offsets[k])}) "
                             f"< entry {k - 1} ({int(offsets[k - 1])})")
        prev = int(part[-1])
    if prev > limit:
        raise ValueError(f"{path}: array {name!r} ends at {prev}, beyond the {limit} entries of its indices")


def _check_indices(path: Path, name: str, indices: np.ndarray) -> None:
    if indices.dtype.kind == "u":
        return
    for lo in range(0, indices.shape[0], _CHECK_ENTRIES):
        part = indices[lo : lo + _CHECK_ENTRIES]
        if part.size and int(part.min()) < 0:
            k = lo + int(np.argmax(np.asarray(part) < 0))
            raise ValueError(f"{path}: array {name!r} holds a negative token id {int(indices[k])} at entry {k}")


def _suffix_order(suffixes: list[str]) -> list[str]:
    return sorted(suffixes, key=int) if all(s.isdigit() for s in suffixes) else suffixes


def _per_table(path: Path, arrays: dict[str, np.ndarray], offsets_have_end: bool | None) -> tuple[list[_Table], int]:
    names = list(arrays)
    idx_sfx = [m.group(1) for n in names if (m := re.fullmatch(r"indices_(.+)", n))]
    off_sfx = [m.group(1) for n in names if (m := re.fullmatch(r"offsets_(.+)", n))]
    if set(idx_sfx) != set(off_sfx):
        missing = sorted(set(idx_sfx) ^ set(off_sfx))
        raise ValueError(f"{path}: per-table arrays must come in pairs indices_<t>/offsets_<t>; "
                         f"unpaired suffixes: {missing}")
    order = _suffix_order(idx_sfx)
    for t in order:
        _check_1d_int(path, f"indices_{t}", arrays[f"indices_{t}"])
        _check_1d_int(path, f"offsets_{t}", arrays[f"offsets_{t}"])
    ends_at_len = [arrays[f"offsets_{t}"].shape[0] > 0 and int(arrays[f"offsets_{t}"][-1]) == arrays[f"indices_{t}"].shape[0]
                   for t in order]
    with_end = all(ends_at_len) if offsets_have_end is None else bool(offsets_have_end)
    sizes = {t: arrays[f"offsets_{t}"].shape[0] - (1 if with_end else 0) for t in order}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"{path}: every table needs the same number of samples; offsets imply {sizes} "
                         f"({'B + 1' if with_end else 'B'} entries per table)")
    batch = next(iter(sizes.values()))
    if batch < 0:
        raise ValueError(f"{path}: array 'offsets_{order[0]}' is empty; the B + 1 form needs at least [0]")
    tables = []
    for t in order:
        indices, offsets = arrays[f"indices_{t}"], arrays[f"offsets_{t}"]
        _check_offsets(path, f"offsets_{t}", offsets, 0, indices.shape[0])
        if with_end and offsets.shape[0] and int(offsets[-1]) != indices.shape[0]:
            raise ValueError(f"{path}: array 'offsets_{t}' must end at len(indices_{t}) = {indices.shape[0]} "
                             f"(B + 1 form), got {int(offsets[-1])}")
        _check_indices(path, f"indices_{t}", indices)
        tables.append(_Table(t, indices, offsets, indices.shape[0]))
    return tables, batch


def _table_major(path: Path, arrays: dict[str, np.ndarray], num_features: int | None) -> tuple[list[_Table], int]:
    indices, offsets = arrays["indices"], arrays["offsets"]
    _check_1d_int(path, "indices", indices)
    _check_1d_int(path, "offsets", offsets)
    lengths = arrays.get("lengths")
    if lengths is not None and lengths.ndim == 2:
        t_count, batch = lengths.shape
        if num_features is not None and num_features != t_count:
            raise ValueError(f"{path}: the data has {t_count} tables (array 'lengths' of shape {lengths.shape}) "
                             f"but the workload has {num_features}: use a --workload with {t_count} tables")
    elif num_features is not None:
        t_count = int(num_features)
        if t_count <= 0 or (offsets.shape[0] - 1) % t_count:
            raise ValueError(f"{path}: array 'offsets' has {offsets.shape[0]} entries, not T * B + 1 for "
                             f"T={num_features} tables (the --workload's; give the workload the data was "
                             "made for, or a 2-D 'lengths' (T, B) array)")
        batch = (offsets.shape[0] - 1) // t_count
    else:
        raise ValueError(f"{path}: table-major layout: array 'offsets' ({offsets.shape[0]} entries = T * B + 1) does "
                         "not say T; include a 2-D 'lengths' (T, B) array, or give the workload with T tables "
                         "(--workload; num_features= in the library)")
    if offsets.shape[0] != t_count * batch + 1:
        raise ValueError(f"{path}: array 'offsets' must have T * B + 1 = {t_count * batch + 1} entries "
                         f"(T={t_count}, B={batch}), got {offsets.shape[0]}")
    _check_offsets(path, "offsets", offsets, 0, indices.shape[0])
    if int(offsets[-1]) != indices.shape[0]:
        raise ValueError(f"{path}: array 'offsets' must end at len(indices) = {indices.shape[0]}, got {int(offsets[-1])}")
    if lengths is not None:
        flat = lengths.reshape(-1)
        if flat.shape[0] != t_count * batch:
            raise ValueError(f"{path}: array 'lengths' must have T * B = {t_count * batch} entries, got {flat.shape[0]}")
        for lo in range(0, flat.shape[0], _CHECK_ENTRIES):
            hi = min(lo + _CHECK_ENTRIES, flat.shape[0])
            if not np.array_equal(np.diff(np.asarray(offsets[lo : hi + 1], dtype=np.int64)), flat[lo:hi]):
                raise ValueError(f"{path}: array 'lengths' disagrees with the differences of 'offsets'")
    _check_indices(path, "indices", indices)
    tables = [_Table(str(t), indices, offsets[t * batch : t * batch + batch + 1], int(offsets[(t + 1) * batch]))
              for t in range(t_count)]
    return tables, batch


def _rebatch(tables: list[_Table], total: int, batch_size: int, caps: np.ndarray | None) -> Iterator[Batch]:
    for b0 in range(0, total, batch_size):
        b1 = min(b0 + batch_size, total)
        parts, lengths = [], []
        for t, table in enumerate(tables):
            bounds = table.bounds(b0, b1)
            tokens = np.asarray(table.indices[bounds[0] : bounds[-1]], dtype=np.int64)
            parts.append(tokens % int(caps[t]) if caps is not None else tokens)
            lengths.append(np.diff(bounds))
        offsets = np.zeros(len(tables) * (b1 - b0) + 1, dtype=np.int64)
        np.cumsum(np.concatenate(lengths), out=offsets[1:])
        yield Batch(np.concatenate(parts), offsets, len(tables), b1 - b0)


def iter_npz_batches(path: str | os.PathLike, batch_size: int | None = None, caps: Sequence[int] | None = None, *,
                     num_features: int | None = None, offsets_have_end: bool | None = None) -> Iterator[Batch]:
    """Stream the samples of an ``.npz`` (layout (a) or (b), see the module doc) as Batches.

    ``batch_size=None`` yields the file's samples as one batch; otherwise batches of
    ``batch_size`` samples (the last may be smaller). Layout and array errors are
    raised at call time as a ValueError naming the array.
    """
    path = Path(path)
    if batch_size is not None and int(batch_size) <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    arrays = load_npz_arrays(path)
    if "indices" in arrays and "offsets" in arrays:
        if num_features is None and caps is not None:
            num_features = len(caps)  # one cap per table: the workload says T
        tables, total = _table_major(path, arrays, num_features)
    elif any(name.startswith("indices_") for name in arrays):
        tables, total = _per_table(path, arrays, offsets_have_end)
    else:
        raise ValueError(f"{path}: expected arrays 'indices' + 'offsets' (table-major) or 'indices_<t>' + "
                         f"'offsets_<t>' per table; found {sorted(arrays)}")
    if not tables:
        raise ValueError(f"{path}: no tables found")
    caps_arr = check_caps(caps, len(tables), os.fspath(path))
    size = total if batch_size is None else int(batch_size)
    return _rebatch(tables, total, max(size, 1), caps_arr)
