"""Mem-Rec (Jha et al., arXiv 2305.07205): z(x) = alpha(x) * M phi(x).

phi(x) is a Bloom signature: k hash functions set k of d bits, so M phi(x) is the sum
of k rows of the d x l token table. alpha(x) comes from a second Bloom encoder: k'
hashes into a d' x w weight table, summed. With w = 1 (the default) alpha is a scalar;
with w dividing l, weight element e scales embedding elements e*l/w .. (e+1)*l/w - 1.

Two poolings (``pooling``), see docs/memrec-released.md:

- ``sample`` (default, the design Intel released in intel/ai-reference-models): one bag per
  sample over ALL features. V = the sum of the sample's k token rows of every feature's
  tokens, V_w = the sum of its k' weight entries per token; the sample's embedding is
  V * V_w, one l-vector per sample (output shape (1, B, l)). The token bag of the whole batch
  is read first (per sample: hash-major, feature-minor, as the released encoder lays out the
  bag), then the weight bag (same order), as the released forward's two EmbeddingBag calls.
- ``feature``: one bag per (feature, sample) with a per-token alpha, as memprof built it
  first: per token, its k' weight entries then its k token rows.

Hashes (``hash``): ``wyhash`` (default, the released family: wyhash v4 of the key
``feature * 430000000 + token``, token rows from the high 32 bits, weight rows from the low
32 bits, extra calls with the released seeds when k + k' > 2; traces.wyhash) or ``mas``
(Dietzfelbinger multiply-add-shift of the global token id with seeded parameters, Lemire
reduction; ``hash_seed`` picks the parameters). ``hash_in_kernel = False`` (default, as
released) hashes in the data loader: ``prepare(batch)`` turns token ids into row ids before
the kernel, the kernel and its trace start from them and the hashing is not timed;
``True`` hashes inside the kernel. The trace is the same either way (hashing reads no memory).

One token/weight table pair is shared by all features (default, as released); with
``shared = False`` each feature has its own pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from sim.intrinsics import borrowed, ix
from traces.batch import Batch
from traces.hashing import fastrange32, hash_params, mas_hash32
from traces.representations.base import (SAMPLE_BLOCK, Representation, add_row, block_count, emit_range,
                                         local_row, max_lines, plain_row_ops, prefetch_row, set_row, zero_row)
from traces.wyhash import FEATURE_SALT, SEEDS, extra_hash_count, wyhash64_key

POOLINGS = ("sample", "feature")
HASHES = ("wyhash", "mas")
HASH_WYHASH, HASH_MAS = 0, 1
_MASK32 = np.uint64(0xFFFFFFFF)
_SEEDS = np.array(SEEDS, dtype=np.uint64)


@dataclass(frozen=True)
class MemRecConfig:
    d: int = 75000  # token table rows (Bloom filter bits)
    d_weight: int = 75000  # d': weight table rows
    k: int = 1  # token hashes
    k_weight: int = 4  # k': weight hashes (the slides' hardware table; the released model uses 1)
    l: int | None = None  # embedding dim; None = the workload's dim
    weight_width: int = 1  # floats per weight entry
    shared: bool = True  # one table pair for all features
    pooling: str = "sample"  # sample (released) or feature
    hash: str = "wyhash"  # wyhash (released) or mas
    hash_in_kernel: bool = False  # False: ids hashed by the data loader (released), outside the kernel
    hash_seed: int = 0  # seeds the mas parameters (wyhash uses the released seeds)

    def __post_init__(self):
        for name in ("d", "d_weight", "k", "k_weight", "weight_width"):
            if getattr(self, name) < 1:
                raise ValueError(f"memrec: {name} must be >= 1, got {getattr(self, name)}")
        if self.l is not None and self.l < 1:
            raise ValueError(f"memrec: l must be >= 1, got {self.l}")
        if max(self.d, self.d_weight) >= 1 << 32:
            raise ValueError("memrec: d and d' must be below 2**32 (32-bit hash range)")
        if self.pooling not in POOLINGS:
            raise ValueError(f"memrec: unknown pooling {self.pooling!r}; known: {', '.join(POOLINGS)}")
        if self.hash not in HASHES:
            raise ValueError(f"memrec: unknown hash {self.hash!r}; known: {', '.join(HASHES)}")
        if self.hash == "wyhash" and 1 + extra_hash_count(self.k, self.k_weight) > len(SEEDS):
            raise ValueError(f"memrec: wyhash has {len(SEEDS)} released seeds: k + k_weight must be at most "
                             f"{2 * len(SEEDS)}, got {self.k + self.k_weight}")


# --- hashing: one lookup's k token rows and k' weight rows --------------------------------------

@njit(cache=True, inline="always")
def _wy_half(key, k, e):
    """The e-th 32-bit value of the extra wyhash calls of ``key`` (high half first)."""
    h = wyhash64_key(key, _SEEDS[ix(e // 2 + 1)])
    return (h >> np.uint64(32)) if e % 2 == 0 else (h & _MASK32)


@njit(cache=True, inline="always")
def _hash_lookup(t, local, val_offset, family, shared, tok_params, w_params, d, d_w, tok, o_t, w, o_w):
    """Write the k token rows to tok[o_t:] and the k' weight rows to w[o_w:] of token ``local``
    of feature ``t`` (the kernel's and the emitter's one index function)."""
    k, kw = tok_params.shape[0], w_params.shape[0]
    if family == HASH_WYHASH:
        key = np.uint64(t) * np.uint64(FEATURE_SALT) + np.uint64(local)
        h = wyhash64_key(key, _SEEDS[0])
        tok[ix(o_t)] = np.int64((h >> np.uint64(32)) % np.uint64(d))
        w[ix(o_w)] = np.int64((h & _MASK32) % np.uint64(d_w))
        for j in range(1, k):
            tok[ix(o_t + j)] = np.int64(_wy_half(key, k, j - 1) % np.uint64(d))
        for j in range(1, kw):
            w[ix(o_w + j)] = np.int64(_wy_half(key, k, k - 1 + j - 1) % np.uint64(d_w))
        return
    key = val_offset + local if shared else local
    for j in range(k):
        tok[ix(o_t + j)] = fastrange32(mas_hash32(tok_params[j, 0], tok_params[j, 1], key), d)
    for j in range(kw):
        w[ix(o_w + j)] = fastrange32(mas_hash32(w_params[j, 0], w_params[j, 1], key), d_w)


@njit(cache=True)
def _hash_batch(indices, offsets, batch_size, rows, val_offsets, family, shared, tok_params, w_params, d, d_w,
                tok, w):
    """The data loader's step: rows of every lookup (tok: n x k, w: n x k', flat, lookup order)."""
    k, kw = tok_params.shape[0], w_params.shape[0]
    for t in range(rows.shape[0]):
        for i in range(offsets[t * batch_size], offsets[(t + 1) * batch_size]):
            _hash_lookup(t, local_row(indices[i], rows[t]), val_offsets[t], family, shared, tok_params, w_params,
                         d, d_w, tok, i * k, w, i * kw)


@dataclass(frozen=True)
class HashedBatch:
    """A batch whose token ids the data loader already hashed: ``token_rows`` (lookups x k) and
    ``weight_rows`` (lookups x k'), int64, in the batch's lookup order. With sample pooling of
    shared tables also each sample's bags laid out as the released loader hands them to the
    forward (``sample_tokens``/``sample_weights``: rows in bag order, hash-major, feature-minor;
    ``sample_token_offsets``/``sample_weight_offsets``: B + 1 bag boundaries), so the kernel
    streams one bag after the other."""

    batch: Batch
    token_rows: np.ndarray
    weight_rows: np.ndarray
    sample_tokens: np.ndarray | None = None
    sample_token_offsets: np.ndarray | None = None
    sample_weights: np.ndarray | None = None
    sample_weight_offsets: np.ndarray | None = None

    num_features = property(lambda self: self.batch.num_features)
    batch_size = property(lambda self: self.batch.batch_size)
    num_lookups = property(lambda self: self.batch.num_lookups)
    indices = property(lambda self: self.batch.indices)
    offsets = property(lambda self: self.batch.offsets)


@njit(cache=True)
def _sample_major(offsets, batch_size, num_features, rows, hashes, bag_rows, bag_offsets):
    """Lay out each sample's bag: for sample b, hash j, feature t, the rows[i * hashes + j] of
    the tokens i of bag (t, b), in that order (``bag_offsets`` gets the B + 1 boundaries)."""
    pos = 0
    for b in range(batch_size):
        bag_offsets[b] = pos
        for j in range(hashes):
            for t in range(num_features):
                kb = t * batch_size + b
                for i in range(offsets[kb], offsets[kb + 1]):
                    bag_rows[pos] = rows[i * hashes + j]
                    pos += 1
    bag_offsets[batch_size] = pos


@njit(cache=True, inline="always")
def _streamed_block(b0, b1, tokens, token_offsets, wts, weight_offsets, tok_base, w_base, width, dim, weights,
                    out, distance, alpha):
    """Sample pooling from the loader's sample-major bags: samples b0..b1-1's token bags (V into
    out), then their weight bags (V_w), then out *= V_w; prefetch ``distance`` rows ahead."""
    block = dim // width
    end = token_offsets[ix(b1)]
    for b in range(b0, b1):
        o = b * dim
        lo, hi = token_offsets[ix(b)], token_offsets[ix(b + 1)]
        if lo == hi:
            zero_row(out, o, dim)
        for p in range(lo, hi):
            if distance > 0 and p + distance < end:
                prefetch_row(weights, tok_base + tokens[ix(p + distance)] * dim, dim)
            s = tok_base + tokens[ix(p)] * dim
            if p == lo:
                set_row(out, o, weights, s, dim)
            else:
                add_row(out, o, weights, s, dim)
    for b in range(b0, b1):
        for e in range(width):
            alpha[ix(e)] = np.float32(0.0)
        for q in range(weight_offsets[ix(b)], weight_offsets[ix(b + 1)]):
            s = w_base + wts[ix(q)] * width
            for e in range(width):
                alpha[ix(e)] += weights[ix(s + e)]
        o = b * dim
        for e in range(width):
            scale = alpha[ix(e)]
            for c in range(e * block, (e + 1) * block):
                out[ix(o + c)] *= scale


@njit(cache=True)
def _streamed_kernel(tokens, token_offsets, wts, weight_offsets, batch_size, width, elem_offsets, dim, weights, out,
                     distance):
    tokens, token_offsets, wts, weight_offsets = (borrowed(tokens), borrowed(token_offsets), borrowed(wts),
                                                  borrowed(weight_offsets))
    weights, flat = borrowed(weights), borrowed(out.reshape(out.size))
    alpha = np.empty(width, dtype=np.float32)
    if dim == 128 and width == 1:  # the released shape as constants (unrolled row adds), as in dlrm
        _streamed_block(0, batch_size, tokens, token_offsets, wts, weight_offsets, elem_offsets[0], elem_offsets[1],
                        1, 128, weights, flat, distance, alpha)
    else:
        _streamed_block(0, batch_size, tokens, token_offsets, wts, weight_offsets, elem_offsets[0], elem_offsets[1],
                        width, dim, weights, flat, distance, alpha)


@njit(cache=True, parallel=True)
def _streamed_parallel(tokens, token_offsets, wts, weight_offsets, batch_size, width, elem_offsets, dim, weights, out,
                       distance):
    flat = out.reshape(out.size)
    blocks = block_count(batch_size)
    for item in prange(blocks):
        b0 = item * SAMPLE_BLOCK
        b1 = min(batch_size, b0 + SAMPLE_BLOCK)
        alpha = np.empty(width, dtype=np.float32)
        if dim == 128 and width == 1:
            _streamed_block(b0, b1, tokens, token_offsets, wts, weight_offsets, elem_offsets[0], elem_offsets[1], 1,
                            128, weights, flat, distance, alpha)
        else:
            _streamed_block(b0, b1, tokens, token_offsets, wts, weight_offsets, elem_offsets[0], elem_offsets[1],
                            width, dim, weights, flat, distance, alpha)


@njit(cache=True)
def _streamed_emit(tokens, wts, base_addrs, width, dim, line_bytes, out):
    """The streamed kernel's reads: every token bag, then every weight bag."""
    pos = 0
    for p in range(tokens.shape[0]):
        pos = emit_range(out, pos, base_addrs[0] + tokens[p] * dim * 4, dim * 4, line_bytes)
    for q in range(wts.shape[0]):
        pos = emit_range(out, pos, base_addrs[1] + wts[q] * width * 4, width * 4, line_bytes)
    return pos


# --- kernels -------------------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _rows_of(i, t, indices, rows, val_offsets, hashed, family, shared, tok_params, w_params, d, d_w,
             tok_rows, w_rows, tok, w):
    """(token rows array, offset, weight rows array, offset) of lookup i: the loader's rows, or
    the scratch ``tok``/``w`` filled by hashing here."""
    k, kw = tok_params.shape[0], w_params.shape[0]
    if hashed:
        return tok_rows, i * k, w_rows, i * kw
    _hash_lookup(t, local_row(indices[ix(i)], rows[ix(t)]), val_offsets[ix(t)], family, shared, tok_params,
                 w_params, d, d_w, tok, 0, w, 0)
    return tok, 0, w, 0


@njit(cache=True, inline="always")
def _feature_block(t, b0, b1, indices, offsets, batch_size, rows, val_offsets, hashed, family, shared, tok_params,
                   w_params, d, d_w, width, tok_rows, w_rows, elem_offsets, dim, weights, out, distance, scratch):
    """Per-feature pooling of bags b0..b1-1 of feature t: per token alpha (k' weight entries),
    then its k token rows scaled by alpha into the bag row."""
    k, kw = tok_params.shape[0], w_params.shape[0]
    tok, w, alpha = scratch[0], scratch[1], scratch[2]
    tok_base = elem_offsets[0] if shared else elem_offsets[ix(2 * t)]
    w_base = elem_offsets[1] if shared else elem_offsets[ix(2 * t + 1)]
    block = dim // width
    end = offsets[ix(t * batch_size + b1)]
    for b in range(b0, b1):
        kb = t * batch_size + b
        o = kb * dim
        lo, hi = offsets[ix(kb)], offsets[ix(kb + 1)]
        if lo == hi:
            zero_row(out, o, dim)
        for i in range(lo, hi):
            if distance > 0 and hashed and i + distance < end:
                prefetch_row(weights, tok_base + tok_rows[ix((i + distance) * k)] * dim, dim)
            trows, ot, wrows, ow = _rows_of(i, t, indices, rows, val_offsets, hashed, family, shared, tok_params,
                                            w_params, d, d_w, tok_rows, w_rows, tok, w)
            for e in range(width):
                alpha[ix(e)] = np.float32(0.0)
            for j in range(kw):
                s = w_base + wrows[ix(ow + j)] * width
                for e in range(width):
                    alpha[ix(e)] += weights[ix(s + e)]
            for j in range(k):
                s = tok_base + trows[ix(ot + j)] * dim
                first = i == lo and j == 0
                for e in range(width):
                    scale = alpha[ix(e)]
                    for c in range(e * block, (e + 1) * block):
                        value = scale * weights[ix(s + c)]
                        if first:
                            out[ix(o + c)] = np.float32(0.0) + value
                        else:
                            out[ix(o + c)] += value


@njit(cache=True, inline="always")
def _sample_block(b0, b1, indices, offsets, batch_size, rows, val_offsets, hashed, family, shared, tok_params,
                  w_params, d, d_w, width, tok_rows, w_rows, elem_offsets, dim, weights, out, distance, scratch):
    """Per-sample pooling of samples b0..b1-1: V (token bag) into out, then V_w (weight bag),
    then out *= V_w. Within a bag: hash-major, feature-minor, tokens of a feature's bag in order."""
    num_features = rows.shape[0]
    k, kw = tok_params.shape[0], w_params.shape[0]
    tok, w, alpha = scratch[0], scratch[1], scratch[2]
    block = dim // width
    for b in range(b0, b1):  # the token bag
        o = b * dim
        started = False
        for j in range(k):
            for t in range(num_features):
                tok_base = elem_offsets[0] if shared else elem_offsets[ix(2 * t)]
                kb = t * batch_size + b
                for i in range(offsets[ix(kb)], offsets[ix(kb + 1)]):
                    if distance > 0 and hashed and t + distance < num_features:
                        ahead = offsets[ix(kb + distance * batch_size)]
                        if ahead < offsets[ix(kb + distance * batch_size + 1)]:
                            ahead_base = elem_offsets[0] if shared else elem_offsets[ix(2 * (t + distance))]
                            prefetch_row(weights, ahead_base + tok_rows[ix(ahead * k + j)] * dim, dim)
                    trows, ot, _, _ = _rows_of(i, t, indices, rows, val_offsets, hashed, family, shared, tok_params,
                                               w_params, d, d_w, tok_rows, w_rows, tok, w)
                    s = tok_base + trows[ix(ot + j)] * dim
                    if started:
                        add_row(out, o, weights, s, dim)
                    else:
                        set_row(out, o, weights, s, dim)
                        started = True
        if not started:
            zero_row(out, o, dim)
    for b in range(b0, b1):  # the weight bag, then the product
        for e in range(width):
            alpha[ix(e)] = np.float32(0.0)
        for j in range(kw):
            for t in range(num_features):
                w_base = elem_offsets[1] if shared else elem_offsets[ix(2 * t + 1)]
                kb = t * batch_size + b
                for i in range(offsets[ix(kb)], offsets[ix(kb + 1)]):
                    _, _, wrows, ow = _rows_of(i, t, indices, rows, val_offsets, hashed, family, shared, tok_params,
                                               w_params, d, d_w, tok_rows, w_rows, tok, w)
                    s = w_base + wrows[ix(ow + j)] * width
                    for e in range(width):
                        alpha[ix(e)] += weights[ix(s + e)]
        o = b * dim
        for e in range(width):
            scale = alpha[ix(e)]
            for c in range(e * block, (e + 1) * block):
                out[ix(o + c)] *= scale


@njit(cache=True, inline="always")
def _scratch(k, kw, width):
    return (np.empty(k, dtype=np.int64), np.empty(kw, dtype=np.int64), np.empty(width, dtype=np.float32))


@njit(cache=True)
def _pooled_kernel(per_sample, indices, offsets, batch_size, rows, val_offsets, hashed, family, shared, tok_params,
                   w_params, d, d_w, width, tok_rows, w_rows, elem_offsets, dim, weights, out, distance):
    indices, offsets, weights = borrowed(indices), borrowed(offsets), borrowed(weights)
    tok_rows, w_rows = borrowed(tok_rows), borrowed(w_rows)
    flat = borrowed(out.reshape(out.size))
    scratch = _scratch(tok_params.shape[0], w_params.shape[0], width)
    if per_sample:
        _sample_block(0, batch_size, indices, offsets, batch_size, rows, val_offsets, hashed, family, shared,
                      tok_params, w_params, d, d_w, width, tok_rows, w_rows, elem_offsets, dim, weights, flat,
                      distance, scratch)
        return
    for t in range(rows.shape[0]):
        _feature_block(t, 0, batch_size, indices, offsets, batch_size, rows, val_offsets, hashed, family, shared,
                       tok_params, w_params, d, d_w, width, tok_rows, w_rows, elem_offsets, dim, weights, flat,
                       distance, scratch)


@njit(cache=True, parallel=True)
def _pooled_parallel(per_sample, indices, offsets, batch_size, rows, val_offsets, hashed, family, shared,
                     tok_params, w_params, d, d_w, width, tok_rows, w_rows, elem_offsets, dim, weights, out,
                     distance):
    flat = out.reshape(out.size)
    blocks = block_count(batch_size)
    features = 1 if per_sample else rows.shape[0]
    for item in prange(features * blocks):
        scratch = _scratch(tok_params.shape[0], w_params.shape[0], width)
        t = item // blocks
        b0 = (item % blocks) * SAMPLE_BLOCK
        b1 = min(batch_size, b0 + SAMPLE_BLOCK)
        if per_sample:
            _sample_block(b0, b1, indices, offsets, batch_size, rows, val_offsets, hashed, family, shared,
                          tok_params, w_params, d, d_w, width, tok_rows, w_rows, elem_offsets, dim, weights, flat,
                          distance, scratch)
        else:
            _feature_block(t, b0, b1, indices, offsets, batch_size, rows, val_offsets, hashed, family, shared,
                           tok_params, w_params, d, d_w, width, tok_rows, w_rows, elem_offsets, dim, weights, flat,
                           distance, scratch)


@njit(cache=True)
def _emit_kernel(per_sample, indices, offsets, batch_size, rows, val_offsets, hashed, family, shared, tok_params,
                 w_params, d, d_w, width, tok_rows, w_rows, base_addrs, dim, line_bytes, out):
    """The kernel's reads in its order (see the module docstring), as line addresses."""
    k, kw = tok_params.shape[0], w_params.shape[0]
    scratch_tok, scratch_w = np.empty(k, dtype=np.int64), np.empty(kw, dtype=np.int64)
    # borrowed: _rows_of returns arrays per lookup, which would otherwise cost reference counting
    tok, w, tok_rows, w_rows = borrowed(scratch_tok), borrowed(scratch_w), borrowed(tok_rows), borrowed(w_rows)
    indices, offsets, out = borrowed(indices), borrowed(offsets), borrowed(out)
    num_features = rows.shape[0]
    pos = 0
    if per_sample:
        for b in range(batch_size):
            for j in range(k):
                for t in range(num_features):
                    tok_base = base_addrs[0] if shared else base_addrs[2 * t]
                    kb = t * batch_size + b
                    for i in range(offsets[kb], offsets[kb + 1]):
                        trows, ot, _, _ = _rows_of(i, t, indices, rows, val_offsets, hashed, family, shared,
                                                   tok_params, w_params, d, d_w, tok_rows, w_rows, tok, w)
                        pos = emit_range(out, pos, tok_base + trows[ot + j] * dim * 4, dim * 4, line_bytes)
        for b in range(batch_size):
            for j in range(kw):
                for t in range(num_features):
                    w_base = base_addrs[1] if shared else base_addrs[2 * t + 1]
                    kb = t * batch_size + b
                    for i in range(offsets[kb], offsets[kb + 1]):
                        _, _, wrows, ow = _rows_of(i, t, indices, rows, val_offsets, hashed, family, shared,
                                                   tok_params, w_params, d, d_w, tok_rows, w_rows, tok, w)
                        pos = emit_range(out, pos, w_base + wrows[ow + j] * width * 4, width * 4, line_bytes)
        return pos
    for t in range(num_features):
        tok_base = base_addrs[0] if shared else base_addrs[2 * t]
        w_base = base_addrs[1] if shared else base_addrs[2 * t + 1]
        for i in range(offsets[t * batch_size], offsets[(t + 1) * batch_size]):
            trows, ot, wrows, ow = _rows_of(i, t, indices, rows, val_offsets, hashed, family, shared, tok_params,
                                            w_params, d, d_w, tok_rows, w_rows, tok, w)
            for j in range(kw):
                pos = emit_range(out, pos, w_base + wrows[ow + j] * width * 4, width * 4, line_bytes)
            for j in range(k):
                pos = emit_range(out, pos, tok_base + trows[ot + j] * dim * 4, dim * 4, line_bytes)
    return pos


_NO_ROWS = np.zeros(0, dtype=np.int64)


class MemRec(Representation):
    name = "memrec"

    def __init__(self, workload, config: MemRecConfig | None = None):
        config = config or MemRecConfig()
        if config.l is not None and config.l != workload.dim:
            raise ValueError(f"memrec: l ({config.l}) must equal the workload's embedding dim ({workload.dim})")
        if workload.dim % config.weight_width:
            raise ValueError(f"memrec: weight_width ({config.weight_width}) must divide l ({workload.dim})")
        if config.hash == "mas" and config.shared and workload.total_rows >= 1 << 32:
            raise ValueError("memrec: with hash=mas the global token ids must fit in 32 bits (total rows < 2**32)")
        self.tok_params = hash_params(config.hash_seed, config.k, stream=0)
        self.w_params = hash_params(config.hash_seed, config.k_weight, stream=1)
        super().__init__(workload, config)

    def _arrays(self):
        c = self.config
        pair = [("token_table", c.d * self.dim), ("weight_table", c.d_weight * c.weight_width)]
        if c.shared:
            return pair
        return [(f"{name}_{t}", size) for t in range(self.workload.num_features) for name, size in pair]

    def output_features(self, num_features: int) -> int:
        """Pooled output rows per sample: 1 with sample pooling (one bag per sample)."""
        return 1 if self.config.pooling == "sample" else num_features

    def max_lines_per_lookup(self, line_bytes):
        c = self.config
        return c.k_weight * max_lines(c.weight_width * 4, line_bytes) + c.k * max_lines(self.dim * 4, line_bytes)

    def hash_calls_per_lookup(self) -> int:
        """Hash function calls per token (wyhash: one call gives two 32-bit indices)."""
        c = self.config
        return 1 + extra_hash_count(c.k, c.k_weight) if c.hash == "wyhash" else c.k + c.k_weight

    @property
    def framework_calls_per_batch(self) -> int:
        """One: the released Mem-Rec embeds all features in one operator call per batch."""
        return 1

    def _ops_per_lookup(self):
        # token mod n, the hashes when they run in the kernel, k + k' rows; adds: k token rows of
        # l elements into the bag, k' weight entries of width w into alpha; muls: alpha times the
        # bag (per token with feature pooling; once per sample, i.e. l / features per token, with
        # sample pooling)
        c, dim = self.config, self.dim
        muls = c.k * dim if c.pooling == "feature" else dim / len(self.rows)
        hashes = float(self.hash_calls_per_lookup()) if c.hash_in_kernel else 0.0
        return {**plain_row_ops(dim), "hashes": hashes, "rows": float(c.k + c.k_weight),
                "adds": float(c.k * dim + c.k_weight * c.weight_width), "muls": float(muls)}

    def describe(self) -> dict:
        return {**super().describe(), "hash_calls_per_lookup": self.hash_calls_per_lookup(),
                "hash_timed": self.config.hash_in_kernel}

    def prepare(self, batch):
        """The data loader's hashing (``hash_in_kernel = False``): a HashedBatch; else the batch."""
        if self.config.hash_in_kernel or isinstance(batch, HashedBatch):
            return batch
        if batch.num_features != self.rows.shape[0]:
            raise ValueError(f"batch has {batch.num_features} features but the workload has "
                             f"{self.rows.shape[0]} tables")
        c = self.config
        tok = np.empty(batch.num_lookups * c.k, dtype=np.int64)
        w = np.empty(batch.num_lookups * c.k_weight, dtype=np.int64)
        _hash_batch(batch.indices, batch.offsets, batch.batch_size, self.rows, self.val_offsets,
                    HASHES.index(c.hash), c.shared, self.tok_params, self.w_params, c.d, c.d_weight, tok, w)
        if not self._streamed():
            return HashedBatch(batch, tok, w)
        bags = []
        for rows, hashes in ((tok, c.k), (w, c.k_weight)):
            bag_rows = np.empty(rows.shape[0], dtype=np.int64)
            bag_offsets = np.empty(batch.batch_size + 1, dtype=np.int64)
            _sample_major(batch.offsets, batch.batch_size, batch.num_features, rows, hashes, bag_rows, bag_offsets)
            bags += [bag_rows, bag_offsets]
        return HashedBatch(batch, tok, w, *bags)

    def _streamed(self) -> bool:
        """Whether the kernel streams the loader's sample-major bags (sample pooling of shared
        tables, hashed by the loader); otherwise it walks the table-major batch per sample."""
        c = self.config
        return c.pooling == "sample" and c.shared and not c.hash_in_kernel

    def _args(self, batch):
        c = self.config
        prepared = self.prepare(batch)
        hashed = isinstance(prepared, HashedBatch)
        tok = prepared.token_rows if hashed else _NO_ROWS
        w = prepared.weight_rows if hashed else _NO_ROWS
        return (c.pooling == "sample", batch.indices, batch.offsets, batch.batch_size, self.rows, self.val_offsets,
                hashed, HASHES.index(c.hash), c.shared, self.tok_params, self.w_params, c.d, c.d_weight,
                c.weight_width, tok, w)

    def _pooled(self, batch, out, prefetch_distance, parallel):
        if self._streamed():
            hashed = self.prepare(batch)
            kernel = _streamed_parallel if parallel else _streamed_kernel
            kernel(hashed.sample_tokens, hashed.sample_token_offsets, hashed.sample_weights,
                   hashed.sample_weight_offsets, batch.batch_size, self.config.weight_width, self._elem_offsets(),
                   self.workload.dim, self.weights, out, prefetch_distance)
            return
        kernel = _pooled_parallel if parallel else _pooled_kernel
        kernel(*self._args(batch), self._elem_offsets(), self.workload.dim, self.weights, out, prefetch_distance)

    def _emit(self, batch, line_bytes, out):
        if self._streamed():
            hashed = self.prepare(batch)
            return _streamed_emit(hashed.sample_tokens, hashed.sample_weights, self.layout.base_addrs(),
                                  self.config.weight_width, self.dim, line_bytes, out)
        return _emit_kernel(*self._args(batch), self.layout.base_addrs(), self.dim, line_bytes, out)
