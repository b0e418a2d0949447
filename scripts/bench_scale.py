"""Benchmark: full-DLRM criteo-tb at scale through the 56 MB LLC (issue 7's numbers).

Trace: ``traces.stream.model_trace("dlrm", "criteo-tb", batch_size=2048, ...)`` with enough
batches for ``--accesses`` line accesses (default 1 billion; 2048 x 26 x 8 = 425,984 per
batch, so the count is rounded up to whole batches), streamed: generated chunk by chunk
and never held whole. Cache: ``--llc`` (56 MB) 16-way LRU, LLC only, one thread.

Rows, all measured in this one run, each phase in a fresh process (so its peak RSS,
``resource.getrusage(RUSAGE_SELF).ru_maxrss``, is its own):

- generation only: the trace generated and discarded (the floor of every row below);
- exact, 1/4 of the accesses and all of them: wall time, rate, peak RSS (flat in accesses?);
- set sampling ``--sample-sets`` (1/64): wall time, estimate, reported standard error and
  the error against the exact run;
- time sampling ``--time-sample`` (default: 1/8 of the trace in 32 windows, each after a
  warm-up of 4 x the LLC's lines, capped by the period): the same columns;
- set-partitioned (``memprof.analysis.partitioned``) on a Dask LocalCluster with each of ``--workers``
  worker processes (``--partitions`` partitions, default the largest worker count): wall time,
  rate, the largest worker's peak RSS, and whether the merged counts equal the exact run's.
  Every partition regenerates the whole trace: generation does not shrink with workers.

Prints a Markdown table.

    python scripts/bench_scale.py                        # the issue's 1-billion-access run
    python scripts/bench_scale.py --accesses 20000000    # a quick check
    python scripts/bench_scale.py --workers 1,2,4,8,16   # on a 16-core machine
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import platform
import resource
import time
from concurrent.futures import ProcessPoolExecutor

PER_BATCH = 2048 * 26 * 8  # line accesses of one criteo-tb batch under full DLRM (pooling 1, 512 B rows)


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _source(batches: int, seed: int):
    from traces.spec import TraceSpec

    return TraceSpec("dlrm", "criteo-tb", batch_size=2048, batches=batches, seed=seed)


def phase(kind: str, batches: int, seed: int, llc: str, sample_sets: str | None, time_sample: tuple | None) -> dict:
    """One measurement in this (fresh) process: wall time of streaming the trace through it."""
    from sim.config import CacheConfig
    from sim.engine.simulator import Simulator
    from sim.time_sampling import TimeSampler, TimeSampling

    config = CacheConfig(llc, 16)
    Simulator(config).feed([0])  # load the compiled kernels before timing
    sim = Simulator(config, sample_sets=sample_sets, threads=1)
    target = TimeSampler(sim, TimeSampling(*time_sample)) if time_sample else sim
    accesses = 0
    start = time.perf_counter()
    for chunk in _source(batches, seed).chunks():
        if kind != "generate":
            target.feed(chunk)
        accesses += int(chunk.shape[0])
    wall = time.perf_counter() - start
    row = {"accesses": accesses, "wall_s": wall, "peak_rss_mib": _peak_rss_mib()}
    if kind != "generate":
        result = target.result()
        if time_sample:
            row.update(llc_misses=result.llc_misses, stderr=result.llc_misses_stderr)
        else:
            row.update(llc_misses=result.llc.misses * result.scale, stderr=result.llc_misses_stderr)
    return row


def _warm(llc: str) -> None:
    from sim.config import CacheConfig
    from sim.engine.simulator import Simulator

    Simulator(CacheConfig(llc, 16), set_partition=(0, 1)).feed([0])


def in_fresh_process(*args) -> dict:
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(phase, *args).result()


def partitioned(workers: int, partitions: int, batches: int, seed: int, llc: str) -> dict:
    import distributed

    from memprof.analysis.partitioned import simulate_partitioned
    from sim.config import CacheConfig

    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=40) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        client.run(_warm, llc)  # import and load the compiled kernels before timing
        start = time.perf_counter()
        result = simulate_partitioned(_source(batches, seed), CacheConfig(llc, 16), partitions,
                                      executor=client.get_executor(pure=False))
        wall = time.perf_counter() - start
        rss = max(client.run(_peak_rss_mib).values())
    return {"accesses": result.trace_accesses, "wall_s": wall, "peak_rss_mib": rss,
            "llc_misses": result.llc.misses, "stderr": 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accesses", type=float, default=1e9, help="line accesses (rounded up to whole batches)")
    parser.add_argument("--llc", default="56MB")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample-sets", default="1/64")
    parser.add_argument("--time-sample", default=None, metavar="W/P",
                        help="time-sampling window/period in accesses [default: 1/8 of the trace in 32 windows]")
    parser.add_argument("--workers", default="1,2", help="LocalCluster sizes for the partitioned run")
    parser.add_argument("--partitions", type=int, default=None)
    parser.add_argument("--no-partitioned", action="store_true", help="skip the LocalCluster rows")
    args = parser.parse_args()

    batches = max(1, math.ceil(args.accesses / PER_BATCH))
    total = batches * PER_BATCH
    if args.time_sample:
        window, period = (int(float(v)) for v in args.time_sample.split("/"))
    else:
        period = max(total // 32, 2)
        window = max(period // 8, 1)
    from sim.sizes import parse_size

    cache_lines = parse_size(args.llc) // 64
    time_sample = (window, period, min(4 * cache_lines, period - window))  # warm-up: 4 cache refills
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    partitions = args.partitions or max(workers)

    rows = []

    def add(name, row):
        rows.append((name, row))
        print(f"  {name}: {row['wall_s']:.1f} s", flush=True)

    print(f"bench_scale: {total:,} accesses ({batches} batches), LLC {args.llc} 16-way LRU", flush=True)
    add("generation only", in_fresh_process("generate", batches, args.seed, args.llc, None, None))
    quarter = max(1, batches // 4)
    add(f"exact, {quarter * PER_BATCH:,} accesses (peak RSS vs accesses)",
        {**in_fresh_process("exact", quarter, args.seed, args.llc, None, None), "compare": False})
    exact = in_fresh_process("exact", batches, args.seed, args.llc, None, None)
    add("exact", exact)
    add(f"set sampling {args.sample_sets}",
        in_fresh_process("sampled", batches, args.seed, args.llc, args.sample_sets, None))
    add(f"time sampling {window:,}/{period:,} (+{time_sample[2]:,} warm-up)",
        in_fresh_process("time", batches, args.seed, args.llc, None, time_sample))
    if not args.no_partitioned:
        for count in workers:
            row = partitioned(count, partitions, batches, args.seed, args.llc)
            row["equal"] = row["llc_misses"] == exact["llc_misses"]
            add(f"{partitions} partitions on {count} Dask worker(s)", row)

    print(f"\nHost: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}\n")
    print("| run | accesses | wall (s) | rate (M accesses/s) | peak RSS (MiB) | LLC misses | std. error "
          "| error vs exact | error / std. error |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, row in rows:
        misses = row.get("llc_misses")
        if misses is None:
            cells = ["-", "-", "-", "-"]
        elif not row.get("compare", True):
            cells = [f"{misses:,.0f}", "0", "-", "-"]
        else:
            error = misses - exact["llc_misses"]
            stderr = row.get("stderr", 0.0)
            ratio = f"{error / stderr:+.2f}" if stderr and not math.isnan(stderr) else "-"
            if "equal" in row:
                ratio = "counts equal exact" if row["equal"] else "COUNTS DIFFER"
            cells = [f"{misses:,.0f}", f"{stderr:,.0f}", f"{100 * error / exact['llc_misses']:+.3f}%", ratio]
        print(f"| {name} | {row['accesses']:,} | {row['wall_s']:.1f} | {row['accesses'] / row['wall_s'] / 1e6:.1f} "
              f"| {row['peak_rss_mib']:,.0f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
