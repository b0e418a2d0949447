"""Row accounting: which level served the slowest line of each contiguous row read.

Why: the lines of one embedding row are issued together, so the timing model charges a
row by its slowest line, not each line alone. A row is a maximal run of consecutive data
lines (line == the previous data line + 1); page-walk reads between them do not break it.
Rows continue across chunks (the open row is carried).

Per served level L (0 = first level ... nlev - 1 = LLC, nlev = memory), for data
accesses: ``rows[L]`` rows whose slowest line was served at L, ``row_lines[L]`` their
lines, ``data_lines[L]`` data lines served at L; for walk reads: ``leaf_reads[L]`` and
``upper_reads[L]``. Lines no level simulated (served 255: a set not sampled or not
owned) are counted apart: a row with any such line goes to ``unsimulated_*``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from sim.access import ADDR_MASK
from sim.engine.kernels import NOT_SIMULATED
from sim.tlb import KIND_DATA, KIND_LEAF, KIND_UPPER

# rows of the counts array; its columns are the levels 0..nlev and nlev + 1 = unsimulated
C_ROWS, C_ROW_LINES, C_DATA_LINES, C_LEAF, C_UPPER = 0, 1, 2, 3, 4
NCOUNT = 5
# the carried open row
R_PREV, R_LINES, R_WORST = 0, 1, 2


@dataclass(frozen=True)
class RowStats:
    """Row counts per served level (module docstring); ``levels`` names the columns
    (e.g. ("L1", "L2", "LLC", "memory")); each tuple has one entry per level."""

    levels: tuple[str, ...]
    rows: tuple[int, ...]
    row_lines: tuple[int, ...]
    data_lines: tuple[int, ...]
    leaf_reads: tuple[int, ...]
    upper_reads: tuple[int, ...]
    unsimulated_rows: int
    unsimulated_row_lines: int
    unsimulated_data_lines: int
    unsimulated_leaf_reads: int
    unsimulated_upper_reads: int

    def as_dict(self) -> dict:
        """Flat ``{field}_{level}`` counts plus the unsimulated ones."""
        out = {}
        for field in ("rows", "row_lines", "data_lines", "leaf_reads", "upper_reads"):
            for name, value in zip(self.levels, getattr(self, field)):
                out[f"{field}_{name}"] = value
        for field in ("rows", "row_lines", "data_lines", "leaf_reads", "upper_reads"):
            out[f"unsimulated_{field}"] = getattr(self, f"unsimulated_{field}")
        return out


class RowCounter:
    """Accumulates row counts chunk by chunk (state: ``counts`` and the open ``row``;
    plain arrays, so the object can be checkpointed as is)."""

    def __init__(self, nlev: int, line_shift: int, level_names: tuple[str, ...] | None = None) -> None:
        if not 1 <= nlev < NOT_SIMULATED - 1:
            raise ValueError(f"nlev={nlev}: must be in [1, {NOT_SIMULATED - 2}]")
        self.nlev = int(nlev)
        self.line_shift = int(line_shift)
        names = list(level_names or [f"L{k}" for k in range(nlev)]) + ["memory"]
        if len(names) != nlev + 1 or any(not n or " " in n for n in names):
            raise ValueError(f"level_names: expected {nlev} names without spaces, got {level_names!r}")
        self.level_names = " ".join(names)  # a string: the object holds only scalars and arrays
        self.counts = np.zeros((NCOUNT, nlev + 2), dtype=np.int64)
        self.row = np.array([-2, 0, 0], dtype=np.int64)  # no open row: prev line -2, 0 lines

    def add(self, addrs: np.ndarray, kinds: np.ndarray, served: np.ndarray) -> None:
        """Count one chunk: byte addresses (bit 63 = write), kinds (0 data, 1 leaf, 2 upper)
        and served levels, all of one length (kinds may be empty: all data)."""
        n = addrs.size
        if served.size < n or (kinds.size and kinds.size < n):
            raise ValueError(f"rows: {n} addresses, {kinds.size} kinds, {served.size} served levels")
        _count(addrs, kinds, served, n, self.line_shift, self.nlev, self.counts, self.row)

    def reset_stats(self) -> None:
        """Zero the counts and close the open row uncounted: a row read before the reset (the
        warm-up's last) belongs to what was reset; the next data line starts a new row."""
        self.counts[:] = 0
        self.row[:] = (-2, 0, 0)

    def stats(self) -> RowStats:
        """Counts so far, the open row included as if it closed now (the state is not changed)."""
        counts = self.counts.copy()
        row = self.row.copy()
        _close(counts, row, self.nlev)
        lev = slice(0, self.nlev + 1)
        u = self.nlev + 1
        return RowStats(
            levels=tuple(self.level_names.split(" ")),
            rows=tuple(int(v) for v in counts[C_ROWS, lev]),
            row_lines=tuple(int(v) for v in counts[C_ROW_LINES, lev]),
            data_lines=tuple(int(v) for v in counts[C_DATA_LINES, lev]),
            leaf_reads=tuple(int(v) for v in counts[C_LEAF, lev]),
            upper_reads=tuple(int(v) for v in counts[C_UPPER, lev]),
            unsimulated_rows=int(counts[C_ROWS, u]), unsimulated_row_lines=int(counts[C_ROW_LINES, u]),
            unsimulated_data_lines=int(counts[C_DATA_LINES, u]), unsimulated_leaf_reads=int(counts[C_LEAF, u]),
            unsimulated_upper_reads=int(counts[C_UPPER, u]),
        )


@njit(cache=True, inline="always")
def _column(level, nlev):
    return level if level <= nlev else nlev + 1


@njit(cache=True)
def _close(counts, row, nlev):
    """Count the open row (if any) and leave none open."""
    if row[R_LINES] > 0:
        col = _column(row[R_WORST], nlev)
        counts[C_ROWS, col] += 1
        counts[C_ROW_LINES, col] += row[R_LINES]
    row[R_PREV] = -2
    row[R_LINES] = 0
    row[R_WORST] = 0


@njit(cache=True)
def _count(addrs, kinds, served, n, line_shift, nlev, counts, row):
    sh = np.uint64(line_shift)
    all_data = kinds.size == 0
    prev = row[R_PREV]
    lines = row[R_LINES]
    worst = row[R_WORST]
    for i in range(n):
        level = np.int64(served[i])
        col = _column(level, nlev)
        kind = KIND_DATA if all_data else kinds[i]
        if kind == KIND_LEAF:
            counts[C_LEAF, col] += 1
            continue
        if kind == KIND_UPPER:
            counts[C_UPPER, col] += 1
            continue
        counts[C_DATA_LINES, col] += 1
        line = np.int64((addrs[i] & ADDR_MASK) >> sh)
        if lines > 0 and line == prev + 1:
            lines += 1
            if level > worst:
                worst = level
        else:
            if lines > 0:
                c = _column(worst, nlev)
                counts[C_ROWS, c] += 1
                counts[C_ROW_LINES, c] += lines
            lines = 1
            worst = level
        prev = line
    row[R_PREV] = prev
    row[R_LINES] = lines
    row[R_WORST] = worst
