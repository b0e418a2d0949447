"""Benchmark: trace emission throughput (line addresses per second, one core) on criteo-tb.

Measures, in one run, for the full-table and Mem-Rec representations:
- emission alone (the address emitter over pre-generated batches),
- generation + emission + re-chunking (the whole ``traces.stream.model_trace`` pipeline),
- peak RSS after N and 2N batches streamed (flat memory = streaming works).

Usage: python scripts/bench_trace.py [--batches 40] [--batch-size 2048] [--models dlrm,memrec]
"""

from __future__ import annotations

import argparse
import resource
import time

from traces.generator import SyntheticGenerator
from traces.representations import build
from traces.stream import model_trace
from traces.workloads import get_workload


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--models", default="dlrm,memrec")
    args = parser.parse_args()
    workload = get_workload("criteo-tb")
    gen = SyntheticGenerator(workload, alpha=1.05, seed=0)
    batches = [gen.batch(args.batch_size, i) for i in range(args.batches)]
    lookups = sum(b.num_lookups for b in batches)
    t0 = time.perf_counter()
    for i in range(args.batches):
        gen.batch(args.batch_size, i)
    gen_rate = lookups / (time.perf_counter() - t0)
    print(f"criteo-tb, batch {args.batch_size} x {args.batches} batches = {lookups:,} lookups, alpha 1.05")
    print(f"token generation alone: {gen_rate / 1e6:.1f} M lookups/s")
    for name in args.models.split(","):
        rep = build(name, workload)
        rep.emit(batches[0])  # compile / load the cached kernel
        t0 = time.perf_counter()
        lines = sum(rep.emit(b).shape[0] for b in batches)
        emit_s = time.perf_counter() - t0
        for count in (args.batches, 2 * args.batches):
            t0 = time.perf_counter()
            total = sum(c.shape[0] for c in model_trace(name, workload, batch_size=args.batch_size, batches=count))
            pipe_s = time.perf_counter() - t0
            print(f"{name:7s} emission {lines / emit_s / 1e6:7.1f} M lines/s | pipeline ({count} batches) "
                  f"{total / pipe_s / 1e6:6.1f} M lines/s | peak RSS {rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
