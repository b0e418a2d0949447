"""Benchmark: memprof's LLC simulator versus pycachesim on the same Zipf trace.

Trace: seeded Zipf(alpha) row lookups over ``--rows`` rows of 512 B, 8 consecutive 64 B
lines per lookup, ``--accesses`` line accesses (default 80M). Cache: 56 MB, 16-way, LRU.
Measured in one run: memprof on 1 thread, memprof on ``--threads`` threads, and
pycachesim's fastest bulk call (``Cache.backend.iterload(list)``, the C loop over a
Python list; the ndarray -> list conversion is NOT timed, which favours pycachesim).
The trace is regenerated chunk by chunk for every simulator (same seed, same addresses)
so it is never held whole in memory; generation is not timed.

The three are run ``--repeat`` times in alternation (1 thread, N threads, pycachesim, then
again), so a slow phase of a shared machine hits all of them alike; the best and the median
time of each are reported, and the ratios are taken between bests and between medians.

Also reports each partition's time when run alone as ``Simulator(set_partition=(i, n))``
(``partition critical path``): the cost per process of ``memprof simulate-partitioned``,
where every partition reads the whole trace and skips what it does not own. Threads do
not skip in the simulation loop (each first copies its own addresses into a small
buffer), so this is not a bound on the threaded speedup.

    python scripts/bench_sim.py                 # the issue's 80M-access benchmark
    python scripts/bench_sim.py --accesses 8000000 --repeat 1
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from sim.config import CacheConfig
from sim.engine.simulator import Simulator
from sim.stats import merge_partitions
from traces.generator import zipf_row_trace


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


def best_and_median(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return ordered[0], ordered[len(ordered) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accesses", type=int, default=80_000_000)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--alpha", type=float, default=1.05)
    parser.add_argument("--llc", default="56MB")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="alternating repetitions of each timing (default 3)")
    parser.add_argument("--skip-pycachesim", action="store_true")
    args = parser.parse_args()
    n = args.accesses
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"trace: {n:,} line accesses, Zipf alpha {args.alpha} over {args.rows:,} rows x 512 B, seed {args.seed}; "
          f"LLC {args.llc} 16-way LRU; best / median of {args.repeat} alternating runs")

    one, many, pyc = [], [], []
    for _ in range(max(1, args.repeat)):
        t1, s1 = bench_memprof(args, 1)
        one.append(t1)
        tn, sn = bench_memprof(args, args.threads)
        many.append(tn)
        if not args.skip_pycachesim:
            tp, hits, misses = bench_pycachesim(args, s1.result().llc.num_sets)
            pyc.append(tp)
    r1, rn = s1.result(), sn.result()
    b1, m1 = best_and_median(one)
    bn, mn = best_and_median(many)
    print(f"memprof 1 thread : best {b1:6.2f} s = {n / b1 / 1e6:6.2f} M accesses/s, median {n / m1 / 1e6:6.2f} M/s  "
          f"(hits {r1.llc.hits:,}, misses {r1.llc.misses:,})")
    print(f"memprof {sn.partitions} threads: best {bn:6.2f} s = {n / bn / 1e6:6.2f} M accesses/s, median "
          f"{n / mn / 1e6:6.2f} M/s  (identical counts: {rn.levels == r1.levels})")
    parts, merged = bench_partitions(args, args.threads)
    crit = max(parts)
    print(f"partitions alone : {', '.join(f'{t:.2f}' for t in parts)} s; critical path {crit:.2f} s "
          f"-> {n / crit / 1e6:.2f} M accesses/s")
    print(f"scaling          : wall-clock {b1 / bn:.2f}x (best), {m1 / mn:.2f}x (median); "
          f"partition critical path {b1 / crit:.2f}x on {sn.partitions} threads")
    if args.skip_pycachesim:
        return
    bp, mp = best_and_median(pyc)
    same = (hits, misses) == (r1.llc.hits, r1.llc.misses)
    print(f"pycachesim       : best {bp:6.2f} s = {n / bp / 1e6:6.2f} M accesses/s, median {n / mp / 1e6:6.2f} M/s  "
          f"(identical counts: {same})")
    print(f"ratio vs pycachesim: 1 thread {bp / b1:.2f}x (best) {mp / m1:.2f}x (median), "
          f"{sn.partitions} threads {bp / bn:.2f}x (best) {mp / mn:.2f}x (median)")


if __name__ == "__main__":
    main()
