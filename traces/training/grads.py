"""Per-representation gradient segments: what the backward pass scatters, and from where.

The backward of a sum-pooled lookup is a list of contiguous contributions to the parameter
memory, in kernel order (feature-major, lookups in bag order, a lookup's reads in forward
order): segment c adds ``src[seg_src[c]:][:seg_len[c]]`` to the flat parameter elements
``seg_elem[c]:][:seg_len[c]]`` of region ``seg_reg[c]``. ``src`` is dL/d(pooled output) itself
where the embedding is a copy of parameters (dlrm, hashing, robe, qr add/concat) or a staging
buffer of per-lookup gradients where the embedding is a product of parameters (qr mult: the
other factor's row; ttrec: the contractions with the other two cores; memrec: alpha times
dL/dz, and dL/dz times the token sum). Those recompute their factors from the parameters: the
backward's own reads (``rd_*``, traced as reads before the scatter). ``compute=False`` gives
the positions only (for a trace of arrays never allocated).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from sim.intrinsics import ix
from traces.representations.base import local_row
from traces.representations.hashing import hashed_row
from traces.representations.memrec import HASHES, _hash_batch
from traces.representations.qr import COMBINE, qr_rows
from traces.representations.robe import robe_chunk_loc
from traces.representations.ttrec import tt_split


@dataclass
class GradSegments:
    """Contributions (seg_*) and the backward's own parameter reads (rd_*), kernel order."""

    seg_elem: np.ndarray
    seg_len: np.ndarray
    seg_reg: np.ndarray
    seg_src: np.ndarray
    src: np.ndarray
    rd_elem: np.ndarray
    rd_len: np.ndarray
    rd_reg: np.ndarray


def _buffers(nseg: int, nrd: int):
    return (np.empty(nseg, np.int64), np.empty(nseg, np.int64), np.empty(nseg, np.int64), np.empty(nseg, np.int64),
            np.empty(nrd, np.int64), np.empty(nrd, np.int64), np.empty(nrd, np.int64))


@njit(cache=True, inline="always")
def _put(elem, length, reg, src, c, e, n, r, s):
    elem[c], length[c], reg[c], src[c] = e, n, r, s
    return c + 1


@njit(cache=True)
def _dlrm_hashing(indices, offsets, batch_size, rows, m, val_offsets, params, elem_offsets, dim, hashed,
                  se, sl, sr, ss):
    c = 0
    for t in range(rows.shape[0]):
        for b in range(batch_size):
            k = t * batch_size + b
            for i in range(offsets[k], offsets[k + 1]):
                if hashed:
                    row = hashed_row(indices[i], rows[t], m, val_offsets[t], params[0], params[1])
                else:
                    row = local_row(indices[i], rows[t])
                c = _put(se, sl, sr, ss, c, elem_offsets[t] + row * dim, dim, t, k * dim)
    return c


@njit(cache=True)
def _robe(indices, offsets, batch_size, rows, val_offsets, z, rr, span, dim, se, sl, sr, ss):
    c = 0
    for t in range(rows.shape[0]):
        for b in range(batch_size):
            k = t * batch_size + b
            for i in range(offsets[k], offsets[k + 1]):
                gid = val_offsets[t] + local_row(indices[i], rows[t])
                for ch in range((dim + z - 1) // z):
                    loc = robe_chunk_loc(gid, ch, rr[0], rr[1], rr[2], span)
                    c = _put(se, sl, sr, ss, c, loc, min(dim, (ch + 1) * z) - ch * z, 0, k * dim + ch * z)
    return c


@njit(cache=True)
def _qr(indices, offsets, batch_size, rows, is_qr, first_region, m, combine, elem_offsets, dim, compute, weights,
        grad_out, stage, se, sl, sr, ss, re, rl, rg):
    """combine 0 (mult) stages g*R[r] and g*Q[q] (and a copy of g for plain features)."""
    c, d = 0, 0
    half = dim // 2
    part = half if combine == 2 else dim
    for t in range(rows.shape[0]):
        reg = first_region[t]
        for b in range(batch_size):
            k = t * batch_size + b
            for i in range(offsets[k], offsets[k + 1]):
                if not is_qr[t]:
                    e = elem_offsets[reg] + local_row(indices[i], rows[t]) * dim
                    if combine == 0:
                        if compute:
                            for j in range(dim):
                                stage[ix(c * dim + j)] = grad_out[ix(k * dim + j)]
                        c = _put(se, sl, sr, ss, c, e, dim, reg, c * dim)
                    else:
                        c = _put(se, sl, sr, ss, c, e, dim, reg, k * dim)
                    continue
                q, r = qr_rows(indices[i], rows[t], m)
                qs, rs = elem_offsets[reg] + q * part, elem_offsets[reg + 1] + r * part
                if combine == 2:
                    c = _put(se, sl, sr, ss, c, qs, half, reg, k * dim)
                    c = _put(se, sl, sr, ss, c, rs, half, reg + 1, k * dim + half)
                elif combine == 1:
                    c = _put(se, sl, sr, ss, c, qs, dim, reg, k * dim)
                    c = _put(se, sl, sr, ss, c, rs, dim, reg + 1, k * dim)
                else:
                    d = _put(re, rl, rg, rg, d, qs, dim, reg, reg)
                    d = _put(re, rl, rg, rg, d, rs, dim, reg + 1, reg + 1)
                    if compute:
                        for j in range(dim):
                            g = grad_out[ix(k * dim + j)]
                            stage[ix(c * dim + j)] = g * weights[ix(rs + j)]
                            stage[ix((c + 1) * dim + j)] = g * weights[ix(qs + j)]
                    c = _put(se, sl, sr, ss, c, qs, dim, reg, c * dim)
                    c = _put(se, sl, sr, ss, c, rs, dim, reg + 1, c * dim)
    return c, d


@njit(cache=True)
def _tt_grads(g, o, w, g1, g2, g3, q1, q2, q3, r, stage, s0, h, t12):
    """Stage dG1, dG2, dG3 of one lookup at stage[s0:] (slices of q1 r, r q2 r, r q3 floats)."""
    s1, s2 = q1 * r, r * q2 * r
    for ab in range(q1 * q2):
        for v in range(r):
            acc = np.float32(0.0)
            for cc in range(q3):
                acc += g[ix(o + ab * q3 + cc)] * w[ix(g3 + v * q3 + cc)]
            h[ix(ab * r + v)] = acc
    for a in range(q1):
        for u in range(r):
            acc = np.float32(0.0)
            for bb in range(q2):
                for v in range(r):
                    acc += h[ix((a * q2 + bb) * r + v)] * w[ix(g2 + (u * q2 + bb) * r + v)]
            stage[ix(s0 + a * r + u)] = acc
    for u in range(r):
        for bb in range(q2):
            for v in range(r):
                acc = np.float32(0.0)
                for a in range(q1):
                    acc += w[ix(g1 + a * r + u)] * h[ix((a * q2 + bb) * r + v)]
                stage[ix(s0 + s1 + (u * q2 + bb) * r + v)] = acc
    for ab in range(q1 * q2):
        a, bb = ab // q2, ab % q2
        for v in range(r):
            acc = np.float32(0.0)
            for u in range(r):
                acc += w[ix(g1 + a * r + u)] * w[ix(g2 + (u * q2 + bb) * r + v)]
            t12[ix(ab * r + v)] = acc
    for v in range(r):
        for cc in range(q3):
            acc = np.float32(0.0)
            for ab in range(q1 * q2):
                acc += t12[ix(ab * r + v)] * g[ix(o + ab * q3 + cc)]
            stage[ix(s0 + s1 + s2 + v * q3 + cc)] = acc


@njit(cache=True)
def _ttrec(indices, offsets, batch_size, rows, is_tt, first_region, pfac, qf, r, elem_offsets, dim, compute, weights,
           grad_out, stage, se, sl, sr, ss, re, rl, rg):
    q1, q2, q3 = qf[0], qf[1], qf[2]
    s1, s2, s3 = q1 * r, r * q2 * r, r * q3
    h = np.empty(q1 * q2 * r, dtype=np.float32)
    t12 = np.empty(q1 * q2 * r, dtype=np.float32)
    c, d, pos = 0, 0, 0
    for t in range(rows.shape[0]):
        reg = first_region[t]
        for b in range(batch_size):
            k = t * batch_size + b
            for i in range(offsets[k], offsets[k + 1]):
                if not is_tt[t]:
                    if compute:
                        for j in range(dim):
                            stage[ix(pos + j)] = grad_out[ix(k * dim + j)]
                    c = _put(se, sl, sr, ss, c, elem_offsets[reg] + local_row(indices[i], rows[t]) * dim, dim, reg,
                             pos)
                    pos += dim
                    continue
                i1, i2, i3 = tt_split(indices[i], rows[t], pfac[t, 1], pfac[t, 2])
                g1, g2, g3 = elem_offsets[reg] + i1 * s1, elem_offsets[reg + 1] + i2 * s2, elem_offsets[reg + 2] + i3 * s3
                d = _put(re, rl, rg, rg, d, g1, s1, reg, reg)
                d = _put(re, rl, rg, rg, d, g2, s2, reg + 1, reg + 1)
                d = _put(re, rl, rg, rg, d, g3, s3, reg + 2, reg + 2)
                if compute:
                    _tt_grads(grad_out, k * dim, weights, g1, g2, g3, q1, q2, q3, r, stage, pos, h, t12)
                c = _put(se, sl, sr, ss, c, g1, s1, reg, pos)
                c = _put(se, sl, sr, ss, c, g2, s2, reg + 1, pos + s1)
                c = _put(se, sl, sr, ss, c, g3, s3, reg + 2, pos + s1 + s2)
                pos += s1 + s2 + s3
    return c, d


@njit(cache=True)
def _memrec_feature(offsets, batch_size, features, shared, tok, w, k, kw, width, elem_offsets, dim, compute, weights,
                    grad_out, stage, se, sl, sr, ss, re, rl, rg):
    """Feature pooling: per lookup, reads (k' weight entries, k token rows) recompute alpha and
    the token sum; stages dT = alpha * g (dim) and dW = per block sum of g * token sum (width)."""
    c, d, pos = 0, 0, 0
    block = dim // width
    for t in range(features):
        treg = 0 if shared else 2 * t
        wreg = 1 if shared else 2 * t + 1
        for b in range(batch_size):
            kb = t * batch_size + b
            o = kb * dim
            for i in range(offsets[kb], offsets[kb + 1]):
                for j in range(kw):
                    d = _put(re, rl, rg, rg, d, elem_offsets[wreg] + w[i * kw + j] * width, width, wreg, wreg)
                for j in range(k):
                    d = _put(re, rl, rg, rg, d, elem_offsets[treg] + tok[i * k + j] * dim, dim, treg, treg)
                if compute:
                    for e in range(width):
                        alpha = np.float32(0.0)
                        for j in range(kw):
                            alpha += weights[ix(elem_offsets[wreg] + w[i * kw + j] * width + e)]
                        dw = np.float32(0.0)
                        for cc in range(e * block, (e + 1) * block):
                            tsum = np.float32(0.0)
                            for j in range(k):
                                tsum += weights[ix(elem_offsets[treg] + tok[i * k + j] * dim + cc)]
                            dw += grad_out[ix(o + cc)] * tsum
                            stage[ix(pos + width + cc)] = alpha * grad_out[ix(o + cc)]
                        stage[ix(pos + e)] = dw
                for j in range(kw):
                    c = _put(se, sl, sr, ss, c, elem_offsets[wreg] + w[i * kw + j] * width, width, wreg, pos)
                for j in range(k):
                    c = _put(se, sl, sr, ss, c, elem_offsets[treg] + tok[i * k + j] * dim, dim, treg, pos + width)
                pos += width + dim
    return c, d


@njit(cache=True)
def _memrec_sample(offsets, batch_size, features, shared, tok, w, k, kw, width, elem_offsets, dim, compute, weights,
                   grad_out, stage, se, sl, sr, ss, re, rl, rg):
    """Sample pooling (z_b = V_b * alpha_b): reads of every sample's token bag, then every weight
    bag (forward order) recompute V and alpha; stages per sample dV = alpha * g and dalpha =
    per block sum of g * V; segments: all token rows, then all weight entries."""
    stride = dim + width
    block = dim // width
    d = 0
    for phase in range(2):  # 0: token bags (V), 1: weight bags (alpha)
        for b in range(batch_size):
            s0 = b * stride + (0 if phase == 0 else dim)
            n = dim if phase == 0 else width
            if compute:
                for j in range(n):
                    stage[ix(s0 + j)] = np.float32(0.0)
            for j in range(k if phase == 0 else kw):
                for t in range(features):
                    reg = (0 if shared else 2 * t) + phase
                    kb = t * batch_size + b
                    for i in range(offsets[kb], offsets[kb + 1]):
                        row = tok[i * k + j] if phase == 0 else w[i * kw + j]
                        e = elem_offsets[reg] + row * n
                        d = _put(re, rl, rg, rg, d, e, n, reg, reg)
                        if compute:
                            for jj in range(n):
                                stage[ix(s0 + jj)] += weights[ix(e + jj)]
    if compute:  # V, alpha -> dV, dalpha in place
        for b in range(batch_size):
            s0 = b * stride
            for e in range(width):
                alpha = stage[ix(s0 + dim + e)]
                dalpha = np.float32(0.0)
                for cc in range(e * block, (e + 1) * block):
                    g = grad_out[ix(b * dim + cc)]
                    dalpha += g * stage[ix(s0 + cc)]
                    stage[ix(s0 + cc)] = alpha * g
                stage[ix(s0 + dim + e)] = dalpha
    c = 0
    for phase in range(2):
        for b in range(batch_size):
            n = dim if phase == 0 else width
            for j in range(k if phase == 0 else kw):
                for t in range(features):
                    reg = (0 if shared else 2 * t) + phase
                    kb = t * batch_size + b
                    for i in range(offsets[kb], offsets[kb + 1]):
                        row = tok[i * k + j] if phase == 0 else w[i * kw + j]
                        c = _put(se, sl, sr, ss, c, elem_offsets[reg] + row * n, n, reg,
                                 b * stride + (0 if phase == 0 else dim))
    return c, d


_EMPTY = np.zeros(0, dtype=np.float32)


def gradient_segments(rep, batch, grad_out: np.ndarray | None, compute: bool = True) -> GradSegments:
    """The backward contributions of ``batch`` (see the module docstring); ``grad_out`` is
    dL/d(pooled output) of the forward's output shape, float32 (None with compute=False)."""
    name, dim, n = rep.name, rep.dim, batch.num_lookups
    eo = rep._elem_offsets()
    g = _EMPTY if grad_out is None else np.ascontiguousarray(grad_out, dtype=np.float32).reshape(-1)
    weights = rep.weights if compute else _EMPTY
    idx, off, bs = batch.indices, batch.offsets, batch.batch_size
    if name in ("dlrm", "hashing"):
        se, sl, sr, ss, re, rl, rg = _buffers(n, 0)
        hashed = name == "hashing"
        m = rep.config.rows if hashed else 1
        params = rep.params if hashed else np.zeros(2, np.uint64)
        c = _dlrm_hashing(idx, off, bs, rep.rows, m, rep.val_offsets, params, eo, dim, hashed, se, sl, sr, ss)
        return GradSegments(se[:c], sl[:c], sr[:c], ss[:c], g, re, rl, rg)
    if name == "robe":
        chunks = -(-dim // rep.config.chunk)
        se, sl, sr, ss, re, rl, rg = _buffers(n * chunks, 0)
        c = _robe(idx, off, bs, rep.rows, rep.val_offsets, rep.config.chunk, rep.rr, rep.span, dim, se, sl, sr, ss)
        return GradSegments(se[:c], sl[:c], sr[:c], ss[:c], g, re, rl, rg)
    if name == "qr":
        combine = COMBINE[rep.config.combine]
        se, sl, sr, ss, re, rl, rg = _buffers(2 * n, 2 * n)
        stage = np.empty(2 * n * dim if (compute and combine == 0) else 0, np.float32)
        c, d = _qr(idx, off, bs, rep.rows, rep.is_qr, rep.first_region, rep.config.collisions, combine, eo, dim,
                   compute, weights, g, stage, se, sl, sr, ss, re, rl, rg)
        src = stage if combine == 0 else g
    elif name == "ttrec":
        per = max(dim, sum(rep._slice_floats()))
        se, sl, sr, ss, re, rl, rg = _buffers(3 * n, 3 * n)
        stage = np.empty(n * per if compute else 0, np.float32)
        c, d = _ttrec(idx, off, bs, rep.rows, rep.is_tt, rep.first_region, rep.p_factors, rep.q_factors,
                      rep.config.rank, eo, dim, compute, weights, g, stage, se, sl, sr, ss, re, rl, rg)
        src = stage
    elif name == "memrec":
        cfg = rep.config
        tok = np.empty(n * cfg.k, np.int64)
        w = np.empty(n * cfg.k_weight, np.int64)
        _hash_batch(idx, off, bs, rep.rows, rep.val_offsets, HASHES.index(cfg.hash), cfg.shared, rep.tok_params,
                    rep.w_params, cfg.d, cfg.d_weight, tok, w)
        per = cfg.k + cfg.k_weight
        se, sl, sr, ss, re, rl, rg = _buffers(n * per, n * per)
        sample = cfg.pooling == "sample"
        size = (bs if sample else n) * (dim + cfg.weight_width)
        stage = np.empty(size if compute else 0, np.float32)
        kernel = _memrec_sample if sample else _memrec_feature
        c, d = kernel(off, bs, batch.num_features, cfg.shared, tok, w, cfg.k, cfg.k_weight, cfg.weight_width, eo,
                      dim, compute, weights, g, stage, se, sl, sr, ss, re, rl, rg)
        src = stage
    else:
        raise ValueError(f"no backward pass for representation {name!r}")
    return GradSegments(se[:c], sl[:c], sr[:c], ss[:c], src, re[:d], rl[:d], rg[:d])
