"""Slow, obviously-correct pure-Python references of every representation.

The oracle the Numba kernels and emitters are tested against: plain Python ints
(no numba, no uint64 wrap-around tricks) for the index arithmetic, numpy only for
adding up rows. Everything derived is derived here, from the published definitions
(SPEC section 2, the representation modules' docstrings) and the primary inputs only:
the workload's cardinalities and dim and the config's fields. Factorisations, hash
parameters, array sizes and the address layout are recomputed, not read from the
object under test, so a wrong one there makes the comparison fail.

``reference_reads`` lists the (byte address, byte count) reads of a batch in kernel
order; ``reference_lines`` expands them into line addresses; ``reference_pooled``
computes the pooled embeddings from the representation's allocated float32 buffer.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from traces.batch import Batch
from traces.layout import LAYOUT_BASE, PAGE_BYTES
from traces.representations import Representation
from traces.wyhash import SEEDS, wyhash64_key_py

_P = 2038074743  # ROBE's prime
_MASK64 = (1 << 64) - 1


# --------------------------------------------------------------------------- definitions

def _mas(a: int, b: int, key: int, n: int) -> int:
    """Multiply-add-shift hash ((a*key + b) mod 2**64) >> 32, reduced to [0, n) by (h * n) >> 32."""
    h32 = ((int(a) * key + int(b)) & _MASK64) >> 32
    return (h32 * n) >> 32


def _splitmix64(x: int) -> int:
    z = (x + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _hash_params(seed: int, count: int, stream: int) -> list[tuple[int, int]]:
    """``count`` (a, b) pairs: SplitMix64 steps from seed * FNV prime + stream * golden ratio; a odd."""
    state = (seed * 0x100000001B3 + stream * 0x9E3779B1) & _MASK64
    out = []
    for _ in range(count):
        state = _splitmix64(state)
        a = state | 1
        state = _splitmix64(state)
        out.append((a, state))
    return out


def _row_factors(rows: int) -> tuple[int, int, int]:
    """p1 = p2 = ceil(cbrt(rows)) (the smallest p with p**3 >= rows), p3 = ceil(rows / p**2)."""
    p = 1
    while p ** 3 < rows:
        p += 1
    return p, p, -(-rows // (p * p))


def _dim_factors(dim: int) -> tuple[int, int, int]:
    """q1 <= q2 <= q3 with q1*q2*q3 = dim and the smallest q3 (then the smallest q1), by search."""
    triples = [(a, b, dim // (a * b)) for a in range(1, dim + 1) for b in range(a, dim + 1)
               if dim % (a * b) == 0 and dim // (a * b) >= b]
    return min(triples, key=lambda q: (q[2], q[0]))


class _Model:
    """The arrays (name, float count, in layout order) and the reads of one lookup of ``rep``."""

    def __init__(self, rep: Representation):
        self.name = rep.name
        self.c = rep.config
        self.n = [int(v) for v in rep.workload.cardinalities]
        self.dim = int(rep.workload.dim)
        self.val_offsets = [sum(self.n[:t]) for t in range(len(self.n))]
        self.arrays = self._arrays()
        self.base_addr, self.first_elem = {}, {}
        addr, elem = LAYOUT_BASE, 0
        for name, floats in self.arrays:
            self.base_addr[name], self.first_elem[name] = addr, elem
            elem += floats
            addr = -(-(addr + 4 * floats) // PAGE_BYTES) * PAGE_BYTES

    def _arrays(self) -> list[tuple[str, int]]:
        c, n, dim = self.c, self.n, self.dim
        if self.name == "dlrm":
            return [(f"table_{t}", rows * dim) for t, rows in enumerate(n)]
        if self.name == "hashing":
            return [(f"table_{t}", min(rows, c.rows) * dim) for t, rows in enumerate(n)]
        if self.name == "qr":
            cols = dim // 2 if c.combine == "concat" else dim
            out = []
            for t, rows in enumerate(n):
                if rows > c.threshold:
                    out += [(f"q_{t}", -(-rows // c.collisions) * cols), (f"r_{t}", c.collisions * cols)]
                else:
                    out.append((f"table_{t}", rows * dim))
            return out
        if self.name == "robe":
            if c.size_floats is not None:
                self.size = c.size_floats
            else:
                self.size = max(c.chunk, math.ceil(Fraction(sum(n) * dim) / Fraction(c.compression)))
            return [("robe_memory", self.size)]
        if self.name == "ttrec":
            self.q = _dim_factors(dim)
            r = c.rank
            self.slice = (self.q[0] * r, r * self.q[1] * r, r * self.q[2])
            out = []
            for t, rows in enumerate(n):
                if rows >= c.min_rows:
                    p = _row_factors(rows)
                    out += [(f"core{k + 1}_{t}", p[k] * self.slice[k]) for k in range(3)]
                else:
                    out.append((f"table_{t}", rows * dim))
            return out
        if self.name == "memrec":
            self.tok_params = _hash_params(c.hash_seed, c.k, stream=0)
            self.w_params = _hash_params(c.hash_seed, c.k_weight, stream=1)
            pair = [("token_table", c.d * dim), ("weight_table", c.d_weight * c.weight_width)]
            if c.shared:
                return pair
            return [(f"{name}_{t}", floats) for t in range(len(n)) for name, floats in pair]
        raise ValueError(f"no reference for {self.name}")

    def reads(self, t: int, local: int) -> list[tuple[str, int, int]]:
        """(array name, first float, float count) read for one lookup, in kernel order."""
        c, dim, n = self.c, self.dim, self.n[t]
        gid = self.val_offsets[t] + local
        if self.name == "dlrm":
            return [(f"table_{t}", local * dim, dim)]
        if self.name == "hashing":
            if n <= c.rows:
                return [(f"table_{t}", local * dim, dim)]
            a, b = _hash_params(c.hash_seed, 1, stream=0)[0]
            return [(f"table_{t}", _mas(a, b, gid, c.rows) * dim, dim)]
        if self.name == "qr":
            if n <= c.threshold:
                return [(f"table_{t}", local * dim, dim)]
            cols = dim // 2 if c.combine == "concat" else dim
            q, r = divmod(local, c.collisions)
            return [(f"q_{t}", q * cols, cols), (f"r_{t}", r * cols, cols)]
        if self.name == "robe":
            z = c.chunk
            span = self.size - z + 1
            return [("robe_memory", ((gid * c.r3 + chunk * c.r2 + c.r1) % _P) % span,
                     min(dim, (chunk + 1) * z) - chunk * z) for chunk in range(-(-dim // z))]
        if self.name == "ttrec":
            if n < c.min_rows:
                return [(f"table_{t}", local * dim, dim)]
            _, p2, p3 = _row_factors(n)
            digits = (local // (p2 * p3), (local // p3) % p2, local % p3)
            return [(f"core{k + 1}_{t}", digits[k] * self.slice[k], self.slice[k]) for k in range(3)]
        # memrec (feature pooling): the k' weight entries, then the k token rows
        tok, wts = self.memrec_rows(t, local)
        return self.memrec_weight_reads(t, wts) + self.memrec_token_reads(t, tok)

    def memrec_rows(self, t: int, local: int) -> tuple[list[int], list[int]]:
        """Mem-Rec's k token rows and k' weight rows of token ``local`` of feature ``t``."""
        c = self.c
        if c.hash == "mas":
            key = self.val_offsets[t] + local if c.shared else local
            return ([_mas(a, b, key, c.d) for a, b in self.tok_params],
                    [_mas(a, b, key, c.d_weight) for a, b in self.w_params])
        # wyhash, as released: key = feature * 430000000 + token; the first call gives the first
        # token row (high 32 bits) and weight row (low 32 bits); extra calls with the next seeds
        # give more 32-bit values (high, then low), the token rows' first, then the weights'.
        key = t * 430_000_000 + local
        first = wyhash64_key_py(key, SEEDS[0])
        extra = []
        for seed in SEEDS[1:]:
            if len(extra) >= c.k + c.k_weight - 2:
                break
            h = wyhash64_key_py(key, seed)
            extra += [h >> 32, h & 0xFFFFFFFF]
        tok = [(first >> 32) % c.d] + [v % c.d for v in extra[: c.k - 1]]
        wts = [(first & 0xFFFFFFFF) % c.d_weight] + [v % c.d_weight for v in extra[c.k - 1: c.k + c.k_weight - 2]]
        return tok, wts

    def memrec_token_reads(self, t: int, rows: list[int]) -> list[tuple[str, int, int]]:
        suffix = "" if self.c.shared else f"_{t}"
        return [(f"token_table{suffix}", r * self.dim, self.dim) for r in rows]

    def memrec_weight_reads(self, t: int, rows: list[int]) -> list[tuple[str, int, int]]:
        suffix = "" if self.c.shared else f"_{t}"
        w = self.c.weight_width
        return [(f"weight_table{suffix}", r * w, w) for r in rows]

    def embedding(self, weights: np.ndarray, t: int, local: int) -> np.ndarray:
        """The (unpooled) embedding of one token, float64, from the flat float32 buffer."""
        dim, c = self.dim, self.c
        reads = [(name, weights[self.first_elem[name] + first: self.first_elem[name] + first + count]
                  .astype(np.float64)) for name, first, count in self.reads(t, local)]
        if self.name == "qr" and len(reads) == 2:
            q, r = reads[0][1], reads[1][1]
            return {"mult": q * r, "add": q + r, "concat": np.concatenate([q, r])}[c.combine]
        if self.name == "robe":
            return np.concatenate([v for _, v in reads])
        if self.name == "ttrec" and len(reads) == 3:
            q1, q2, q3 = self.q
            r = c.rank
            g1 = reads[0][1].reshape(q1, r)
            g2 = reads[1][1].reshape(r, q2, r)
            g3 = reads[2][1].reshape(r, q3)
            return np.einsum("au,ubv,vc->abc", g1, g2, g3).reshape(dim)
        if self.name == "memrec":
            alpha = sum(v for name, v in reads if name.startswith("weight"))
            rows = sum(v for name, v in reads if name.startswith("token"))
            return np.repeat(alpha, dim // c.weight_width) * rows
        return reads[0][1]


def _lookups(model: _Model, batch: Batch):
    """(feature, sample, local id) of every lookup in kernel order."""
    for t in range(batch.num_features):
        for b in range(batch.batch_size):
            for token in batch.bag(t, b):
                yield t, b, int(token) % model.n[t]


# --------------------------------------------------------------------------- the oracle

def _per_sample(model: _Model) -> bool:
    return model.name == "memrec" and model.c.pooling == "sample"


def _sample_bag_reads(model: _Model, batch: Batch, b: int, table: str) -> list[tuple[str, int, int]]:
    """Mem-Rec sample pooling: the reads of sample b's token bag (or weight bag): hash number
    major, feature minor, a feature's tokens in bag order."""
    c = model.c
    hashes = c.k if table == "token" else c.k_weight
    reads = []
    for j in range(hashes):
        for t in range(batch.num_features):
            for token in batch.bag(t, b):
                tok, wts = model.memrec_rows(t, int(token) % model.n[t])
                if table == "token":
                    reads += model.memrec_token_reads(t, [tok[j]])
                else:
                    reads += model.memrec_weight_reads(t, [wts[j]])
    return reads


def _read_sequence(model: _Model, batch: Batch) -> list[tuple[str, int, int]]:
    if _per_sample(model):  # the whole batch's token bag, then its weight bag
        return [read for table in ("token", "weight") for b in range(batch.batch_size)
                for read in _sample_bag_reads(model, batch, b, table)]
    return [read for t, _, local in _lookups(model, batch) for read in model.reads(t, local)]


def reference_reads(rep: Representation, batch: Batch) -> list[tuple[int, int]]:
    """(byte address, byte count) of every contiguous read, in kernel order."""
    model = _Model(rep)
    return [(model.base_addr[name] + 4 * first, 4 * count) for name, first, count in _read_sequence(model, batch)]


def reference_lines(rep: Representation, batch: Batch, line_bytes: int = 64) -> list[int]:
    """Line-aligned byte addresses of every line touched, in kernel order."""
    lines = []
    for addr, nbytes in reference_reads(rep, batch):
        for line in range(addr // line_bytes, (addr + nbytes - 1) // line_bytes + 1):
            lines.append(line * line_bytes)
    return lines


def reference_pooled(rep: Representation, batch: Batch) -> np.ndarray:
    """Sum-pooled embeddings (num_features, batch_size, dim), float64, from ``rep.weights``
    (Mem-Rec with sample pooling: (1, batch_size, dim))."""
    if rep.weights is None:
        raise ValueError(f"{rep.name}: call allocate() before computing the reference embeddings")
    model = _Model(rep)
    total = sum(floats for _, floats in model.arrays)
    if rep.weights.size != total:
        raise ValueError(f"{rep.name}: the buffer holds {rep.weights.size} floats, the definitions need {total}")
    if _per_sample(model):  # one bag per sample: (sum of token rows) * (sum of weight entries)
        out = np.zeros((1, batch.batch_size, model.dim))
        for b in range(batch.batch_size):
            values = {table: [rep.weights[model.first_elem[name] + first: model.first_elem[name] + first + count]
                              .astype(np.float64) for name, first, count in _sample_bag_reads(model, batch, b, table)]
                      for table in ("token", "weight")}
            if values["token"]:
                alpha = np.sum(values["weight"], axis=0)
                out[0, b] = np.repeat(alpha, model.dim // model.c.weight_width) * np.sum(values["token"], axis=0)
        return out
    out = np.zeros((batch.num_features, batch.batch_size, model.dim))
    for t, b, local in _lookups(model, batch):
        out[t, b] += model.embedding(rep.weights, t, local)
    return out
