"""Benchmark the one-pass miss-ratio curves: exact stack distances and SHARDS.

Trace: the simulator issue's seeded Zipf trace (``traces.generator.zipf_row_trace``, the one
``scripts/bench_sim.py`` uses): ``rows`` rows of 512 B (8 lines of 64 B), Zipf(alpha) row
popularity scattered over the table, each lookup reading its row's 8 consecutive lines;
80M line accesses by default (10M row lookups).
The trace is generated chunk by chunk (never held whole); only the MRC update calls are
timed, in CPU time of this process (single-threaded code: equal to wall time on a quiet
machine, and not inflated by other jobs on a shared one). Prints accesses per second of each method, measured in the same run, and the SHARDS
error against the exact curve over 1-128 MB.

    python scripts/bench_mrc.py                  # 80M accesses (about 2 GB of RAM for exact)
    python scripts/bench_mrc.py --accesses 8e6   # quick run
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from sim.mrc.stack import StackDistances
from sim.mrc.shards import ShardsRate, ShardsSize
from traces.generator import zipf_row_trace

MB = 1 << 20


def timed_pass(accumulator, args) -> float:
    """Feed the trace; return CPU seconds spent inside update() only."""
    spent = 0.0
    for chunk in zipf_row_trace(args.rows, row_bytes=512, line_bytes=64, alpha=args.alpha, accesses=args.accesses,
                                seed=args.seed, chunk_entries=1 << 20):
        start = time.process_time()
        accumulator.update(chunk)
        spent += time.process_time() - start
    return spent


def warm_up() -> None:
    """Compile (or load cached) kernels outside the timed region."""
    small = np.arange(4096, dtype=np.uint64) * np.uint64(64)
    for acc in (StackDistances(), ShardsRate(0.5), ShardsSize(64)):
        acc.update(small)
        acc.curve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accesses", type=float, default=80e6, help="line accesses (default 80e6)")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--alpha", type=float, default=1.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate", type=float, default=0.01, help="SHARDS sampling rate")
    parser.add_argument("--smax", type=int, default=8192, help="fixed-size SHARDS sample bound")
    parser.add_argument("--exact-only", action="store_true", help="time the exact method only")
    args = parser.parse_args()
    args.accesses = int(args.accesses)

    warm_up()
    print(f"host: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    print(f"trace: {args.accesses:,} line accesses, {args.rows:,} rows x 512 B, alpha {args.alpha}, seed {args.seed}")

    exact = StackDistances()
    t_exact = timed_pass(exact, args)
    if args.exact_only:
        print(f"exact: {t_exact:.2f} s, {args.accesses / t_exact / 1e6:.1f} M accesses/s")
        return
    rate = ShardsRate(args.rate)
    t_rate = timed_pass(rate, args)
    size = ShardsSize(args.smax)
    t_size = timed_pass(size, args)

    sizes = np.unique(np.geomspace(MB, 128 * MB, 64).astype(np.int64) // 64 * 64)
    ref = exact.curve().miss_ratio(sizes)
    rows = [
        ("exact", t_exact, exact.memory_bytes, 0.0),
        (f"shards R={args.rate:g}", t_rate, rate.memory_bytes, float(np.mean(np.abs(rate.curve().miss_ratio(sizes) - ref)))),
        (f"shards s_max={args.smax}", t_size, size.memory_bytes, float(np.mean(np.abs(size.curve().miss_ratio(sizes) - ref)))),
    ]
    print(f"footprint: {exact.distinct_lines_count:,} distinct lines ({exact.distinct_lines_count * 64 / MB:.1f} MiB)")
    print(f"{'method':<20} {'seconds':>8} {'M accesses/s':>13} {'vs exact':>9} {'state MiB':>10} {'MAE 1-128MB':>12}")
    for name, seconds, mem, mae in rows:
        print(f"{name:<20} {seconds:8.2f} {args.accesses / seconds / 1e6:13.1f} {t_exact / seconds:8.1f}x "
              f"{mem / MB:10.1f} {mae:12.5f}")


if __name__ == "__main__":
    main()
