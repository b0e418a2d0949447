"""Seeded synthetic traces for tests and benchmarks: Zipf-distributed row lookups.

Each lookup draws a row rank from a Zipf law with exponent ``alpha`` truncated to
``num_rows`` (inverse-CDF sampling), scatters ranks over the table with the bijection
``row = rank * A mod num_rows`` (A coprime to num_rows, so hot rows are not adjacent),
then reads the row's ``row_bytes / line_bytes`` consecutive lines. Streamed in chunks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

_SCATTER = 2654435761  # Knuth's multiplicative constant, made coprime to num_rows below


def _scatter_multiplier(num_rows: int) -> int:
    a = _SCATTER % num_rows or 1
    while math.gcd(a, num_rows) != 1:
        a += 1
    return a


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
    """Yield uint64 chunks of line-aligned byte addresses, ``accesses`` line accesses in all."""
    if num_rows <= 0 or accesses < 0 or row_bytes % line_bytes or alpha <= 0:
        raise ValueError("need num_rows > 0, accesses >= 0, alpha > 0 and row_bytes a multiple of line_bytes")
    lines_per_row = row_bytes // line_bytes
    weights = np.arange(1, num_rows + 1, dtype=np.float64) ** -alpha
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    del weights
    mult = np.uint64(_scatter_multiplier(num_rows))
    rng = np.random.default_rng(seed)
    offsets = np.arange(lines_per_row, dtype=np.uint64) * np.uint64(line_bytes)
    rows_per_chunk = max(1, chunk_entries // lines_per_row)
    total_rows = -(-accesses // lines_per_row)
    emitted = 0
    done_rows = 0
    while done_rows < total_rows:
        n = min(rows_per_chunk, total_rows - done_rows)
        ranks = np.searchsorted(cdf, rng.random(n), side="right").astype(np.uint64)
        ranks = np.minimum(ranks, np.uint64(num_rows - 1))
        rows = (ranks * mult) % np.uint64(num_rows)  # rank < 2**24-ish * mult < 2**64 for tables below ~7e9 rows
        addrs = (np.uint64(base_addr) + rows * np.uint64(row_bytes))[:, None] + offsets[None, :]
        chunk = addrs.reshape(-1)
        take = min(chunk.size, accesses - emitted)
        emitted += take
        done_rows += n
        yield np.ascontiguousarray(chunk[:take])
