"""ROBE-Z (Desai et al., arXiv 2108.02191): one 1-D float array M shared by all features.

Element j of the embedding of token x of feature t lives in chunk b = j div Z at
``((i' * R3 + b * R2 + R1) mod P) mod (|M| - Z + 1) + (j mod Z)`` with
i' = val_offset_t + (x mod n_t) and P = 2038074743. The chunk is read as Z contiguous
floats (the last chunk is shorter when Z does not divide dim). R1, R2, R3 default to
the reference code's numpy RandomState(1024).randint(0, P, 50)[:3].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from sim.intrinsics import borrowed, ix
from traces.representations.base import (SAMPLE_BLOCK, Representation, add_row, block_count, emit_range,
                                         local_row, max_lines, plain_row_ops, prefetch_row, set_row, zero_row)

ROBE_PRIME = 2038074743
ROBE_R = (634329019, 1825252241, 871205356)


@dataclass(frozen=True)
class RobeConfig:
    chunk: int = 32  # Z
    compression: float = 1000.0  # |M| = ceil(full floats / compression) unless size_floats is set
    size_floats: int | None = None
    r1: int = ROBE_R[0]
    r2: int = ROBE_R[1]
    r3: int = ROBE_R[2]

    def __post_init__(self):
        if self.chunk < 1:
            raise ValueError(f"robe: chunk size Z must be >= 1, got {self.chunk}")
        if self.size_floats is None and not self.compression >= 1:
            raise ValueError(f"robe: compression must be >= 1, got {self.compression}")
        if self.size_floats is not None and self.size_floats < self.chunk:
            raise ValueError(f"robe: size_floats ({self.size_floats}) must be >= chunk ({self.chunk})")
        if any(not 0 <= r < ROBE_PRIME for r in (self.r1, self.r2, self.r3)):
            raise ValueError(f"robe: R1, R2, R3 must be in [0, {ROBE_PRIME})")


@njit(cache=True, inline="always")
def robe_chunk_loc(gid, chunk_index, r1, r2, r3, span):
    """Start (in floats) of chunk ``chunk_index`` of global id ``gid``; span = |M| - Z + 1."""
    return ((gid * r3 + chunk_index * r2 + r1) % 2038074743) % span


@njit(cache=True, inline="always")
def _block(indices, offsets, batch_size, t, b0, b1, rows, val_offsets, z, rr, span, start_elem, dim, weights, out,
           distance):
    """Pool bags b0..b1-1 of feature t into the flat output ``out``."""
    k0 = t * batch_size
    end = offsets[ix(k0 + b1)]
    n, voff = rows[ix(t)], val_offsets[ix(t)]
    r1, r2, r3 = rr[0], rr[1], rr[2]
    chunks = (dim + z - 1) // z
    for bag in range(b0, b1):
        k = k0 + bag
        lo, hi, o = offsets[ix(k)], offsets[ix(k + 1)], k * dim
        if lo == hi:
            zero_row(out, o, dim)
            continue
        for i in range(lo, hi):
            if distance > 0 and i + distance < end:
                pgid = voff + local_row(indices[ix(i + distance)], n)
                for c in range(chunks):
                    prefetch_row(weights, start_elem + robe_chunk_loc(pgid, c, r1, r2, r3, span),
                                 min(dim, (c + 1) * z) - c * z)
            gid = voff + local_row(indices[ix(i)], n)
            for c in range(chunks):
                loc = start_elem + robe_chunk_loc(gid, c, r1, r2, r3, span)
                width = min(dim, (c + 1) * z) - c * z
                if i == lo:
                    set_row(out, o + c * z, weights, loc, width)
                else:
                    add_row(out, o + c * z, weights, loc, width)


@njit(cache=True)
def _pooled_kernel(indices, offsets, batch_size, rows, val_offsets, z, rr, span, start_elem, dim, weights, out,
                   distance):
    indices, offsets, rows, val_offsets = borrowed(indices), borrowed(offsets), borrowed(rows), borrowed(val_offsets)
    rr, weights, flat = borrowed(rr), borrowed(weights), borrowed(out.reshape(out.size))
    for t in range(rows.shape[0]):
        _block(indices, offsets, batch_size, t, 0, batch_size, rows, val_offsets, z, rr, span, start_elem, dim,
               weights, flat, distance)


@njit(cache=True, parallel=True)
def _pooled_parallel(indices, offsets, batch_size, rows, val_offsets, z, rr, span, start_elem, dim, weights, out,
                     distance):
    flat = out.reshape(out.size)
    blocks = block_count(batch_size)
    for item in prange(rows.shape[0] * blocks):
        t = item // blocks
        b0 = (item % blocks) * SAMPLE_BLOCK
        _block(indices, offsets, batch_size, t, b0, min(batch_size, b0 + SAMPLE_BLOCK), rows, val_offsets, z, rr,
               span, start_elem, dim, weights, flat, distance)


@njit(cache=True)
def _emit_kernel(indices, offsets, batch_size, rows, val_offsets, z, rr, span, base_addr, dim, line_bytes, out):
    pos = 0
    for t in range(rows.shape[0]):
        for i in range(offsets[t * batch_size], offsets[(t + 1) * batch_size]):
            gid = val_offsets[t] + indices[i] % rows[t]
            for c in range((dim + z - 1) // z):
                loc = robe_chunk_loc(gid, c, rr[0], rr[1], rr[2], span)
                width = min(dim, (c + 1) * z) - c * z
                pos = emit_range(out, pos, base_addr + loc * 4, width * 4, line_bytes)
    return pos


class RobeZ(Representation):
    name = "robe"

    def __init__(self, workload, config: RobeConfig | None = None):
        config = config or RobeConfig()
        full = workload.total_rows * workload.dim
        self.size_floats = config.size_floats or max(config.chunk, math.ceil(full / config.compression))
        self.rr = np.array([config.r1, config.r2, config.r3], dtype=np.int64)
        super().__init__(workload, config)

    def _arrays(self):
        return [("robe_memory", self.size_floats)]

    @property
    def span(self) -> int:
        return self.size_floats - self.config.chunk + 1

    def max_lines_per_lookup(self, line_bytes):
        z = self.config.chunk
        chunks = -(-self.dim // z)
        return chunks * max_lines(min(z, self.dim) * 4, line_bytes)

    def _ops_per_lookup(self):
        # c = ceil(l/Z) chunks: c hashes (the multiply-add), token mod n plus mod P and mod
        # |M|-Z+1 per chunk (1 + 2c divmods), c chunk gathers, l adds
        chunks = -(-self.dim // self.config.chunk)
        return {**plain_row_ops(self.dim), "hashes": float(chunks), "divmods": 1.0 + 2.0 * chunks,
                "rows": float(chunks)}

    def _pooled(self, batch, out, prefetch_distance, parallel):
        kernel = _pooled_parallel if parallel else _pooled_kernel
        kernel(batch.indices, batch.offsets, batch.batch_size, self.rows, self.val_offsets, self.config.chunk,
               self.rr, self.span, 0, self.workload.dim, self.weights, out, prefetch_distance)

    def _emit(self, batch, line_bytes, out):
        return _emit_kernel(batch.indices, batch.offsets, batch.batch_size, self.rows, self.val_offsets,
                            self.config.chunk, self.rr, self.span, self.layout.regions[0].base_addr,
                            self.dim, line_bytes, out)
