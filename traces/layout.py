"""Virtual address layout of a representation's arrays.

Traces carry byte addresses from a virtual layout, so a 96 GB full-DLRM trace needs
no 96 GB of RAM: each array (table, core, weight vector) gets a page-aligned,
non-overlapping region starting at ``LAYOUT_BASE``. Real float32 storage, when
allocated, is one flat buffer with the same arrays at element offsets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LAYOUT_BASE = 1 << 32  # 4 GiB: clear of address 0, far below bit 63 (the write flag)
PAGE_BYTES = 4096


@dataclass(frozen=True)
class Region:
    """One array of float32 elements at a virtual base address."""

    name: str
    base_addr: int
    nbytes: int

    @property
    def end_addr(self) -> int:
        return self.base_addr + self.nbytes

    def describe(self) -> dict:
        return {"name": self.name, "base_addr": self.base_addr, "nbytes": self.nbytes}


@dataclass(frozen=True)
class Layout:
    """Regions in address order plus the flat-buffer element offset of each."""

    regions: tuple[Region, ...]
    elem_offsets: tuple[int, ...]

    @property
    def total_elems(self) -> int:
        return sum(r.nbytes for r in self.regions) // 4

    def base_addrs(self) -> np.ndarray:
        return np.array([r.base_addr for r in self.regions], dtype=np.int64)

    def elem_offset_array(self) -> np.ndarray:
        return np.array(self.elem_offsets, dtype=np.int64)

    def describe(self) -> list[dict]:
        return [r.describe() for r in self.regions]


def make_layout(arrays: list[tuple[str, int]], base: int = LAYOUT_BASE, align: int = PAGE_BYTES) -> Layout:
    """Place float32 arrays given as (name, element count), each page-aligned, in order."""
    regions = []
    offsets = []
    addr = base
    elem = 0
    for name, count in arrays:
        if count < 1:
            raise ValueError(f"layout: array {name!r} must have at least one element, got {count}")
        nbytes = count * 4
        regions.append(Region(name, addr, nbytes))
        offsets.append(elem)
        elem += count
        addr = -(-(addr + nbytes) // align) * align
    return Layout(tuple(regions), tuple(offsets))
