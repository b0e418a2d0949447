"""How a trace marks writes.

A trace chunk is a C-contiguous ``np.uint64`` array of byte addresses. Bit 63 set
means the access is a write (store); clear means a read (load). Real user-space
addresses never reach bit 63, so the flag cannot collide with an address.
``addr & ADDR_MASK`` recovers the byte address.
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
