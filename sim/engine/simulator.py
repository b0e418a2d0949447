"""The cache simulator's Python side: ``Simulator`` (stateful, fed chunk by chunk),
``simulate`` (one call) and ``resolve_warmup``. The work is done by the Numba kernels of
``sim.engine.kernels`` (their module docstring states the simulated semantics); this
module checks inputs, lays the state out, picks the kernel and assembles ``SimResult``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from sim.access import as_chunk
from sim.config import CacheConfig
from sim.jit import max_threads, numba_threads
from sim.engine.kernels import (ADDR_MASK, ADDRESS_BITS_COVERED, NGEOM, NOT_SIMULATED, NSTAT, OWNER_BLOCK_LINES,
                                POLICY_IDS, RUN_PIECE, S_ACC, S_BINV, S_DRAM_RD, S_DRAM_WR, S_EVICT, S_HIT, S_MISS,
                                S_PF_FILL, S_PF_HIT, S_PF_USELESS, S_WB, S_WRITES, STAMP_LIMIT, STAMPS_PER_ACCESS,
                                TAG32_LIMIT, UNROLLED_WAYS, make_state, renumber_stamps, run_hier, run_hier_parallel,
                                run_llc, run_llc_parallel)
from sim.policies import _ids, drrip, get_policy
from sim.policies._rng import seed_state
from sim.sampling import parse_fraction, select_sets
from sim.stats import LevelStats, SimResult

_SEEDED = (_ids.RANDOM, _ids.BRRIP, _ids.DRRIP)
_NO_SERVED = np.zeros(0, dtype=np.uint8)  # the kernels' "served levels not recorded"


def _aligned_full(n: int, value) -> np.ndarray:
    """np.full(n, value) whose data starts on a 64-byte boundary (one set = one host line)."""
    raw = np.full(n + 64, value, dtype=np.asarray(value).dtype)
    offset = (-raw.ctypes.data % 64) // raw.itemsize
    return raw[offset:offset + n]


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
    ``stamp_limit``: the largest LRU/FIFO stamp before the stamps are renumbered by rank
    (default: the uint32 limit); lower it only to exercise the renumbering, which never
    changes a count. ``renumberings`` counts them.
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
        stamp_limit: int = STAMP_LIMIT,
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
        if isinstance(stamp_limit, bool) or not isinstance(stamp_limit, int) or not 1 <= stamp_limit <= STAMP_LIMIT:
            raise ValueError(f"stamp_limit={stamp_limit!r}: must be an integer in [1, {STAMP_LIMIT}]")
        for name, cfg in zip(names, configs):
            if cfg.policy_id not in POLICY_IDS:  # a registered policy the engine does not dispatch
                raise ValueError(f"{name}: policy {cfg.policy!r} (id {cfg.policy_id}) has no engine kernel")
        self.stamp_limit = stamp_limit
        self.renumberings = 0
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
        self._state = make_state(self._geom, self._tags, self._meta, self._flags, self._sstate, self._gstate,
                                 self._clocks, self._stats, self._sampled, self._set_misses, self._seen_writes)

    # -- feeding ----------------------------------------------------------------------
    def feed(self, chunk, served: np.ndarray | None = None) -> None:
        """Simulate one chunk of byte addresses (bit 63 set = write).

        ``served``: a writable uint8 array at least as long as the chunk; ``served[i]``
        becomes the index of the level that served access i (0 = first level, ...,
        nlev - 1 = LLC, nlev = memory), or ``NOT_SIMULATED`` (255) when no level simulated
        it (an LLC set outside the sampled sets, or a set another ``set_partition`` owns).
        Recording never changes a count.
        """
        arr = as_chunk(chunk)
        start, n = 0, arr.size
        out = self._served_buffer(served, n)
        if self.fed < self.warmup < self.fed + n:
            cut = self.warmup - self.fed
            self._run(arr, 0, cut, out)
            self.fed += cut
            start = cut
        if self.fed == self.warmup and self.warmup and self._measured_from == 0:
            self.reset_stats()
        self._run(arr, start, n, out)
        self.fed += n - start

    @staticmethod
    def _served_buffer(served, n: int) -> np.ndarray:
        """The kernels' ``served`` argument: an empty array (not recorded) or ``served``
        checked and filled with NOT_SIMULATED for the chunk's n accesses."""
        if served is None:
            return _NO_SERVED
        if not isinstance(served, np.ndarray) or served.dtype != np.uint8 or served.ndim != 1:
            raise ValueError("served: expected a 1-D numpy uint8 array")
        if served.size < n:
            raise ValueError(f"served: {served.size} entries, the chunk has {n} accesses")
        if not served.flags.writeable or not served.flags.c_contiguous:
            raise ValueError("served: must be writable and contiguous")
        served[:n] = NOT_SIMULATED
        return served

    def _run(self, arr: np.ndarray, start: int, stop: int, served: np.ndarray) -> None:
        while stop - start > RUN_PIECE:
            self._run(arr, start, start + RUN_PIECE, served)
            start += RUN_PIECE
        if stop <= start:
            return
        if int(self._clocks.max()) + STAMPS_PER_ACCESS * (stop - start) > self.stamp_limit:
            renumber_stamps(self._state)
            self.renumberings += 1
        args = (arr, start, stop, self.configs[-1].line_shift, self.prefetch)
        part = self.set_partition[0] if self.set_partition is not None else 0
        nparts = self.partitions
        bshift = self._bshift if nparts > 1 else 0
        if self.set_partition is None and nparts > 1:
            with numba_threads(min(nparts, max_threads())):
                if self._nlev == 1:
                    bad = run_llc_parallel(*args, nparts, bshift, self._max_line, self._state, self._ways_token,
                                           served)
                else:
                    bad = run_hier_parallel(*args, nparts, bshift, self._max_line, self._state, self._nlev,
                                            self.inclusive, served)
        elif self._nlev == 1:
            bad = run_llc(*args, part, nparts, bshift, self._max_line, self._state, self._ways_token, served)
        else:
            bad = run_hier(*args, part, nparts, bshift, self._max_line, self._state, self._nlev, self.inclusive,
                           served)
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
