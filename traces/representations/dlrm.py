"""Full embedding tables (DLRM, the baseline): feature t has its own n_t x dim table;
token x reads row x mod n_t, dim contiguous floats (dim 128 fp32 = 512 B = 8 lines)."""

from __future__ import annotations

from numba import njit

from traces.representations.base import (PLAIN_TABLE, NoConfig, Representation, emit_plain_row, max_lines,
                                         plain_row_ops, pool_plain_row)


@njit(cache=True)
def _pooled_kernel(indices, offsets, batch_size, rows, elem_offsets, dim, weights, out):
    for t in range(rows.shape[0]):
        for b in range(batch_size):
            for i in range(offsets[t * batch_size + b], offsets[t * batch_size + b + 1]):
                pool_plain_row(out, t, b, weights, elem_offsets[t], indices[i], rows[t], dim)


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

    def _pooled(self, batch, out):
        _pooled_kernel(batch.indices, batch.offsets, batch.batch_size, self.rows,
                       self.layout.elem_offset_array(), self.dim, self.weights, out)

    def _emit(self, batch, line_bytes, out):
        return _emit_kernel(batch.indices, batch.offsets, batch.batch_size, self.rows,
                            self.layout.base_addrs(), self.dim, line_bytes, out)
