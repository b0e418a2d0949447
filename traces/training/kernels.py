"""The shared backward-scatter and optimizer kernels, each computing and/or tracing.

``compute`` does the float work on real arrays; ``record`` appends the line-aligned byte
addresses the work touches to ``out`` from ``pos`` (bit 63 set on stores), in the kernel's
order, and returns the new position. One kernel for both keeps the trace the kernel's.
Trace granularity as the forward's (traces.representations.base): a contiguous access of R
bytes at A touches lines A // L .. (A + R - 1) // L, each listed once; a read-modify-write
(``+=``) lists each line as a read then a write. The scratch of the sort that finds the
unique rows (and its inverse) is not traced; the unique row ids themselves are.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.access import WRITE_FLAG
from sim.intrinsics import ix

_W = np.uint64(WRITE_FLAG)


@njit(cache=True, inline="always")
def emit_lines(out, pos, addr, nbytes, line_bytes, write):
    """Lines of [addr, addr + nbytes), each a read (write=False) or a store; the new pos."""
    flag = _W if write else np.uint64(0)
    for line in range(addr // line_bytes, (addr + nbytes - 1) // line_bytes + 1):
        out[pos] = np.uint64(line * line_bytes) | flag
        pos += 1
    return pos


@njit(cache=True, inline="always")
def emit_rmw(out, pos, addr, nbytes, line_bytes):
    """Lines of [addr, addr + nbytes), each read then written (an element-wise ``+=``)."""
    for line in range(addr // line_bytes, (addr + nbytes - 1) // line_bytes + 1):
        out[pos] = np.uint64(line * line_bytes)
        out[pos + 1] = np.uint64(line * line_bytes) | _W
        pos += 2
    return pos


@njit(cache=True)
def emit_reads(rd_elem, rd_len, rd_reg, elem_offset, param_addr, line_bytes, out, pos):
    """The backward's own parameter reads (qr mult, ttrec, memrec recompute their factors)."""
    for c in range(rd_elem.shape[0]):
        reg = rd_reg[c]
        pos = emit_lines(out, pos, param_addr[reg] + (rd_elem[c] - elem_offset[reg]) * 4, rd_len[c] * 4, line_bytes,
                         False)
    return pos


@njit(cache=True)
def dense_backward(seg_elem, seg_len, seg_reg, seg_src, src, grad, elem_offset, elems, grad_addr, compute, record,
                   line_bytes, out, pos):
    """Zero the gradient buffer (the parameters' shape), then scatter-add every segment into it."""
    for reg in range(elems.shape[0]):
        if compute:
            for j in range(elem_offset[reg], elem_offset[reg] + elems[reg]):
                grad[ix(j)] = np.float32(0.0)
        if record:
            pos = emit_lines(out, pos, grad_addr[reg], elems[reg] * 4, line_bytes, True)
    for c in range(seg_elem.shape[0]):
        e, n, s = seg_elem[c], seg_len[c], seg_src[c]
        if compute:
            for j in range(n):
                grad[ix(e + j)] += src[ix(s + j)]
        if record:
            reg = seg_reg[c]
            pos = emit_rmw(out, pos, grad_addr[reg] + (e - elem_offset[reg]) * 4, n * 4, line_bytes)
    return pos


@njit(cache=True, inline="always")
def _row_len(reg, local, elems, width):
    return min(width[reg], elems[reg] - local * width[reg])


@njit(cache=True)
def radix_order(ids):
    """Stable argsort of non-negative int64 ids: least-significant-digit radix sort, 8 bits a
    pass, as many passes as the largest id has bytes (the GPU libraries' sort of unique ids)."""
    n = ids.shape[0]
    order, keys = np.arange(n), ids.copy()
    order_tmp, keys_tmp = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    top = keys.max() if n else 0
    shift = 0
    while (top >> shift) > 0:
        count = np.zeros(257, dtype=np.int64)
        for i in range(n):
            count[((keys[i] >> shift) & 255) + 1] += 1
        for d in range(256):
            count[d + 1] += count[d]
        for i in range(n):
            d = (keys[i] >> shift) & 255
            at = count[d]
            keys_tmp[at], order_tmp[at] = keys[i], order[i]
            count[d] = at + 1
        keys, keys_tmp = keys_tmp, keys
        order, order_tmp = order_tmp, order
        shift += 8
    return order


@njit(cache=True)
def sparse_rows(seg_elem, seg_len, seg_reg, elem_offset, elems, width, row_base):
    """Unique rows of the segments: (piece row id, piece region, piece slot, unique row ids,
    their regions, compact offsets (floats, len unique + 1)). A piece is a segment's part
    within one parameter row (ROBE's unaligned chunks span two)."""
    count = 0
    for c in range(seg_elem.shape[0]):
        reg = seg_reg[c]
        lo = (seg_elem[c] - elem_offset[reg]) // width[reg]
        hi = (seg_elem[c] + seg_len[c] - 1 - elem_offset[reg]) // width[reg]
        count += hi - lo + 1
    ids = np.empty(count, dtype=np.int64)
    regs = np.empty(count, dtype=np.int64)
    p = 0
    for c in range(seg_elem.shape[0]):
        reg = seg_reg[c]
        lo = (seg_elem[c] - elem_offset[reg]) // width[reg]
        hi = (seg_elem[c] + seg_len[c] - 1 - elem_offset[reg]) // width[reg]
        for r in range(lo, hi + 1):
            ids[p] = row_base[reg] + r
            regs[p] = reg
            p += 1
    order = radix_order(ids)
    slot = np.empty(count, dtype=np.int64)
    uniq = np.empty(count, dtype=np.int64)
    ureg = np.empty(count, dtype=np.int64)
    nu = 0
    for q in range(count):
        p = order[q]
        if nu == 0 or uniq[nu - 1] != ids[p]:
            uniq[nu] = ids[p]
            ureg[nu] = regs[p]
            nu += 1
        slot[p] = nu - 1
    coff = np.empty(nu + 1, dtype=np.int64)
    coff[0] = 0
    for u in range(nu):
        reg = ureg[u]
        coff[u + 1] = coff[u] + _row_len(reg, uniq[u] - row_base[reg], elems, width)
    return ids, slot, uniq[:nu].copy(), ureg[:nu].copy(), coff


@njit(cache=True)
def sparse_backward(seg_elem, seg_len, seg_reg, seg_src, src, ids, slot, uniq, coff, compact, elem_offset, width,
                    row_base, unique_addr, compact_addr, compute, record, line_bytes, out, pos):
    """Write the unique row ids, zero the compact gradient rows, scatter-add every segment's
    pieces (row ``ids[p]``, unique slot ``slot[p]``) into its rows' compact slots."""
    nu = uniq.shape[0]
    if record and nu > 0:
        pos = emit_lines(out, pos, unique_addr, nu * 8, line_bytes, True)
    total = coff[nu]
    if compute:
        for j in range(total):
            compact[ix(j)] = np.float32(0.0)
    if record and total > 0:
        pos = emit_lines(out, pos, compact_addr, total * 4, line_bytes, True)
    p = 0
    for c in range(seg_elem.shape[0]):
        reg, e, n, s = seg_reg[c], seg_elem[c], seg_len[c], seg_src[c]
        end = e + n
        while e < end:
            u = slot[p]
            row_start = elem_offset[reg] + (ids[p] - row_base[reg]) * width[reg]
            stop = min(end, row_start + width[reg])
            at = coff[u] + (e - row_start)
            if compute:
                for j in range(stop - e):
                    compact[ix(at + j)] += src[ix(s + j)]
            if record:
                pos = emit_rmw(out, pos, compact_addr + at * 4, (stop - e) * 4, line_bytes)
            s += stop - e
            e = stop
            p += 1
    return pos


@njit(cache=True, inline="always")
def _update_row(weights, g, gi, wi, n, state, si, adagrad, lr, eps):
    """One row: SGD w -= lr g; row-wise Adagrad state += mean(g^2), w -= lr g / (sqrt(state) + eps)."""
    if adagrad:
        acc = np.float32(0.0)
        for j in range(n):
            acc += g[ix(gi + j)] * g[ix(gi + j)]
        state[ix(si)] += acc / np.float32(n)
        scale = np.float32(lr) / (np.sqrt(state[ix(si)]) + np.float32(eps))
    else:
        scale = np.float32(lr)
    for j in range(n):
        weights[ix(wi + j)] -= scale * g[ix(gi + j)]


@njit(cache=True, inline="always")
def _emit_update(out, pos, g_addr, w_addr, s_addr, n, adagrad, line_bytes):
    if adagrad:
        pos = emit_lines(out, pos, g_addr, n * 4, line_bytes, False)
        pos = emit_lines(out, pos, s_addr, 4, line_bytes, False)
        pos = emit_lines(out, pos, s_addr, 4, line_bytes, True)
    pos = emit_lines(out, pos, g_addr, n * 4, line_bytes, False)
    pos = emit_lines(out, pos, w_addr, n * 4, line_bytes, False)
    return emit_lines(out, pos, w_addr, n * 4, line_bytes, True)


@njit(cache=True)
def dense_update(weights, grad, state, elem_offset, elems, width, row_base, param_addr, grad_addr, state_addr,
                 adagrad, lr, eps, compute, record, line_bytes, out, pos):
    """Every row of every parameter array, from the full gradient buffer."""
    for reg in range(elems.shape[0]):
        rows = (elems[reg] + width[reg] - 1) // width[reg]
        for r in range(rows):
            n = _row_len(reg, r, elems, width)
            e = elem_offset[reg] + r * width[reg]
            if compute:
                _update_row(weights, grad, e, e, n, state, row_base[reg] + r, adagrad, lr, eps)
            if record:
                off = r * width[reg] * 4
                pos = _emit_update(out, pos, grad_addr[reg] + off, param_addr[reg] + off, state_addr[reg] + r * 4, n,
                                   adagrad, line_bytes)
    return pos


@njit(cache=True)
def sparse_update(weights, compact, state, uniq, ureg, coff, elem_offset, width, row_base, param_addr, state_addr,
                  unique_addr, compact_addr, adagrad, lr, eps, compute, record, line_bytes, out, pos):
    """The touched rows only: read a unique row id, then update that row from its compact gradient."""
    for u in range(uniq.shape[0]):
        reg = ureg[u]
        r = uniq[u] - row_base[reg]
        n = coff[u + 1] - coff[u]
        e = elem_offset[reg] + r * width[reg]
        if compute:
            _update_row(weights, compact, coff[u], e, n, state, uniq[u], adagrad, lr, eps)
        if record:
            pos = emit_lines(out, pos, unique_addr + u * 8, 8, line_bytes, False)
            pos = _emit_update(out, pos, compact_addr + coff[u] * 4, param_addr[reg] + r * width[reg] * 4,
                               state_addr[reg] + r * 4, n, adagrad, line_bytes)
    return pos
