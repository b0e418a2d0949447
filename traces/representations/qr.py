"""Quotient-remainder embeddings (Shi et al. 2019, as in the DLRM reference code).

A feature with n_t > threshold rows gets a quotient table of ceil(n_t / m) rows and a
remainder table of m rows (m = "collisions", DLRM's --qr-collisions); token i = x mod n_t
reads Q[i div m] then R[i mod m] and combines them by mult (default), add, or concat
(each table then holds dim/2 columns). Smaller features keep a full table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from sim.intrinsics import borrowed, ix
from traces.representations.base import (SAMPLE_BLOCK, Representation, add_row, block_count, emit_plain_row,
                                         emit_range, local_row, max_lines, plain_bags, plain_row_ops, prefetch_row,
                                         set_row, zero_row)

COMBINE = {"mult": 0, "add": 1, "concat": 2}


@dataclass(frozen=True)
class QRConfig:
    collisions: int = 4  # m: rows of the remainder table
    combine: str = "mult"
    threshold: int = 200  # features with at most this many rows keep a full table

    def __post_init__(self):
        if self.collisions < 1:
            raise ValueError(f"qr: collisions (m) must be >= 1, got {self.collisions}")
        if self.combine not in COMBINE:
            raise ValueError(f"qr: combine must be one of {', '.join(COMBINE)}, got {self.combine!r}")
        if self.threshold < 0:
            raise ValueError(f"qr: threshold must be >= 0, got {self.threshold}")


@njit(cache=True, inline="always")
def qr_rows(token, n, m):
    """(quotient row, remainder row) of a token (one unsigned division)."""
    local = local_row(token, n)
    q = np.int64(np.uint64(local) // np.uint64(m))
    return q, local - q * m


@njit(cache=True, inline="always")
def _block(indices, offsets, batch_size, t, b0, b1, rows, is_qr, first_region, m, combine, elem_offsets, dim,
           weights, out, distance):
    """Pool bags b0..b1-1 of feature t into the flat output ``out``."""
    k0 = t * batch_size
    end = offsets[ix(k0 + b1)]
    n, reg = rows[ix(t)], first_region[ix(t)]
    if not is_qr[ix(t)]:
        plain_bags(indices, offsets, batch_size, t, b0, b1, elem_offsets[ix(reg)], n, dim, weights, out, distance)
        return
    half = dim // 2
    part = half if combine == 2 else dim  # floats per quotient / remainder row
    qbase, rbase = elem_offsets[ix(reg)], elem_offsets[ix(reg + 1)]
    for bag in range(b0, b1):
        k = k0 + bag
        lo, hi, o = offsets[ix(k)], offsets[ix(k + 1)], k * dim
        if lo == hi:
            zero_row(out, o, dim)
            continue
        for i in range(lo, hi):
            if distance > 0 and i + distance < end:
                pq, pr = qr_rows(indices[ix(i + distance)], n, m)
                prefetch_row(weights, qbase + pq * part, part)
                prefetch_row(weights, rbase + pr * part, part)
            q, r = qr_rows(indices[ix(i)], n, m)
            qs, rs = qbase + q * part, rbase + r * part
            first = i == lo
            if combine == 2:
                if first:
                    set_row(out, o, weights, qs, half)
                    set_row(out, o + half, weights, rs, half)
                else:
                    add_row(out, o, weights, qs, half)
                    add_row(out, o + half, weights, rs, half)
            elif combine == 0:
                if first:
                    for j in range(dim):
                        out[ix(o + j)] = np.float32(0.0) + weights[ix(qs + j)] * weights[ix(rs + j)]
                else:
                    for j in range(dim):
                        out[ix(o + j)] += weights[ix(qs + j)] * weights[ix(rs + j)]
            else:
                if first:
                    for j in range(dim):
                        out[ix(o + j)] = np.float32(0.0) + (weights[ix(qs + j)] + weights[ix(rs + j)])
                else:
                    for j in range(dim):
                        out[ix(o + j)] += weights[ix(qs + j)] + weights[ix(rs + j)]


@njit(cache=True)
def _pooled_kernel(indices, offsets, batch_size, rows, is_qr, first_region, m, combine, elem_offsets, dim, weights,
                   out, distance):
    indices, offsets, rows, is_qr = borrowed(indices), borrowed(offsets), borrowed(rows), borrowed(is_qr)
    first_region, elem_offsets, weights = borrowed(first_region), borrowed(elem_offsets), borrowed(weights)
    flat = borrowed(out.reshape(out.size))
    for t in range(rows.shape[0]):
        _block(indices, offsets, batch_size, t, 0, batch_size, rows, is_qr, first_region, m, combine, elem_offsets,
               dim, weights, flat, distance)


@njit(cache=True, parallel=True)
def _pooled_parallel(indices, offsets, batch_size, rows, is_qr, first_region, m, combine, elem_offsets, dim,
                     weights, out, distance):
    flat = out.reshape(out.size)
    blocks = block_count(batch_size)
    for item in prange(rows.shape[0] * blocks):
        t = item // blocks
        b0 = (item % blocks) * SAMPLE_BLOCK
        _block(indices, offsets, batch_size, t, b0, min(batch_size, b0 + SAMPLE_BLOCK), rows, is_qr, first_region,
               m, combine, elem_offsets, dim, weights, flat, distance)


@njit(cache=True)
def _emit_kernel(indices, offsets, batch_size, rows, is_qr, first_region, m, combine, base_addrs, dim, line_bytes, out):
    pos = 0
    part_bytes = (dim // 2) * 4 if combine == 2 else dim * 4
    for t in range(rows.shape[0]):
        reg = first_region[t]
        for i in range(offsets[t * batch_size], offsets[(t + 1) * batch_size]):
            if not is_qr[t]:
                pos = emit_plain_row(out, pos, base_addrs[reg], indices[i], rows[t], dim, line_bytes)
                continue
            q, r = qr_rows(indices[i], rows[t], m)
            pos = emit_range(out, pos, base_addrs[reg] + q * part_bytes, part_bytes, line_bytes)
            pos = emit_range(out, pos, base_addrs[reg + 1] + r * part_bytes, part_bytes, line_bytes)
    return pos


class QuotientRemainder(Representation):
    name = "qr"

    def __init__(self, workload, config: QRConfig | None = None):
        config = config or QRConfig()
        if config.combine == "concat" and workload.dim % 2:
            raise ValueError(f"qr: combine='concat' needs an even dim, got {workload.dim}")
        self.is_qr = np.array([n > config.threshold for n in workload.cardinalities], dtype=np.bool_)
        self.first_region = np.concatenate([[0], np.cumsum(np.where(self.is_qr, 2, 1))[:-1]]).astype(np.int64)
        super().__init__(workload, config)

    def _arrays(self):
        m = self.config.collisions
        cols = self.dim // 2 if self.config.combine == "concat" else self.dim
        arrays = []
        for t, n in enumerate(self.workload.cardinalities):
            if self.is_qr[t]:
                arrays += [(f"q_{t}", -(-int(n) // m) * cols), (f"r_{t}", m * cols)]
            else:
                arrays.append((f"table_{t}", int(n) * self.dim))
        return arrays

    def max_lines_per_lookup(self, line_bytes):
        cols = self.dim // 2 if self.config.combine == "concat" else self.dim
        return max(max_lines(self.dim * 4, line_bytes), 2 * max_lines(cols * 4, line_bytes))

    def _ops_per_lookup(self):
        # token mod n, then quotient and remainder by m (2 divmods), two rows; mult: l muls and
        # l adds; add: 2l adds; concat: l adds (two halves of l/2)
        dim = self.dim
        extra = {"mult": {"muls": float(dim)}, "add": {"adds": 2.0 * dim}, "concat": {}}[self.config.combine]
        return {**plain_row_ops(dim), "divmods": 2.0, "rows": 2.0, **extra}

    def _plain_features(self):
        return [not q for q in self.is_qr]

    def _pooled(self, batch, out, prefetch_distance, parallel):
        kernel = _pooled_parallel if parallel else _pooled_kernel
        kernel(batch.indices, batch.offsets, batch.batch_size, self.rows, self.is_qr, self.first_region,
               self.config.collisions, COMBINE[self.config.combine], self._elem_offsets(), self.workload.dim,
               self.weights, out, prefetch_distance)

    def _emit(self, batch, line_bytes, out):
        return _emit_kernel(batch.indices, batch.offsets, batch.batch_size, self.rows, self.is_qr, self.first_region,
                            self.config.collisions, COMBINE[self.config.combine], self.layout.base_addrs(),
                            self.dim, line_bytes, out)
