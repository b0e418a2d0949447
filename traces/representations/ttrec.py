"""TT-Rec (Yin et al., MLSys 2021): each large table as a 3-core tensor train.

Feature t with n_t >= min_rows rows is factored n_t <= p1*p2*p3 and dim = q1*q2*q3;
core k is stored TT-Rec style as p_k slices of r_{k-1} x q_k x r_k floats (ranks
1, r, r, 1), each slice contiguous. Token i = x mod n_t, split mixed-radix
i = (i1*p2 + i2)*p3 + i3, reads slice i1 of core 1, i2 of core 2, i3 of core 3 and
contracts them: e[(a*q2 + b)*q3 + c] = sum_{u,v} G1[i1][0,a,u] G2[i2][u,b,v] G3[i3][v,c,0].
Features below min_rows keep a full table (TT-Rec compresses only the large tables).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from sim.intrinsics import borrowed, ix
from traces.representations.base import (SAMPLE_BLOCK, Representation, block_count, emit_plain_row, emit_range,
                                         local_row, max_lines, plain_bags, plain_row_ops, prefetch_row, zero_row)


def balanced_factors(value: int) -> tuple[int, int, int]:
    """Three factors q1 <= q2 <= q3 of ``value`` with the smallest largest factor."""
    best = (1, 1, value)
    for a in range(1, int(round(value ** (1 / 3))) + 2):
        if value % a:
            continue
        for b in range(a, int(math.isqrt(value // a)) + 1):
            if (value // a) % b == 0:
                c = value // a // b
                if c >= b and c < best[2]:
                    best = (a, b, c)
    return best


def row_factors(rows: int) -> tuple[int, int, int]:
    """p1, p2, p3 with p1 = p2 = ceil(cbrt(rows)) and p1*p2*p3 >= rows."""
    p = max(1, math.ceil(round(rows ** (1 / 3), 9)))
    return p, p, max(1, -(-rows // (p * p)))


@dataclass(frozen=True)
class TTRecConfig:
    rank: int = 32
    min_rows: int = 1_000_000

    def __post_init__(self):
        if self.rank < 1:
            raise ValueError(f"ttrec: rank must be >= 1, got {self.rank}")
        if self.min_rows < 1:
            raise ValueError(f"ttrec: min_rows must be >= 1, got {self.min_rows}")


@njit(cache=True, inline="always")
def tt_split(token, n, p2, p3):
    """Mixed-radix digits (i1, i2, i3) of token mod n."""
    i = local_row(token, n)
    return i // (p2 * p3), (i // p3) % p2, i % p3


@njit(cache=True, inline="always")
def _block(indices, offsets, batch_size, t, b0, b1, rows, is_tt, first_region, pfac, qf, r, elem_offsets, dim,
           weights, out, distance):
    """Pool bags b0..b1-1 of feature t into the flat output ``out``."""
    k0 = t * batch_size
    end = offsets[ix(k0 + b1)]
    n, reg = rows[ix(t)], first_region[ix(t)]
    if not is_tt[ix(t)]:
        plain_bags(indices, offsets, batch_size, t, b0, b1, elem_offsets[ix(reg)], n, dim, weights, out, distance)
        return
    q1, q2, q3 = qf[0], qf[1], qf[2]
    s1, s2, s3 = q1 * r, r * q2 * r, r * q3
    p2, p3 = pfac[t, 1], pfac[t, 2]
    c1, c2, c3 = elem_offsets[ix(reg)], elem_offsets[ix(reg + 1)], elem_offsets[ix(reg + 2)]
    t12 = np.empty(q1 * q2 * r, dtype=np.float32)
    for bag in range(b0, b1):
        k = k0 + bag
        lo, hi, o = offsets[ix(k)], offsets[ix(k + 1)], k * dim
        if lo == hi:
            zero_row(out, o, dim)
            continue
        for i in range(lo, hi):
            if distance > 0 and i + distance < end:
                j1, j2, j3 = tt_split(indices[ix(i + distance)], n, p2, p3)
                prefetch_row(weights, c1 + j1 * s1, s1)
                prefetch_row(weights, c2 + j2 * s2, s2)
                prefetch_row(weights, c3 + j3 * s3, s3)
            i1, i2, i3 = tt_split(indices[ix(i)], n, p2, p3)
            g1, g2, g3 = c1 + i1 * s1, c2 + i2 * s2, c3 + i3 * s3
            for e in range(q1 * q2 * r):
                t12[ix(e)] = np.float32(0.0)
            for a in range(q1):
                for u in range(r):
                    w1 = weights[ix(g1 + a * r + u)]
                    for bb in range(q2):
                        base2 = g2 + (u * q2 + bb) * r
                        dst = (a * q2 + bb) * r
                        for v in range(r):
                            t12[ix(dst + v)] += w1 * weights[ix(base2 + v)]
            first = i == lo
            for ab in range(q1 * q2):
                for c in range(q3):
                    acc = np.float32(0.0)
                    for v in range(r):
                        acc += t12[ix(ab * r + v)] * weights[ix(g3 + v * q3 + c)]
                    if first:
                        out[ix(o + ab * q3 + c)] = np.float32(0.0) + acc
                    else:
                        out[ix(o + ab * q3 + c)] += acc


@njit(cache=True)
def _pooled_kernel(indices, offsets, batch_size, rows, is_tt, first_region, pfac, qf, r, elem_offsets, dim, weights,
                   out, distance):
    indices, offsets, rows, is_tt = borrowed(indices), borrowed(offsets), borrowed(rows), borrowed(is_tt)
    first_region, pfac, qf = borrowed(first_region), borrowed(pfac), borrowed(qf)
    elem_offsets, weights, flat = borrowed(elem_offsets), borrowed(weights), borrowed(out.reshape(out.size))
    for t in range(rows.shape[0]):
        _block(indices, offsets, batch_size, t, 0, batch_size, rows, is_tt, first_region, pfac, qf, r, elem_offsets,
               dim, weights, flat, distance)


@njit(cache=True, parallel=True)
def _pooled_parallel(indices, offsets, batch_size, rows, is_tt, first_region, pfac, qf, r, elem_offsets, dim,
                     weights, out, distance):
    flat = out.reshape(out.size)
    blocks = block_count(batch_size)
    for item in prange(rows.shape[0] * blocks):
        t = item // blocks
        b0 = (item % blocks) * SAMPLE_BLOCK
        _block(indices, offsets, batch_size, t, b0, min(batch_size, b0 + SAMPLE_BLOCK), rows, is_tt, first_region,
               pfac, qf, r, elem_offsets, dim, weights, flat, distance)


@njit(cache=True)
def _emit_kernel(indices, offsets, batch_size, rows, is_tt, first_region, pfac, qf, r, base_addrs, dim, line_bytes, out):
    pos = 0
    sizes = (qf[0] * r * 4, r * qf[1] * r * 4, r * qf[2] * 4)
    for t in range(rows.shape[0]):
        reg = first_region[t]
        for i in range(offsets[t * batch_size], offsets[(t + 1) * batch_size]):
            if not is_tt[t]:
                pos = emit_plain_row(out, pos, base_addrs[reg], indices[i], rows[t], dim, line_bytes)
                continue
            i1, i2, i3 = tt_split(indices[i], rows[t], pfac[t, 1], pfac[t, 2])
            pos = emit_range(out, pos, base_addrs[reg] + i1 * sizes[0], sizes[0], line_bytes)
            pos = emit_range(out, pos, base_addrs[reg + 1] + i2 * sizes[1], sizes[1], line_bytes)
            pos = emit_range(out, pos, base_addrs[reg + 2] + i3 * sizes[2], sizes[2], line_bytes)
    return pos


class TTRec(Representation):
    name = "ttrec"

    def __init__(self, workload, config: TTRecConfig | None = None):
        config = config or TTRecConfig()
        self.q_factors = np.array(balanced_factors(workload.dim), dtype=np.int64)
        self.is_tt = np.array([n >= config.min_rows for n in workload.cardinalities], dtype=np.bool_)
        self.p_factors = np.array([row_factors(int(n)) for n in workload.cardinalities], dtype=np.int64)
        self.first_region = np.concatenate([[0], np.cumsum(np.where(self.is_tt, 3, 1))[:-1]]).astype(np.int64)
        super().__init__(workload, config)

    def _slice_floats(self) -> tuple[int, int, int]:
        q1, q2, q3 = (int(v) for v in self.q_factors)
        r = self.config.rank
        return q1 * r, r * q2 * r, r * q3

    def _arrays(self):
        arrays = []
        slices = self._slice_floats()
        for t, n in enumerate(self.workload.cardinalities):
            if self.is_tt[t]:
                arrays += [(f"core{k + 1}_{t}", int(self.p_factors[t, k]) * slices[k]) for k in range(3)]
            else:
                arrays.append((f"table_{t}", int(n) * self.dim))
        return arrays

    def max_lines_per_lookup(self, line_bytes):
        tt = sum(max_lines(s * 4, line_bytes) for s in self._slice_floats())
        return max(tt, max_lines(self.dim * 4, line_bytes))

    def describe(self):
        return {**super().describe(), "q_factors": [int(v) for v in self.q_factors]}

    def _ops_per_lookup(self):
        # token mod n and the mixed-radix split (4 divmods), three core slices; left-to-right
        # contraction (q1 x r)(r x q2 r) then (q1 q2 x r)(r x q3) = q1 q2 r (r + q3) fmas; l adds
        q1, q2, q3 = (int(v) for v in self.q_factors)
        r = self.config.rank
        return {**plain_row_ops(self.dim), "divmods": 4.0, "rows": 3.0, "fmas": float(q1 * q2 * r * (r + q3))}

    def _plain_features(self):
        return [not tt for tt in self.is_tt]

    def _pooled(self, batch, out, prefetch_distance, parallel):
        kernel = _pooled_parallel if parallel else _pooled_kernel
        kernel(batch.indices, batch.offsets, batch.batch_size, self.rows, self.is_tt, self.first_region,
               self.p_factors, self.q_factors, self.config.rank, self._elem_offsets(), self.workload.dim,
               self.weights, out, prefetch_distance)

    def _emit(self, batch, line_bytes, out):
        return _emit_kernel(batch.indices, batch.offsets, batch.batch_size, self.rows, self.is_tt, self.first_region,
                            self.p_factors, self.q_factors, self.config.rank, self.layout.base_addrs(),
                            self.dim, line_bytes, out)
