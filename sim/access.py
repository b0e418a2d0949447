"""How a trace chunk looks and how it marks writes.

A trace chunk is a 1-D C-contiguous ``np.uint64`` array of byte addresses (``as_chunk``
checks and converts one). Bit 63 set means the access is a write (store); clear means a
read (load). Real user-space addresses never reach bit 63, so the flag cannot collide
with an address. ``addr & ADDR_MASK`` recovers the byte address.
"""

from __future__ import annotations

import numpy as np

WRITE_FLAG = np.uint64(1 << 63)
ADDR_MASK = np.uint64((1 << 63) - 1)


def mark_writes(addrs: np.ndarray, is_write: np.ndarray) -> np.ndarray:
    """Return a copy of ``addrs`` with bit 63 set where ``is_write`` is true."""
    out = np.ascontiguousarray(addrs, dtype=np.uint64).copy()
    out[np.asarray(is_write, dtype=bool)] |= WRITE_FLAG
    return out


def split_writes(chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split a chunk into (byte addresses, is_write boolean array)."""
    chunk = np.asarray(chunk, dtype=np.uint64)
    return chunk & ADDR_MASK, (chunk & WRITE_FLAG) != 0


def as_chunk(chunk) -> np.ndarray:
    """One trace chunk as a 1-D C-contiguous ``np.uint64`` array (no copy when it already is).

    Every consumer of chunks (simulator, miss-ratio curves, time sampling) checks its input
    here. Integer arrays are converted; ValueError for another shape, a non-integer dtype
    or a negative address (an empty chunk of any dtype is an empty uint64 chunk).
    """
    arr = np.asarray(chunk)
    if arr.ndim != 1:
        raise ValueError(f"trace chunk must be 1-D (one-dimensional), got shape {arr.shape}")
    if arr.dtype != np.uint64:
        if arr.size and arr.dtype.kind not in "iu":
            raise ValueError(f"trace chunk must hold integers (byte addresses), got dtype {arr.dtype}")
        if arr.size and arr.dtype.kind == "i" and arr.min() < 0:
            raise ValueError(f"trace chunk: byte addresses must be non-negative, found {int(arr.min())}")
        arr = arr.astype(np.uint64)
    return np.ascontiguousarray(arr)
