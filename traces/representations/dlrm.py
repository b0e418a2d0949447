"""Full embedding tables (DLRM, the baseline): feature t has its own n_t x dim table;
token x reads row x mod n_t, dim contiguous floats (dim 128 fp32 = 512 B = 8 lines)."""

from __future__ import annotations

from numba import njit

from traces.representations.base import NoConfig, Representation, emit_range, max_lines


@njit(cache=True, inline="always")
def dlrm_row(token, rows):
    return token % rows


@njit(cache=True)
def _pooled_kernel(indices, offsets, batch_size, rows, elem_offsets, dim, weights, out):
    for t in range(rows.shape[0]):
        for b in range(batch_size):
            row = out[t, b]
            for i in range(offsets[t * batch_size + b], offsets[t * batch_size + b + 1]):
                start = elem_offsets[t] + dlrm_row(indices[i], rows[t]) * dim
                for j in range(dim):
                    row[j] += weights[start + j]


@njit(cache=True)
def _emit_kernel(indices, offsets, batch_size, rows, base_addrs, dim, line_bytes, out):
    pos = 0
    row_bytes = dim * 4
    for t in range(rows.shape[0]):
        for i in range(offsets[t * batch_size], offsets[(t + 1) * batch_size]):
            addr = base_addrs[t] + dlrm_row(indices[i], rows[t]) * row_bytes
            pos = emit_range(out, pos, addr, row_bytes, line_bytes)
    return pos


class FullTable(Representation):
    name = "dlrm"

    def __init__(self, workload, config: NoConfig | None = None):
        super().__init__(workload, config or NoConfig())

    def _arrays(self):
        return [(f"table_{t}", int(n) * self.dim) for t, n in enumerate(self.workload.cardinalities)]

    def max_lines_per_lookup(self, line_bytes):
        return max_lines(self.dim * 4, line_bytes)

    def _pooled(self, batch, out):
        _pooled_kernel(batch.indices, batch.offsets, batch.batch_size, self.rows,
                       self.layout.elem_offset_array(), self.dim, self.weights, out)

    def _emit(self, batch, line_bytes, out):
        return _emit_kernel(batch.indices, batch.offsets, batch.batch_size, self.rows,
                            self.layout.base_addrs(), self.dim, line_bytes, out)
