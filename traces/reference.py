"""Slow, obviously-correct pure-Python references of every representation.

The oracle the Numba kernels and emitters are tested against: plain Python ints
(no numba, no uint64 wrap-around tricks) for the index arithmetic, numpy only for
adding up rows. ``reference_reads`` lists the (byte address, byte count) reads of
a batch in kernel order; ``reference_lines`` expands them into line addresses;
``reference_pooled`` computes the pooled embeddings.
"""

from __future__ import annotations

import numpy as np

from traces.batch import Batch
from traces.representations import Representation

_P = 2038074743
_MASK64 = (1 << 64) - 1


def _mas(a: int, b: int, key: int, n: int) -> int:
    """Multiply-add-shift hash reduced to [0, n) (Lemire), with Python ints."""
    h32 = ((int(a) * key + int(b)) & _MASK64) >> 32
    return (h32 * n) >> 32


def _lookups(rep: Representation, batch: Batch):
    """(feature, sample, local id) of every lookup in kernel order."""
    for t in range(batch.num_features):
        n = int(rep.workload.cardinalities[t])
        for b in range(batch.batch_size):
            for token in batch.bag(t, b):
                yield t, b, int(token) % n


def _region(rep: Representation, name: str):
    for region in rep.layout.regions:
        if region.name == name:
            return region
    raise KeyError(name)


def _factors(rep, t):
    p = [int(v) for v in rep.p_factors[t]]
    return p[0], p[1], p[2]


def _reads_of(rep: Representation, t: int, local: int) -> list[tuple[str, int, int]]:
    """(array name, first float, float count) read for one lookup, in kernel order."""
    dim = rep.dim
    n = int(rep.workload.cardinalities[t])
    gid = sum(rep.workload.cardinalities[:t]) + local
    c = rep.config
    if rep.name == "dlrm":
        return [(f"table_{t}", local * dim, dim)]
    if rep.name == "hashing":
        row = local if n <= c.rows else _mas(rep.params[0], rep.params[1], gid, c.rows)
        return [(f"table_{t}", row * dim, dim)]
    if rep.name == "qr":
        if n <= c.threshold:
            return [(f"table_{t}", local * dim, dim)]
        cols = dim // 2 if c.combine == "concat" else dim
        q, r = divmod(local, c.collisions)
        return [(f"q_{t}", q * cols, cols), (f"r_{t}", r * cols, cols)]
    if rep.name == "robe":
        z = c.chunk
        span = rep.size_floats - z + 1
        reads = []
        for chunk in range((dim + z - 1) // z):
            loc = ((gid * c.r3 + chunk * c.r2 + c.r1) % _P) % span
            reads.append(("robe_memory", loc, min(dim, (chunk + 1) * z) - chunk * z))
        return reads
    if rep.name == "ttrec":
        if n < c.min_rows:
            return [(f"table_{t}", local * dim, dim)]
        _, p2, p3 = _factors(rep, t)
        digits = (local // (p2 * p3), (local // p3) % p2, local % p3)
        q1, q2, q3 = (int(v) for v in rep.q_factors)
        r = c.rank
        sizes = (q1 * r, r * q2 * r, r * q3)
        return [(f"core{k + 1}_{t}", digits[k] * sizes[k], sizes[k]) for k in range(3)]
    if rep.name == "memrec":
        key = gid if c.shared else local
        suffix = "" if c.shared else f"_{t}"
        reads = [(f"weight_table{suffix}", _mas(a, b, key, c.d_weight) * c.weight_width, c.weight_width)
                 for a, b in rep.w_params]
        reads += [(f"token_table{suffix}", _mas(a, b, key, c.d) * dim, dim) for a, b in rep.tok_params]
        return reads
    raise ValueError(f"no reference for {rep.name}")


def reference_reads(rep: Representation, batch: Batch) -> list[tuple[int, int]]:
    """(byte address, byte count) of every contiguous read, in kernel order."""
    out = []
    for t, _, local in _lookups(rep, batch):
        for name, first, count in _reads_of(rep, t, local):
            out.append((_region(rep, name).base_addr + 4 * first, 4 * count))
    return out


def reference_lines(rep: Representation, batch: Batch, line_bytes: int = 64) -> list[int]:
    """Line-aligned byte addresses of every line touched, in kernel order."""
    lines = []
    for addr, nbytes in reference_reads(rep, batch):
        for line in range(addr // line_bytes, (addr + nbytes - 1) // line_bytes + 1):
            lines.append(line * line_bytes)
    return lines


def reference_embedding(rep: Representation, t: int, local: int) -> np.ndarray:
    """The (unpooled) embedding of one token, float64, from the allocated arrays."""
    dim = rep.dim
    reads = [(name, rep.array(name)[first : first + count].astype(np.float64))
             for name, first, count in _reads_of(rep, t, local)]
    c = rep.config
    if rep.name == "qr" and len(reads) == 2:
        q, r = reads[0][1], reads[1][1]
        return {"mult": q * r, "add": q + r, "concat": np.concatenate([q, r])}[c.combine]
    if rep.name == "robe":
        return np.concatenate([v for _, v in reads])
    if rep.name == "ttrec" and len(reads) == 3:
        q1, q2, q3 = (int(v) for v in rep.q_factors)
        r = c.rank
        g1 = reads[0][1].reshape(q1, r)
        g2 = reads[1][1].reshape(r, q2, r)
        g3 = reads[2][1].reshape(r, q3)
        return np.einsum("au,ubv,vc->abc", g1, g2, g3).reshape(dim)
    if rep.name == "memrec":
        width = c.weight_width
        alpha = sum(v for name, v in reads if name.startswith("weight"))
        rows = sum(v for name, v in reads if name.startswith("token"))
        return np.repeat(alpha, dim // width) * rows
    return reads[0][1]


def reference_pooled(rep: Representation, batch: Batch) -> np.ndarray:
    """Sum-pooled embeddings (num_features, batch_size, dim), float64."""
    out = np.zeros((batch.num_features, batch.batch_size, rep.dim))
    for t, b, local in _lookups(rep, batch):
        out[t, b] += reference_embedding(rep, t, local)
    return out
