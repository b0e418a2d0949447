"""Benchmark: ns per lookup of memprof's pooled() kernels beside torch's embedding_bag (FBGEMM).

On one table set (default 26 tables x 400k rows x 128 fp32, 5.3 GB, Zipf 1.05, one lookup per
bag) and at each batch size it times, alternately in every repeat so drift on a shared machine
hits all of them alike: memprof dlrm ``pooled(batch, out=buffer)``, torch ``F.embedding_bag``
called once per table (what a DLRM model does; each output is dropped at once, so torch's
allocator hands the next call the same, warm block: its best case, as memprof's out= buffer is
for memprof), and torch in one fused call over the concatenated tables (ids offset per table;
its one output of batch x tables rows is allocated per call), all on the same float32 storage
(torch views memprof's buffer: no second copy). Then every other
representation, and a cache-resident dlrm case (default 26 x 200 rows). Each timing runs a ring of distinct batches for at least
``--min-time`` seconds; the table reports best and median of ``--repeats``.

torch is the optional extra ``pip install -e '.[compare]'``; without it its rows are skipped
with the reason. Threads: numba's and torch's thread counts are set to ``--threads``.

Usage: python scripts/bench_kernels.py [--rows 400000] [--tables 26] [--batch-sizes 1,64,1024,16384]
                                       [--repeats 5] [--threads 1] [--prefetch-distance N]
                                       [--models dlrm,hashing,qr,robe,ttrec,memrec] [--quick]
"""

from __future__ import annotations

import argparse
import datetime
import gc
import platform
import statistics
import sys
import time

import numpy as np

from memprof.hw.host import host_cpu_name
from memprof.hw.kernel_runner import fill_constant
from sim.sizes import format_size, parse_size
from traces.generator import SyntheticGenerator
from traces.representations import build
from traces.representations.base import DEFAULT_PREFETCH_DISTANCE
from traces.workloads import get_workload

RING_LOOKUPS = 1 << 20  # distinct lookups cycled through per batch size (at least two batches)


def model_params(model: str, rows: int) -> dict:
    """Parameters that put every table on the model's compressed path (the defaults leave
    400k-row tables whole for hashing and ttrec, whose thresholds are 1M rows)."""
    return {"hashing": {"rows": max(1, rows // 4)}, "ttrec": {"min_rows": 1}}.get(model, {})


def ring(workload, batch_size, alpha, seed):
    """Distinct batches covering about RING_LOOKUPS lookups (so one call's rows are not the next one's)."""
    count = max(2, min(256, RING_LOOKUPS // (batch_size * workload.num_features)))
    return list(SyntheticGenerator(workload, alpha=alpha, pooling="1", seed=seed).batches(batch_size, count))


def time_ring(call, batches, min_time):
    """ns per lookup of ``call(i)`` cycled over the ring until ``min_time`` seconds have passed."""
    lookups = 0
    start = time.perf_counter_ns()
    deadline = start + min_time * 1e9
    while True:
        for i, batch in enumerate(batches):
            call(i)
            lookups += batch.num_lookups
            now = time.perf_counter_ns()
            if now >= deadline:
                return (now - start) / lookups


class Memprof:
    def __init__(self, rep, batches, threads, distance):
        self.rep, self.threads, self.distance = rep, threads, distance
        self.label = "memprof" if distance == DEFAULT_PREFETCH_DISTANCE else f"memprof, prefetch distance {distance}"
        self.batches = [rep.prepare(b) for b in batches]  # the data loader's work (Mem-Rec's hashing), untimed
        first = batches[0]
        self.out = np.empty((rep.output_features(first.num_features), first.batch_size, rep.dim), dtype=np.float32)

    def __call__(self, i):
        self.rep.pooled(self.batches[i], self.out, prefetch_distance=self.distance, threads=self.threads)


class TorchPerTable:
    label = "torch per-table embedding_bag"

    def __init__(self, torch, rep, batches):
        self.torch, self.F = torch, torch.nn.functional
        dim = rep.dim
        self.weights = [torch.from_numpy(rep.array(f"table_{t}").reshape(-1, dim)) for t in range(len(rep.rows))]
        self.inputs = []
        for batch in batches:
            per_table = []
            size = batch.batch_size
            for t in range(batch.num_features):
                lo, hi = batch.offsets[t * size], batch.offsets[(t + 1) * size]
                per_table.append((torch.from_numpy(batch.indices[lo:hi].copy()),
                                  torch.from_numpy(batch.offsets[t * size:(t + 1) * size] - lo)))
            self.inputs.append(per_table)

    def __call__(self, i):
        with self.torch.inference_mode():  # each output dropped before the next call: the allocator reuses its block
            for weight, (idx, off) in zip(self.weights, self.inputs[i]):
                self.F.embedding_bag(idx, weight, off, mode="sum")


class TorchFused:
    label = "torch one fused embedding_bag"

    def __init__(self, torch, rep, batches):
        self.torch, self.F = torch, torch.nn.functional
        self.weight = torch.from_numpy(rep.weights.reshape(-1, rep.dim))  # the tables, concatenated
        row_base = np.concatenate([[0], np.cumsum(rep.rows)[:-1]])
        self.inputs = []
        for batch in batches:
            size = batch.batch_size
            feature = np.repeat(np.arange(batch.num_features), np.diff(batch.offsets[::size]))
            self.inputs.append((torch.from_numpy(batch.indices % rep.rows[feature] + row_base[feature]),
                                torch.from_numpy(batch.offsets.copy())))

    def __call__(self, i):
        with self.torch.inference_mode():
            idx, off = self.inputs[i]
            self.F.embedding_bag(idx, self.weight, off, mode="sum", include_last_offset=True)


class TorchMemRec:
    """Mem-Rec with sample pooling in torch, on memprof's tables and the loader's hashed rows: per
    sample, the token rows of all its features summed (one embedding_bag), the weight entries
    summed (another), multiplied."""

    label = "torch Mem-Rec (2 embedding_bag + mul)"

    def __init__(self, torch, rep, batches):
        self.torch, self.F = torch, torch.nn.functional
        c = rep.config
        self.token = torch.from_numpy(rep.array("token_table").reshape(-1, rep.dim))
        self.weight = torch.from_numpy(rep.array("weight_table").reshape(-1, c.weight_width))
        self.repeat = rep.dim // c.weight_width
        self.inputs = []
        for batch in batches:
            hashed = rep.prepare(batch)
            size = batch.batch_size
            sample = np.repeat(np.arange(batch.num_features * size) % size, np.diff(batch.offsets))
            order = np.argsort(sample, kind="stable")  # lookups grouped by sample
            per_sample = np.bincount(sample, minlength=size)
            parts = []
            for rows, k in ((hashed.token_rows, c.k), (hashed.weight_rows, c.k_weight)):
                idx = rows.reshape(-1, k)[order].reshape(-1)
                off = np.concatenate([[0], np.cumsum(per_sample * k)[:-1]])
                parts += [torch.from_numpy(np.ascontiguousarray(idx)), torch.from_numpy(off)]
            self.inputs.append(parts)

    def __call__(self, i):
        with self.torch.inference_mode():
            tok_idx, tok_off, w_idx, w_off = self.inputs[i]
            rows = self.F.embedding_bag(tok_idx, self.token, tok_off, mode="sum")
            alpha = self.F.embedding_bag(w_idx, self.weight, w_off, mode="sum")
            return rows * (alpha.repeat_interleave(self.repeat, dim=1) if self.repeat > 1 else alpha)


def measure(contenders, batches, repeats, min_time):
    """{label: (best, median) ns per lookup}, the contenders timed alternately in each repeat."""
    for c in contenders:
        c(0)  # compile / warm up
    samples = {c.label: [] for c in contenders}
    for _ in range(repeats):
        for c in contenders:
            samples[c.label].append(time_ring(c, batches, min_time))
    return {k: (min(v), statistics.median(v)) for k, v in samples.items()}


def check_same(rep, batches, torch):
    """memprof's and torch's per-table outputs agree (the comparison computes the same thing)."""
    if torch is None:
        return
    batch = batches[0]
    ours = rep.pooled(batch)
    contender = TorchPerTable(torch, rep, batches[:1])
    with torch.inference_mode():
        for t, (weight, (idx, off)) in enumerate(zip(contender.weights, contender.inputs[0])):
            theirs = torch.nn.functional.embedding_bag(idx, weight, off, mode="sum").numpy()
            if not np.allclose(ours[t], theirs, rtol=1e-5, atol=1e-6):
                raise SystemExit(f"memprof and torch disagree on table {t}")


def _torch_memrec_applies(rep) -> bool:
    """The torch equivalent covers the released configuration: sample pooling, shared tables."""
    c = rep.config
    return getattr(c, "pooling", None) == "sample" and c.shared and not c.hash_in_kernel


def check_memrec(rep, batches, torch):
    """memprof's and the torch Mem-Rec's outputs agree (on random values in a copy of the tables)."""
    saved = rep.weights
    rep.weights = np.random.default_rng(1).random(saved.size, dtype=np.float32)
    try:
        ours = rep.pooled(rep.prepare(batches[0]))[0]
        theirs = TorchMemRec(torch, rep, batches[:1])(0).numpy()
        if not np.allclose(ours, theirs, rtol=1e-4, atol=1e-5):
            raise SystemExit("memprof memrec and the torch Mem-Rec disagree")
    finally:
        rep.weights = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=26)
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--alpha", type=float, default=1.05)
    parser.add_argument("--batch-sizes", default="1,64,1024,16384")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.2, help="seconds per timing")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--prefetch-distance", type=int, default=DEFAULT_PREFETCH_DISTANCE)
    parser.add_argument("--models", default="dlrm,hashing,qr,robe,ttrec,memrec")
    parser.add_argument("--cache-rows", default="200,20",
                        help="rows per table of the cache-resident cases, a comma list (26 x 200 rows x 512 B = 2.6 MB: "
                             "L3 here; 26 x 20 = 266 KB: L2)")
    parser.add_argument("--budget", default="6GB", help="largest table set to allocate")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--quick", action="store_true", help="2 repeats of 0.05 s (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.min_time = 2, 0.05
    if args.repeats < 1 or args.threads < 1 or args.prefetch_distance < 0:
        raise SystemExit("repeats and threads must be >= 1, prefetch distance >= 0")
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    budget = parse_size(args.budget)

    torch, torch_note = None, ""
    if not args.no_torch:
        try:
            import torch
            torch.set_num_threads(args.threads)
        except ImportError:
            torch_note = "torch not installed (pip install -e '.[compare]'): torch rows skipped"
    else:
        torch_note = "--no-torch: torch rows skipped"

    import numba

    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    workload = get_workload(",".join([str(args.rows)] * args.tables), dim=args.dim)
    print(f"# {host_cpu_name()}, {datetime.datetime.now().isoformat(timespec='minutes')}, python "
          f"{platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}, torch "
          f"{torch.__version__ if torch else '-'}; threads {args.threads}, prefetch distance "
          f"{args.prefetch_distance}; {args.tables} tables x {args.rows:,} rows x {args.dim} fp32, Zipf "
          f"{args.alpha}, 1 lookup per bag; best / median of {args.repeats} x >= {args.min_time} s")
    if torch_note:
        print(f"# {torch_note}")
    results = []  # (case, batch, label, best, median)

    rep = build("dlrm", workload)
    if rep.memory_bytes > budget:
        raise SystemExit(f"dlrm tables need {format_size(rep.memory_bytes)}, over --budget {args.budget}; "
                         "lower --rows or --tables")
    print(f"# dlrm tables {format_size(rep.memory_bytes)}", file=sys.stderr)
    fill_constant(rep)  # one value everywhere: lookup time does not depend on it
    for size in sizes:
        batches = ring(workload, size, args.alpha, seed=size)
        contenders = [Memprof(rep, batches, args.threads, args.prefetch_distance)]
        if torch is not None:
            contenders += [TorchPerTable(torch, rep, batches), TorchFused(torch, rep, batches)]
        for label, (best, median) in measure(contenders, batches, args.repeats, args.min_time).items():
            results.append(("dlrm", size, label, best, median))
        print(f"# dlrm B={size} done", file=sys.stderr)
    del rep, contenders
    gc.collect()

    for model in models:
        if model == "dlrm":
            continue
        try:
            other = build(model, workload, **model_params(model, args.rows))
            if other.memory_bytes > budget:
                print(f"# {model}: {format_size(other.memory_bytes)} over the budget, skipped")
                continue
            fill_constant(other)
            other.pooled(other.prepare(ring(workload, 1, args.alpha, seed=0)[0]))
            memrec_torch = torch is not None and model == "memrec" and _torch_memrec_applies(other)
        except Exception as exc:  # a representation not ready (its kernel being rewritten): say so, go on
            print(f"# {model}: skipped ({type(exc).__name__}: {exc})")
            continue
        for size in sizes:
            batches = ring(workload, size, args.alpha, seed=size)
            contenders = [Memprof(other, batches, args.threads, args.prefetch_distance)]
            if memrec_torch:
                if size == sizes[0]:
                    check_memrec(other, batches, torch)
                contenders.append(TorchMemRec(torch, other, batches))
            for label, (best, median) in measure(contenders, batches, args.repeats, args.min_time).items():
                results.append((model, size, label, best, median))
        print(f"# {model} {model_params(model, args.rows) or 'defaults'}: {format_size(other.memory_bytes)}")
        del other
        gc.collect()

    for cache_rows in (int(r) for r in args.cache_rows.split(",")):
        small = get_workload(",".join([str(cache_rows)] * args.tables), dim=args.dim)
        rep = build("dlrm", small)
        rep.allocate(seed=0)  # random values: the torch check below compares something
        case = f"dlrm cache-resident ({args.tables} x {cache_rows} rows, {format_size(rep.memory_bytes)})"
        for size in sizes:
            batches = ring(small, size, args.alpha, seed=size)
            if size == sizes[-1]:
                check_same(rep, batches, torch)
            contenders = [Memprof(rep, batches, args.threads, args.prefetch_distance)]
            if args.prefetch_distance:  # prefetching cached rows only costs instructions: show it off too
                contenders.append(Memprof(rep, batches, args.threads, 0))
            if torch is not None:
                contenders += [TorchPerTable(torch, rep, batches), TorchFused(torch, rep, batches)]
            for label, (best, median) in measure(contenders, batches, args.repeats, args.min_time).items():
                results.append((case, size, label, best, median))

    print("\n| case | implementation | " + " | ".join(f"B={b}" for b in sizes) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in sizes) + " |")
    rows = {}
    for case, size, label, best, median in results:
        rows.setdefault((case, label), {})[size] = (best, median)
    for (case, label), cells in rows.items():
        print(f"| {case} | {label} | " + " | ".join(
            f"{cells[b][0]:.1f} / {cells[b][1]:.1f}" if b in cells else "-" for b in sizes) + " |")
    for case in dict.fromkeys(c for c, _ in rows):
        ours = rows.get((case, "memprof"))
        for label in (TorchPerTable.label, TorchMemRec.label):
            theirs = rows.get((case, label))
            if ours and theirs:
                print(f"| {case} | ratio memprof / {label.split(' (')[0]} (best, median; < 1: memprof faster) | "
                      + " | ".join(f"{ours[b][0] / theirs[b][0]:.2f} / {ours[b][1] / theirs[b][1]:.2f}x"
                                   if b in ours and b in theirs else "-" for b in sizes) + " |")
    print("\nns per lookup, best / median")


if __name__ == "__main__":
    main()
