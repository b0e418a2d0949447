"""Slow, obviously-correct references of the training passes (traces.training).

Independent of the kernels: the parameter gradient comes from the forward reference alone
(``traces.reference.reference_pooled``): L = sum(pooled * grad_out) is affine in every single
parameter (each embedding is a sum of products of distinct arrays' elements), so
dL/dtheta_i = L(theta_i = 1) - L(theta_i = 0) exactly, evaluated in float64 for every element a
lookup reads (the others get 0). The optimizer step is numpy float64 on that gradient. The
trace is rebuilt from the definitions: the forward reads (``reference.py``'s read sequence)
are the backward's contributions in order; arrays, rows and addresses are recomputed here.
"""

from __future__ import annotations

import numpy as np

from traces.batch import Batch
from traces.layout import LAYOUT_BASE, PAGE_BYTES
from traces.reference import _Model, _read_sequence, reference_pooled, reference_lines

WRITE = 1 << 63


def _touched(model: _Model, batch: Batch) -> list[int]:
    """Flat element indices some lookup of ``batch`` reads."""
    return sorted({model.first_elem[name] + first + j for name, first, count in _read_sequence(model, batch)
                   for j in range(count)})


def reference_gradient(rep, batch: Batch, grad_out: np.ndarray) -> np.ndarray:
    """dL/d(flat parameters), float64, for L = sum(pooled * grad_out), by exact differences."""
    model = _Model(rep)
    g = np.asarray(grad_out, dtype=np.float64)
    saved = rep.weights
    grad = np.zeros(saved.size)
    try:
        work = saved.copy()
        rep.weights = work
        for i in _touched(model, batch):
            value = work[i]
            work[i] = 1.0
            high = float(np.sum(reference_pooled(rep, batch) * g))
            work[i] = 0.0
            low = float(np.sum(reference_pooled(rep, batch) * g))
            work[i] = value
            grad[i] = high - low
    finally:
        rep.weights = saved
    return grad


def _width(model: _Model, name: str) -> int:
    """Floats per parameter row of an array, from the definitions (docs/training.md)."""
    c, dim = model.c, model.dim
    if name.startswith(("table_", "token_table")):
        return dim
    if name.startswith(("q_", "r_")):
        return dim // 2 if c.combine == "concat" else dim
    if name == "robe_memory":
        return c.chunk
    if name.startswith("core"):
        return model.slice[int(name[4]) - 1]
    return c.weight_width


def _rows(model: _Model):
    """(array name, first flat element, element count, row width, first global row) per array."""
    out, elem, row = [], 0, 0
    for name, count in model.arrays:
        w = _width(model, name)
        out.append((name, elem, count, w, row))
        elem += count
        row += -(-count // w)
    return out


def reference_step(rep, grad: np.ndarray, optimizer: str, lr: float, eps: float,
                   state: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(new flat parameters, new Adagrad state) in float64 after one step on gradient ``grad``.
    Row-wise Adagrad: state_row += mean(g_row^2); w -= lr * g / (sqrt(state_row) + eps)."""
    model = _Model(rep)
    weights = rep.weights.astype(np.float64)
    rows = _rows(model)
    total_rows = sum(-(-count // w) for _, _, count, w, _ in rows)
    state = np.zeros(total_rows) if state is None else np.asarray(state, dtype=np.float64).copy()
    if optimizer == "sgd":
        return weights - lr * grad, state
    for _, first, count, w, row0 in rows:
        for r in range(-(-count // w)):
            lo, hi = first + r * w, min(first + count, first + (r + 1) * w)
            state[row0 + r] += np.mean(grad[lo:hi] ** 2)
            weights[lo:hi] -= lr * grad[lo:hi] / (np.sqrt(state[row0 + r]) + eps)
    return weights, state


# --------------------------------------------------------------------------- the trace

def _layout(model: _Model, grad: str, optimizer: str) -> dict[str, int]:
    rows = _rows(model)
    arrays = list(model.arrays)
    if grad == "dense":
        arrays += [(f"grad_{name}", count) for name, count in model.arrays]
    else:
        total_rows = sum(-(-count // w) for _, _, count, w, _ in rows)
        arrays += [("unique_rows", 2 * total_rows), ("grad_rows", sum(c for _, c in model.arrays))]
    if optimizer == "adagrad":
        arrays += [(f"adagrad_{name}", -(-count // w)) for name, _, count, w, _ in rows]
    base, addr = {}, LAYOUT_BASE
    for name, count in arrays:
        base[name] = addr
        addr = -(-(addr + 4 * count) // PAGE_BYTES) * PAGE_BYTES
    return base


def _recomputes(model: _Model, name: str) -> bool:
    """Whether the backward re-reads a forward read: the factors of a product (qr mult's Q and R,
    ttrec's cores, Mem-Rec's token rows and weights); a copied row (plain tables, hashing,
    ROBE, qr add/concat) is not needed."""
    if model.name == "qr":
        return model.c.combine == "mult" and not name.startswith("table_")
    if model.name == "ttrec":
        return name.startswith("core")
    return model.name == "memrec"


def reference_accesses(rep, batch: Batch, phase: str, grad: str, optimizer: str) -> list[tuple[int, int, bool]]:
    """(byte address, byte count, is_store) of the backward (+ optimizer for train) in order;
    a read-modify-write is ('rmw' marker) expanded by ``reference_train_lines``."""
    model = _Model(rep)
    base = _layout(model, grad, optimizer)
    rows = {name: (first, count, w, row0) for name, first, count, w, row0 in _rows(model)}
    reads = _read_sequence(model, batch)
    acc: list[tuple[int, int, object]] = []
    for name, first, count in reads:
        if _recomputes(model, name):
            acc.append((base[name] + 4 * first, 4 * count, False))
    if grad == "dense":
        for name, count in model.arrays:
            acc.append((base[f"grad_{name}"], 4 * count, True))
        for name, first, count in reads:
            acc.append((base[f"grad_{name}"] + 4 * first, 4 * count, "rmw"))
        touched = [(name, r) for name, count in model.arrays for r in range(-(-count // rows[name][2]))]
    else:
        pieces = []  # (global row id, array, local row, first float of the piece in the row, floats)
        for name, first, count in reads:
            w, row0 = rows[name][2], rows[name][3]
            e, end = first, first + count
            while e < end:
                r = e // w
                stop = min(end, (r + 1) * w, rows[name][1])
                pieces.append((row0 + r, name, r, e - r * w, stop - e))
                e = stop
        unique = sorted({(p[0], p[1], p[2]) for p in pieces})
        slot, offset, pos = {}, {}, 0
        for u, (gid, name, r) in enumerate(unique):
            slot[gid], offset[gid] = u, pos
            pos += min(rows[name][2], rows[name][1] - r * rows[name][2])
        if unique:
            acc.append((base["unique_rows"], 8 * len(unique), True))
            acc.append((base["grad_rows"], 4 * pos, True))
        for gid, _, _, at, n in pieces:
            acc.append((base["grad_rows"] + 4 * (offset[gid] + at), 4 * n, "rmw"))
        touched = [(name, r) for _, name, r in unique]
    if phase != "train":
        return acc
    for u, (name, r) in enumerate(touched):
        first, count, w, _ = rows[name]
        n = min(w, count - r * w)
        if grad == "dense":
            g_addr = base[f"grad_{name}"] + 4 * r * w
        else:
            acc.append((base["unique_rows"] + 8 * u, 8, False))
            g_addr = base["grad_rows"] + 4 * offset[rows[name][3] + r]
        w_addr = base[name] + 4 * r * w
        if optimizer == "adagrad":
            s_addr = base[f"adagrad_{name}"] + 4 * r
            acc += [(g_addr, 4 * n, False), (s_addr, 4, False), (s_addr, 4, True)]
        acc += [(g_addr, 4 * n, False), (w_addr, 4 * n, False), (w_addr, 4 * n, True)]
    return acc


def reference_train_lines(rep, batch: Batch, phase: str, grad: str, optimizer: str,
                          line_bytes: int = 64) -> list[int]:
    """The line addresses (bit 63 = store) of ``phase`` (forward / backward / train) in order."""
    lines = reference_lines(rep, batch, line_bytes) if phase in ("forward", "train") else []
    if phase == "forward":
        return lines
    for addr, nbytes, kind in reference_accesses(rep, batch, phase, grad, optimizer):
        for line in range(addr // line_bytes, (addr + nbytes - 1) // line_bytes + 1):
            if kind == "rmw":
                lines += [line * line_bytes, (line * line_bytes) | WRITE]
            else:
                lines.append((line * line_bytes) | (WRITE if kind else 0))
    return lines
