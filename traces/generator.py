"""Seeded synthetic token ids: bounded Zipf popularity, hot ids scattered, pooled bags.

Popularity: rank k in 1..n is drawn with probability proportional to k**-alpha over
the table's n rows (bounded Zipf; alpha >= 0, alpha <= 1 included; alpha = 0 is
uniform) by rejection-inversion sampling (Hoermann & Derflinger 1996, the algorithm
of Apache Commons' RejectionInversionZipfSampler): O(1) time and memory per draw,
no per-table CDF, so a 40M-row table costs nothing up front.

Scatter: rank k maps to row ``perm_t(k - 1)``, a seeded pseudo-random permutation of
``[0, n)`` per feature: a 4-round Feistel network (multiplicative round function) on the
smallest even-bit domain >= n with cycle walking (a bijection, O(1) memory).

Active rows (``active_reuse`` r > 0, what the skew presets of traces.skew use): a batch
draws each feature's ranks from its ceil(L / r) hottest ranks only, L the feature's lookups
in that batch, so a batch reads about L / r distinct rows of even a huge table, as Meta's
production batches do; the hot ranks keep their scattered rows from batch to batch.

Bags: pooling factor per feature is fixed (an int, or one per feature) or drawn
per bag from ``poisson:MEAN`` or ``uniform:LO-HI`` (inclusive); Poisson bags may be
empty. Random bits come from SplitMix64 keyed by (seed, batch number, feature), so
batch b is the same whatever was generated before it.

Row traces (``zipf_row_trace``, for simulator tests and benchmarks): the same sampler
and scatter over one table, each drawn row read as its consecutive cache lines.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numba import njit

from traces.batch import Batch
from traces.hashing import splitmix64, splitmix64_py, unit_double
from traces.workloads import Workload

POOL_FIXED, POOL_POISSON, POOL_UNIFORM = 0, 1, 2


# --- bounded Zipf by rejection-inversion -------------------------------------------------


def _helper1(x: float) -> float:  # log1p(x)/x
    return math.log1p(x) / x if abs(x) > 1e-8 else 1 - x * (0.5 - x * (1 / 3 - 0.25 * x))


def _helper2(x: float) -> float:  # expm1(x)/x
    return math.expm1(x) / x if abs(x) > 1e-8 else 1 + x * 0.5 * (1 + x / 3 * (1 + 0.25 * x))


def _h_integral(x: float, s: float) -> float:
    log_x = math.log(x)
    return _helper2((1 - s) * log_x) * log_x


def _h_integral_inverse(x: float, s: float) -> float:
    t = max(x * (1 - s), -1.0)
    return math.exp(_helper1(t) * x)


def zipf_constants(n: int, alpha: float) -> tuple[float, float, float]:
    """(H(1.5) - 1, H(n + 0.5), squeeze s) of the rejection-inversion sampler."""
    h_x1 = _h_integral(1.5, alpha) - 1.0
    h_n = _h_integral(n + 0.5, alpha)
    squeeze = 2.0 - _h_integral_inverse(_h_integral(2.5, alpha) - math.exp(-alpha * math.log(2.0)), alpha)
    return h_x1, h_n, squeeze


@njit(cache=True, inline="always")
def _nb_helper1(x):
    if abs(x) > 1e-8:
        return math.log1p(x) / x
    return 1.0 - x * (0.5 - x * (0.3333333333333333 - 0.25 * x))


@njit(cache=True, inline="always")
def _nb_helper2(x):
    if abs(x) > 1e-8:
        return math.expm1(x) / x
    return 1.0 + x * 0.5 * (1.0 + x * 0.3333333333333333 * (1.0 + 0.25 * x))


@njit(cache=True, inline="always")
def _nb_h_n(n, alpha):
    """H(n + 0.5) of the sampler for ``n`` ranks (the only constant that depends on n)."""
    log_x = math.log(n + 0.5)
    return _nb_helper2((1.0 - alpha) * log_x) * log_x


@njit(cache=True)
def zipf_rank(state, n, alpha, h_x1, h_n, squeeze):
    """Draw a rank in [1, n]; returns (rank, advanced rng state)."""
    while True:
        state = splitmix64(state)
        u = h_n + unit_double(state) * (h_x1 - h_n)
        t = u * (1.0 - alpha)
        if t < -1.0:
            t = -1.0
        x = math.exp(_nb_helper1(t) * u)
        k = np.int64(x + 0.5)
        if k < 1:
            k = 1
        elif k > n:
            k = n
        if k - x <= squeeze:
            return k, state
        log_k5 = math.log(k + 0.5)
        if u >= _nb_helper2((1.0 - alpha) * log_k5) * log_k5 - math.exp(-alpha * math.log(k)):
            return k, state


# --- seeded permutation of [0, n) ----------------------------------------------------------


_ROUND_MUL = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True)
def feistel_permute(value, n, half_bits, key):
    """Bijection of [0, n): 4-round Feistel on 2*half_bits bits with cycle walking."""
    mask = (np.uint64(1) << np.uint64(half_bits)) - np.uint64(1)
    x = np.uint64(value)
    while True:
        left = x >> np.uint64(half_bits)
        right = x & mask
        for r in range(4):
            mixed = (right + np.uint64(key) + np.uint64(r) * np.uint64(0x632BE59BD9B4E019)) * _ROUND_MUL
            left, right = right, left ^ ((mixed >> np.uint64(29)) & mask)
        x = (left << np.uint64(half_bits)) | right
        if x < np.uint64(n):
            return np.int64(x)


def feistel_half_bits(n: int) -> int:
    """Half the bit width of the smallest even-bit power of two >= n (at least 1)."""
    bits = max(1, (n - 1).bit_length())
    return max(1, (bits + 1) // 2)


# --- pooling -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pooling:
    """Bag size per feature: fixed sizes, or a per-bag Poisson / uniform distribution."""

    kind: int  # POOL_FIXED / POOL_POISSON / POOL_UNIFORM
    params: tuple[tuple[float, float], ...]  # per feature: (size, 0) / (mean, 0) / (lo, hi)

    def describe(self) -> str:
        if self.kind == POOL_FIXED:
            sizes = {int(p[0]) for p in self.params}
            return f"fixed:{sizes.pop()}" if len(sizes) == 1 else "fixed:" + ",".join(str(int(p[0])) for p in self.params)
        if self.kind == POOL_POISSON:
            return f"poisson:{self.params[0][0]:g}"
        return f"uniform:{int(self.params[0][0])}-{int(self.params[0][1])}"


def parse_pooling(spec, num_features: int, default: tuple[int, ...] | None = None) -> Pooling:
    """Parse a pooling spec: None (workload default, else 1), an int, "3,2,1,...", "poisson:10", "uniform:1-20"."""
    if spec is None:
        sizes = default if default is not None else (1,) * num_features
        return Pooling(POOL_FIXED, tuple((float(s), 0.0) for s in sizes))
    if isinstance(spec, int):
        spec = str(spec)
    text = str(spec).strip().lower()
    try:
        if text.startswith("poisson:"):
            mean = float(text.split(":", 1)[1])
            if not mean >= 0 or math.isinf(mean):
                raise ValueError
            return Pooling(POOL_POISSON, ((mean, 0.0),) * num_features)
        if text.startswith("uniform:"):
            lo, hi = (int(v) for v in text.split(":", 1)[1].split("-"))
            if lo < 0 or hi < lo:
                raise ValueError
            return Pooling(POOL_UNIFORM, ((float(lo), float(hi)),) * num_features)
        sizes = [int(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(
            f"pooling {spec!r}: expected a bag size (e.g. 1), one per feature (e.g. 3,2,1,...), "
            "'poisson:MEAN' (MEAN >= 0) or 'uniform:LO-HI' (0 <= LO <= HI)"
        ) from None
    if len(sizes) == 1:
        sizes = sizes * num_features
    if len(sizes) != num_features or any(s < 0 for s in sizes):
        raise ValueError(
            f"pooling {spec!r}: needs one non-negative bag size or exactly {num_features} (one per feature)"
        )
    return Pooling(POOL_FIXED, tuple((float(s), 0.0) for s in sizes))


@njit(cache=True)
def _bag_size(state, kind, p0, p1):
    if kind == POOL_FIXED:
        return np.int64(p0), state
    if kind == POOL_UNIFORM:
        state = splitmix64(state)
        span = np.int64(p1) - np.int64(p0) + 1
        return np.int64(p0) + np.int64(unit_double(state) * span), state
    # Poisson: inversion for small means, rounded normal approximation above 64.
    if p0 > 64.0:
        state = splitmix64(state)
        u1 = max(unit_double(state), 1e-300)
        state = splitmix64(state)
        u2 = unit_double(state)
        z = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
        return max(np.int64(0), np.int64(round(p0 + math.sqrt(p0) * z))), state
    state = splitmix64(state)
    u = unit_double(state)
    k = np.int64(0)
    prob = math.exp(-p0)
    cdf = prob
    while u > cdf and k < 10000:
        k += 1
        prob *= p0 / k
        cdf += prob
    return k, state


@njit(cache=True)
def _generate(batch_key, batch_size, rows, alpha, zipf_c, half_bits, perm_keys, pool_kind, pool_params,
              active_reuse):
    num_features = rows.shape[0]
    offsets = np.empty(num_features * batch_size + 1, dtype=np.int64)
    offsets[0] = 0
    states = np.empty(num_features, dtype=np.uint64)
    for t in range(num_features):
        state = splitmix64(np.uint64(batch_key) ^ (np.uint64(t + 1) * np.uint64(0xD1B54A32D192ED03)))
        for b in range(batch_size):
            size, state = _bag_size(state, pool_kind, pool_params[t, 0], pool_params[t, 1])
            k = t * batch_size + b
            offsets[k + 1] = offsets[k] + size
        states[t] = state
    indices = np.empty(offsets[-1], dtype=np.int64)
    for t in range(num_features):
        state = states[t]
        n = rows[t]
        first, last = offsets[t * batch_size], offsets[(t + 1) * batch_size]
        ranks, h_n = n, zipf_c[t, 1]
        if active_reuse > 0.0:  # the batch draws from its ceil(lookups / reuse) hottest ranks
            ranks = min(n, max(np.int64(1), np.int64(math.ceil((last - first) / active_reuse))))
            h_n = _nb_h_n(ranks, alpha)
        for i in range(first, last):
            rank, state = zipf_rank(state, ranks, alpha, zipf_c[t, 0], h_n, zipf_c[t, 2])
            indices[i] = feistel_permute(rank - 1, n, half_bits[t], perm_keys[t])
    return indices, offsets


class SyntheticGenerator:
    """Deterministic batches of token ids for a workload (see the module docstring)."""

    def __init__(self, workload: Workload, alpha: float = 1.05, pooling=None, seed: int = 0,
                 active_reuse: float = 0.0):
        if not (alpha >= 0 and math.isfinite(alpha)):
            raise ValueError(f"alpha must be a finite number >= 0, got {alpha}")
        if not (active_reuse == 0 or (active_reuse >= 1 and math.isfinite(active_reuse))):
            raise ValueError(f"active_reuse must be 0 (off) or a finite number >= 1, got {active_reuse}")
        self.workload = workload
        self.alpha = float(alpha)
        self.active_reuse = float(active_reuse)
        self.seed = int(seed)
        self.pooling = pooling if isinstance(pooling, Pooling) else parse_pooling(
            pooling, workload.num_features, workload.pooling
        )
        self._rows = np.array(workload.cardinalities, dtype=np.int64)
        self._zipf = np.array([zipf_constants(int(n), self.alpha) for n in self._rows], dtype=np.float64)
        self._half_bits = np.array([feistel_half_bits(int(n)) for n in self._rows], dtype=np.int64)
        keys = []
        state = self.seed & 0xFFFFFFFFFFFFFFFF
        for _ in range(len(self._rows)):
            state = splitmix64_py(state ^ 0xA5A5A5A5)
            keys.append(state)
        self._perm_keys = np.array(keys, dtype=np.uint64)
        self._pool_params = np.array(self.pooling.params, dtype=np.float64)

    def describe(self) -> dict:
        return {
            "generator": "zipf-rejection-inversion",
            "alpha": self.alpha,
            "pooling": self.pooling.describe(),
            "scatter": "feistel-4-round",
            "seed": self.seed,
            **({"active_reuse": self.active_reuse} if self.active_reuse else {}),
        }

    def batch(self, batch_size: int, batch_number: int = 0) -> Batch:
        """Batch ``batch_number`` of ``batch_size`` samples (the same for the same seed)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if batch_number < 0:
            raise ValueError(f"batch_number must be >= 0, got {batch_number}")
        key = np.uint64(splitmix64_py((self.seed & 0xFFFFFFFFFFFFFFFF) ^ splitmix64_py(batch_number)))
        indices, offsets = _generate(
            key, batch_size, self._rows, self.alpha, self._zipf, self._half_bits, self._perm_keys,
            self.pooling.kind, self._pool_params, self.active_reuse,
        )
        return Batch(indices, offsets, self.workload.num_features, batch_size)

    def batches(self, batch_size: int, count: int, start: int = 0):
        """Yield ``count`` consecutive batches."""
        for number in range(start, start + count):
            yield self.batch(batch_size, number)


# --- row-address traces ------------------------------------------------------------------


@njit(cache=True)
def _zipf_rows(state, count, n, alpha, h_x1, h_n, squeeze, half_bits, key, out):
    """Fill out[:count] with scattered bounded-Zipf rows; return the advanced rng state."""
    for i in range(count):
        rank, state = zipf_rank(state, n, alpha, h_x1, h_n, squeeze)
        out[i] = feistel_permute(rank - 1, n, half_bits, key)
    return state


def zipf_row_trace(
    num_rows: int,
    *,
    row_bytes: int = 512,
    line_bytes: int = 64,
    alpha: float = 1.05,
    accesses: int,
    seed: int = 0,
    base_addr: int = 0,
    chunk_entries: int = 1 << 20,
) -> Iterator[np.ndarray]:
    """Yield uint64 chunks of line-aligned byte addresses, ``accesses`` line accesses in all.

    Each lookup draws a row of a ``num_rows``-row table with the generator's bounded-Zipf
    sampler and scatter (see the module docstring) and reads its ``row_bytes // line_bytes``
    consecutive lines at ``base_addr + row * row_bytes``; the stream does not depend on
    ``chunk_entries``. O(1) memory per table, whatever ``num_rows``."""
    if (num_rows <= 0 or accesses < 0 or line_bytes <= 0 or row_bytes <= 0 or row_bytes % line_bytes
            or not (alpha >= 0 and math.isfinite(alpha))):
        raise ValueError("need num_rows > 0, accesses >= 0, a finite alpha >= 0 and row_bytes a positive multiple "
                         "of line_bytes")
    lines_per_row = row_bytes // line_bytes
    h_x1, h_n, squeeze = zipf_constants(int(num_rows), float(alpha))
    half_bits = feistel_half_bits(int(num_rows))
    key = splitmix64_py((int(seed) & 0xFFFFFFFFFFFFFFFF) ^ 0xA5A5A5A5)
    state = np.uint64(splitmix64_py(key ^ 0x5A5A5A5A))
    offsets = np.arange(lines_per_row, dtype=np.uint64) * np.uint64(line_bytes)
    rows_per_chunk = max(1, chunk_entries // lines_per_row)
    rows = np.empty(rows_per_chunk, dtype=np.int64)
    total_rows = -(-accesses // lines_per_row)
    emitted = done_rows = 0
    while done_rows < total_rows:
        n = min(rows_per_chunk, total_rows - done_rows)
        # the state passes as np.uint64: a Python int below 2**63 would type as int64, which
        # Numba unifies with the sampler's uint64 into float64
        state = _zipf_rows(np.uint64(state), n, int(num_rows), float(alpha), h_x1, h_n, squeeze, half_bits,
                           np.uint64(key), rows)
        addrs = (np.uint64(base_addr) + rows[:n].astype(np.uint64) * np.uint64(row_bytes))[:, None] + offsets[None, :]
        chunk = addrs.reshape(-1)
        take = min(chunk.size, accesses - emitted)
        emitted += take
        done_rows += n
        yield np.ascontiguousarray(chunk[:take])
