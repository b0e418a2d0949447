"""One-pass LRU miss-ratio curves from exact stack distances.

Why: an architect sizing a cache wants the miss ratio at every size, not at three points.
LRU has the inclusion property (Mattson et al. 1970): an access hits in an LRU cache of C
lines iff its *stack distance* (number of distinct other lines touched since the previous
access to the same line) is below C. One pass that histograms stack distances therefore
gives the exact fully-associative LRU miss count at every size from one line to the footprint.

How (per access, O(log reuse-time) and memory proportional to distinct lines):
- a growing open-addressing hash table (numba arrays, linear probing, load factor up to
  3/4: growing it is mostly first touches of fresh memory, so fewer bytes beat shorter
  probes) maps line -> time of its last access; the slot of a line is
  ``fib_hash(line >> 3) * 8 + (line & 7)`` so the 8 lines of a 512 B block share one 64 B
  cache line of keys;
- the last access of each live line is a set bit on a time axis (a bitmap), with a Fenwick
  tree over the popcounts of its complete 64-bit words; the stack distance of a reuse of
  time p is ``live lines - marks at times <= p``: one prefix walk plus one popcount. The
  bitmap and word tree are 1/32 and 1/16 of a per-time int32 tree, so they stay in cache;
- when the time axis fills, it is compacted: live marks are renumbered 0..live-1 in order
  and the tree is rebuilt. With one set the new time of each line is its rank on the
  bitmap, found by one sequential walk of the hash table (no time -> slot map to keep);
  per-set axes keep that map and compact one segment in O(its live lines). The axis is
  kept between 4x and 8x the live lines, so state stays sized by distinct lines, not by
  trace length;
- a chunk is processed in one numba call that prefetches the hash slot and bitmap word of
  accesses a few steps ahead and fills the histogram in a separate loop (independent
  increments overlap their cache misses). Big arrays grow in Python with numpy.

Set-associative curves: with ``sets=S`` (set = line mod S, as in the simulator) each set
keeps its own segment of the time axis, and the distance counts only lines of the same
set. An access hits in an S-set, A-way LRU cache iff its per-set distance is below A, so
one pass gives the exact LRU miss count of every associativity at that set count: the
point for A ways is a cache of S * A * line_bytes bytes. Sizes between those points do not
exist for that set count (see docs/mrc.md).

Traces are iterators of uint64 byte-address chunks (bit 63 = write flag, ignored here:
LRU hit/miss does not depend on the access kind). State is kept across chunks, so the
result does not depend on how the trace is chunked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
from numba import njit

from sim.access import ADDR_MASK, as_chunk
from sim.intrinsics import borrowed
from sim.intrinsics import ctz as _ctz
from sim.intrinsics import ix
from sim.intrinsics import popcount as _popcount
from sim.intrinsics import prefetch as _prefetch
from sim.sizes import format_size

EMPTY_KEY = np.uint64(0xFFFFFFFFFFFFFFFF)
_FIB = np.uint64(0x9E3779B97F4A7C15)
_ADDR_MASK = ADDR_MASK
_SEVEN = np.uint64(7)
_THREE = np.uint64(3)
_ONE = np.uint64(1)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)

_MIN_HASH_BITS = 10          # smallest hash table: 1024 slots
_MIN_SEG_CAP_FULL = 1 << 12  # initial time axis of the fully-associative case
_MIN_SEG_CAP_SET = 64        # initial time axis of each set when sets > 1
_AXIS_SLACK = 4              # after compaction the time axis holds >= 4x the live lines


# --------------------------------------------------------------------------- hash table


@njit(cache=True, inline="always")
def _home(line, bits):
    """Home slot of ``line`` in a table of 2**bits slots (bits >= 4)."""
    group = ((line >> _THREE) * _FIB) >> np.uint64(67 - bits)
    return np.int64((group << _THREE) | (line & _SEVEN))


@njit(cache=True, inline="always")
def _table_limit(bits):
    """Lines a table of 2**bits slots holds before it grows (load factor 3/4)."""
    return ((np.int64(1) << bits) >> 2) * 3


@njit(cache=True, inline="always")
def _find(keys, line, bits):
    """Slot holding ``line``, or -(empty slot + 1) where it would go."""
    mask = (np.int64(1) << bits) - 1
    h = _home(line, bits)
    while True:
        k = keys[ix(h)]
        if k == line:
            return h
        if k == EMPTY_KEY:
            return -h - 1
        h = (h + 1) & mask


@njit(cache=True)
def _rehash_into(keys, vals, new_keys, new_vals, bits_new):
    """Reinsert every key of ``keys`` into the empty table ``new_keys`` of 2**bits_new slots.

    Big arrays are allocated by numpy in Python (it asks the kernel for huge pages; first
    touches of numba-allocated arrays cost 4 KiB page faults, slow in a VM)."""
    for h in range(keys.size):
        k = keys[h]
        if k != EMPTY_KEY:
            j = -_find(new_keys, k, bits_new) - 1
            new_keys[j] = k
            new_vals[j] = vals[h]


@njit(cache=True)
def _delete_slot(keys, vals, slot, seg_base0, bits, h):
    """Remove slot ``h`` (backward-shift deletion, single-segment tables only)."""
    mask = (np.int64(1) << bits) - 1
    i = h
    j = h
    while True:
        j = (j + 1) & mask
        k = keys[j]
        if k == EMPTY_KEY:
            break
        home = _home(k, bits)
        if i <= j:
            stays = i < home <= j
        else:
            stays = home > i or home <= j
        if stays:
            continue
        keys[i] = k
        vals[i] = vals[j]
        slot[(seg_base0 << 6) + vals[i]] = i
        i = j
    keys[i] = EMPTY_KEY


# --------------------------------------------------------------------------- time axis
# Segment s owns words [wb, wb + cap/64) of ``bits`` and ``fen`` and entries
# [64*wb, 64*wb + cap) of ``slot``, where wb = seg_base[s] and cap = seg_cap[s] (a power of
# two >= 64). Bit u of the segment is set iff time u is the last access of a live line;
# slot[64*wb + u] is that line's hash slot. fen[wb + n - 1] is Fenwick node n over the
# popcounts of the *complete* words (word n - 1 <-> node n); the word being filled is read
# directly. The bitmap is 1/32 of the int32 tree it replaces, so the hot part stays in cache.


@njit(cache=True, inline="always")
def _count_after(bits, fen, b, p, tau, live):
    """Marks at times p+1 .. tau-1: the stack distance of a reuse whose previous access was p.

    Every live line has one mark before tau, so this is live minus the marks at times <= p:
    one branch-free Fenwick prefix walk (no data-dependent branches to mispredict).
    """
    wp = p >> 6
    if wp == tau >> 6:
        return np.int64(_popcount((bits[ix(b + wp)] >> np.uint64(p & 63)) >> _ONE))
    upto = np.int64(_popcount(bits[ix(b + wp)] & (_ALL >> np.uint64(63 - (p & 63)))))
    i = wp
    while i > 0:
        upto += fen[ix(b + i - 1)]
        i &= i - 1
    return live - upto


@njit(cache=True, inline="always")
def _fen_sub(fen, b, w, tau, amount):
    """Subtract ``amount`` marks of word w from the built Fenwick nodes above it."""
    wt = tau >> 6
    k = w + 1
    while k <= wt:
        fen[ix(b + k - 1)] -= amount
        k += k & -k


@njit(cache=True, inline="always")
def _remove_mark(bits, fen, b, p, tau):
    """Clear the mark at time p (and in the built Fenwick nodes, those of complete words)."""
    wp = p >> 6
    bits[ix(b + wp)] &= ~(_ONE << np.uint64(p & 63))
    _fen_sub(fen, b, wp, tau, 1)


@njit(cache=True, inline="always")
def _append_mark(bits, fen, slot, b, tau, h):
    """Mark time tau; when that completes a word, build its Fenwick node (amortised O(1))."""
    w = tau >> 6
    r = tau & 63
    bits[ix(b + w)] |= _ONE << np.uint64(r)
    if slot.size:  # empty: the single-segment pass keeps no time -> slot map
        slot[ix((b << 6) + tau)] = h
    if r == 63:
        n = w + 1
        v = np.int64(_popcount(bits[ix(b + w)]))
        low = n & -n
        k = 1
        while k < low:
            v += fen[ix(b + n - k - 1)]
            k <<= 1
        fen[ix(b + w)] = v


@njit(cache=True)
def _compact_plan(s, seg_base, seg_cap, seg_live, pool_words, slack):
    """(new base, new cap, pool words in use afterwards) of compacting set s."""
    cap = seg_cap[s]
    live = seg_live[s]
    b = seg_base[s]
    new_cap = cap
    while live * slack > new_cap:
        new_cap *= 2
    if new_cap == cap:
        return b, cap, pool_words
    if b + (cap >> 6) == pool_words:  # last segment of the pool: grow in place
        return b, new_cap, b + (new_cap >> 6)
    return pool_words, new_cap, pool_words + (new_cap >> 6)


@njit(cache=True, inline="always")
def _mark_first(bits, fen, nb, live, cap):
    """Lay out a compacted segment at word nb: marks at times 0..live-1, none after, up to
    ``cap`` time units, and the Fenwick nodes of its complete (all-ones) words."""
    full = live >> 6
    for w in range(full):
        bits[nb + w] = _ALL
        n = w + 1
        fen[nb + w] = 64 * (n & -n)
    for w in range(full, cap >> 6):
        bits[nb + w] = 0
    if live & 63:
        bits[nb + full] = (_ONE << np.uint64(live & 63)) - _ONE


@njit(cache=True)
def _compact(s, bits, fen, slot, vals, seg_base, seg_cap, seg_time, seg_live, pool_words, slack):
    """Renumber set s's live marks to times 0..live-1, moving or growing its segment so the
    axis holds >= slack x live. Returns the pool words in use, or -1 (nothing done) when
    the pool arrays are too small: the caller grows them and calls again."""
    nb, new_cap, new_pool = _compact_plan(s, seg_base, seg_cap, seg_live, pool_words, slack)
    if new_pool > bits.size:
        return -1
    b = seg_base[s]
    new = 0
    sb = b << 6
    nsb = nb << 6
    for w in range(seg_time[s] >> 6):
        word = bits[b + w]
        while word:
            u = (w << 6) + np.int64(_ctz(word))
            word &= word - _ONE
            h = slot[sb + u]
            vals[h] = new
            slot[nsb + new] = h
            new += 1
    _mark_first(bits, fen, nb, new, new_cap)
    seg_base[s] = nb
    seg_cap[s] = new_cap
    seg_time[s] = new
    return new_pool


@njit(cache=True)
def _compact_by_table(keys, vals, bits, fen, seg_base, seg_cap, seg_time, seg_live, pool_words, slack):
    """``_compact`` for the single-segment axis without a time -> slot map: renumber every
    live line's time to its rank among the marks, walking the hash table in slot order.

    The rank of time t is (marks in words before t's word) + (marks below t in its word);
    the per-word prefix counts are built in ``fen`` (rebuilt afterwards anyway). The table
    walk reads and writes ``vals`` sequentially, and the bitmap and counts it looks up are
    1/8 and 1/16 byte per time unit, so they stay in cache. Returns as ``_compact``."""
    _, new_cap, new_pool = _compact_plan(0, seg_base, seg_cap, seg_live, pool_words, slack)
    if new_pool > bits.size:
        return -1
    words = (seg_time[0] + 63) >> 6
    marks = 0
    for w in range(words):
        fen[w] = marks
        marks += np.int64(_popcount(bits[w]))
    for h in range(keys.size):
        if keys[h] != EMPTY_KEY:
            t = np.int64(vals[h])
            w = t >> 6
            vals[h] = fen[w] + np.int64(_popcount(bits[w] & ((_ONE << np.uint64(t & 63)) - _ONE)))
    _mark_first(bits, fen, 0, marks, new_cap)
    seg_cap[0] = new_cap
    seg_time[0] = marks
    return new_pool


@njit(cache=True)
def _relink_slots(keys, vals, slot, nsets, seg_base):
    """After a rehash: point every live time back at its line's new hash slot."""
    S = np.uint64(nsets)
    for h in range(keys.size):
        k = keys[h]
        if k != EMPTY_KEY:
            s = 0 if nsets == 1 else np.int64(k % S)
            slot[(seg_base[s] << 6) + vals[h]] = h


# --------------------------------------------------------------------------- the pass

_AHEAD_KEYS = 64  # prefetch the hash slot of the access this far ahead
_AHEAD_MARK = 32  # ... and the bitmap word / Fenwick path of its previous access this far ahead


@njit(cache=True)
def _run(chunk, start, shift, nsets, keys, vals, bits, fen, slot, dist, hist_size, seg_base, seg_cap, seg_time,
         seg_live, meta):
    """Process accesses from ``start`` until the end or until one needs a rare event
    (table growth or axis compaction); return the index it stopped at. dist[i] gets the
    stack distance of access i (-1: first touch); the histogram is filled afterwards in a
    separate loop, whose independent increments overlap their cache misses. The hash slot
    and the previous mark of accesses a few steps ahead are prefetched, since each access
    is otherwise a chain of dependent cache misses. No array is reassigned here."""
    keys, vals, bits, fen, slot, dist = borrowed(keys), borrowed(vals), borrowed(bits), borrowed(fen), \
        borrowed(slot), borrowed(dist)  # no atomic reference counting in the inlined helpers
    seg_base, seg_cap, seg_time, seg_live = borrowed(seg_base), borrowed(seg_cap), borrowed(seg_time), \
        borrowed(seg_live)
    count = meta[0]
    hbits = meta[1]
    cold = meta[3]
    # stop before the table passes its load limit, or before a distance (< distinct lines) could
    # fall outside the histogram
    limit = min(_table_limit(hbits), hist_size - 1)
    S = np.uint64(nsets)
    ushift = np.uint64(shift)
    i = start
    n = chunk.size
    last_word = bits.size - 1
    prev_line = _ALL  # previous access: line, time of its previous access, its distance
    prev_p = np.int64(-2)
    prev_d = np.int64(-1)
    pending = 0  # Fenwick decrements owed to word pending_word (fully associative only)
    pending_word = np.int64(0)
    keys_ahead = _ALL  # the lines last prefetched at each distance
    mark_ahead = _ALL
    while i < n:
        if i + _AHEAD_KEYS < n:
            ahead = (chunk[ix(i + _AHEAD_KEYS)] & _ADDR_MASK) >> ushift
            if (ahead ^ keys_ahead) >> _THREE:  # a new 8-line group: another host line of keys
                slot_ahead = _home(ahead, hbits)
                _prefetch(keys, slot_ahead)
                _prefetch(vals, slot_ahead)
            keys_ahead = ahead
        if i + _AHEAD_MARK < n:
            ahead = (chunk[ix(i + _AHEAD_MARK)] & _ADDR_MASK) >> ushift
            if nsets != 1 or ahead != mark_ahead + _ONE:
                # not the next line of a run (whose previous mark sits next to its
                # predecessor's): prefetch its bitmap word and Fenwick prefix path
                s_ahead = 0 if nsets == 1 else np.int64(ahead % S)
                base_ahead = seg_base[ix(s_ahead)]
                word_ahead = min(base_ahead + (np.int64(vals[ix(_home(ahead, hbits))]) >> 6), last_word)
                _prefetch(bits, word_ahead)
                node = word_ahead - base_ahead
                while node > 0:
                    _prefetch(fen, base_ahead + node - 1)
                    node &= node - 1
            mark_ahead = ahead
        line = (chunk[ix(i)] & _ADDR_MASK) >> ushift
        s = 0 if nsets == 1 else np.int64(line % S)
        tau = seg_time[ix(s)]
        if count >= limit or tau == seg_cap[ix(s)]:
            break
        b = seg_base[ix(s)]
        h = _find(keys, line, hbits)
        if h >= 0:
            p = np.int64(vals[ix(h)])
            if nsets == 1 and line == prev_line + _ONE and p == prev_p + 1 and prev_d >= 0:
                # the line after the previous access's line, last touched right after it:
                # same stack distance (the lines between them are the same, shifted by one)
                d = prev_d
            else:
                if pending:
                    _fen_sub(fen, b, pending_word, tau, pending)
                    pending = 0
                d = _count_after(bits, fen, b, p, tau, seg_live[ix(s)])
            dist[ix(i)] = d
            if nsets == 1:
                # clear the mark; its Fenwick decrement waits while marks leave the same
                # word (no prefix query happens in between: only runs skip the query),
                # and is paid before any query and before a new node is built
                wp = p >> 6
                bits[ix(b + wp)] &= ~(_ONE << np.uint64(p & 63))
                if pending and wp != pending_word:
                    _fen_sub(fen, b, pending_word, tau, pending)
                    pending = 0
                pending_word = wp
                pending += 1
            else:
                _remove_mark(bits, fen, b, p, tau)
            prev_p = p
            prev_d = d
        else:
            dist[ix(i)] = -1
            h = -h - 1
            keys[ix(h)] = line
            count += 1
            cold += 1
            seg_live[ix(s)] += 1
            prev_d = -1
        prev_line = line
        if pending and (tau & 63) == 63:  # a Fenwick node is built from its children next
            _fen_sub(fen, b, pending_word, tau, pending)
            pending = 0
        _append_mark(bits, fen, slot, b, tau, h)
        vals[ix(h)] = tau
        seg_time[ix(s)] = tau + 1
        i += 1
    if pending:
        _fen_sub(fen, seg_base[0], pending_word, seg_time[0], pending)
    meta[0] = count
    meta[3] = cold
    return i


@njit(cache=True)
def _accumulate(hist, dist, start, stop):
    """hist[d] += 1 for every reuse distance in dist[start:stop] (independent increments
    in a small loop, so their cache misses overlap)."""
    for k in range(start, stop):
        d = dist[k]
        if d >= 0:
            hist[d] += 1


EVENT_DONE = 0        # chunk finished
EVENT_GROW_TABLE = 1  # the hash table reached its load limit: grow it, then call again
EVENT_GROW_POOL = 2   # a compaction needs more time-axis words: grow the pool, then call again
EVENT_GROW_HIST = 3   # distinct lines reached the histogram length: grow it, then call again


# meta: [0] distinct lines in the table, [1] log2 table slots, [2] words of the pool in use,
#       [3] cold (first-touch) accesses
@njit(cache=True)
def _kernel(chunk, start, shift, nsets, keys, vals, bits, fen, slot, hist, dist, seg_base, seg_cap, seg_time,
            seg_live, meta):
    """Process chunk[start:] until done or until an event needs new arrays from the caller.

    Returns (index of the first unprocessed access, event)."""
    S = np.uint64(nsets)
    i = start
    while True:
        stop = _run(chunk, i, shift, nsets, keys, vals, bits, fen, slot, dist, hist.size, seg_base, seg_cap,
                    seg_time, seg_live, meta)
        _accumulate(hist, dist, i, stop)
        i = stop
        if i >= chunk.size:
            return i, EVENT_DONE
        if meta[0] >= _table_limit(meta[1]):
            return i, EVENT_GROW_TABLE
        if meta[0] >= hist.size - 1:
            return i, EVENT_GROW_HIST
        line = (chunk[i] & _ADDR_MASK) >> np.uint64(shift)
        s = 0 if nsets == 1 else np.int64(line % S)
        if seg_time[s] == seg_cap[s]:
            if slot.size:
                pool = _compact(s, bits, fen, slot, vals, seg_base, seg_cap, seg_time, seg_live, meta[2],
                                _AXIS_SLACK)
            else:
                pool = _compact_by_table(keys, vals, bits, fen, seg_base, seg_cap, seg_time, seg_live, meta[2],
                                         _AXIS_SLACK)
            if pool < 0:
                return i, EVENT_GROW_POOL
            meta[2] = pool


# --------------------------------------------------------------------------- input handling


def _line_shift(line_bytes: int) -> int:
    if isinstance(line_bytes, bool) or not isinstance(line_bytes, (int, np.integer)) or line_bytes < 1:
        raise ValueError(f"line_bytes must be a positive integer, got {line_bytes!r}")
    if line_bytes & (line_bytes - 1):
        raise ValueError(f"line_bytes must be a power of two (e.g. 64), got {line_bytes}")
    return int(line_bytes).bit_length() - 1


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class MissRatioCurve:
    """LRU miss counts at every capacity, from a (possibly sampled) reuse-distance histogram.

    Capacity is counted in lines per set (``sets == 1``: lines of a fully-associative cache;
    ``sets > 1``: ways). ``reuse_lo`` / ``reuse_hi`` / ``reuse_weight`` describe the reuses
    (accesses that are not first touches): ``weight`` reuses with distance in ``[lo, hi)``;
    where ``lo == hi`` the weight is a point at ``lo`` and hits iff ``lo < capacity``, else it
    is spread uniformly over the bin. Weights are in accesses of the original trace.
    """

    method: str
    line_bytes: int
    sets: int
    accesses: int
    footprint_lines: float
    compulsory_misses: float
    reuse_lo: np.ndarray
    reuse_hi: np.ndarray
    reuse_weight: np.ndarray
    sampling_rate: float | None = None
    max_sampled_lines: int | None = None
    sampled_accesses: int | None = None
    _cum: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.sets < 1:
            raise ValueError(f"sets must be >= 1, got {self.sets}")
        if not (self.reuse_lo.shape == self.reuse_hi.shape == self.reuse_weight.shape):
            raise ValueError("reuse_lo, reuse_hi and reuse_weight must have one shape")
        object.__setattr__(self, "_cum", np.concatenate(([0.0], np.cumsum(self.reuse_weight, dtype=np.float64))))

    # ----- evaluation
    def hits_at_capacity(self, capacity_lines) -> np.ndarray:
        """Hits (in trace accesses) of an LRU cache with ``capacity_lines`` lines per set."""
        cap = np.asarray(capacity_lines, dtype=np.float64)
        lo, hi, cum = self.reuse_lo, self.reuse_hi, self._cum
        k = np.searchsorted(lo, cap, side="left")  # bins with lo < cap
        hits = cum[k]
        if np.any(hi > lo):
            # the last bin that starts below cap may only partly hit
            last = np.maximum(k - 1, 0)
            width = hi[last] - lo[last]
            partial = np.where(width > 0, np.clip((cap - lo[last]) / np.where(width > 0, width, 1.0), 0.0, 1.0), 1.0)
            miss_part = np.where(k > 0, (1.0 - partial) * self.reuse_weight[last], 0.0)
            hits = hits - miss_part
        return hits

    def capacity_lines(self, size_bytes) -> np.ndarray:
        """Lines per set (ways, or lines when fully associative) of caches of ``size_bytes``."""
        return np.asarray(size_bytes, dtype=np.int64) // (self.sets * self.line_bytes)

    def misses(self, size_bytes) -> np.ndarray:
        """LRU misses at each size (sizes round down to whole lines per set)."""
        hits = self.hits_at_capacity(self.capacity_lines(size_bytes))
        total = self.compulsory_misses + self._cum[-1]
        return np.maximum(total - hits, 0.0) if self.method != "exact" else (total - hits).round()

    def miss_ratio(self, size_bytes) -> np.ndarray:
        """Misses divided by trace accesses at each size."""
        if self.accesses == 0:
            return np.full(np.shape(size_bytes), np.nan)
        return np.clip(self.misses(size_bytes) / self.accesses, 0.0, 1.0)

    @property
    def compulsory_miss_ratio(self) -> float:
        return self.compulsory_misses / self.accesses if self.accesses else float("nan")

    @property
    def footprint_bytes(self) -> float:
        return self.footprint_lines * self.line_bytes

    @property
    def method_label(self) -> str:
        """'exact', 'shards R=0.01' or 'shards s_max=8192'."""
        if self.method == "exact":
            return "exact"
        if self.max_sampled_lines is not None:
            return f"shards s_max={self.max_sampled_lines}"
        return f"shards R={self.sampling_rate:g}"

    def size_reaching(self, factor: float) -> float | None:
        """Smallest cache size (bytes) whose miss ratio is <= factor x the compulsory one.

        None when no size reaches it (only possible for sampled estimates).
        """
        if factor < 1:
            raise ValueError(f"factor must be >= 1 (compulsory misses are a floor), got {factor}")
        allowed = (factor - 1.0) * self.compulsory_misses
        total_reuse = self._cum[-1]
        # misses(capacity) - compulsory = total_reuse - hits(capacity), non-increasing in capacity
        lo_cap, hi_cap = 1, max(1, int(np.ceil(self.reuse_hi[-1] if self.reuse_hi.size else 1)) + 1)
        if total_reuse - float(self.hits_at_capacity(hi_cap)) > allowed + 1e-9:
            return None
        while lo_cap < hi_cap:
            mid = (lo_cap + hi_cap) // 2
            if total_reuse - float(self.hits_at_capacity(mid)) <= allowed + 1e-9:
                hi_cap = mid
            else:
                lo_cap = mid + 1
        return float(lo_cap * self.sets * self.line_bytes)

    def table(self, sizes_bytes) -> dict[str, np.ndarray]:
        """Columns of the curve at the given sizes (effective sizes: whole lines per set)."""
        sizes = np.asarray(sizes_bytes, dtype=np.int64)
        cap = self.capacity_lines(sizes)
        keep = cap >= 1
        cap = np.unique(cap[keep])
        eff = cap * self.sets * self.line_bytes
        misses = self.misses(eff)
        return {
            "size_bytes": eff,
            "ways": cap if self.sets > 1 else np.full(cap.shape, 0, np.int64),
            "miss_ratio": misses / self.accesses if self.accesses else np.full(cap.shape, np.nan),
            "misses": misses,
        }

    def describe(self) -> dict:
        """Metadata that makes the curve reproducible and explains what it means."""
        return {
            "method": self.method_label,
            "line_bytes": self.line_bytes,
            "sets": self.sets,
            "geometry": "fully associative" if self.sets == 1 else f"{self.sets} sets, size = sets x ways x line",
            "accesses": self.accesses,
            "footprint_lines": self.footprint_lines,
            "footprint": format_size(int(round(self.footprint_bytes))) if self.footprint_bytes >= 1 else "0B",
            "compulsory_misses": self.compulsory_misses,
            "sampled_accesses": self.sampled_accesses,
        }


# --------------------------------------------------------------------------- streaming pass


class StackState:
    """The arrays of an exact stack-distance pass, shared by ``StackDistances`` and fixed-size
    SHARDS: the hash table line -> time of its last access (``keys``, ``vals``; 2**hash_bits
    slots) and the time axis, one segment of ``seg_cap`` time units per set (``bits``,
    ``fen``, ``seg_base``/``seg_cap``/``seg_time``/``seg_live``; see the layout above), with
    the time -> hash slot map ``slot`` when ``slot_map`` (per-set compaction, or deletions)."""

    def __init__(self, hash_bits: int, seg_cap: int, sets: int = 1, slot_map: bool = False):
        self.keys = np.full(1 << hash_bits, EMPTY_KEY, np.uint64)
        self.vals = np.zeros(1 << hash_bits, np.int32)
        words = sets * (seg_cap >> 6)
        self.seg_base = np.arange(sets, dtype=np.int64) * (seg_cap >> 6)
        self.seg_cap = np.full(sets, seg_cap, np.int64)
        self.seg_time = np.zeros(sets, np.int64)
        self.seg_live = np.zeros(sets, np.int64)
        self.bits = np.zeros(words, np.uint64)
        self.fen = np.zeros(words, np.int32)
        self.slot = np.zeros(words << 6 if slot_map else 0, np.int32)

    @property
    def words(self) -> int:
        """Words of the time axis pool allocated."""
        return self.bits.size

    def grow_table(self, hash_bits: int) -> None:
        """Rehash into a table of 2**hash_bits slots (and relink the slot map)."""
        keys = np.full(1 << hash_bits, EMPTY_KEY, np.uint64)
        vals = np.zeros(1 << hash_bits, np.int32)
        _rehash_into(self.keys, self.vals, keys, vals, hash_bits)
        if self.slot.size:
            _relink_slots(keys, vals, self.slot, self.seg_base.size, self.seg_base)
        self.keys, self.vals = keys, vals

    def grow_pool(self, words: int, used: int) -> None:
        """Reallocate the time axis pool to ``words`` words, keeping the first ``used``."""
        bits = np.zeros(words, np.uint64)
        bits[:used] = self.bits[:used]
        fen = np.zeros(words, np.int32)
        fen[:used] = self.fen[:used]
        slot = np.empty(words << 6 if self.slot.size else 0, np.int32)
        slot[: used << 6] = self.slot[: used << 6]
        self.bits, self.fen, self.slot = bits, fen, slot

    def distinct_lines(self) -> np.ndarray:
        """Sorted line indices held in the table."""
        return np.sort(self.keys[self.keys != EMPTY_KEY])

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays."""
        arrays = (self.keys, self.vals, self.bits, self.fen, self.slot, self.seg_base, self.seg_cap, self.seg_time,
                  self.seg_live)
        return int(sum(a.nbytes for a in arrays))


class StackDistances:
    """Exact LRU stack-distance histogram of a streamed trace (state kept across chunks).

    ``sets=1``: fully-associative distances; ``sets=S``: per-set distances (set = line mod S).
    """

    def __init__(self, line_bytes: int = 64, sets: int = 1):
        self.line_bytes = int(line_bytes)
        self._shift = _line_shift(line_bytes)
        if isinstance(sets, bool) or not isinstance(sets, (int, np.integer)) or sets < 1:
            raise ValueError(f"sets must be a positive integer, got {sets!r}")
        self.sets = int(sets)
        bits = _MIN_HASH_BITS
        seg = _MIN_SEG_CAP_FULL if self.sets == 1 else _MIN_SEG_CAP_SET
        # time -> hash slot map, for per-set compaction; one segment compacts by a table walk
        self._state = StackState(bits, seg, self.sets, slot_map=self.sets > 1)
        self._hist = np.zeros(1024, np.int64)
        self._dist = np.empty(0, np.int32)  # scratch: distances of one chunk
        self._meta = np.array([0, bits, self._state.words, 0], np.int64)
        self._accesses = 0

    def update(self, chunk) -> None:
        """Feed one chunk of uint64 byte addresses (bit 63 = write flag, ignored)."""
        arr = as_chunk(chunk)
        if arr.size == 0:
            return
        if self._dist.size < arr.size:
            self._dist = np.empty(arr.size, np.int32)
        i = 0
        st = self._state
        while True:
            i, event = _kernel(arr, i, self._shift, self.sets, st.keys, st.vals, st.bits, st.fen, st.slot,
                               self._hist, self._dist, st.seg_base, st.seg_cap, st.seg_time, st.seg_live, self._meta)
            if event == EVENT_DONE:
                break
            if event == EVENT_GROW_TABLE:
                self._meta[1] += 1
                st.grow_table(int(self._meta[1]))
            elif event == EVENT_GROW_HIST:
                grown = np.zeros(2 * self._hist.size, np.int64)
                grown[: self._hist.size] = self._hist
                self._hist = grown
            else:
                self._grow_pool(arr, i)
        self._accesses += arr.size

    def _grow_pool(self, arr: np.ndarray, i: int) -> None:
        line = (int(arr[i]) & int(ADDR_MASK)) >> self._shift
        s = line % self.sets
        st = self._state
        _, _, need = _compact_plan(s, st.seg_base, st.seg_cap, st.seg_live, int(self._meta[2]), _AXIS_SLACK)
        st.grow_pool(max(need, 2 * st.words), int(self._meta[2]))

    @property
    def accesses(self) -> int:
        return self._accesses

    @property
    def distinct_lines_count(self) -> int:
        return int(self._meta[0])

    @property
    def cold_misses(self) -> int:
        return int(self._meta[3])

    @property
    def histogram(self) -> np.ndarray:
        """hist[d] = reuses at (per-set) stack distance d; a copy trimmed after the last nonzero."""
        nz = np.flatnonzero(self._hist)
        return self._hist[: (nz[-1] + 1) if nz.size else 0].copy()

    @property
    def memory_bytes(self) -> int:
        """Bytes of state arrays held (hash table, time axis, histogram, per-set arrays)."""
        return self._state.nbytes + int(self._hist.nbytes)

    def distinct_lines(self) -> np.ndarray:
        """Sorted line indices touched so far (line = byte address // line_bytes)."""
        return self._state.distinct_lines()

    def footprint_sample(self) -> tuple[np.ndarray, float]:
        """(sorted distinct lines, 1.0): the lines behind the footprint and their weight."""
        return self.distinct_lines(), 1.0

    def curve(self) -> MissRatioCurve:
        hist = self.histogram
        lo = np.arange(hist.size, dtype=np.float64)
        return MissRatioCurve(
            method="exact",
            line_bytes=self.line_bytes,
            sets=self.sets,
            accesses=self.accesses,
            footprint_lines=float(self.distinct_lines_count),
            compulsory_misses=float(self.cold_misses),
            reuse_lo=lo,
            reuse_hi=lo.copy(),
            reuse_weight=hist.astype(np.float64),
        )


def exact_mrc(chunks: Iterable, line_bytes: int = 64, sets: int = 1) -> MissRatioCurve:
    """Exact LRU miss-ratio curve (fully associative, or per set count) in one pass."""
    acc = StackDistances(line_bytes=line_bytes, sets=sets)
    for chunk in chunks:
        acc.update(chunk)
    return acc.curve()


def region_footprint(lines: np.ndarray, regions, line_bytes: int = 64) -> list[dict]:
    """Distinct lines and bytes per region from sorted distinct ``lines``.

    ``regions``: iterable of (name, base_addr, nbytes) or objects with those attributes.
    A line counts for a region when its first byte lies in [base_addr, base_addr + nbytes).
    """
    lines = np.asarray(lines, dtype=np.uint64)
    out = []
    for region in regions:
        if hasattr(region, "base_addr"):
            name, base, nbytes = region.name, region.base_addr, region.nbytes
        else:
            name, base, nbytes = region
        first = -(-int(base) // line_bytes)
        last = -(-(int(base) + int(nbytes)) // line_bytes)
        lo = np.searchsorted(lines, np.uint64(first), side="left")
        hi = np.searchsorted(lines, np.uint64(last), side="left")
        count = int(hi - lo)
        out.append({"region": name, "distinct_lines": count, "footprint_bytes": count * line_bytes})
    return out
