"""Shared helpers of the tests, as fixtures (the tests import with --import-mode=importlib,
so a helper module could not be imported by name): trace builders and count extractors."""

from __future__ import annotations

import numpy as np
import pytest

from sim.access import WRITE_FLAG, mark_writes
from sim.stats import COUNT_FIELDS
from traces.generator import zipf_row_trace

LINE_BYTES = 64


def _lines_to_addrs(lines, writes=None, line_bytes: int = LINE_BYTES) -> np.ndarray:
    """Byte addresses of line indices (``line * line_bytes``), bit 63 set where ``writes``."""
    addrs = np.asarray(lines, dtype=np.uint64) * np.uint64(line_bytes)
    return addrs if writes is None else mark_writes(addrs, writes)


def _zipf_trace(n: int, rows: int = 20_000, *, seed: int = 1, alpha: float = 0.9, writes: float = 0.0) -> np.ndarray:
    """``n`` line accesses of a seeded Zipf row trace (512-byte rows: 8 lines each) as one
    array; a fraction ``writes`` of them (seeded, independently) marked as writes."""
    trace = np.concatenate(list(zipf_row_trace(rows, accesses=n, alpha=alpha, seed=seed)))
    if writes:
        trace[np.random.default_rng(seed + 100).random(trace.size) < writes] |= WRITE_FLAG
    return trace


def _level_counts(result) -> tuple:
    """Every count of every level, the DRAM bytes and the trace accesses of a SimResult."""
    return (tuple(tuple(getattr(level, f) for f in COUNT_FIELDS) for level in result.levels),
            result.dram_read_bytes, result.dram_write_bytes, result.trace_accesses)


def _feed_chunks(target, trace: np.ndarray, chunk: int):
    """Feed ``trace`` to a Simulator (or TimeSampler) in chunks of ``chunk``; return its result."""
    for start in range(0, trace.size, chunk):
        target.feed(trace[start:start + chunk])
    return target.result()


@pytest.fixture(scope="session")
def lines_to_addrs():
    """``lines_to_addrs(lines, writes=None, line_bytes=64)``: byte addresses of line indices."""
    return _lines_to_addrs


@pytest.fixture(scope="session")
def zipf_trace():
    """``zipf_trace(n, rows=20_000, *, seed=1, alpha=0.9, writes=0.0)``: a Zipf row trace array."""
    return _zipf_trace


@pytest.fixture(scope="session")
def level_counts():
    """``level_counts(result)``: all counts of a SimResult, for equality checks."""
    return _level_counts


@pytest.fixture(scope="session")
def feed_chunks():
    """``feed_chunks(target, trace, chunk)``: feed in chunks and return the result."""
    return _feed_chunks
