"""A two-level data TLB (DTLB backed by an STLB) with page walks whose page-table-entry
reads are inserted into the trace, so that they go through the simulated caches.

Why: a lookup into a table far larger than the TLB reach misses the STLB on most
accesses; its walk reads the leaf page-table entry, and those reads miss the LLC for a
96 GB table but hit it for a small one. Charging the walks needs their cache behaviour.

Model (one page size; ``TlbConfig``): the DTLB is looked up first; on a miss the STLB;
a miss in both is a page walk. Both are set-associative LRU (set = page % sets; stored
key = page + 1, 0 = invalid; an invalid way fills first, lowest way), not inclusive: a
DTLB hit does not touch the STLB; an STLB hit fills the DTLB; a walk fills the STLB then
the DTLB; no victim moves between them. A walk first looks up the paging-structure cache
(PSC: the entries of the next-upper level, e.g. Intel's PDE cache for 4 KiB pages; key
= page >> 9, 512 entries per table; LRU, ``psc_entries`` = 0: none); on a PSC miss it
reads the upper entry (kind 2) and fills the PSC, then it always reads the leaf entry
(kind 1). The walk reads come right before the access that missed, upper first; they
are reads (bit 63 clear) whatever the access was.

Page-table layout (addresses in the simulated caches' address space, far above data):
data byte addresses must be below ``DATA_LIMIT`` = 2**47 (``expand`` refuses others);
the leaf entry of page p (8 bytes each) is at ``LEAF_BASE + p * 8`` with LEAF_BASE =
2**47 (at most 2**38 bytes for 4 KiB pages: [2**47, 2**47 + 2**38)); the upper entry of
page p at ``UPPER_BASE + (p >> 9) * 8`` with UPPER_BASE = 2**47 + 2**46. Everything stays
below 2**48, so the simulators' 32-bit tags still cover it; a line read by a walk is the
line of its entry: 8 consecutive pages share one leaf line.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numba import njit

from sim.access import ADDR_MASK, as_chunk

PAGE_SIZES = {4096: "4 KiB", 2 * 1024 * 1024: "2 MiB", 1024 * 1024 * 1024: "1 GiB"}
PAGE_NAMES = {"4KB": 4096, "2MB": 2 * 1024 * 1024, "1GB": 1024 * 1024 * 1024}  # the CLI's and presets' spelling


def page_size_bytes(text: str) -> int:
    """``4KB`` / ``2MB`` / ``1GB`` (case-insensitive; also 4K, 2M, 1G, 4KiB, ...) -> bytes; ValueError
    names the allowed ones."""
    key = str(text).strip().upper().replace("IB", "B")
    key = key if key.endswith("B") else key + "B"
    if key not in PAGE_NAMES:
        raise ValueError(f"page size {text!r}: must be one of {', '.join(PAGE_NAMES)}")
    return PAGE_NAMES[key]


def page_size_name(page_bytes: int) -> str:
    """Bytes -> the ``PAGE_NAMES`` spelling (``4KB``, ``2MB``, ``1GB``)."""
    for name, size in PAGE_NAMES.items():
        if size == page_bytes:
            return name
    raise ValueError(f"page size {page_bytes} bytes: must be one of {', '.join(PAGE_NAMES)}")
DATA_LIMIT = 1 << 47
LEAF_BASE = 1 << 47
UPPER_BASE = (1 << 47) + (1 << 46)
PTE_BYTES = 8
ENTRIES_PER_TABLE_SHIFT = 9  # 512 entries per page-table page: upper key = page >> 9

KIND_DATA = 0
KIND_LEAF = 1
KIND_UPPER = 2

# stats columns
T_ACCESSES = 0
T_DTLB_HITS = 1
T_STLB_HITS = 2
T_WALKS = 3
T_UPPER_READS = 4
NTSTAT = 5


@dataclass(frozen=True)
class TlbConfig:
    """DTLB and STLB geometry (entries, ways), the page size and the PSC's entries/ways
    (``psc_ways`` None = fully associative). Defaults: a recent Intel core's 4 KiB
    entries (DTLB 64 x 4-way, STLB 1536 x 12-way, 32 PDE-cache entries)."""

    page_bytes: int = 4096
    dtlb_entries: int = 64
    dtlb_ways: int = 4
    stlb_entries: int = 1536
    stlb_ways: int = 12
    psc_entries: int = 32
    psc_ways: int | None = None

    def __post_init__(self) -> None:
        if self.page_bytes not in PAGE_SIZES:
            raise ValueError(f"page_bytes={self.page_bytes!r}: allowed page sizes are "
                             + ", ".join(f"{b} ({name})" for b, name in PAGE_SIZES.items()))
        for name in ("dtlb_entries", "dtlb_ways", "stlb_entries", "stlb_ways"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r}: must be an integer >= 1")
        if isinstance(self.psc_entries, bool) or not isinstance(self.psc_entries, int) or self.psc_entries < 0:
            raise ValueError(f"psc_entries={self.psc_entries!r}: must be an integer >= 0")
        if self.psc_ways is not None and (isinstance(self.psc_ways, bool) or not isinstance(self.psc_ways, int)
                                          or self.psc_ways < 1):
            raise ValueError(f"psc_ways={self.psc_ways!r}: must be None (fully associative) or an integer >= 1")
        for what, entries, ways in (("dtlb", self.dtlb_entries, self.dtlb_ways),
                                    ("stlb", self.stlb_entries, self.stlb_ways),
                                    ("psc", self.psc_entries, self.psc_ways_resolved)):
            if entries and entries % ways:
                raise ValueError(f"{what}_entries={entries} is not a multiple of {what}_ways={ways}")
        if self.dtlb_entries > self.stlb_entries:
            raise ValueError(f"dtlb_entries={self.dtlb_entries} is larger than the STLB that backs it "
                             f"(stlb_entries={self.stlb_entries})")

    @property
    def psc_ways_resolved(self) -> int:
        """The PSC's ways (its entries when fully associative; 1 when there is no PSC)."""
        if self.psc_ways is not None:
            return self.psc_ways
        return max(self.psc_entries, 1)

    @property
    def page_shift(self) -> int:
        return self.page_bytes.bit_length() - 1

    def describe(self) -> str:
        return (f"TLB {PAGE_SIZES[self.page_bytes]} pages: DTLB {self.dtlb_entries}x{self.dtlb_ways}-way, "
                f"STLB {self.stlb_entries}x{self.stlb_ways}-way, PSC {self.psc_entries} entries")


@dataclass(frozen=True)
class TlbStats:
    """TLB counts since the last reset: ``accesses`` data accesses looked up,
    ``dtlb_hits``, ``stlb_hits`` (DTLB misses that hit the STLB), ``walks`` (misses in
    both = leaf-entry reads), ``upper_reads`` (walks that missed the PSC)."""

    page_bytes: int
    accesses: int
    dtlb_hits: int
    stlb_hits: int
    walks: int
    upper_reads: int

    def as_dict(self) -> dict:
        return asdict(self)


class TlbState:
    """The mutable state of a Tlb (arrays and counters only: what a checkpoint saves)."""

    def __init__(self, config: TlbConfig) -> None:
        psc = config.psc_entries
        self.dtlb_keys = np.zeros(config.dtlb_entries, dtype=np.int64)
        self.dtlb_stamps = np.zeros(config.dtlb_entries, dtype=np.int64)
        self.stlb_keys = np.zeros(config.stlb_entries, dtype=np.int64)
        self.stlb_stamps = np.zeros(config.stlb_entries, dtype=np.int64)
        self.psc_keys = np.zeros(psc, dtype=np.int64)
        self.psc_stamps = np.zeros(psc, dtype=np.int64)
        self.clock = np.zeros(1, dtype=np.int64)
        self.stats = np.zeros(NTSTAT, dtype=np.int64)


class Tlb:
    """A streaming DTLB + STLB + PSC (module docstring): ``expand`` chunk by chunk, state kept.

    ``expand`` returns views of buffers the Tlb reuses: they are overwritten by the next
    call (copy them to keep them). Checkpoint ``tlb.state`` (a plain object of arrays).
    """

    def __init__(self, config: TlbConfig) -> None:
        if not isinstance(config, TlbConfig):
            raise ValueError(f"expected a TlbConfig, got {type(config).__name__}")
        self.config = config
        self.state = TlbState(config)
        self._geom = np.array([config.dtlb_entries // config.dtlb_ways, config.dtlb_ways,
                               config.stlb_entries // config.stlb_ways, config.stlb_ways,
                               config.psc_entries // config.psc_ways_resolved, config.psc_ways_resolved,
                               config.page_shift], dtype=np.int64)
        self._out = np.zeros(0, dtype=np.uint64)
        self._kinds = np.zeros(0, dtype=np.uint8)

    def expand(self, chunk) -> tuple[np.ndarray, np.ndarray]:
        """(addresses, kinds): the chunk with each walk's entry reads inserted right before
        the access that missed; kinds 0 = data, 1 = leaf-entry read, 2 = upper-entry read."""
        arr = as_chunk(chunk)
        need = 3 * arr.size
        if self._out.size < need:
            self._out = np.empty(need, dtype=np.uint64)
            self._kinds = np.empty(need, dtype=np.uint8)
        s = self.state
        m = _expand(arr, self._geom, s.dtlb_keys, s.dtlb_stamps, s.stlb_keys, s.stlb_stamps, s.psc_keys,
                    s.psc_stamps, s.clock, s.stats, self._out, self._kinds)
        if m < 0:
            bad = int(arr[-m - 1]) & int(ADDR_MASK)
            raise ValueError(f"address {bad:#x} collides with the page-table region: data addresses must stay "
                             f"below {DATA_LIMIT:#x} (2**47) with a TLB")
        return self._out[:m], self._kinds[:m]

    def reset_stats(self) -> None:
        """Zero the counters (TLB and PSC contents kept)."""
        self.state.stats[:] = 0

    def stats(self) -> TlbStats:
        t = self.state.stats
        return TlbStats(page_bytes=self.config.page_bytes, accesses=int(t[T_ACCESSES]),
                        dtlb_hits=int(t[T_DTLB_HITS]), stlb_hits=int(t[T_STLB_HITS]), walks=int(t[T_WALKS]),
                        upper_reads=int(t[T_UPPER_READS]))


@njit(cache=True, inline="always")
def _lookup(keys, stamps, sets, ways, key, clock):
    """Hit: refresh the way's stamp and return True."""
    base = (key % sets) * ways
    for w in range(ways):
        if keys[base + w] == key + 1:
            stamps[base + w] = clock
            return True
    return False


@njit(cache=True, inline="always")
def _fill(keys, stamps, sets, ways, key, clock):
    """Put ``key`` in its set: the lowest invalid way, else the least recently used."""
    base = (key % sets) * ways
    way = 0
    for w in range(ways):
        if keys[base + w] == 0:
            way = w
            break
        if stamps[base + w] < stamps[base + way]:
            way = w
    keys[base + way] = key + 1
    stamps[base + way] = clock


@njit(cache=True)
def _expand(chunk, geom, dkeys, dstamps, skeys, sstamps, pkeys, pstamps, clock, stats, out, kinds):
    """The expansion loop; returns the output length, or -(i + 1) for a data address
    at or above DATA_LIMIT at chunk index i."""
    dsets, dways, ssets, sways, psets, pways, shift = geom[0], geom[1], geom[2], geom[3], geom[4], geom[5], geom[6]
    has_psc = pkeys.size != 0
    t = clock[0]
    m = 0
    for i in range(chunk.size):
        a = chunk[i]
        addr = np.int64(a & ADDR_MASK)
        if addr >= DATA_LIMIT:
            clock[0] = t
            return -(i + 1)
        page = addr >> shift
        t += 1
        stats[T_ACCESSES] += 1
        if _lookup(dkeys, dstamps, dsets, dways, page, t):
            stats[T_DTLB_HITS] += 1
        elif _lookup(skeys, sstamps, ssets, sways, page, t):
            stats[T_STLB_HITS] += 1
            _fill(dkeys, dstamps, dsets, dways, page, t)
        else:
            stats[T_WALKS] += 1
            upper = page >> ENTRIES_PER_TABLE_SHIFT
            if not (has_psc and _lookup(pkeys, pstamps, psets, pways, upper, t)):
                stats[T_UPPER_READS] += 1
                out[m] = np.uint64(UPPER_BASE + upper * PTE_BYTES)
                kinds[m] = KIND_UPPER
                m += 1
                if has_psc:
                    _fill(pkeys, pstamps, psets, pways, upper, t)
            out[m] = np.uint64(LEAF_BASE + page * PTE_BYTES)
            kinds[m] = KIND_LEAF
            m += 1
            _fill(skeys, sstamps, ssets, sways, page, t)
            _fill(dkeys, dstamps, dsets, dways, page, t)
        out[m] = a
        kinds[m] = KIND_DATA
        m += 1
    clock[0] = t
    return m
