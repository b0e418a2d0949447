"""Benchmark the one-pass miss-ratio curves: exact stack distances and SHARDS.

Trace: the simulator issue's seeded Zipf trace: ``rows`` rows of 512 B (8 lines of 64 B),
row popularity Zipf(alpha) scattered over the table by an affine permutation, each row
lookup reading its 8 consecutive lines; 80M line accesses by default (10M row lookups).
The trace is generated chunk by chunk (never held whole); only the MRC update calls are
timed. Prints accesses per second of each method, measured in the same run, and the SHARDS
error against the exact curve over 1-128 MB.

    python scripts/bench_mrc.py                  # 80M accesses (about 2 GB of RAM for exact)
    python scripts/bench_mrc.py --accesses 8e6   # quick run
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from sim.mrc import StackDistances
from sim.shards import ShardsRate, ShardsSize

MB = 1 << 20


def zipf_row_trace(accesses: int, rows: int = 10_000_000, alpha: float = 1.05, seed: int = 0,
                   row_bytes: int = 512, line_bytes: int = 64, chunk_accesses: int = 1 << 20,
                   base_addr: int = 1 << 32):
    """Yield uint64 byte-address chunks: Zipf(alpha) row lookups, each reading a whole row."""
    ranks = np.arange(1, rows + 1, dtype=np.float64)
    cdf = np.cumsum(ranks ** -alpha)
    cdf /= cdf[-1]
    del ranks
    rng = np.random.default_rng(seed)
    lines_per_row = row_bytes // line_bytes
    multiplier = 2_654_435_761 % rows or 1
    while np.gcd(multiplier, rows) != 1:
        multiplier += 1
    offsets = (np.arange(lines_per_row, dtype=np.uint64) * np.uint64(line_bytes))[None, :]
    remaining = accesses
    while remaining > 0:
        n_rows = min(chunk_accesses, remaining + lines_per_row - 1) // lines_per_row
        rank = np.searchsorted(cdf, rng.random(n_rows), side="right").clip(max=rows - 1)
        row = (rank.astype(np.uint64) * np.uint64(multiplier) + np.uint64(12345)) % np.uint64(rows)
        addr = (np.uint64(base_addr) + row * np.uint64(row_bytes))[:, None] + offsets
        chunk = np.ascontiguousarray(addr.reshape(-1)[:remaining])
        remaining -= chunk.size
        yield chunk


def timed_pass(accumulator, args) -> float:
    """Feed the trace; return seconds spent inside update() only."""
    spent = 0.0
    for chunk in zipf_row_trace(args.accesses, rows=args.rows, alpha=args.alpha, seed=args.seed):
        start = time.perf_counter()
        accumulator.update(chunk)
        spent += time.perf_counter() - start
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
    args = parser.parse_args()
    args.accesses = int(args.accesses)

    warm_up()
    print(f"host: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    print(f"trace: {args.accesses:,} line accesses, {args.rows:,} rows x 512 B, alpha {args.alpha}, seed {args.seed}")

    exact = StackDistances()
    t_exact = timed_pass(exact, args)
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
