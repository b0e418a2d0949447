"""Mem-Rec (Jha et al., arXiv 2305.07205): z(x) = alpha(x) * M phi(x).

phi(x) is a Bloom signature: k hash functions set k of d bits, so M phi(x) is the sum
of k rows of the d x l token table. alpha(x) comes from a second Bloom encoder: k'
hashes into a d' x w weight table, summed. With w = 1 (the default) alpha is a scalar;
with w dividing l, weight element e scales embedding elements e*l/w .. (e+1)*l/w - 1.

The paper body was not available; these choices are parameters (SPEC section 2):
one token/weight table pair shared by all features (default), hashes salted by
feature through the global id gid = val_offset_t + (x mod n_t); with shared=False each
feature has its own pair and hashes its local id. Hash family: Dietzfelbinger
multiply-add-shift on 32-bit keys with seeded 64-bit parameters, reduced to [0, d)
by Lemire's multiply-shift (traces.hashing). The kernel reads the k' weight entries
first, then the k token rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from traces.hashing import fastrange32, hash_params, mas_hash32
from traces.representations.base import Representation, emit_range, max_lines, plain_row_ops


@dataclass(frozen=True)
class MemRecConfig:
    d: int = 75000  # token table rows (Bloom filter bits)
    d_weight: int = 75000  # d': weight table rows
    k: int = 1  # token hashes
    k_weight: int = 4  # k': weight hashes
    l: int | None = None  # embedding dim; None = the workload's dim
    weight_width: int = 1  # floats per weight entry
    shared: bool = True  # one table pair for all features
    hash_seed: int = 0

    def __post_init__(self):
        for name in ("d", "d_weight", "k", "k_weight", "weight_width"):
            if getattr(self, name) < 1:
                raise ValueError(f"memrec: {name} must be >= 1, got {getattr(self, name)}")
        if self.l is not None and self.l < 1:
            raise ValueError(f"memrec: l must be >= 1, got {self.l}")
        if max(self.d, self.d_weight) >= 1 << 32:
            raise ValueError("memrec: d and d' must be below 2**32 (32-bit hash range)")


@njit(cache=True, inline="always")
def memrec_key(token, n, val_offset, shared):
    local = token % n
    return val_offset + local if shared else local


@njit(cache=True, inline="always")
def memrec_row(key, params, i, rows):
    return fastrange32(mas_hash32(params[i, 0], params[i, 1], key), rows)


@njit(cache=True)
def _pooled_kernel(indices, offsets, batch_size, rows, val_offsets, shared, tok_params, w_params, d, d_w, width,
                   elem_offsets, dim, weights, out):
    alpha = np.empty(width, dtype=np.float32)
    block = dim // width
    for t in range(rows.shape[0]):
        tok_base = elem_offsets[0] if shared else elem_offsets[2 * t]
        w_base = elem_offsets[1] if shared else elem_offsets[2 * t + 1]
        for b in range(batch_size):
            for i in range(offsets[t * batch_size + b], offsets[t * batch_size + b + 1]):
                key = memrec_key(indices[i], rows[t], val_offsets[t], shared)
                alpha[:] = 0.0
                for h in range(w_params.shape[0]):
                    start = w_base + memrec_row(key, w_params, h, d_w) * width
                    for e in range(width):
                        alpha[e] += weights[start + e]
                row = out[t, b]
                for h in range(tok_params.shape[0]):
                    start = tok_base + memrec_row(key, tok_params, h, d) * dim
                    for e in range(width):
                        scale = alpha[e]
                        for j in range(e * block, (e + 1) * block):
                            row[j] += scale * weights[start + j]


@njit(cache=True)
def _emit_kernel(indices, offsets, batch_size, rows, val_offsets, shared, tok_params, w_params, d, d_w, width,
                 base_addrs, dim, line_bytes, out):
    pos = 0
    for t in range(rows.shape[0]):
        tok_base = base_addrs[0] if shared else base_addrs[2 * t]
        w_base = base_addrs[1] if shared else base_addrs[2 * t + 1]
        for i in range(offsets[t * batch_size], offsets[(t + 1) * batch_size]):
            key = memrec_key(indices[i], rows[t], val_offsets[t], shared)
            for h in range(w_params.shape[0]):
                addr = w_base + memrec_row(key, w_params, h, d_w) * width * 4
                pos = emit_range(out, pos, addr, width * 4, line_bytes)
            for h in range(tok_params.shape[0]):
                addr = tok_base + memrec_row(key, tok_params, h, d) * dim * 4
                pos = emit_range(out, pos, addr, dim * 4, line_bytes)
    return pos


class MemRec(Representation):
    name = "memrec"

    def __init__(self, workload, config: MemRecConfig | None = None):
        config = config or MemRecConfig()
        if config.l is not None and config.l != workload.dim:
            raise ValueError(f"memrec: l ({config.l}) must equal the workload's embedding dim ({workload.dim})")
        if workload.dim % config.weight_width:
            raise ValueError(f"memrec: weight_width ({config.weight_width}) must divide l ({workload.dim})")
        if config.shared and workload.total_rows >= 1 << 32:
            raise ValueError("memrec: global token ids must fit in 32 bits (total rows < 2**32)")
        self.tok_params = hash_params(config.hash_seed, config.k, stream=0)
        self.w_params = hash_params(config.hash_seed, config.k_weight, stream=1)
        super().__init__(workload, config)

    def _arrays(self):
        c = self.config
        pair = [("token_table", c.d * self.dim), ("weight_table", c.d_weight * c.weight_width)]
        if c.shared:
            return pair
        return [(f"{name}_{t}", size) for t in range(self.workload.num_features) for name, size in pair]

    def max_lines_per_lookup(self, line_bytes):
        c = self.config
        return c.k_weight * max_lines(c.weight_width * 4, line_bytes) + c.k * max_lines(self.dim * 4, line_bytes)

    def _ops_per_lookup(self):
        # token mod n, k + k' hashes and rows, k*l + k'*w adds (k token rows into the bag, k'
        # weight entries of width w into alpha), k*l muls (alpha times each token row)
        c, dim = self.config, self.dim
        return {**plain_row_ops(dim), "hashes": float(c.k + c.k_weight), "rows": float(c.k + c.k_weight),
                "adds": float(c.k * dim + c.k_weight * c.weight_width), "muls": float(c.k * dim)}

    def _args(self):
        c = self.config
        return (self.rows, self.val_offsets, c.shared, self.tok_params, self.w_params, c.d, c.d_weight, c.weight_width)

    def _pooled(self, batch, out):
        _pooled_kernel(batch.indices, batch.offsets, batch.batch_size, *self._args(),
                       self.layout.elem_offset_array(), self.dim, self.weights, out)

    def _emit(self, batch, line_bytes, out):
        return _emit_kernel(batch.indices, batch.offsets, batch.batch_size, *self._args(),
                            self.layout.base_addrs(), self.dim, line_bytes, out)
