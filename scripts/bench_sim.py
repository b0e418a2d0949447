"""Benchmark: memprof's LLC simulator versus pycachesim on the same Zipf trace.

Trace: seeded Zipf(alpha) row lookups over ``--rows`` rows of 512 B, 8 consecutive 64 B
lines per lookup, ``--accesses`` line accesses (default 80M). Cache: 56 MB, 16-way, LRU.
Measured in one run: memprof on 1 thread, memprof on ``--threads`` threads, and
pycachesim's fastest bulk call (``Cache.backend.iterload(list)``, the C loop over a
Python list; the ndarray -> list conversion is NOT timed, which favours pycachesim).
The trace is regenerated chunk by chunk for every simulator (same seed, same addresses)
so it is never held whole in memory; generation is not timed.

Also reports each partition's time when run alone (``partition critical path``): the
wall-clock scaling a quiet machine would show, since partitions share nothing.

    python scripts/bench_sim.py                 # the issue's 80M-access benchmark
    python scripts/bench_sim.py --accesses 8000000
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from sim.config import CacheConfig
from sim.engine import Simulator
from sim.stats import merge_partitions
from sim.synthetic import zipf_row_trace


def chunks(args):
    return zipf_row_trace(args.rows, row_bytes=512, line_bytes=64, alpha=args.alpha, accesses=args.accesses,
                          seed=args.seed, chunk_entries=1 << 21)


def bench_memprof(args, threads: int):
    sim = Simulator(CacheConfig(args.llc, 16, policy="lru"), threads=threads)
    sim.feed(np.arange(64, dtype=np.uint64))  # compile / load the cached kernels before timing
    sim = Simulator(CacheConfig(args.llc, 16, policy="lru"), threads=threads)
    elapsed = 0.0
    for chunk in chunks(args):
        start = time.perf_counter()
        sim.feed(chunk)
        elapsed += time.perf_counter() - start
    return elapsed, sim


def bench_partitions(args, nparts: int):
    """Time each partition of an nparts-way split alone (``set_partition``), one after another."""
    sims = [Simulator(CacheConfig(args.llc, 16, policy="lru"), set_partition=(p, nparts)) for p in range(nparts)]
    times = [0.0] * nparts
    for chunk in chunks(args):
        for part, sim in enumerate(sims):
            start = time.perf_counter()
            sim.feed(chunk)
            times[part] += time.perf_counter() - start
    return times, merge_partitions(s.result() for s in sims)


def bench_pycachesim(args, num_sets: int):
    import cachesim

    memory = cachesim.MainMemory()
    llc = cachesim.Cache("LLC", num_sets, 16, 64, "LRU")
    memory.load_to(llc)
    memory.store_from(llc)
    cachesim.CacheSimulator(llc, memory)
    elapsed = 0.0
    for chunk in chunks(args):
        as_list = chunk.tolist()
        start = time.perf_counter()
        llc.backend.iterload(as_list)
        elapsed += time.perf_counter() - start
    return elapsed, llc.backend.HIT_count, llc.backend.MISS_count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accesses", type=int, default=80_000_000)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--alpha", type=float, default=1.05)
    parser.add_argument("--llc", default="56MB")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-pycachesim", action="store_true")
    args = parser.parse_args()
    n = args.accesses
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"trace: {n:,} line accesses, Zipf alpha {args.alpha} over {args.rows:,} rows x 512 B, seed {args.seed}; "
          f"LLC {args.llc} 16-way LRU")

    t1, s1 = bench_memprof(args, 1)
    r1 = s1.result()
    print(f"memprof 1 thread : {t1:7.2f} s  {n / t1 / 1e6:7.2f} M accesses/s  "
          f"(hits {r1.llc.hits:,}, misses {r1.llc.misses:,})")
    tn, sn = bench_memprof(args, args.threads)
    rn = sn.result()
    print(f"memprof {sn.partitions} threads: {tn:7.2f} s  {n / tn / 1e6:7.2f} M accesses/s  "
          f"(identical counts: {rn.levels == r1.levels})")
    parts, merged = bench_partitions(args, args.threads)
    crit = max(parts)
    print(f"partitions alone : {', '.join(f'{t:.2f}' for t in parts)} s; critical path {crit:.2f} s "
          f"-> {n / crit / 1e6:.2f} M accesses/s")
    print(f"scaling          : wall-clock {t1 / tn:.2f}x, partition critical path {t1 / crit:.2f}x "
          f"on {sn.partitions} threads")
    if args.skip_pycachesim:
        return
    tp, hits, misses = bench_pycachesim(args, r1.llc.num_sets)
    same = (hits, misses) == (r1.llc.hits, r1.llc.misses)
    print(f"pycachesim       : {tp:7.2f} s  {n / tp / 1e6:7.2f} M accesses/s  (identical counts: {same})")
    print(f"ratio vs pycachesim: 1 thread {tp / t1:.2f}x, {sn.partitions} threads {tp / tn:.2f}x")


if __name__ == "__main__":
    main()
