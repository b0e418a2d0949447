"""Hashing trick: feature t keeps a table of m_t = min(n_t, rows) rows; token x reads
row fastrange(mas_hash32(a, b, gid), m_t) where gid = val_offset_t + (x mod n_t).
Tables with n_t <= rows need no hashing and keep the identity map (no collisions)."""

from __future__ import annotations

from dataclasses import dataclass

from numba import njit, prange

from sim.intrinsics import borrowed, ix
from traces.hashing import fastrange32, hash_params, mas_hash32
from traces.representations.base import (SAMPLE_BLOCK, Representation, add_row, block_count, emit_range,
                                         local_row, max_lines, plain_row_ops, prefetch_row, set_row, zero_row)


@dataclass(frozen=True)
class HashingConfig:
    rows: int = 1_000_000  # rows per hashed table (m)
    hash_seed: int = 0

    def __post_init__(self):
        if self.rows < 1:
            raise ValueError(f"hashing: rows (m) must be >= 1, got {self.rows}")


@njit(cache=True, inline="always")
def hashed_row(token, n, m, val_offset, a, b):
    local = local_row(token, n)
    if n <= m:
        return local
    return fastrange32(mas_hash32(a, b, val_offset + local), m)


@njit(cache=True, inline="always")
def _block(indices, offsets, batch_size, t, b0, b1, rows, m, val_offsets, params, elem_offsets, dim, weights, out,
           distance):
    """``_bags`` with the common dims as constants (as in dlrm), any other dim by the general loop."""
    if dim == 128:
        _bags(indices, offsets, batch_size, t, b0, b1, rows, m, val_offsets, params, elem_offsets, 128, weights, out,
              distance)
    elif dim == 64:
        _bags(indices, offsets, batch_size, t, b0, b1, rows, m, val_offsets, params, elem_offsets, 64, weights, out,
              distance)
    else:
        _bags(indices, offsets, batch_size, t, b0, b1, rows, m, val_offsets, params, elem_offsets, dim, weights, out,
              distance)


@njit(cache=True, inline="always")
def _bags(indices, offsets, batch_size, t, b0, b1, rows, m, val_offsets, params, elem_offsets, dim, weights, out,
          distance):
    """Pool bags b0..b1-1 of feature t into the flat output ``out``."""
    k0 = t * batch_size
    end = offsets[ix(k0 + b1)]
    n, voff, base = rows[ix(t)], val_offsets[ix(t)], elem_offsets[ix(t)]
    a, b = params[0], params[1]
    for bag in range(b0, b1):
        k = k0 + bag
        lo, hi, o = offsets[ix(k)], offsets[ix(k + 1)], k * dim
        if lo == hi:
            zero_row(out, o, dim)
            continue
        for i in range(lo, hi):
            if distance > 0 and i + distance < end:
                prefetch_row(weights, base + hashed_row(indices[ix(i + distance)], n, m, voff, a, b) * dim, dim)
            s = base + hashed_row(indices[ix(i)], n, m, voff, a, b) * dim
            if i == lo:
                set_row(out, o, weights, s, dim)
            else:
                add_row(out, o, weights, s, dim)


@njit(cache=True)
def _pooled_kernel(indices, offsets, batch_size, rows, m, val_offsets, params, elem_offsets, dim, weights, out,
                   distance):
    indices, offsets, rows, val_offsets, params = (borrowed(indices), borrowed(offsets), borrowed(rows),
                                                   borrowed(val_offsets), borrowed(params))
    elem_offsets, weights, flat = borrowed(elem_offsets), borrowed(weights), borrowed(out.reshape(out.size))
    for t in range(rows.shape[0]):
        _block(indices, offsets, batch_size, t, 0, batch_size, rows, m, val_offsets, params, elem_offsets, dim,
               weights, flat, distance)


@njit(cache=True, parallel=True)
def _pooled_parallel(indices, offsets, batch_size, rows, m, val_offsets, params, elem_offsets, dim, weights, out,
                     distance):
    flat = out.reshape(out.size)
    blocks = block_count(batch_size)
    for item in prange(rows.shape[0] * blocks):
        t = item // blocks
        b0 = (item % blocks) * SAMPLE_BLOCK
        _block(indices, offsets, batch_size, t, b0, min(batch_size, b0 + SAMPLE_BLOCK), rows, m, val_offsets,
               params, elem_offsets, dim, weights, flat, distance)


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

    def _pooled(self, batch, out, prefetch_distance, parallel):
        kernel = _pooled_parallel if parallel else _pooled_kernel
        kernel(batch.indices, batch.offsets, batch.batch_size, self.rows, self.config.rows, self.val_offsets,
               self.params, self._elem_offsets(), self.workload.dim, self.weights, out, prefetch_distance)

    def _emit(self, batch, line_bytes, out):
        return _emit_kernel(batch.indices, batch.offsets, batch.batch_size, self.rows, self.config.rows,
                            self.val_offsets, self.params, self.layout.base_addrs(), self.dim, line_bytes, out)
