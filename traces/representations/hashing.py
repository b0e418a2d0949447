"""Hashing trick: feature t keeps a table of m_t = min(n_t, rows) rows; token x reads
row fastrange(mas_hash32(a, b, gid), m_t) where gid = val_offset_t + (x mod n_t).
Tables with n_t <= rows need no hashing and keep the identity map (no collisions)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from traces.hashing import fastrange32, hash_params, mas_hash32
from traces.representations.base import Representation, emit_range, max_lines, plain_row_ops


@dataclass(frozen=True)
class HashingConfig:
    rows: int = 1_000_000  # rows per hashed table (m)
    hash_seed: int = 0

    def __post_init__(self):
        if self.rows < 1:
            raise ValueError(f"hashing: rows (m) must be >= 1, got {self.rows}")


@njit(cache=True, inline="always")
def hashed_row(token, n, m, val_offset, a, b):
    local = token % n
    if n <= m:
        return local
    return fastrange32(mas_hash32(a, b, val_offset + local), m)


@njit(cache=True)
def _pooled_kernel(indices, offsets, batch_size, rows, m, val_offsets, params, elem_offsets, dim, weights, out):
    for t in range(rows.shape[0]):
        for b in range(batch_size):
            acc = out[t, b]
            for i in range(offsets[t * batch_size + b], offsets[t * batch_size + b + 1]):
                row = hashed_row(indices[i], rows[t], m, val_offsets[t], params[0], params[1])
                start = elem_offsets[t] + row * dim
                for j in range(dim):
                    acc[j] += weights[start + j]


@njit(cache=True)
def _emit_kernel(indices, offsets, batch_size, rows, m, val_offsets, params, base_addrs, dim, line_bytes, out):
    pos = 0
    row_bytes = dim * 4
    for t in range(rows.shape[0]):
        for i in range(offsets[t * batch_size], offsets[(t + 1) * batch_size]):
            row = hashed_row(indices[i], rows[t], m, val_offsets[t], params[0], params[1])
            pos = emit_range(out, pos, base_addrs[t] + row * row_bytes, row_bytes, line_bytes)
    return pos


class HashingTrick(Representation):
    name = "hashing"

    def __init__(self, workload, config: HashingConfig | None = None):
        super().__init__(workload, config or HashingConfig())
        if workload.total_rows >= 1 << 32:
            raise ValueError("hashing: global token ids must fit in 32 bits (total rows < 2**32)")
        self.params = hash_params(self.config.hash_seed, 1)[0]

    def _arrays(self):
        return [(f"table_{t}", min(int(n), self.config.rows) * self.dim) for t, n in enumerate(self.workload.cardinalities)]

    def max_lines_per_lookup(self, line_bytes):
        return max_lines(self.dim * 4, line_bytes)

    def _ops_per_lookup(self):
        # token mod n, one multiply-add-shift hash with its multiply-shift range reduction, one row
        return {**plain_row_ops(self.dim), "hashes": 1.0}

    def _plain_features(self):
        return [int(n) <= self.config.rows for n in self.rows]  # the identity map: no hash

    def _pooled(self, batch, out):
        _pooled_kernel(batch.indices, batch.offsets, batch.batch_size, self.rows, self.config.rows,
                       self.val_offsets, self.params, self.layout.elem_offset_array(), self.dim, self.weights, out)

    def _emit(self, batch, line_bytes, out):
        return _emit_kernel(batch.indices, batch.offsets, batch.batch_size, self.rows, self.config.rows,
                            self.val_offsets, self.params, self.layout.base_addrs(), self.dim, line_bytes, out)
