"""The arrays a training step adds to a representation's layout, and its parameter rows.

Parameter rows are the optimizer's unit (row-wise Adagrad keeps one float of state per row)
and the sparse gradient's unit (unique ids are row ids): a plain table's row (dim floats), a
quotient / remainder row, a TT core slice, a Mem-Rec token row or weight entry, and ROBE's
aligned chunks of Z floats of the shared memory (the last one shorter when Z does not divide
|M|; a ROBE read at an unaligned offset spans two rows).

The training layout is ``make_layout`` of the representation's own arrays (so their
addresses are the forward trace's) followed by, per gradient mode: ``grad_<array>`` for every
parameter array (dense: the gradient buffer, its shape), or ``unique_rows`` (int64 row ids, as
many as the parameters have rows) and ``grad_rows`` (the compact gradient rows, at most the
parameter count; sparse); then, for Adagrad, ``adagrad_<array>`` (one float per row). Every
array is page-aligned, as the forward layout's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from traces.layout import Layout, make_layout
from traces.training.names import TrainConfig


def row_width(rep, name: str) -> int:
    """Floats per parameter row of array ``name`` of ``rep``."""
    if name.startswith("table_") or name.startswith("token_table"):
        return rep.dim
    if name.startswith("q_") or name.startswith("r_"):
        return rep.dim // 2 if rep.config.combine == "concat" else rep.dim
    if name == "robe_memory":
        return rep.config.chunk
    if name.startswith("core"):
        return rep._slice_floats()[int(name[4]) - 1]
    if name.startswith("weight_table"):
        return rep.config.weight_width
    raise ValueError(f"{rep.name}: no row width for array {name!r}")


@dataclass(frozen=True)
class TrainLayout:
    """Per parameter region (arrays indexed like ``rep.layout.regions``): element offset in the
    flat buffer, element count, row width, first global row id, and the base addresses of its
    parameter, gradient (dense) and Adagrad state arrays; plus the sparse arrays' bases."""

    layout: Layout
    elem_offset: np.ndarray
    elems: np.ndarray
    width: np.ndarray
    row_base: np.ndarray
    param_addr: np.ndarray
    grad_addr: np.ndarray
    state_addr: np.ndarray
    unique_addr: int
    compact_addr: int

    @property
    def total_rows(self) -> int:
        return int(self.row_base[-1] + self.rows_of(len(self.width) - 1))

    def rows_of(self, reg: int) -> int:
        return -(-int(self.elems[reg]) // int(self.width[reg]))


def train_layout(rep, config: TrainConfig) -> TrainLayout:
    regions = rep.layout.regions
    names = [r.name for r in regions]
    elems = np.array([r.nbytes // 4 for r in regions], dtype=np.int64)
    width = np.array([row_width(rep, n) for n in names], dtype=np.int64)
    rows = -(-elems // width)
    row_base = np.concatenate([[0], np.cumsum(rows)[:-1]]).astype(np.int64)
    arrays = list(zip(names, (int(e) for e in elems)))
    if config.grad == "dense":
        arrays += [(f"grad_{n}", int(e)) for n, e in zip(names, elems)]
    else:
        arrays += [("unique_rows", 2 * int(rows.sum())), ("grad_rows", int(elems.sum()))]
    if config.optimizer == "adagrad":
        arrays += [(f"adagrad_{n}", int(r)) for n, r in zip(names, rows)]
    layout = make_layout(arrays)
    base = {r.name: r.base_addr for r in layout.regions}
    none = np.zeros(len(names), dtype=np.int64)
    return TrainLayout(
        layout=layout, elem_offset=rep.layout.elem_offset_array(), elems=elems, width=width, row_base=row_base,
        param_addr=np.array([base[n] for n in names], dtype=np.int64),
        grad_addr=np.array([base[f"grad_{n}"] for n in names], dtype=np.int64) if config.grad == "dense" else none,
        state_addr=(np.array([base[f"adagrad_{n}"] for n in names], dtype=np.int64)
                    if config.optimizer == "adagrad" else none),
        unique_addr=base.get("unique_rows", 0), compact_addr=base.get("grad_rows", 0))
