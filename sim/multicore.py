"""N cores with private L1/L2 (and TLBs) sharing one LLC: the interleaved hierarchy.

Why: whether a representation "fits in the LLC" depends on how many cores share it.

Composition (exact for read-only traces, a non-inclusive LLC and no prefetcher): each
core's private levels are one ``Simulator`` whose last level is the L2; its accesses
served by memory (``served == 2``) are that core's LLC accesses. They go, in the
interleaving order below, to one LLC-only ``Simulator`` per LLC size. Under the engine's
semantics (a miss fills every level that missed; nothing moves between levels otherwise)
this gives the same counts as one [L1, L2, LLC] ``Simulator`` per core whose LLCs are one
cache. Not modelled: a dirty L2 victim written back into the LLC (``feed`` refuses
writes), the prefetcher, an inclusive LLC's back-invalidations. A seeded LLC policy
(random, BRRIP, DRRIP) draws from the stream of level 0, not of level 2 as in a
three-level ``Simulator``: counts differ from it in distribution only.

Interleaving (round-robin per lookup): ``feed_round`` takes one chunk per core (e.g. each
core's next batch) and its lookup count L. Data access i of a chunk of A accesses belongs
to lookup ``i * L // A`` (exact when every lookup emits the same number of lines, an even
split otherwise); a TLB walk's reads belong to the lookup of the access that caused
them. The LLC sees lookup 0 of core 0, lookup 0 of core 1, ..., lookup 0 of core N-1,
then lookup 1 of core 0, ...; a core whose chunk has fewer lookups drops out of the
round early. Rows: each core's ``sim.rows.RowCounter`` sees served levels composed as
L1 = 0, L2 = 1, LLC = 2, memory = 3.

Address spaces: ``offsets[c]`` is added to core c's data addresses before its TLB (a
private copy of the tables); page walks of different offsets read different page-table
lines (``sim.tlb``'s layout), as separate processes' page tables would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numba import njit

from sim.access import ADDR_MASK, WRITE_FLAG, as_chunk
from sim.config import CacheConfig
from sim.engine.simulator import Simulator
from sim.rows import RowCounter, RowStats
from sim.stats import LevelStats, SimResult
from sim.tlb import DATA_LIMIT, Tlb, TlbConfig, TlbStats

PRIVATE_MEMORY = 2  # served level "memory" of the private [L1, L2] simulator: an LLC access
LEVEL_NAMES = ("L1", "L2", "LLC")


@dataclass(frozen=True)
class CoreLlcCounts:
    """One core's accesses to one shared LLC: ``hits`` + ``misses`` = ``accesses``."""

    accesses: int
    hits: int
    misses: int


@njit(cache=True)
def _lookup_keys(kinds, data_n, lookups, core, cores, out):
    """Per expanded entry: round-robin key = lookup * cores + core (walk reads take the
    lookup of the data access that follows them)."""
    d = 0
    all_data = kinds.size == 0
    n = out.size
    for j in range(n):
        k = (d * lookups) // data_n if data_n > 0 else 0
        out[j] = k * cores + core
        if all_data or kinds[j] == 0:
            d += 1


@njit(cache=True)
def _compose(served_priv, llc_served, n, out, counts):
    """out[j] = private level, or 2 + the LLC's served level for an LLC access (in order);
    counts[0] += LLC hits, counts[1] += LLC misses."""
    k = 0
    for j in range(n):
        s = served_priv[j]
        if s == PRIVATE_MEMORY:
            t = llc_served[k]
            k += 1
            out[j] = 2 + t
            if t == 0:
                counts[0] += 1
            else:
                counts[1] += 1
        else:
            out[j] = s
    return k


class MulticoreHierarchy:
    """``cores`` private [L1, L2] hierarchies (+ optional TLBs) in front of one shared
    LLC per entry of ``llcs`` (module docstring). ``offsets[c]``: added to core c's data
    addresses (default 0 for all: one shared copy)."""

    def __init__(self, llcs: Sequence[CacheConfig], cores: int, *, l1: CacheConfig, l2: CacheConfig,
                 tlb: TlbConfig | None = None, offsets: Sequence[int] | None = None) -> None:
        if isinstance(cores, bool) or not isinstance(cores, (int, np.integer)) or cores < 1:
            raise ValueError(f"cores={cores!r}: must be an integer >= 1")
        llcs = list(llcs)
        if not llcs:
            raise ValueError("give at least one LLC configuration")
        offsets = [0] * cores if offsets is None else [int(o) for o in offsets]
        if len(offsets) != cores or any(o < 0 for o in offsets):
            raise ValueError(f"offsets: expected {cores} non-negative byte offsets, got {offsets!r}")
        self.cores = int(cores)
        self.offsets = offsets
        self.llcs = llcs
        self.private = [Simulator(l2, l1=l1, inclusive=False) for _ in range(cores)]
        self.shared = [Simulator(cfg, inclusive=False) for cfg in llcs]
        self.tlbs = [Tlb(tlb) for _ in range(cores)] if tlb is not None else None
        shift = llcs[0].line_shift
        self.rows = [[RowCounter(3, shift, LEVEL_NAMES) for _ in llcs] for _ in range(cores)]
        self.llc_counts = np.zeros((cores, len(llcs), 2), dtype=np.int64)  # hits, misses
        self.fed = np.zeros(cores, dtype=np.int64)  # data (trace) accesses per core
        self._no_kinds = np.zeros(0, dtype=np.uint8)
        self._limit = DATA_LIMIT if tlb is not None else 1 << 48

    def feed_round(self, chunks: Sequence[np.ndarray], lookups: Sequence[int]) -> None:
        """One chunk of byte addresses per core (reads only) and its lookup count."""
        if len(chunks) != self.cores or len(lookups) != self.cores:
            raise ValueError(f"feed_round: expected {self.cores} chunks and lookup counts, "
                             f"got {len(chunks)} and {len(lookups)}")
        expanded, kinds, served, llc_addrs, llc_keys = [], [], [], [], []
        for c, (chunk, nlook) in enumerate(zip(chunks, lookups)):
            arr = as_chunk(chunk)
            if arr.size and bool(np.any(arr & WRITE_FLAG)):
                raise ValueError("the multi-core composition models read-only traces: a dirty L2 victim's "
                                 "write-back into the shared LLC is not simulated (this trace has writes)")
            if self.offsets[c]:
                arr = arr + np.uint64(self.offsets[c])
            if arr.size and int(arr.max() & ADDR_MASK) >= self._limit:
                raise ValueError(f"core {c}: address {int(arr.max()):#x} at or above {self._limit:#x} "
                                 "(private copies of the tables must fit below the TLB's data limit)")
            if self.tlbs is not None:
                exp, kind = self.tlbs[c].expand(arr)
                exp, kind = exp.copy(), kind.copy()  # the Tlb reuses its buffers
            else:
                exp, kind = arr, self._no_kinds
            srv = np.empty(exp.size, dtype=np.uint8)
            self.private[c].feed(exp, served=srv)
            keys = np.empty(exp.size, dtype=np.int64)
            _lookup_keys(kind, arr.size, int(nlook), c, self.cores, keys)
            miss = srv == PRIVATE_MEMORY
            llc_addrs.append(exp[miss])
            llc_keys.append(keys[miss])
            expanded.append(exp)
            kinds.append(kind)
            served.append(srv)
            self.fed[c] += arr.size
        sizes = [a.size for a in llc_addrs]
        merged_keys = np.concatenate(llc_keys)
        order = np.argsort(merged_keys, kind="stable")  # (lookup, core, position): round-robin per lookup
        merged = np.ascontiguousarray(np.concatenate(llc_addrs)[order])
        back = np.empty(merged.size, dtype=np.uint8)
        llc_served = np.empty(merged.size, dtype=np.uint8)
        starts = np.concatenate([[0], np.cumsum(sizes)])
        for s, sim in enumerate(self.shared):
            sim.feed(merged, served=llc_served)
            back[order] = llc_served  # back in core-concatenated order
            for c in range(self.cores):
                composed = np.empty(expanded[c].size, dtype=np.uint8)
                _compose(served[c], back[starts[c]:starts[c + 1]], expanded[c].size, composed,
                         self.llc_counts[c, s])
                self.rows[c][s].add(expanded[c], kinds[c], composed)

    def reset_stats(self) -> None:
        """The warm-up's end: zero every count (contents kept)."""
        for sim in (*self.private, *self.shared):
            sim.reset_stats()
        for per_core in self.rows:
            for rows in per_core:
                rows.reset_stats()
        if self.tlbs is not None:
            for tlb in self.tlbs:
                tlb.reset_stats()
        self.llc_counts[:] = 0
        self.fed[:] = 0

    # -- results ---------------------------------------------------------------------
    def llc_result(self, s: int) -> SimResult:
        """The shared LLC ``s`` alone (socket totals: evictions included)."""
        return self.shared[s].result()

    def core_llc(self, c: int, s: int) -> CoreLlcCounts:
        hits, misses = (int(v) for v in self.llc_counts[c, s])
        return CoreLlcCounts(hits + misses, hits, misses)

    def core_result(self, c: int, s: int) -> SimResult:
        """Core c's [L1, L2, LLC] counts with the shared LLC ``s``'s hits and misses it caused.

        With one core the LLC level is the shared LLC's own (every count); with more, the
        LLC's evictions and write-backs are attributed in proportion to the core's misses
        (used for nothing the timing needs; the socket's are in ``llc_result``)."""
        private = self.private[c].result()
        llc = self.llc_result(s)
        mine = self.core_llc(c, s)
        level = llc.llc
        if self.cores > 1:
            share = mine.misses / level.misses if level.misses else 0.0
            level = replace(level, accesses=mine.accesses, hits=mine.hits, misses=mine.misses,
                            evictions=round(level.evictions * share), writebacks=round(level.writebacks * share))
        l1, l2 = private.levels[0], replace(private.levels[1], level="L2")
        line = self.llcs[s].line_bytes
        return SimResult(levels=(l1, l2, level), dram_read_bytes=mine.misses * line if self.cores > 1
                         else llc.dram_read_bytes, dram_write_bytes=0 if self.cores > 1 else llc.dram_write_bytes,
                         trace_accesses=private.trace_accesses, warmup_accesses=private.warmup_accesses,
                         inclusive=False, prefetch=False, sampled_sets=llc.sampled_sets, total_sets=llc.total_sets,
                         threads=1, notes=llc.notes)

    def socket_result(self, s: int) -> SimResult:
        """The socket: L1 and L2 counts summed over the cores, the shared LLC's own."""
        cores = [self.core_result(c, s) for c in range(self.cores)]
        llc = self.llc_result(s)

        def summed(k: int) -> LevelStats:
            first = cores[0].levels[k]
            return replace(first, **{name: sum(getattr(r.levels[k], name) for r in cores)
                                     for name in ("accesses", "hits", "misses", "writes", "evictions", "writebacks",
                                                  "back_invalidations", "prefetch_fills", "prefetch_hits",
                                                  "useless_prefetches")})

        return SimResult(levels=(summed(0), summed(1), llc.llc), dram_read_bytes=llc.dram_read_bytes,
                         dram_write_bytes=llc.dram_write_bytes, trace_accesses=sum(r.trace_accesses for r in cores),
                         warmup_accesses=sum(r.warmup_accesses for r in cores), inclusive=False, prefetch=False,
                         sampled_sets=llc.sampled_sets, total_sets=llc.total_sets, threads=1, notes=llc.notes)

    def core_rows(self, c: int, s: int) -> RowStats:
        return self.rows[c][s].stats()

    def core_tlb(self, c: int) -> TlbStats | None:
        return self.tlbs[c].stats() if self.tlbs is not None else None
