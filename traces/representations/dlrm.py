"""Full embedding tables (DLRM, the baseline): feature t has its own n_t x dim table;
token x reads row x mod n_t, dim contiguous floats (dim 128 fp32 = 512 B = 8 lines)."""

from __future__ import annotations

from numba import njit, prange

from sim.intrinsics import borrowed, ix
from traces.representations.base import (PLAIN_TABLE, SAMPLE_BLOCK, NoConfig, Representation, add_row, block_count,
                                         emit_plain_row, local_row, max_lines, plain_bags, plain_row_ops, prefetch_row,
                                         set_row, zero_row)


@njit(cache=True, inline="always")
def _bags(indices, offsets, batch_size, t, b0, b1, rows, elem_offsets, dim, weights, out, distance):
    """Pool bags b0..b1-1 of feature t into the flat output ``out``."""
    plain_bags(indices, offsets, batch_size, t, b0, b1, elem_offsets[ix(t)], rows[ix(t)], dim, weights, out,
               distance)


@njit(cache=True, inline="always")
def _block(indices, offsets, batch_size, t, b0, b1, rows, elem_offsets, dim, weights, out, distance):
    """``_bags`` with the common dims as constants (rows copied by fully unrolled vector code,
    15-25% faster when cache-resident), any other dim by the general loop."""
    if dim == 128:
        _bags(indices, offsets, batch_size, t, b0, b1, rows, elem_offsets, 128, weights, out, distance)
    elif dim == 64:
        _bags(indices, offsets, batch_size, t, b0, b1, rows, elem_offsets, 64, weights, out, distance)
    elif dim == 32:
        _bags(indices, offsets, batch_size, t, b0, b1, rows, elem_offsets, 32, weights, out, distance)
    else:
        _bags(indices, offsets, batch_size, t, b0, b1, rows, elem_offsets, dim, weights, out, distance)


@njit(cache=True, inline="always")
def _serial(indices, offsets, batch_size, rows, elem_offsets, dim, weights, out, distance):
    """All bags in order; the prefetch cursor runs ``distance`` lookups ahead across features
    (so small batches, a few lookups per feature, are prefetched too)."""
    features = rows.shape[0]
    total = offsets[ix(features * batch_size)]
    pt = 0  # feature of lookup i + distance
    for t in range(features):
        n, base = rows[ix(t)], elem_offsets[ix(t)]
        for b in range(batch_size):
            k = t * batch_size + b
            lo, hi, o = offsets[ix(k)], offsets[ix(k + 1)], k * dim
            if lo == hi:
                zero_row(out, o, dim)
                continue
            for i in range(lo, hi):
                if distance > 0 and i + distance < total:
                    j = i + distance
                    while offsets[ix((pt + 1) * batch_size)] <= j:
                        pt += 1
                    prefetch_row(weights, elem_offsets[ix(pt)] + local_row(indices[ix(j)], rows[ix(pt)]) * dim, dim)
                s = base + local_row(indices[ix(i)], n) * dim
                if i == lo:
                    set_row(out, o, weights, s, dim)
                else:
                    add_row(out, o, weights, s, dim)


@njit(cache=True)
def _pooled_kernel(indices, offsets, batch_size, rows, elem_offsets, dim, weights, out, distance):
    indices, offsets, rows, elem_offsets, weights = (borrowed(indices), borrowed(offsets), borrowed(rows),
                                                     borrowed(elem_offsets), borrowed(weights))
    flat = borrowed(out.reshape(out.size))
    if dim == 128:  # the common dims as constants (fully unrolled row copies), as in _block
        _serial(indices, offsets, batch_size, rows, elem_offsets, 128, weights, flat, distance)
    elif dim == 64:
        _serial(indices, offsets, batch_size, rows, elem_offsets, 64, weights, flat, distance)
    elif dim == 32:
        _serial(indices, offsets, batch_size, rows, elem_offsets, 32, weights, flat, distance)
    else:
        _serial(indices, offsets, batch_size, rows, elem_offsets, dim, weights, flat, distance)


@njit(cache=True, parallel=True)
def _pooled_parallel(indices, offsets, batch_size, rows, elem_offsets, dim, weights, out, distance):
    flat = out.reshape(out.size)
    blocks = block_count(batch_size)
    for item in prange(rows.shape[0] * blocks):
        t = item // blocks
        b0 = (item % blocks) * SAMPLE_BLOCK
        _block(indices, offsets, batch_size, t, b0, min(batch_size, b0 + SAMPLE_BLOCK), rows, elem_offsets, dim,
               weights, flat, distance)


@njit(cache=True)
def _emit_kernel(indices, offsets, batch_size, rows, base_addrs, dim, line_bytes, out):
    pos = 0
    for t in range(rows.shape[0]):
        for i in range(offsets[t * batch_size], offsets[(t + 1) * batch_size]):
            pos = emit_plain_row(out, pos, base_addrs[t], indices[i], rows[t], dim, line_bytes)
    return pos


class FullTable(Representation):
    name = PLAIN_TABLE

    def __init__(self, workload, config: NoConfig | None = None):
        super().__init__(workload, config or NoConfig())

    def _arrays(self):
        return [(f"table_{t}", int(n) * self.dim) for t, n in enumerate(self.workload.cardinalities)]

    def max_lines_per_lookup(self, line_bytes):
        return max_lines(self.dim * 4, line_bytes)

    def _ops_per_lookup(self):
        return plain_row_ops(self.dim)

    def _plain_features(self):
        return [True] * len(self.rows)

    def _pooled(self, batch, out, prefetch_distance, parallel):
        kernel = _pooled_parallel if parallel else _pooled_kernel
        kernel(batch.indices, batch.offsets, batch.batch_size, self.rows, self._elem_offsets(), self.workload.dim,
               self.weights, out, prefetch_distance)

    def _emit(self, batch, line_bytes, out):
        return _emit_kernel(batch.indices, batch.offsets, batch.batch_size, self.rows,
                            self.layout.base_addrs(), self.dim, line_bytes, out)
