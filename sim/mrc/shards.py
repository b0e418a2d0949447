"""SHARDS: approximate LRU miss-ratio curves from spatially sampled stack distances.

Waldspurger, Park, Garthwaite, Ahmad, "Efficient MRC Construction with SHARDS" (FAST 2015).
A line is sampled when ``hash(line) <= T`` (here the hash is the 64-bit MurmurHash3
finaliser, so P = 2**64 and the rate is R = (T + 1) / 2**64). Every access to a sampled line
is processed by the exact stack-distance machinery of ``sim.mrc.stack``; a sampled distance d
estimates a true distance d / R and each sampled access stands for 1 / R trace accesses.

- Fixed rate (``ShardsRate``): T fixed; memory ~ R x distinct lines.
- Fixed size (``ShardsSize``): at most ``max_lines`` sampled lines. When a new line would
  exceed the bound, the sampled line with the largest hash is evicted and T drops below its
  hash (so R drops); lines above the new threshold are never sampled again. Each sample keeps
  the weight 1 / R it was taken at, which is the paper's rescaling of older histogram counts
  by R_new / R_old expressed in trace-access units. Distances d / R go into log-spaced bins
  (``bins_per_octave`` per doubling) so the histogram is bounded too.
- SHARDS_adj (default on): the expected number of samples (N x R) minus the observed number
  is added to the first histogram bucket (distance 0), correcting the bias of a sample that
  holds a few very hot lines more or less than its share.

The sampling filter is the hot loop: one multiply-xorshift hash and a compare per access.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.access import ADDR_MASK, as_chunk
from sim.mrc.stack import (
    MissRatioCurve,
    StackDistances,
    StackState,
    _AXIS_SLACK,
    _MIN_HASH_BITS,
    _append_mark,
    _compact,
    _count_after,
    _delete_slot,
    _find,
    _line_shift,
    _remove_mark,
)
from sim.splitmix import splitmix64_py

_C1 = np.uint64(0xFF51AFD7ED558CCD)
_C2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_ADDR_MASK = ADDR_MASK
_TWO64 = 18446744073709551616.0


@njit(cache=True, inline="always")
def _sample_hash(line):
    """MurmurHash3 fmix64: a bijective 64-bit mixer, independent of the table's hash.

    Callers pass ``line ^ salt`` (the salt comes from the seed: independent samples)."""
    x = line ^ (line >> _S33)
    x *= _C1
    x ^= x >> _S33
    x *= _C2
    return x ^ (x >> _S33)


def salt_for_seed(seed: int) -> int:
    """The 64-bit salt XORed into line indices before hashing (SplitMix64 of the seed)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"SHARDS seed must be a non-negative integer, got {seed!r}")
    return splitmix64_py(int(seed))


def sample_hash(lines, seed: int = 0) -> np.ndarray:
    """The sampling hash of each line index (uint64), for tests and tools."""
    return _hash_array(np.ascontiguousarray(lines, dtype=np.uint64), np.uint64(salt_for_seed(seed)))


@njit(cache=True)
def _hash_array(lines, salt):
    out = np.empty(lines.size, np.uint64)
    for i in range(lines.size):
        out[i] = _sample_hash(lines[i] ^ salt)
    return out


def threshold_for_rate(rate: float) -> int:
    """Inclusive hash threshold T with (T + 1) / 2**64 closest to ``rate``."""
    if not (0.0 < rate <= 1.0):
        raise ValueError(f"SHARDS sampling rate must be in (0, 1], got {rate}")
    return max(0, min(2**64 - 1, int(round(rate * 2.0**64)) - 1))


@njit(cache=True)
def _filter_kernel(chunk, shift, thr, salt, out):
    """Write the line index of every access whose line hash <= thr into out; return the count."""
    m = 0
    ushift = np.uint64(shift)
    for i in range(chunk.size):
        line = (chunk[i] & _ADDR_MASK) >> ushift
        if _sample_hash(line ^ salt) <= thr:
            out[m] = line
            m += 1
    return m


def shards_filter(chunk, rate: float, line_bytes: int = 64, seed: int = 0) -> np.ndarray:
    """Line indices of the accesses of ``chunk`` that SHARDS samples at ``rate``, in order."""
    arr = as_chunk(chunk)
    out = np.empty(arr.size, np.uint64)
    m = _filter_kernel(arr, _line_shift(line_bytes), np.uint64(threshold_for_rate(rate)),
                       np.uint64(salt_for_seed(seed)), out)
    return out[:m].copy()


class ShardsRate:
    """Fixed-rate SHARDS: exact stack distances of the lines whose hash falls under R."""

    def __init__(self, rate: float, line_bytes: int = 64, adjust: bool = True, seed: int = 0):
        self.seed = seed
        self._salt = np.uint64(salt_for_seed(seed))
        self.threshold = threshold_for_rate(rate)
        self.rate = (self.threshold + 1) / 2.0**64
        self.line_bytes = int(line_bytes)
        self._shift = _line_shift(line_bytes)
        self.adjust = bool(adjust)
        self._stack = StackDistances(line_bytes=1)
        self._buffer = np.empty(0, np.uint64)
        self.accesses = 0

    def update(self, chunk) -> None:
        """Feed one chunk of uint64 byte addresses (bit 63 = write flag, ignored)."""
        arr = as_chunk(chunk)
        if self._buffer.size < arr.size:
            self._buffer = np.empty(arr.size, np.uint64)
        m = _filter_kernel(arr, self._shift, np.uint64(self.threshold), self._salt, self._buffer)
        self.accesses += arr.size
        if m:
            self._stack.update(self._buffer[:m])

    @property
    def sampled_accesses(self) -> int:
        return self._stack.accesses

    def footprint_sample(self) -> tuple[np.ndarray, float]:
        """(sorted sampled lines, 1 / R): each sampled line stands for 1 / R lines."""
        return self._stack.distinct_lines(), 1.0 / self.rate

    @property
    def memory_bytes(self) -> int:
        """Bytes of state (the sampled stack; the filter buffer is scratch of one chunk)."""
        return self._stack.memory_bytes

    def curve(self) -> MissRatioCurve:
        hist = self._stack.histogram.astype(np.float64)
        if hist.size == 0:
            hist = np.zeros(1)
        observed = float(self._stack.accesses)
        expected = self.accesses * self.rate
        if self.adjust:
            scale = 1.0 / self.rate
            hist[0] += expected - observed
        else:
            scale = self.accesses / observed if observed else 0.0
        lo = np.arange(hist.size, dtype=np.float64) / self.rate
        return MissRatioCurve(
            method="shards",
            line_bytes=self.line_bytes,
            sets=1,
            accesses=self.accesses,
            footprint_lines=self._stack.distinct_lines_count / self.rate,
            compulsory_misses=self._stack.cold_misses * scale,
            reuse_lo=lo,
            reuse_hi=lo.copy(),
            reuse_weight=hist * scale,
            sampling_rate=self.rate,
            sampled_accesses=self._stack.accesses,
        )


# --------------------------------------------------------------------------- fixed size


@njit(cache=True, inline="always")
def _heap_push(heap_h, heap_l, n, hv, line):
    """Push (hv, line) on the max-heap of n entries; return n + 1."""
    i = n
    while i > 0:
        parent = (i - 1) >> 1
        if heap_h[parent] >= hv:
            break
        heap_h[i] = heap_h[parent]
        heap_l[i] = heap_l[parent]
        i = parent
    heap_h[i] = hv
    heap_l[i] = line
    return n + 1


@njit(cache=True, inline="always")
def _heap_pop(heap_h, heap_l, n):
    """Remove the max of a heap of n entries; return n - 1 (the popped line was heap_l[0])."""
    n -= 1
    hv = heap_h[n]
    line = heap_l[n]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and heap_h[child + 1] > heap_h[child]:
            child += 1
        if heap_h[child] <= hv:
            break
        heap_h[i] = heap_h[child]
        heap_l[i] = heap_l[child]
        i = child
    if n > 0:
        heap_h[i] = hv
        heap_l[i] = line
    return n


@njit(cache=True, inline="always")
def _bin_of(dist, bpo, nbins):
    b = np.int64(np.floor(bpo * np.log2(1.0 + dist)))
    return min(b, nbins - 1)


# imeta: [0] log2 table slots, [1] peak sampled lines, [2] heap entries, [3] s_max,
#        [4] words of the time axis in use, [5] sampled accesses, [6] bins per octave
# fmeta: [0] cold weight (trace accesses)
@njit(cache=True)
def _size_kernel(chunk, shift, salt, keys, vals, bits_arr, fen, slot, seg_base, seg_cap, seg_time, seg_live,
                 heap_h, heap_l, hist, thr_arr, imeta, fmeta):
    bits = imeta[0]
    heap_n = imeta[2]
    smax = imeta[3]
    pool_used = imeta[4]
    sampled = imeta[5]
    bpo = np.float64(imeta[6])
    nbins = hist.size
    thr = thr_arr[0]
    cold_w = fmeta[0]
    peak = imeta[1]
    ushift = np.uint64(shift)
    w = _TWO64 / (np.float64(thr) + 1.0)
    for i in range(chunk.size):
        line = (chunk[i] & _ADDR_MASK) >> ushift
        hv = _sample_hash(line ^ salt)
        if hv > thr:
            continue
        if seg_time[0] == seg_cap[0]:
            # the axis holds >= 4 x max_lines, so compaction never needs a bigger pool
            pool_used = _compact(0, bits_arr, fen, slot, vals, seg_base, seg_cap, seg_time, seg_live, pool_used,
                                 _AXIS_SLACK)
        tau = seg_time[0]
        h = _find(keys, line, bits)
        if h >= 0:
            p = np.int64(vals[h])
            d = _count_after(bits_arr, fen, 0, p, tau, seg_live[0])
            _remove_mark(bits_arr, fen, 0, p, tau)
            hist[_bin_of(d * w, bpo, nbins)] += w
        else:
            if seg_live[0] >= smax:
                if hv >= heap_h[0]:
                    # the new line has the largest hash: it leaves the sample itself
                    thr = hv - np.uint64(1)
                    w = _TWO64 / (np.float64(thr) + 1.0)
                    continue
                thr = heap_h[0] - np.uint64(1)
                w = _TWO64 / (np.float64(thr) + 1.0)
                while heap_n > 0 and heap_h[0] > thr:
                    victim = heap_l[0]
                    heap_n = _heap_pop(heap_h, heap_l, heap_n)
                    hv_slot = _find(keys, victim, bits)
                    pv = np.int64(vals[hv_slot])
                    _remove_mark(bits_arr, fen, 0, pv, tau)
                    _delete_slot(keys, vals, slot, 0, bits, hv_slot)
                    seg_live[0] -= 1
                h = _find(keys, line, bits)
            h = -h - 1
            keys[h] = line
            seg_live[0] += 1
            peak = max(peak, seg_live[0])
            cold_w += w
            heap_n = _heap_push(heap_h, heap_l, heap_n, hv, line)
        sampled += 1
        _append_mark(bits_arr, fen, slot, 0, tau, h)
        vals[h] = tau
        seg_time[0] = tau + 1
    thr_arr[0] = thr
    imeta[1] = peak
    imeta[2] = heap_n
    imeta[4] = pool_used
    imeta[5] = sampled
    fmeta[0] = cold_w


class ShardsSize:
    """Fixed-size SHARDS: at most ``max_lines`` sampled lines; the rate adapts downwards."""

    def __init__(self, max_lines: int, line_bytes: int = 64, initial_rate: float = 1.0,
                 adjust: bool = True, bins_per_octave: int = 64, seed: int = 0):
        if isinstance(max_lines, bool) or not isinstance(max_lines, (int, np.integer)) or max_lines < 1:
            raise ValueError(f"SHARDS max sampled lines must be a positive integer, got {max_lines!r}")
        if not (1 <= bins_per_octave <= 4096):
            raise ValueError(f"bins_per_octave must be in 1..4096, got {bins_per_octave}")
        self.max_lines = int(max_lines)
        self.seed = seed
        self._salt = np.uint64(salt_for_seed(seed))
        self.line_bytes = int(line_bytes)
        self._shift = _line_shift(line_bytes)
        self.adjust = bool(adjust)
        self._thr = np.array([threshold_for_rate(initial_rate)], np.uint64)
        bits = max(_MIN_HASH_BITS, int(2 * self.max_lines - 1).bit_length())
        cap = max(64, 1 << int(_AXIS_SLACK * self.max_lines - 1).bit_length())
        # one segment with the time -> slot map (evictions delete slots); never grows
        self._state = StackState(bits, cap, 1, slot_map=True)
        self._heap_h = np.zeros(self.max_lines, np.uint64)
        self._heap_l = np.zeros(self.max_lines, np.uint64)
        self.bins_per_octave = int(bins_per_octave)
        self._hist = np.zeros(80 * self.bins_per_octave, np.float64)
        self._imeta = np.array([bits, 0, 0, self.max_lines, cap >> 6, 0, self.bins_per_octave], np.int64)
        self._fmeta = np.zeros(2, np.float64)
        self.accesses = 0

    def update(self, chunk) -> None:
        """Feed one chunk of uint64 byte addresses (bit 63 = write flag, ignored)."""
        arr = as_chunk(chunk)
        if arr.size == 0:
            return
        st = self._state
        _size_kernel(arr, self._shift, self._salt, st.keys, st.vals, st.bits, st.fen, st.slot, st.seg_base, st.seg_cap,
                     st.seg_time, st.seg_live, self._heap_h, self._heap_l, self._hist, self._thr, self._imeta,
                     self._fmeta)
        self.accesses += arr.size

    @property
    def rate(self) -> float:
        return (float(self._thr[0]) + 1.0) / 2.0**64

    @property
    def sampled_lines(self) -> int:
        return int(self._state.seg_live[0])

    @property
    def peak_sampled_lines(self) -> int:
        return int(self._imeta[1])

    @property
    def sampled_accesses(self) -> int:
        return int(self._imeta[5])

    def footprint_sample(self) -> tuple[np.ndarray, float]:
        """(sorted sampled lines now held, 1 / R): each stands for 1 / R lines."""
        return self._state.distinct_lines(), 1.0 / self.rate

    @property
    def memory_bytes(self) -> int:
        """Bytes of state; fixed at construction (proportional to max_lines)."""
        return self._state.nbytes + int(self._heap_h.nbytes + self._heap_l.nbytes + self._hist.nbytes)

    def curve(self) -> MissRatioCurve:
        bpo = float(self.bins_per_octave)
        edges = np.exp2(np.arange(self._hist.size + 1) / bpo) - 1.0
        weight = self._hist.copy()
        cold = float(self._fmeta[0])
        observed = cold + float(weight.sum())
        if self.adjust:
            weight[0] += self.accesses - observed
            scale = 1.0
        else:
            scale = self.accesses / observed if observed else 0.0
        return MissRatioCurve(
            method="shards",
            line_bytes=self.line_bytes,
            sets=1,
            accesses=self.accesses,
            footprint_lines=self.sampled_lines / self.rate,
            compulsory_misses=cold * scale,
            reuse_lo=edges[:-1],
            reuse_hi=edges[1:],
            reuse_weight=weight * scale,
            sampling_rate=self.rate,
            max_sampled_lines=self.max_lines,
            sampled_accesses=self.sampled_accesses,
        )


def shards_mrc(chunks, rate: float | None = None, max_lines: int | None = None,
               line_bytes: int = 64, adjust: bool = True, seed: int = 0) -> MissRatioCurve:
    """SHARDS curve in one pass: fixed rate (``rate``) or fixed size (``max_lines``)."""
    if (rate is None) == (max_lines is None):
        raise ValueError("give exactly one of rate (fixed-rate SHARDS) or max_lines (fixed-size SHARDS)")
    if rate is not None:
        acc = ShardsRate(rate, line_bytes, adjust, seed=seed)
    else:
        acc = ShardsSize(max_lines, line_bytes, adjust=adjust, seed=seed)
    for chunk in chunks:
        acc.update(chunk)
    return acc.curve()
