"""The cache simulation kernels (Numba); ``sim.engine.simulator`` is their Python wrapper.

The state of all levels travels as one tuple, ``state`` (built by ``make_state``, in the
order of the ``ST_*`` indices), of flat arrays indexed through ``geom[level]``:
``tags`` (stored tag = line // num_sets + 1, 0 = invalid; uint32 when every level's
sets x 2**32 lines cover the 48-bit address space, so a 16-way set is one 64-byte host
line, else uint64; 64-byte aligned), ``meta`` (uint32 per-way policy word: RRPVs, or
LRU/FIFO stamps, renumbered by rank before a clock could wrap), ``flags`` (uint8: bit 0
dirty, bit 1 prefetched and not yet used), ``sstate`` (uint64 per set), ``gstate``
(int64 per level: DRRIP's PSEL). Statistics go to ``stats[part, level, :]`` and LRU/FIFO
stamps come from ``clocks[part, level]``: a set is only ever touched by one partition,
so its stamps keep their order whatever the partitioning. LLC-only runs also use
``sampled`` (uint8 per LLC set, empty when every set is simulated), ``set_misses``
(int64 per sampled LLC set) and ``seen_writes`` (uint8 per partition: its flags may be
non-zero).

Policy dispatch: every registered policy id has its own branch calling its own module
(``sim.policies.<name>``); an id without a branch raises (no default policy).

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

from sim.access import ADDR_MASK, WRITE_FLAG
from sim.intrinsics import borrowed, ix, prefetch as _host_prefetch
from sim.policies import _ids, brrip, drrip, fifo, lru, plru, rand, srrip

POLICY_IDS = (_ids.LRU, _ids.FIFO, _ids.RANDOM, _ids.PLRU, _ids.SRRIP, _ids.BRRIP, _ids.DRRIP)  # ids dispatched below

TAG32_LIMIT = 0xFFFFFFFF  # largest stored tag in a uint32 tags array
STAMP_LIMIT = 0xFFFFFFFF  # largest LRU/FIFO stamp in the uint32 meta array
STAMPS_PER_ACCESS = 4  # most clock ticks one access can cause in a level (hit/fill, write-back, prefetch)
UNROLLED_WAYS = (12, 16)  # LLC associativities compiled with the set scans unrolled (each costs a compile)
RUN_PIECE = 1 << 28  # accesses per kernel call, so that a renumbering always fits between calls
OWNED_BLOCK = 4096  # threaded LLC-only runs: accesses scanned per block (an L1-sized buffer of owned ones)
ADDRESS_BITS_COVERED = 48  # uint32 tags only when they cover every 48-bit byte address
NOT_SIMULATED = 255  # served level of an access no level simulated (a set not sampled, a set not owned)
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

WRITE_BIT = WRITE_FLAG

# positions in the state tuple
ST_GEOM = 0
ST_TAGS = 1
ST_META = 2
ST_FLAGS = 3
ST_SSTATE = 4
ST_GSTATE = 5
ST_CLOCKS = 6
ST_STATS = 7
ST_SAMPLED = 8
ST_SET_MISSES = 9
ST_SEEN_WRITES = 10


def make_state(geom, tags, meta, flags, sstate, gstate, clocks, stats, sampled, set_misses, seen_writes) -> tuple:
    """The state tuple every kernel takes (the arrays themselves, not copies)."""
    return (geom, tags, meta, flags, sstate, gstate, clocks, stats, sampled, set_misses, seen_writes)


@njit(cache=True, inline="always")
def _borrow(state):
    """``state`` with every array borrowed (see ``sim.intrinsics.borrowed``): no atomic
    reference counting in the helpers; the caller holds the owners for the whole call."""
    geom, tags, meta, flags, sstate, gstate, clocks, stats, sampled, set_misses, seen_writes = state
    return (borrowed(geom), borrowed(tags), borrowed(meta), borrowed(flags), borrowed(sstate), borrowed(gstate),
            borrowed(clocks), borrowed(stats), borrowed(sampled), borrowed(set_misses), borrowed(seen_writes))


@njit(cache=True, inline="always")
def _unknown_policy():
    raise ValueError("unknown replacement policy id in the engine (not in sim.policies.POLICIES)")


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
    if pid == _ids.SRRIP:
        return srrip.victim(meta, base, ways, sstate, sidx)
    if pid == _ids.BRRIP:
        return brrip.victim(meta, base, ways, sstate, sidx)
    if pid == _ids.DRRIP:
        return drrip.victim(meta, base, ways, sstate, sidx)
    _unknown_policy()
    return 0


@njit(cache=True, inline="always")
def _policy_hit(pid, meta, base, ways, way, sstate, sidx, clock):
    if pid == _ids.LRU:
        lru.on_hit(meta, base, ways, way, sstate, sidx, clock)
    elif pid == _ids.FIFO:
        fifo.on_hit(meta, base, ways, way, sstate, sidx, clock)
    elif pid == _ids.RANDOM:
        rand.on_hit(meta, base, ways, way, sstate, sidx, clock)
    elif pid == _ids.PLRU:
        plru.on_hit(meta, base, ways, way, sstate, sidx, clock)
    elif pid == _ids.SRRIP:
        srrip.on_hit(meta, base, ways, way, sstate, sidx, clock)
    elif pid == _ids.BRRIP:
        brrip.on_hit(meta, base, ways, way, sstate, sidx, clock)
    elif pid == _ids.DRRIP:
        drrip.on_hit(meta, base, ways, way, sstate, sidx, clock)
    else:
        _unknown_policy()


@njit(cache=True, inline="always")
def _policy_fill(pid, meta, base, ways, way, sstate, sidx, clock, gstate, k, set_idx, num_sets):
    if pid == _ids.LRU:
        lru.on_fill(meta, base, ways, way, sstate, sidx, clock)
    elif pid == _ids.FIFO:
        fifo.on_fill(meta, base, ways, way, sstate, sidx, clock)
    elif pid == _ids.RANDOM:
        rand.on_fill(meta, base, ways, way, sstate, sidx, clock)
    elif pid == _ids.PLRU:
        plru.on_fill(meta, base, ways, way, sstate, sidx, clock)
    elif pid == _ids.SRRIP:
        srrip.on_fill(meta, base, ways, way, sstate, sidx, clock)
    elif pid == _ids.BRRIP:
        brrip.on_fill(meta, base, ways, way, sstate, sidx, clock)
    elif pid == _ids.DRRIP:
        role = drrip.set_role(set_idx, num_sets)
        drrip.on_fill(meta, base, ways, way, sstate, sidx, clock, drrip.uses_brrip(gstate, k, role))
    else:
        _unknown_policy()


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
def _install(k, line, new_flags, state, part, nlev, inclusive):
    """Fill ``line`` into level k; return (victim line or -1, victim dirty)."""
    geom, tags, meta, flags, sstate, gstate, clocks, stats = state[:8]  # ST_GEOM .. ST_STATS
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
def _writeback(k, line, state, part, nlev, inclusive):
    """Write dirty ``line`` back into level k (allocating on a miss), cascading down."""
    geom, tags, flags, stats = state[ST_GEOM], state[ST_TAGS], state[ST_FLAGS], state[ST_STATS]
    while True:
        if k >= nlev:
            stats[part, nlev - 1, S_DRAM_WR] += 1
            return
        base, way = _find_line(k, line, geom, tags)
        if way >= 0:
            flags[base + way] |= F_DIRTY
            return
        victim, dirty = _install(k, line, F_DIRTY, state, part, nlev, inclusive)
        if victim < 0 or not dirty:
            return
        line = victim
        k += 1


@njit(cache=True, inline="always")
def _demand(line, is_write, state, part, nlev, inclusive):
    """One demand access; returns the index of the level that served it (nlev = memory)."""
    geom, tags, meta, flags, sstate, gstate, clocks, stats = state[:8]  # ST_GEOM .. ST_STATS
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
        victim, dirty = _install(k, line, new_flags, state, part, nlev, inclusive)
        if victim >= 0 and dirty:
            _writeback(k + 1, victim, state, part, nlev, inclusive)
    return hit_level


@njit(cache=True)
def _prefetch(line, state, part, nlev, inclusive):
    """Next-line prefetch of ``line`` into the LLC when absent."""
    geom, tags, stats = state[ST_GEOM], state[ST_TAGS], state[ST_STATS]
    k = nlev - 1
    if _find_line(k, line, geom, tags)[1] >= 0:
        return
    stats[part, k, S_PF_FILL] += 1
    stats[part, k, S_DRAM_RD] += 1
    victim, dirty = _install(k, line, F_PREFETCHED, state, part, nlev, inclusive)
    if victim >= 0 and dirty:
        _writeback(k + 1, victim, state, part, nlev, inclusive)


@njit(cache=True)
def run_llc(chunk, start, stop, shift, prefetch, part, nparts, bshift, max_line, state, ways_token, served):
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

    ``served`` (uint8, empty = not recorded): ``served[i]`` = 0 (LLC hit) or 1 (memory)
    for every access this call simulates; the others are left as they are.
    """
    state = _borrow(state)
    geom, tags, meta, flags, sstate, gstate, clocks, stats, sampled, set_misses, seen_writes = state
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
    record = served.size != 0
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
                _prefetch(line + 1, state, part, 1, False)
                clock = clocks[part, 0]
            continue
        quotient, set_idx = _divmod(line, num_sets, inverse)
        if sampling and sampled[set_idx] == 0:
            if do_prefetch:
                clocks[part, 0] = clock
                _prefetch(line + 1, state, part, 1, False)
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
        if record:
            served[ix(i)] = 0 if way >= 0 else 1
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
            _prefetch(line + 1, state, part, 1, False)
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
def run_hier(chunk, start, stop, shift, prefetch, part, nparts, bshift, max_line, state, nlev, inclusive, served):
    """Hierarchy loop of partition ``part`` (prefetch only when nparts == 1); returns
    -1, or the index of a line above ``max_line``. ``served`` (uint8, empty = not
    recorded): ``served[i]`` = the level that served each access this call simulates."""
    state = _borrow(state)
    geom, tags, meta = state[ST_GEOM], state[ST_TAGS], state[ST_META]
    sh = np.uint64(shift)
    part_inverse = 1.0 / nparts
    llc = nlev - 1
    llc_sets = geom[llc, G_SETS]
    llc_ways = geom[llc, G_WAYS]
    llc_inverse = 1.0 / llc_sets
    record = served.size != 0
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
        level = _demand(line, (a & WRITE_BIT) != 0, state, part, nlev, inclusive)
        if record:
            served[i] = level
        if prefetch and level >= nlev - 1:
            _prefetch(line + 1, state, part, nlev, inclusive)
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


@njit(cache=True, inline="always")
def _scatter_served(chunk, lo, hi, sh, part, nparts, bshift, inverse, block_served, served):
    """Copy a block's served levels (in owned order) to the owned positions of chunk[lo:hi]."""
    k = 0
    for i in range(lo, hi):
        if _owns(np.int64((chunk[ix(i)] & ADDR_MASK) >> sh), part, nparts, bshift, inverse):
            served[ix(i)] = block_served[ix(k)]
            k += 1


@njit(cache=True, parallel=True)
def run_llc_parallel(chunk, start, stop, shift, prefetch, nparts, bshift, max_line, state, ways_token, served):
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
    ``served``: as for ``run_llc``; each thread writes only the accesses it owns (a block's
    levels go to a buffer of its own, then to the owned positions of ``served``).
    """
    status = np.full(nparts, -1, dtype=np.int64)
    if prefetch:
        for p in prange(nparts):
            status[p] = run_llc(chunk, start, stop, shift, prefetch, p, nparts, bshift, max_line, state, ways_token,
                                served)
        return _first_bad(status)
    sh = np.uint64(shift)
    inverse = 1.0 / nparts
    record = served.size != 0
    for p in prange(nparts):
        owned = np.empty(OWNED_BLOCK, dtype=np.uint64)
        block_served = np.empty(OWNED_BLOCK if record else 0, dtype=np.uint8)
        for lo in range(start, stop, OWNED_BLOCK):
            hi = min(lo + OWNED_BLOCK, stop)
            k = _owned_addresses(chunk, lo, hi, sh, p, nparts, bshift, inverse, owned)
            if record:
                block_served[:k] = NOT_SIMULATED
            bad = run_llc(owned, 0, k, shift, False, p, 1, 0, max_line, state, ways_token, block_served)
            if record:
                _scatter_served(chunk, lo, hi, sh, p, nparts, bshift, inverse, block_served, served)
            if bad >= 0:  # the chunk index of owned[bad]: stop there, as the serial loop does
                for i in range(lo, hi):
                    if chunk[ix(i)] == owned[ix(bad)]:
                        status[p] = i
                        break
                break
    return _first_bad(status)


@njit(cache=True, parallel=True)
def run_hier_parallel(chunk, start, stop, shift, prefetch, nparts, bshift, max_line, state, nlev, inclusive, served):
    """As ``run_llc_parallel`` for a hierarchy (partitions own whole sets at every level)."""
    status = np.full(nparts, -1, dtype=np.int64)
    for p in prange(nparts):
        status[p] = run_hier(chunk, start, stop, shift, prefetch, p, nparts, bshift, max_line, state, nlev, inclusive,
                             served)
    return _first_bad(status)


@njit(cache=True)
def renumber_stamps(state):
    """Replace every LRU/FIFO set's stamps by their ranks 1..ways (order kept), and
    restart the clocks after them: stamps are uint32, and only their order within a set
    matters, so this keeps every decision while the clock can never wrap."""
    geom, tags, meta, clocks = state[ST_GEOM], state[ST_TAGS], state[ST_META], state[ST_CLOCKS]
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
