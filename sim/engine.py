"""The cache simulation engine: Numba kernels (private) and ``Simulator`` / ``simulate``.

State of all levels lives in flat arrays indexed through ``geom[level]``:
``tags`` (int64 line index, -1 = invalid), ``meta`` (per-way policy word), ``flags``
(uint8: bit 0 dirty, bit 1 prefetched and not yet used), ``sstate`` (uint64 per set),
``gstate`` (int64 per level: DRRIP's PSEL). Statistics go to ``stats[part, level, :]``
and LRU/FIFO stamps come from ``clocks[part, level]``: a set is only ever touched by one
partition, so its stamps keep their order whatever the partitioning.

Semantics (the reference in ``sim.reference`` implements the same, slowly):
- a demand access looks levels up from the first; the first hit ends the lookup; the
  line is then filled into every level that missed, deepest first;
- a fill takes the lowest invalid way, else the policy's victim; a valid victim counts
  as an eviction, a dirty one as a write-back to the next level (or DRAM);
- a write-back that misses the next level allocates there (dirty) without a DRAM read;
  a write-back hit only sets the dirty bit (no replacement update, no demand counts);
- an inclusive LLC back-invalidates its victims from the upper levels; a dirty upper
  copy makes the LLC eviction a write-back;
- writes set the dirty bit in the first level only (write-allocate: a write miss
  fetches the line as a read from below);
- the next-line prefetcher (at the LLC) fetches line+1 after every demand access that
  reached the LLC, when line+1 is absent.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sim.policies import _ids, brrip, drrip, fifo, lru, plru, rand, srrip

# geom columns
G_SETS = 0
G_WAYS = 1
G_WOFF = 2
G_SOFF = 3
G_POLICY = 4
NGEOM = 5

# stats columns
S_ACC = 0
S_HIT = 1
S_MISS = 2
S_WRITES = 3
S_EVICT = 4
S_WB = 5
S_BINV = 6
S_PF_FILL = 7
S_PF_HIT = 8
S_PF_USELESS = 9
S_DRAM_RD = 10
S_DRAM_WR = 11
NSTAT = 12

F_DIRTY = np.uint8(1)
F_PREFETCHED = np.uint8(2)
F_CLEAR_PF = np.uint8(0xFD)
F_NONE = np.uint8(0)

WRITE_BIT = np.uint64(1 << 63)
PF_BIT = np.uint64(1 << 62)
LINE_MASK = np.uint64((1 << 62) - 1)
ADDR_MASK = np.uint64((1 << 63) - 1)


@njit(cache=True)
def _policy_victim(pid, meta, base, ways, sstate, sidx):
    if pid == _ids.LRU:
        return lru.victim(meta, base, ways, sstate, sidx)
    if pid == _ids.FIFO:
        return fifo.victim(meta, base, ways, sstate, sidx)
    if pid == _ids.RANDOM:
        return rand.victim(meta, base, ways, sstate, sidx)
    if pid == _ids.PLRU:
        return plru.victim(meta, base, ways, sstate, sidx)
    return srrip.victim(meta, base, ways, sstate, sidx)  # SRRIP, BRRIP, DRRIP


@njit(cache=True)
def _policy_hit(pid, meta, base, ways, way, sstate, sidx, clock):
    if pid == _ids.LRU:
        lru.on_hit(meta, base, ways, way, sstate, sidx, clock)
    elif pid == _ids.FIFO:
        pass
    elif pid == _ids.RANDOM:
        pass
    elif pid == _ids.PLRU:
        plru.on_hit(meta, base, ways, way, sstate, sidx, clock)
    else:
        srrip.on_hit(meta, base, ways, way, sstate, sidx, clock)


@njit(cache=True)
def _policy_fill(pid, meta, base, ways, way, sstate, sidx, clock, gstate, k, set_idx, num_sets):
    if pid == _ids.LRU:
        lru.on_fill(meta, base, ways, way, sstate, sidx, clock)
    elif pid == _ids.FIFO:
        fifo.on_fill(meta, base, ways, way, sstate, sidx, clock)
    elif pid == _ids.RANDOM:
        pass
    elif pid == _ids.PLRU:
        plru.on_fill(meta, base, ways, way, sstate, sidx, clock)
    elif pid == _ids.SRRIP:
        srrip.on_fill(meta, base, ways, way, sstate, sidx, clock)
    elif pid == _ids.BRRIP:
        brrip.on_fill(meta, base, ways, way, sstate, sidx, clock)
    else:
        role = drrip.set_role(set_idx, num_sets)
        drrip.on_fill(meta, base, ways, way, sstate, sidx, clock, drrip.uses_brrip(gstate, k, role))


@njit(cache=True)
def _find(tags, base, ways, line):
    for w in range(ways):
        if tags[base + w] == line:
            return w
    return -1


@njit(cache=True)
def _install(k, line, new_flags, geom, tags, meta, flags, sstate, gstate, clocks, stats, part, nlev, inclusive):
    """Fill ``line`` into level k; return (victim line or -1, victim dirty)."""
    num_sets = geom[k, G_SETS]
    ways = geom[k, G_WAYS]
    set_idx = line % num_sets
    base = geom[k, G_WOFF] + set_idx * ways
    sidx = geom[k, G_SOFF] + set_idx
    pid = geom[k, G_POLICY]
    way = -1
    for w in range(ways):
        if tags[base + w] < 0:
            way = w
            break
    if way < 0:
        way = _policy_victim(pid, meta, base, ways, sstate, sidx)
    pos = base + way
    old = tags[pos]
    dirty = False
    if old >= 0:
        stats[part, k, S_EVICT] += 1
        old_flags = flags[pos]
        dirty = (old_flags & F_DIRTY) != 0
        if old_flags & F_PREFETCHED:
            stats[part, k, S_PF_USELESS] += 1
        if inclusive and k == nlev - 1:
            for j in range(nlev - 1):
                jw = geom[j, G_WAYS]
                jbase = geom[j, G_WOFF] + (old % geom[j, G_SETS]) * jw
                jway = _find(tags, jbase, jw, old)
                if jway >= 0:
                    stats[part, k, S_BINV] += 1
                    if flags[jbase + jway] & F_DIRTY:
                        dirty = True
                    tags[jbase + jway] = -1
                    flags[jbase + jway] = F_NONE
        if dirty:
            stats[part, k, S_WB] += 1
    tags[pos] = line
    flags[pos] = new_flags
    clocks[part, k] += 1
    _policy_fill(pid, meta, base, ways, way, sstate, sidx, clocks[part, k], gstate, k, set_idx, num_sets)
    return old, dirty


@njit(cache=True)
def _writeback(k, line, geom, tags, meta, flags, sstate, gstate, clocks, stats, part, nlev, inclusive):
    """Write dirty ``line`` back into level k (allocating on a miss), cascading down."""
    while True:
        if k >= nlev:
            stats[part, nlev - 1, S_DRAM_WR] += 1
            return
        ways = geom[k, G_WAYS]
        base = geom[k, G_WOFF] + (line % geom[k, G_SETS]) * ways
        way = _find(tags, base, ways, line)
        if way >= 0:
            flags[base + way] |= F_DIRTY
            return
        victim, dirty = _install(k, line, F_DIRTY, geom, tags, meta, flags, sstate, gstate, clocks, stats, part, nlev, inclusive)
        if victim < 0 or not dirty:
            return
        line = victim
        k += 1


@njit(cache=True)
def _demand(line, is_write, geom, tags, meta, flags, sstate, gstate, clocks, stats, part, nlev, inclusive):
    """One demand access; returns True when it reached the LLC."""
    hit_level = nlev
    for k in range(nlev):
        num_sets = geom[k, G_SETS]
        ways = geom[k, G_WAYS]
        set_idx = line % num_sets
        base = geom[k, G_WOFF] + set_idx * ways
        stats[part, k, S_ACC] += 1
        if is_write and k == 0:
            stats[part, k, S_WRITES] += 1
        way = _find(tags, base, ways, line)
        if way >= 0:
            stats[part, k, S_HIT] += 1
            pos = base + way
            clocks[part, k] += 1
            _policy_hit(geom[k, G_POLICY], meta, base, ways, way, sstate, geom[k, G_SOFF] + set_idx, clocks[part, k])
            if flags[pos] & F_PREFETCHED:
                stats[part, k, S_PF_HIT] += 1
                flags[pos] &= F_CLEAR_PF
            if is_write and k == 0:
                flags[pos] |= F_DIRTY
            hit_level = k
            break
        stats[part, k, S_MISS] += 1
        if geom[k, G_POLICY] == _ids.DRRIP:
            drrip.record_miss(gstate, k, drrip.set_role(set_idx, num_sets))
    if hit_level == nlev:
        stats[part, nlev - 1, S_DRAM_RD] += 1
    for k in range(hit_level - 1, -1, -1):
        new_flags = F_DIRTY if (is_write and k == 0) else F_NONE
        victim, dirty = _install(k, line, new_flags, geom, tags, meta, flags, sstate, gstate, clocks, stats, part, nlev, inclusive)
        if victim >= 0 and dirty:
            _writeback(k + 1, victim, geom, tags, meta, flags, sstate, gstate, clocks, stats, part, nlev, inclusive)
    return hit_level >= nlev - 1


@njit(cache=True)
def _prefetch(line, geom, tags, meta, flags, sstate, gstate, clocks, stats, part, nlev, inclusive):
    """Next-line prefetch of ``line`` into the LLC when absent."""
    k = nlev - 1
    ways = geom[k, G_WAYS]
    base = geom[k, G_WOFF] + (line % geom[k, G_SETS]) * ways
    if _find(tags, base, ways, line) >= 0:
        return
    stats[part, k, S_PF_FILL] += 1
    stats[part, k, S_DRAM_RD] += 1
    victim, dirty = _install(k, line, F_PREFETCHED, geom, tags, meta, flags, sstate, gstate, clocks, stats, part, nlev, inclusive)
    if victim >= 0 and dirty:
        _writeback(k + 1, victim, geom, tags, meta, flags, sstate, gstate, clocks, stats, part, nlev, inclusive)


@njit(cache=True)
def _run_llc(chunk, start, stop, shift, prefetch, geom, tags, meta, flags, sstate, gstate, clocks, stats):
    """LLC-only serial loop (partition 0) with the hit path written out flat."""
    sh = np.uint64(shift)
    num_sets = geom[0, G_SETS]
    ways = geom[0, G_WAYS]
    pid = geom[0, G_POLICY]
    accesses = 0
    hits = 0
    writes = 0
    pf_hits = 0
    dram_rd = 0
    evictions = 0
    writebacks = 0
    useless = 0
    clock = clocks[0, 0]
    for i in range(start, stop):
        a = chunk[i]
        line = np.int64((a & ADDR_MASK) >> sh)
        is_write = (a & WRITE_BIT) != 0
        set_idx = line % num_sets
        base = set_idx * ways
        accesses += 1
        if is_write:
            writes += 1
        way = -1
        for w in range(ways):
            if tags[base + w] == line:
                way = w
                break
        if way >= 0:
            hits += 1
            clock += 1
            pos = base + way
            if pid == _ids.LRU:
                meta[pos] = clock
            elif pid != _ids.FIFO and pid != _ids.RANDOM:
                _policy_hit(pid, meta, base, ways, way, sstate, set_idx, clock)
            f = flags[pos]
            if f & F_PREFETCHED:
                pf_hits += 1
                f &= F_CLEAR_PF
            if is_write:
                f |= F_DIRTY
            flags[pos] = f
        else:
            if pid == _ids.DRRIP:
                drrip.record_miss(gstate, 0, drrip.set_role(set_idx, num_sets))
            dram_rd += 1
            for w in range(ways):
                if tags[base + w] < 0:
                    way = w
                    break
            if way < 0:
                if pid == _ids.LRU:
                    way = lru.victim(meta, base, ways, sstate, set_idx)
                else:
                    way = _policy_victim(pid, meta, base, ways, sstate, set_idx)
            pos = base + way
            if tags[pos] >= 0:
                evictions += 1
                f = flags[pos]
                if f & F_DIRTY:
                    writebacks += 1
                if f & F_PREFETCHED:
                    useless += 1
            tags[pos] = line
            flags[pos] = F_DIRTY if is_write else F_NONE
            clock += 1
            if pid == _ids.LRU:
                meta[pos] = clock
            else:
                clocks[0, 0] = clock
                _policy_fill(pid, meta, base, ways, way, sstate, set_idx, clock, gstate, 0, set_idx, num_sets)
        if prefetch:
            clocks[0, 0] = clock
            _prefetch(line + 1, geom, tags, meta, flags, sstate, gstate, clocks, stats, 0, 1, False)
            clock = clocks[0, 0]
    clocks[0, 0] = clock
    stats[0, 0, S_ACC] += accesses
    stats[0, 0, S_HIT] += hits
    stats[0, 0, S_MISS] += accesses - hits
    stats[0, 0, S_WRITES] += writes
    stats[0, 0, S_PF_HIT] += pf_hits
    stats[0, 0, S_DRAM_RD] += dram_rd
    stats[0, 0, S_EVICT] += evictions
    stats[0, 0, S_WB] += writebacks
    stats[0, 0, S_DRAM_WR] += writebacks
    stats[0, 0, S_PF_USELESS] += useless


@njit(cache=True)
def _run_raw(chunk, start, stop, shift, prefetch, geom, tags, meta, flags, sstate, gstate, clocks, stats, nlev, inclusive):
    """Serial run over byte addresses chunk[start:stop] (bit 63 = write), partition 0."""
    if nlev == 1:
        _run_llc(chunk, start, stop, shift, prefetch, geom, tags, meta, flags, sstate, gstate, clocks, stats)
        return
    sh = np.uint64(shift)
    for i in range(start, stop):
        a = chunk[i]
        line = np.int64((a & ADDR_MASK) >> sh)
        reached = _demand(line, (a & WRITE_BIT) != 0, geom, tags, meta, flags, sstate, gstate, clocks, stats, 0, nlev, inclusive)
        if prefetch and reached:
            _prefetch(line + 1, geom, tags, meta, flags, sstate, gstate, clocks, stats, 0, nlev, inclusive)


@njit(cache=True)
def _run_events(events, start, stop, part, geom, tags, meta, flags, sstate, gstate, clocks, stats, nlev, inclusive):
    for i in range(start, stop):
        e = events[i]
        line = np.int64(e & LINE_MASK)
        if e & PF_BIT:
            _prefetch(line, geom, tags, meta, flags, sstate, gstate, clocks, stats, part, nlev, inclusive)
        else:
            _demand(line, (e & WRITE_BIT) != 0, geom, tags, meta, flags, sstate, gstate, clocks, stats, part, nlev, inclusive)


@njit(cache=True, parallel=True)
def _run_partitioned(events, starts, geom, tags, meta, flags, sstate, gstate, clocks, stats, nlev, inclusive):
    """Run each partition's events (events[starts[p]:starts[p+1]]) on its own thread."""
    nparts = starts.size - 1
    for p in prange(nparts):
        _run_events(events, starts[p], starts[p + 1], p, geom, tags, meta, flags, sstate, gstate, clocks, stats, nlev, inclusive)


@njit(cache=True, parallel=True)
def _bucket(chunk, start, stop, shift, num_sets, owner, nparts, prefetch, nslices):
    """Split chunk[start:stop] into per-partition event lists, keeping trace order.

    ``owner[s]`` is the partition of LLC set s (-1: not simulated, e.g. unsampled). A
    demand event goes to the owner of its line's set; with ``prefetch``, a prefetch event
    for line+1 goes to the owner of line+1's set, right after the demand. Returns
    (events, starts) with partition p's events in events[starts[p]:starts[p+1]].
    """
    n = stop - start
    sh = np.uint64(shift)
    counts = np.zeros((nslices, nparts), dtype=np.int64)
    sets = np.empty(n, dtype=np.int64)
    step = (n + nslices - 1) // nslices
    for t in prange(nslices):
        lo = min(n, t * step)
        hi = min(n, lo + step)
        for i in range(lo, hi):
            line = np.int64((chunk[start + i] & ADDR_MASK) >> sh)
            s = line % num_sets
            sets[i] = s
            p = owner[s]
            if p >= 0:
                counts[t, p] += 1
            if prefetch:
                s2 = s + 1
                if s2 == num_sets:
                    s2 = 0
                p2 = owner[s2]
                if p2 >= 0:
                    counts[t, p2] += 1
    starts = np.zeros(nparts + 1, dtype=np.int64)
    offsets = np.zeros((nslices, nparts), dtype=np.int64)
    total = 0
    for p in range(nparts):
        starts[p] = total
        for t in range(nslices):
            offsets[t, p] = total
            total += counts[t, p]
    starts[nparts] = total
    events = np.empty(total, dtype=np.uint64)
    for t in prange(nslices):
        lo = min(n, t * step)
        hi = min(n, lo + step)
        pos = offsets[t].copy()
        for i in range(lo, hi):
            a = chunk[start + i]
            line_bits = (a & ADDR_MASK) >> sh
            s = sets[i]
            p = owner[s]
            if p >= 0:
                events[pos[p]] = line_bits | (a & WRITE_BIT)
                pos[p] += 1
            if prefetch:
                s2 = s + 1
                if s2 == num_sets:
                    s2 = 0
                p2 = owner[s2]
                if p2 >= 0:
                    events[pos[p2]] = (line_bits + np.uint64(1)) | PF_BIT
                    pos[p2] += 1
    return events, starts


# ---------------------------------------------------------------------------------------
# Public wrapper
# ---------------------------------------------------------------------------------------

import math  # noqa: E402
from collections.abc import Iterable  # noqa: E402

import numba  # noqa: E402

from sim.config import CacheConfig  # noqa: E402
from sim.policies import get_policy  # noqa: E402
from sim.policies._rng import seed_state  # noqa: E402
from sim.sampling import parse_fraction, select_sets  # noqa: E402
from sim.stats import LevelStats, SimResult  # noqa: E402

_SEEDED = (_ids.RANDOM, _ids.BRRIP, _ids.DRRIP)


def _as_chunk(chunk) -> np.ndarray:
    """A C-contiguous uint64 view/copy of one trace chunk; ValueError on bad input."""
    arr = np.asarray(chunk)
    if arr.ndim != 1:
        raise ValueError(f"trace chunk must be 1-D, got shape {arr.shape}")
    if arr.dtype != np.uint64:
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"trace chunk must hold integer byte addresses, got dtype {arr.dtype}")
        if arr.size and np.issubdtype(arr.dtype, np.signedinteger) and arr.min() < 0:
            raise ValueError("trace chunk holds negative addresses")
        arr = arr.astype(np.uint64)
    return np.ascontiguousarray(arr)


class Simulator:
    """A stateful cache hierarchy fed chunk by chunk (state kept across chunks).

    ``config`` is the LLC; ``l1``/``l2`` optional private levels in front of it (same line
    size). ``inclusive``: the LLC back-invalidates upper copies of its victims.
    ``prefetch``: next-line prefetcher at the LLC. ``warmup``: statistics are reset once
    this many trace accesses have been fed (state kept). ``sample_sets``: simulate only a
    seeded hashed fraction of the LLC sets (LLC-only runs). ``threads``: partitions of
    the LLC sets simulated in parallel; the counts are identical to a serial run. DRRIP
    (global PSEL), and a hierarchy with the prefetcher, run in one partition; a hierarchy
    is split into at most gcd(set counts) partitions.
    """

    def __init__(
        self,
        config: CacheConfig,
        *,
        l1: CacheConfig | None = None,
        l2: CacheConfig | None = None,
        inclusive: bool = True,
        prefetch: bool = False,
        warmup: int = 0,
        sample_sets: float | str | None = None,
        threads: int = 1,
    ) -> None:
        configs, names = [], []
        for name, cfg in (("L1", l1), ("L2", l2), ("LLC", config)):
            if cfg is None:
                continue
            if not isinstance(cfg, CacheConfig):
                raise ValueError(f"{name}: expected a CacheConfig, got {type(cfg).__name__}")
            configs.append(cfg)
            names.append(name)
        if any(c.line_bytes != config.line_bytes for c in configs):
            raise ValueError("all levels must use the same line_bytes as the LLC")
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads={threads!r}: must be an integer >= 1")
        if isinstance(warmup, bool) or not isinstance(warmup, (int, np.integer)) or warmup < 0:
            raise ValueError(f"warmup={warmup!r}: must be a whole number of accesses >= 0")
        self.configs = tuple(configs)
        self.names = tuple(names)
        self.inclusive = bool(inclusive)
        self.prefetch = bool(prefetch)
        self.warmup = int(warmup)
        nlev = len(configs)
        self._nlev = nlev
        llc_sets = config.num_sets

        fraction = 1.0 if sample_sets is None else parse_fraction(sample_sets)
        if fraction < 1.0 and nlev > 1:
            raise ValueError("set sampling applies to LLC-only simulations (no l1/l2)")
        sampled = select_sets(llc_sets, fraction, config.seed)
        self.sampled_sets = int(sampled.sum())

        parallel_ok = all(get_policy(c.policy).set_parallel for c in configs) and not (self.prefetch and nlev > 1)
        group = 0
        for c in configs:
            group = math.gcd(group, c.num_sets)
        nparts = min(threads, group) if parallel_ok else 1
        self.partitions = nparts
        self.threads_requested = threads
        self.notes: list[str] = []
        if nparts < threads:
            why = "DRRIP's PSEL is global" if not all(get_policy(c.policy).set_parallel for c in configs) else (
                "the prefetcher crosses partitions in a hierarchy" if self.prefetch and nlev > 1
                else f"the level set counts share only {group} residue classes")
            self.notes.append(f"ran on {nparts} partition(s), not {threads}: {why}")

        self._geom = np.zeros((nlev, NGEOM), dtype=np.int64)
        woff = soff = 0
        sstates = []
        for k, c in enumerate(configs):
            self._geom[k] = (c.num_sets, c.ways, woff, soff, c.policy_id)
            woff += c.num_sets * c.ways
            soff += c.num_sets
            if c.policy_id in _SEEDED:
                sstates.append(seed_state(c.seed, k, c.num_sets))
            else:
                sstates.append(np.zeros(c.num_sets, dtype=np.uint64))
        self._tags = np.full(woff, -1, dtype=np.int64)
        self._meta = np.zeros(woff, dtype=np.int64)
        self._flags = np.zeros(woff, dtype=np.uint8)
        self._sstate = np.concatenate(sstates)
        self._gstate = np.full(nlev, drrip.PSEL_INIT, dtype=np.int64)
        self._clocks = np.zeros((nparts, nlev), dtype=np.int64)
        self._stats = np.zeros((nparts, nlev, NSTAT), dtype=np.int64)
        owner = (np.arange(llc_sets, dtype=np.int64) % group) % nparts
        owner[~sampled] = -1
        self._owner = owner
        self._raw = nparts == 1 and self.sampled_sets == llc_sets
        self.fed = 0  # trace accesses fed so far
        self._measured_from = 0

    # -- feeding ----------------------------------------------------------------------
    def feed(self, chunk) -> None:
        """Simulate one chunk of byte addresses (bit 63 set = write)."""
        arr = _as_chunk(chunk)
        start, n = 0, arr.size
        if self.fed < self.warmup < self.fed + n:
            cut = self.warmup - self.fed
            self._run(arr, 0, cut)
            self.fed += cut
            start = cut
        if self.fed == self.warmup and self.warmup and self._measured_from == 0:
            self.reset_stats()
        self._run(arr, start, n)
        self.fed += n - start

    def _run(self, arr: np.ndarray, start: int, stop: int) -> None:
        if stop <= start:
            return
        shift = self.configs[-1].line_shift
        if self._raw:
            _run_raw(arr, start, stop, shift, self.prefetch, self._geom, self._tags, self._meta, self._flags,
                     self._sstate, self._gstate, self._clocks, self._stats, self._nlev, self.inclusive)
            return
        nthreads = min(self.partitions, numba.config.NUMBA_NUM_THREADS)
        numba.set_num_threads(max(1, nthreads))
        events, starts = _bucket(arr, start, stop, shift, self.configs[-1].num_sets, self._owner,
                                 self.partitions, self.prefetch and self._nlev == 1, max(1, nthreads))
        _run_partitioned(events, starts, self._geom, self._tags, self._meta, self._flags, self._sstate,
                         self._gstate, self._clocks, self._stats, self._nlev, self.inclusive)

    def reset_stats(self) -> None:
        """Zero every counter (cache contents and policy state are kept)."""
        self._stats[:] = 0
        self._measured_from = self.fed

    # -- results ----------------------------------------------------------------------
    def result(self) -> SimResult:
        """Counts since the last reset (or the warm-up boundary)."""
        totals = self._stats.sum(axis=0)
        line = self.configs[-1].line_bytes
        levels = []
        for k, (name, c) in enumerate(zip(self.names, self.configs)):
            t = totals[k]
            levels.append(LevelStats(
                level=name, size_bytes=c.size_bytes, ways=c.ways, line_bytes=c.line_bytes, policy=c.policy,
                num_sets=c.num_sets, accesses=int(t[S_ACC]), hits=int(t[S_HIT]), misses=int(t[S_MISS]),
                writes=int(t[S_WRITES]), evictions=int(t[S_EVICT]), writebacks=int(t[S_WB]),
                back_invalidations=int(t[S_BINV]), prefetch_fills=int(t[S_PF_FILL]),
                prefetch_hits=int(t[S_PF_HIT]), useless_prefetches=int(t[S_PF_USELESS]),
            ))
        llc_total = totals[self._nlev - 1]
        trace_accesses = self.fed - self._measured_from
        if self.sampled_sets < self.configs[-1].num_sets:
            trace_accesses = int(totals[0][S_ACC])  # accesses that fell into sampled sets
        return SimResult(
            levels=tuple(levels),
            dram_read_bytes=int(llc_total[S_DRAM_RD]) * line,
            dram_write_bytes=int(llc_total[S_DRAM_WR]) * line,
            trace_accesses=int(trace_accesses),
            warmup_accesses=int(self._measured_from),
            inclusive=self.inclusive,
            prefetch=self.prefetch,
            sampled_sets=self.sampled_sets,
            total_sets=self.configs[-1].num_sets,
            threads=self.partitions,
            notes=tuple(self.notes),
        )


def resolve_warmup(warmup: int | float, total_accesses: int | None) -> int:
    """Warm-up as a number of accesses: an int is taken as is; a float in [0, 1) is a
    fraction of ``total_accesses`` (which must then be known)."""
    if isinstance(warmup, bool):
        raise ValueError(f"warmup={warmup!r}: expected an access count or a fraction in [0, 1)")
    if isinstance(warmup, (int, np.integer)):
        if warmup < 0:
            raise ValueError(f"warmup={warmup}: must be >= 0")
        return int(warmup)
    if isinstance(warmup, float):
        if not 0.0 <= warmup < 1.0:
            raise ValueError(f"warmup={warmup}: a fraction must be in [0, 1)")
        if warmup == 0.0:
            return 0
        if total_accesses is None:
            raise ValueError("a warm-up fraction needs the trace length: pass total_accesses (or an array)")
        return int(warmup * total_accesses)
    raise ValueError(f"warmup={warmup!r}: expected an access count or a fraction in [0, 1)")


def simulate(
    chunks,
    config: CacheConfig,
    *,
    l1: CacheConfig | None = None,
    l2: CacheConfig | None = None,
    inclusive: bool = True,
    prefetch: bool = False,
    warmup: int | float = 0,
    total_accesses: int | None = None,
    sample_sets: float | str | None = None,
    threads: int = 1,
) -> SimResult:
    """Simulate a trace through [L1] [L2] LLC and return the measured counts.

    ``chunks``: one uint64 array of byte addresses (bit 63 = write, see ``sim.access``)
    or an iterable of such chunks (streamed; state kept across chunks). ``warmup``: an
    access count, or a fraction of ``total_accesses`` (known automatically for an array
    or a list/tuple of arrays). See ``Simulator`` for the other options.
    """
    if isinstance(chunks, np.ndarray):
        chunks = (chunks,)
    if total_accesses is None and isinstance(chunks, (list, tuple)):
        total_accesses = sum(int(np.asarray(c).size) for c in chunks)
    if not isinstance(chunks, Iterable):
        raise ValueError("chunks must be an array or an iterable of arrays")
    sim = Simulator(config, l1=l1, l2=l2, inclusive=inclusive, prefetch=prefetch,
                    warmup=resolve_warmup(warmup, total_accesses), sample_sets=sample_sets, threads=threads)
    for chunk in chunks:
        sim.feed(chunk)
    return sim.result()
