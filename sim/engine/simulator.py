"""The cache simulation engine: Numba kernels (private) and ``Simulator`` / ``simulate``.

State of all levels lives in flat arrays indexed through ``geom[level]``:
``tags`` (stored tag = line // num_sets + 1, 0 = invalid; uint32 when every level's
sets x 2**32 lines cover the 48-bit address space, so a 16-way set is one 64-byte host
line, else uint64; 64-byte aligned), ``meta`` (uint32 per-way policy word: RRPVs, or
LRU/FIFO stamps, renumbered by rank before a clock could wrap), ``flags`` (uint8: bit 0
dirty, bit 1 prefetched and not yet used), ``sstate`` (uint64 per set), ``gstate``
(int64 per level: DRRIP's PSEL). Statistics go to ``stats[part, level, :]`` and LRU/FIFO
stamps come from ``clocks[part, level]``: a set is only ever touched by one partition,
so its stamps keep their order whatever the partitioning.

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

from sim.intrinsics import borrowed, ix, prefetch as _host_prefetch
from sim.policies import _ids, brrip, drrip, fifo, lru, plru, rand, srrip

TAG32_LIMIT = 0xFFFFFFFF  # largest stored tag in a uint32 tags array
STAMP_LIMIT = 0xFFFFFFFF  # largest LRU/FIFO stamp in the uint32 meta array
STAMPS_PER_ACCESS = 4  # most clock ticks one access can cause in a level (hit/fill, write-back, prefetch)
UNROLLED_WAYS = (12, 16)  # LLC associativities compiled with the set scans unrolled (each costs a compile)
RUN_PIECE = 1 << 28  # accesses per kernel call, so that a renumbering always fits between calls
OWNED_BLOCK = 4096  # threaded LLC-only runs: accesses scanned per block (an L1-sized buffer of owned ones)
ADDRESS_BITS_COVERED = 48  # uint32 tags only when they cover every 48-bit byte address
PREFETCH_DISTANCE = 16  # accesses ahead whose set the LLC loop prefetches into the host cache

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
ADDR_MASK = np.uint64((1 << 63) - 1)


@njit(cache=True, inline="always")
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


@njit(cache=True, inline="always")
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


@njit(cache=True, inline="always")
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


OWNER_BLOCK_LINES = 8  # lines per ownership block of a threaded run: a row's lines stay on one thread
FAST_DIV_LIMIT = 1 << 50  # below it a float64 quotient is off by at most one


@njit(cache=True, inline="always")
def _divmod(line, divisor, inverse):
    """(line // divisor, line % divisor) for line >= 0, with ``inverse`` = 1.0 / divisor:
    a float multiply and one correction step instead of a 64-bit integer division (which
    costs more than the rest of an LLC hit)."""
    if line >= FAST_DIV_LIMIT:
        return line // divisor, line % divisor
    q = np.int64(np.float64(line) * inverse)
    r = line - q * divisor
    if r < 0:
        q -= 1
        r += divisor
    elif r >= divisor:
        q += 1
        r -= divisor
    return q, r


@njit(cache=True, inline="always")
def _find(tags, base, ways, tag):
    for w in range(ways):
        if np.int64(tags[ix(base + w)]) == tag:
            return w
    return -1


@njit(cache=True, inline="always")
def _find_line(k, line, geom, tags):
    """(base, way or -1) of ``line`` in level k."""
    num_sets = geom[k, G_SETS]
    ways = geom[k, G_WAYS]
    base = geom[k, G_WOFF] + (line % num_sets) * ways
    return base, _find(tags, base, ways, line // num_sets + 1)


@njit(cache=True, inline="always")
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
        if tags[base + w] == 0:
            way = w
            break
    if way < 0:
        way = _policy_victim(pid, meta, base, ways, sstate, sidx)
    pos = base + way
    old = -1
    dirty = False
    if tags[pos] != 0:
        old = (np.int64(tags[pos]) - 1) * num_sets + set_idx
        stats[part, k, S_EVICT] += 1
        old_flags = flags[pos]
        dirty = (old_flags & F_DIRTY) != 0
        if old_flags & F_PREFETCHED:
            stats[part, k, S_PF_USELESS] += 1
        if inclusive and k == nlev - 1:
            for j in range(nlev - 1):
                jbase, jway = _find_line(j, old, geom, tags)
                if jway >= 0:
                    stats[part, k, S_BINV] += 1
                    if flags[jbase + jway] & F_DIRTY:
                        dirty = True
                    tags[jbase + jway] = 0
                    flags[jbase + jway] = F_NONE
        if dirty:
            stats[part, k, S_WB] += 1
    tags[pos] = line // num_sets + 1
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
        base, way = _find_line(k, line, geom, tags)
        if way >= 0:
            flags[base + way] |= F_DIRTY
            return
        victim, dirty = _install(k, line, F_DIRTY, geom, tags, meta, flags, sstate, gstate, clocks, stats, part, nlev, inclusive)
        if victim < 0 or not dirty:
            return
        line = victim
        k += 1


@njit(cache=True, inline="always")
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
        way = _find(tags, base, ways, line // num_sets + 1)
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
    if _find_line(k, line, geom, tags)[1] >= 0:
        return
    stats[part, k, S_PF_FILL] += 1
    stats[part, k, S_DRAM_RD] += 1
    victim, dirty = _install(k, line, F_PREFETCHED, geom, tags, meta, flags, sstate, gstate, clocks, stats, part, nlev, inclusive)
    if victim >= 0 and dirty:
        _writeback(k + 1, victim, geom, tags, meta, flags, sstate, gstate, clocks, stats, part, nlev, inclusive)


@njit(cache=True)
def _run_llc(chunk, start, stop, shift, prefetch, part, nparts, bshift, sampled, set_misses, max_line, geom, tags, meta,
             flags, sstate, gstate, clocks, stats, seen_writes, ways_token):
    """LLC-only loop of partition ``part``, hit and miss paths written out flat (speed).

    Scans every address but simulates only the lines it owns (``_owns``), and only in
    sampled sets when ``sampled`` is non-empty; the next-line prefetch of line+1 is done
    by the owner of line+1 (in trace order, right after the demand access). The sets of
    the next PREFETCH_DISTANCE accesses are prefetched into the host cache (memory-level
    parallelism). Returns -1, or the index of a line above ``max_line`` (32-bit tags).

    ``ways_token``: a tuple whose length is the associativity, a compile-time constant
    (its type is the tuple's length), so the set scans are unrolled; empty: read the
    associativity from ``geom``. The dirty/prefetched ``flags`` are only
    read once they can be non-zero: after the partition's first write
    (``seen_writes[part]``) or with the prefetcher.
    """
    geom, tags, meta, flags = borrowed(geom), borrowed(tags), borrowed(meta), borrowed(flags)
    sstate, gstate, clocks, stats = borrowed(sstate), borrowed(gstate), borrowed(clocks), borrowed(stats)
    sh = np.uint64(shift)
    part_inverse = 1.0 / nparts
    num_sets = geom[0, G_SETS]
    ways = len(ways_token) if len(ways_token) else geom[0, G_WAYS]
    flagged = prefetch or seen_writes[part] != 0
    pid = geom[0, G_POLICY]
    inverse = 1.0 / num_sets
    accesses = 0
    hits = 0
    writes = 0
    pf_hits = 0
    dram_rd = 0
    evictions = 0
    writebacks = 0
    useless = 0
    sampling = sampled.size
    clock = clocks[part, 0]
    status = -1
    for i in range(start, stop):
        ahead = i + PREFETCH_DISTANCE
        if ahead < stop:
            future = np.int64((chunk[ix(ahead)] & ADDR_MASK) >> sh)
            if _owns(future, part, nparts, bshift, part_inverse):
                fbase = _divmod(future, num_sets, inverse)[1] * ways
                _host_prefetch(tags, fbase)
                _host_prefetch(meta, fbase)
                _host_prefetch(meta, fbase + ways - 1)
        a = chunk[ix(i)]
        line = np.int64((a & ADDR_MASK) >> sh)
        if line > max_line:
            status = i
            break
        if prefetch and _owns(line + 1, part, nparts, bshift, part_inverse):
            do_prefetch = sampling == 0 or sampled[(line + 1) % num_sets] != 0
        else:
            do_prefetch = False
        if not _owns(line, part, nparts, bshift, part_inverse):
            if do_prefetch:
                clocks[part, 0] = clock
                _prefetch(line + 1, geom, tags, meta, flags, sstate, gstate, clocks, stats, part, 1, False)
                clock = clocks[part, 0]
            continue
        quotient, set_idx = _divmod(line, num_sets, inverse)
        if sampling and sampled[set_idx] == 0:
            if do_prefetch:
                clocks[part, 0] = clock
                _prefetch(line + 1, geom, tags, meta, flags, sstate, gstate, clocks, stats, part, 1, False)
                clock = clocks[part, 0]
            continue
        is_write = (a & WRITE_BIT) != 0
        base = set_idx * ways
        tag = quotient + 1
        accesses += 1
        if is_write:
            writes += 1
            if not flagged:
                flagged = True
                seen_writes[part] = 1
        way = _find(tags, base, ways, tag)
        if way >= 0:
            hits += 1
            clock += 1
            pos = base + way
            if pid == _ids.LRU:
                meta[ix(pos)] = clock
            elif pid != _ids.FIFO and pid != _ids.RANDOM:
                _policy_hit(pid, meta, base, ways, way, sstate, set_idx, clock)
            if prefetch or is_write:  # skip the flags line on plain read hits
                f = flags[ix(pos)]
                if f & F_PREFETCHED:
                    pf_hits += 1
                    f &= F_CLEAR_PF
                if is_write:
                    f |= F_DIRTY
                flags[ix(pos)] = f
        else:
            if pid == _ids.DRRIP:
                drrip.record_miss(gstate, 0, drrip.set_role(set_idx, num_sets))
            dram_rd += 1
            if sampling:
                set_misses[set_idx] += 1
            if pid == _ids.LRU or pid == _ids.FIFO:
                # an empty way's stamp is 0 and a valid way's >= 1: the oldest stamp is the
                # first empty way, as _find(tags, base, ways, 0) would give, else the victim
                way = lru.victim(meta, base, ways, sstate, set_idx)
            else:
                way = _find(tags, base, ways, 0)
                if way < 0:
                    way = _policy_victim(pid, meta, base, ways, sstate, set_idx)
            pos = base + way
            if tags[ix(pos)] != 0:
                evictions += 1
                if flagged:
                    f = flags[ix(pos)]
                    if f & F_DIRTY:
                        writebacks += 1
                    if f & F_PREFETCHED:
                        useless += 1
            tags[ix(pos)] = tag
            if flagged:
                flags[ix(pos)] = F_DIRTY if is_write else F_NONE
            clock += 1
            if pid == _ids.LRU:
                meta[ix(pos)] = clock
            else:
                clocks[part, 0] = clock
                _policy_fill(pid, meta, base, ways, way, sstate, set_idx, clock, gstate, 0, set_idx, num_sets)
        if do_prefetch:
            clocks[part, 0] = clock
            _prefetch(line + 1, geom, tags, meta, flags, sstate, gstate, clocks, stats, part, 1, False)
            clock = clocks[part, 0]
    clocks[part, 0] = clock
    stats[part, 0, S_ACC] += accesses
    stats[part, 0, S_HIT] += hits
    stats[part, 0, S_MISS] += accesses - hits
    stats[part, 0, S_WRITES] += writes
    stats[part, 0, S_PF_HIT] += pf_hits
    stats[part, 0, S_DRAM_RD] += dram_rd
    stats[part, 0, S_EVICT] += evictions
    stats[part, 0, S_WB] += writebacks
    stats[part, 0, S_DRAM_WR] += writebacks
    stats[part, 0, S_PF_USELESS] += useless
    return status


@njit(cache=True, inline="always")
def _owns(line, part, nparts, bshift, inverse):
    """Partition ``part`` owns ``line`` when (line >> bshift) % nparts == part
    (a mask for a power-of-two nparts, else a multiply by ``inverse`` = 1.0 / nparts: no
    integer division per access).

    The engine picks nparts and 2**bshift so that 2**bshift * nparts divides every
    level's set count: then all lines of one set, at every level, share one owner.
    """
    if nparts == 1:
        return True
    if nparts & (nparts - 1) == 0:
        return ((line >> bshift) & (nparts - 1)) == part
    return _divmod(line >> bshift, nparts, inverse)[1] == part


@njit(cache=True)
def _run_hier(chunk, start, stop, shift, prefetch, part, nparts, bshift, max_line, geom, tags, meta, flags, sstate,
              gstate, clocks, stats, nlev, inclusive):
    """Hierarchy loop of partition ``part`` (prefetch only when nparts == 1); returns
    -1, or the index of a line above ``max_line``."""
    geom, tags, meta, flags = borrowed(geom), borrowed(tags), borrowed(meta), borrowed(flags)
    sstate, gstate, clocks, stats = borrowed(sstate), borrowed(gstate), borrowed(clocks), borrowed(stats)
    sh = np.uint64(shift)
    part_inverse = 1.0 / nparts
    llc = nlev - 1
    llc_sets = geom[llc, G_SETS]
    llc_ways = geom[llc, G_WAYS]
    llc_inverse = 1.0 / llc_sets
    for i in range(start, stop):
        if i + PREFETCH_DISTANCE < stop:  # the LLC set of an access ahead (upper levels are small)
            future = np.int64((chunk[i + PREFETCH_DISTANCE] & ADDR_MASK) >> sh)
            fbase = geom[llc, G_WOFF] + _divmod(future, llc_sets, llc_inverse)[1] * llc_ways
            _host_prefetch(tags, fbase)
            _host_prefetch(meta, fbase)
        a = chunk[i]
        line = np.int64((a & ADDR_MASK) >> sh)
        if line > max_line:
            return i
        if not _owns(line, part, nparts, bshift, part_inverse):
            continue
        reached = _demand(line, (a & WRITE_BIT) != 0, geom, tags, meta, flags, sstate, gstate, clocks, stats, part,
                          nlev, inclusive)
        if prefetch and reached:
            _prefetch(line + 1, geom, tags, meta, flags, sstate, gstate, clocks, stats, part, nlev, inclusive)
    return -1


@njit(cache=True, inline="always")
def _first_bad(status):
    """The smallest non-negative entry (a chunk index), or -1 when there is none."""
    first = -1
    for v in status:
        if v >= 0 and (first < 0 or v < first):
            first = v
    return first


@njit(cache=True, inline="always")
def _owned_addresses(chunk, lo, hi, sh, part, nparts, bshift, inverse, owned):
    """Copy the addresses of chunk[lo:hi] that partition ``part`` owns into ``owned``, in
    trace order, without a branch per address; returns how many. For a power-of-two
    partition count the owner is a bit field of the address itself."""
    k = 0
    if nparts & (nparts - 1) == 0:
        field = sh + np.uint64(bshift)
        mask = np.uint64(nparts - 1)
        want = np.uint64(part)
        for i in range(lo, hi):
            a = chunk[ix(i)]
            owned[ix(k)] = a
            k += ((a >> field) & mask) == want
        return k
    for i in range(lo, hi):
        a = chunk[ix(i)]
        owned[ix(k)] = a
        k += _owns(np.int64((a & ADDR_MASK) >> sh), part, nparts, bshift, inverse)
    return k


@njit(cache=True, parallel=True)
def _llc_parallel(chunk, start, stop, shift, prefetch, nparts, bshift, sampled, set_misses, max_line, geom, tags, meta,
                  flags, sstate, gstate, clocks, stats, seen_writes, ways_token):
    """One thread per partition of an LLC-only cache; partitions own disjoint sets, so no
    two threads touch the same state word, and stats/clocks are per-partition slices.

    Without the prefetcher each thread streams the range in blocks of OWNED_BLOCK
    accesses: a branch-free pass copies the addresses it owns into a small buffer of its
    own (it stays in L1), then the simulation loop walks that buffer. Nothing is shared
    between the threads, there is no barrier before the end, and the simulation loop sees
    only its own accesses (no unpredictable skip branch). The prefetcher's trigger (line)
    and target (line + 1) can have different owners, so with it every thread runs the
    skipping loop over the whole range. Returns -1, or the chunk index of the first
    address above ``max_line`` (32-bit tags; each thread stops at the first it meets).
    """
    status = np.full(nparts, -1, dtype=np.int64)
    if prefetch:
        for p in prange(nparts):
            status[p] = _run_llc(chunk, start, stop, shift, prefetch, p, nparts, bshift, sampled, set_misses,
                                 max_line, geom, tags, meta, flags, sstate, gstate, clocks, stats, seen_writes,
                                 ways_token)
        return _first_bad(status)
    sh = np.uint64(shift)
    inverse = 1.0 / nparts
    for p in prange(nparts):
        owned = np.empty(OWNED_BLOCK, dtype=np.uint64)
        for lo in range(start, stop, OWNED_BLOCK):
            hi = min(lo + OWNED_BLOCK, stop)
            k = _owned_addresses(chunk, lo, hi, sh, p, nparts, bshift, inverse, owned)
            bad = _run_llc(owned, 0, k, shift, False, p, 1, 0, sampled, set_misses, max_line, geom, tags, meta,
                           flags, sstate, gstate, clocks, stats, seen_writes, ways_token)
            if bad >= 0:  # the chunk index of owned[bad]: stop there, as the serial loop does
                for i in range(lo, hi):
                    if chunk[ix(i)] == owned[ix(bad)]:
                        status[p] = i
                        break
                break
    return _first_bad(status)


@njit(cache=True, parallel=True)
def _hier_parallel(chunk, start, stop, shift, prefetch, nparts, bshift, max_line, geom, tags, meta, flags, sstate,
                   gstate, clocks, stats, nlev, inclusive):
    """As ``_llc_parallel`` for a hierarchy (partitions own whole sets at every level)."""
    status = np.full(nparts, -1, dtype=np.int64)
    for p in prange(nparts):
        status[p] = _run_hier(chunk, start, stop, shift, prefetch, p, nparts, bshift, max_line, geom, tags, meta,
                              flags, sstate, gstate, clocks, stats, nlev, inclusive)
    return _first_bad(status)


@njit(cache=True)
def _renumber_stamps(geom, tags, meta, clocks):
    """Replace every LRU/FIFO set's stamps by their ranks 1..ways (order kept), and
    restart the clocks after them: stamps are uint32, and only their order within a set
    matters, so this keeps every decision while the clock can never wrap."""
    for k in range(geom.shape[0]):
        pid = geom[k, G_POLICY]
        if pid != _ids.LRU and pid != _ids.FIFO:
            continue
        ways = geom[k, G_WAYS]
        order = np.empty(ways, dtype=np.int64)
        for s in range(geom[k, G_SETS]):
            base = geom[k, G_WOFF] + s * ways
            n = 0
            for w in range(ways):
                if tags[base + w] != 0:
                    order[n] = w
                    n += 1
            for i in range(1, n):  # insertion sort of the valid ways by stamp
                w = order[i]
                j = i - 1
                while j >= 0 and meta[base + order[j]] > meta[base + w]:
                    order[j + 1] = order[j]
                    j -= 1
                order[j + 1] = w
            for w in range(ways):  # empty ways keep stamp 0, below every valid one
                meta[base + w] = 0
            for r in range(n):
                meta[base + order[r]] = r + 1
        for p in range(clocks.shape[0]):
            clocks[p, k] = ways + 1


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


def _aligned_full(n: int, value) -> np.ndarray:
    """np.full(n, value) whose data starts on a 64-byte boundary (one set = one host line)."""
    raw = np.full(n + 64, value, dtype=np.asarray(value).dtype)
    offset = (-raw.ctypes.data % 64) // raw.itemsize
    return raw[offset:offset + n]


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
    is split into at most gcd(set counts) partitions. ``tag_bits`` (32 or 64; default:
    32 when it covers every 48-bit address, which halves the tag memory) is a storage
    choice that never changes the counts. ``set_partition=(index, count)``: simulate only
    the sets owned by partition ``index`` of ``count`` (the same ownership as threads), to
    spread one configuration over processes or machines: every partition is fed the whole
    trace and ``sim.stats.merge_partitions`` sums their results into the full run's.
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
        tag_bits: int | None = None,
        set_partition: tuple[int, int] | None = None,
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
        self.set_partition = _check_partition(set_partition, threads, parallel_ok, group)
        if self.set_partition is not None:
            nparts = self.set_partition[1]
        else:
            nparts = max(d for d in range(1, threads + 1) if group % d == 0) if parallel_ok else 1
        block = OWNER_BLOCK_LINES
        while group % (block * nparts):
            block //= 2
        self.partitions = nparts
        self._bshift = block.bit_length() - 1
        self.threads_requested = threads
        self.notes: list[str] = []
        if nparts < threads:
            if not all(get_policy(c.policy).set_parallel for c in configs):
                why = "DRRIP's PSEL is shared by all sets"
            elif self.prefetch and nlev > 1:
                why = "in a hierarchy the prefetcher's trigger crosses partitions"
            else:
                why = f"the partition count must divide the set count(s) (gcd {group})"
            self.notes.append(f"ran {nparts} partition(s), not {threads}: {why}")

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
        min_sets = min(c.num_sets for c in configs)
        if tag_bits not in (None, 32, 64):
            raise ValueError(f"tag_bits={tag_bits!r}: must be None, 32 or 64")
        wide = tag_bits == 64 or (
            tag_bits is None and TAG32_LIMIT * min_sets * config.line_bytes < 2**ADDRESS_BITS_COVERED)
        self.tag_bits = 64 if wide else 32
        self._tags = _aligned_full(woff, np.uint64(0) if wide else np.uint32(0))
        # the stored tag line // sets + 1 must fit: with uint32, line < TAG32_LIMIT * sets
        self._max_line = (1 << 62) - 1 if wide else TAG32_LIMIT * min_sets - 1
        self._meta = _aligned_full(woff, np.uint32(0))  # written now: no page faults mid-run
        self._flags = np.full(woff, 0, dtype=np.uint8)
        self._sstate = np.concatenate(sstates)
        self._gstate = np.full(nlev, drrip.PSEL_INIT, dtype=np.int64)
        self._clocks = np.zeros((nparts, nlev), dtype=np.int64)
        self._seen_writes = np.zeros(nparts, dtype=np.uint8)  # LLC-only: a partition's flags may be non-zero
        self._ways_token = (0,) * config.ways if nlev == 1 and config.ways in UNROLLED_WAYS else ()
        self._stats = np.zeros((nparts, nlev, NSTAT), dtype=np.int64)
        if self.set_partition is not None:  # count only this partition's sets
            index, count = self.set_partition
            lines = np.arange(llc_sets, dtype=np.int64)
            owned = ((lines >> self._bshift) % count) == index
            llc_sets = int(owned.sum())
            sampled = sampled & owned
            self.sampled_sets = int(sampled.sum())
        self.owned_sets = llc_sets
        self._sampled = sampled.astype(np.uint8) if self.sampled_sets < llc_sets else np.zeros(0, dtype=np.uint8)
        self._set_misses = np.zeros(config.num_sets if self._sampled.size else 0, dtype=np.int64)
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
        while stop - start > RUN_PIECE:
            self._run(arr, start, start + RUN_PIECE)
            start += RUN_PIECE
        if stop <= start:
            return
        if int(self._clocks.max()) + STAMPS_PER_ACCESS * (stop - start) > STAMP_LIMIT:
            _renumber_stamps(self._geom, self._tags, self._meta, self._clocks)
        args = (arr, start, stop, self.configs[-1].line_shift, self.prefetch)
        if self.set_partition is not None:
            part, nparts = self.set_partition[0], self.partitions
        else:
            part, nparts = 0, self.partitions
        bshift = self._bshift if nparts > 1 else 0
        common = (self._max_line, self._geom, self._tags, self._meta, self._flags, self._sstate, self._gstate,
                  self._clocks, self._stats)
        threaded = self.set_partition is None and nparts > 1
        if threaded:
            numba.set_num_threads(max(1, min(nparts, numba.config.NUMBA_NUM_THREADS)))
        if self._nlev == 1:
            llc = (self._sampled, self._set_misses, *common, self._seen_writes, self._ways_token)
            if threaded:
                bad = _llc_parallel(*args, nparts, bshift, *llc)
            else:
                bad = _run_llc(*args, part, nparts, bshift, *llc)
        else:
            hier = (*common, self._nlev, self.inclusive)
            if threaded:
                bad = _hier_parallel(*args, nparts, bshift, *hier)
            else:
                bad = _run_hier(*args, part, nparts, bshift, *hier)
        if bad >= 0:
            raise ValueError(
                f"address {int(arr[bad]) & int(ADDR_MASK):#x} is too large for 32-bit tags in this geometry "
                f"(byte addresses must stay below {(self._max_line + 1) * self.configs[-1].line_bytes:#x}; "
                "pass tag_bits=64)"
            )

    def reset_stats(self) -> None:
        """Zero every counter (cache contents and policy state are kept)."""
        self._stats[:] = 0
        self._set_misses[:] = 0
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
        return SimResult(
            levels=tuple(levels),
            dram_read_bytes=int(llc_total[S_DRAM_RD]) * line,
            dram_write_bytes=int(llc_total[S_DRAM_WR]) * line,
            trace_accesses=int(trace_accesses),
            warmup_accesses=int(self._measured_from),
            inclusive=self.inclusive,
            prefetch=self.prefetch,
            sampled_sets=self.sampled_sets,
            total_sets=self.owned_sets,
            set_miss_sumsq=int(np.dot(self._set_misses, self._set_misses)),
            threads=1 if self.set_partition else self.partitions,
            set_partition=self.set_partition or (),
            notes=tuple(self.notes),
        )


def _check_partition(set_partition, threads: int, parallel_ok: bool, group: int) -> tuple[int, int] | None:
    """Validate ``set_partition=(index, count)``; None stays None."""
    if set_partition is None:
        return None
    try:
        index, count = (int(v) for v in set_partition)
    except (TypeError, ValueError):
        raise ValueError(f"set_partition={set_partition!r}: expected (index, count)") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"set_partition={set_partition!r}: need count >= 1 and 0 <= index < count")
    if threads != 1:
        raise ValueError("set_partition runs one partition in one thread: pass threads=1")
    if count > 1 and not parallel_ok:
        raise ValueError("set_partition: this configuration cannot be split by sets (DRRIP's PSEL is shared by "
                         "all sets; in a hierarchy the prefetcher's trigger crosses partitions)")
    if group % count:
        raise ValueError(f"set_partition: {count} partitions do not divide the set count(s) (gcd {group})")
    return index, count


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
