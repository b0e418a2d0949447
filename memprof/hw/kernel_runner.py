"""``python -m memprof.hw.kernel_runner``: build a representation and batches, run only the
kernel inside a marked region, and write what happened as JSON.

This is the child process that perf, VTune and valgrind wrap. Everything before the
region (imports, table allocation, batch generation, JIT warm-up, an optional cache
flush) is outside the counters; the region is the ``pooled`` kernel over all batches
(see ``memprof.hw.region``), with ``--threads`` and ``--prefetch-distance`` passed to
``pooled``. The JSON result records the region's wall time,
lookup counts, the real address of the table buffer (so a simulation can replay the
kernel's trace at the addresses the kernel really touched), the bytes of the index
arrays the kernel also reads, and MBM bytes when a resctrl group was given.

Tables are copied into a page-aligned buffer so every row starts where the trace
says it does relative to a line boundary.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from traces.batch import Batch
from sim.jit import check_threads
from traces.representations.base import DEFAULT_PREFETCH_DISTANCE, check_prefetch_distance

PAGE = 4096


def aligned_empty(count: int, dtype=np.float32, align: int = PAGE) -> np.ndarray:
    """An uninitialised 1-D array whose data starts on an ``align``-byte boundary."""
    itemsize = np.dtype(dtype).itemsize
    raw = np.empty(count * itemsize + align, dtype=np.uint8)
    start = (-raw.ctypes.data) % align
    return raw[start:start + count * itemsize].view(dtype)


def realign_weights(rep, align: int = PAGE) -> None:
    """Move ``rep.weights`` into a page-aligned buffer (same values)."""
    weights = rep.weights
    if weights.ctypes.data % align == 0:
        return
    aligned = aligned_empty(weights.size, weights.dtype, align)
    aligned[:] = weights
    rep.weights = aligned


def fill_constant(rep, align: int = PAGE) -> None:
    """Give ``rep`` real, written tables filled with one small constant (fast for huge tables).

    Lookup time does not depend on the values; every page is written, so no read is
    served by the kernel's shared zero page.
    """
    weights = aligned_empty(rep.layout.total_elems, np.float32, align)
    weights.fill(np.float32(0.5 / np.sqrt(rep.dim)))
    rep.weights = weights


def save_batches(path, batches: list[Batch]) -> None:
    """Write batches to an .npz (indices_i, offsets_i, meta) atomically."""
    from traces.format.fileio import atomic_open

    arrays = {"meta": np.array([len(batches), batches[0].num_features, batches[0].batch_size], dtype=np.int64)}
    for i, batch in enumerate(batches):
        arrays[f"indices_{i}"] = batch.indices
        arrays[f"offsets_{i}"] = batch.offsets
    with atomic_open(path, "wb") as handle:
        np.savez(handle, **arrays)


def load_batches(path) -> list[Batch]:
    with np.load(path) as data:
        count, features, batch_size = (int(x) for x in data["meta"])
        return [Batch(np.ascontiguousarray(data[f"indices_{i}"]), np.ascontiguousarray(data[f"offsets_{i}"]),
                      features, batch_size) for i in range(count)]


def build_representation(model: str, workload_spec: str, *, dim: int | None = None, max_rows: int | None = None,
                         params: dict | None = None):
    """The representation a ``TraceSpec`` with these fields describes (tables not allocated)."""
    from traces.spec import TraceSpec

    return TraceSpec(model, workload_spec, dim=dim, max_rows=max_rows, params=params or ()).representation()


def make_batches(rep, *, batch_size: int, batches: int, alpha: float, pooling, seed: int) -> list[Batch]:
    from traces.generator import SyntheticGenerator

    generator = SyntheticGenerator(rep.workload, alpha=alpha, pooling=pooling, seed=seed)
    return list(generator.batches(batch_size, batches))


def _lines(addr: int, nbytes: int, line: int = 64) -> int:
    return 0 if nbytes <= 0 else (addr + nbytes - 1) // line - addr // line + 1


def parser() -> argparse.ArgumentParser:
    """The child's options: a ``TraceSpec.to_argv()`` (the trace) plus how to run the kernel."""
    p = argparse.ArgumentParser(prog="python -m memprof.hw.kernel_runner",
                                description="Run one representation's kernel in a counted region.")
    p.add_argument("--model", required=True)
    p.add_argument("--workload", default="criteo-tb")
    p.add_argument("--dim", type=int)
    p.add_argument("--max-rows", type=int, help="cap every table at this many rows")
    p.add_argument("--param", action="append", default=[], metavar="[MODEL.]FIELD=VALUE")
    p.add_argument("--batch-size", type=int, default=2048)
    p.add_argument("--batches", type=int, default=10)
    p.add_argument("--alpha", type=float, default=1.05)
    p.add_argument("--pooling", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--line", type=int, default=64,
                   help="cache line bytes (part of the trace spec; the kernel itself does not use it)")
    p.add_argument("--batches-file", help="read the batches from this .npz instead of generating them")
    p.add_argument("--warmup", type=int, default=1, help="kernel calls before the region (JIT, page faults)")
    p.add_argument("--flush-bytes", type=int, default=0, help="read this many bytes just before the region")
    p.add_argument("--fill", choices=("random", "constant"), default="random")
    p.add_argument("--threads", type=int, default=1, help="threads of the pooled() kernel (1 = the serial kernel)")
    p.add_argument("--prefetch-distance", type=int, default=DEFAULT_PREFETCH_DISTANCE,
                   help="software prefetch this many lookups ahead (0 = off)")
    p.add_argument("--budget", type=int, default=None, help="memory budget for the tables, bytes")
    p.add_argument("--mbm", help="resctrl group directory whose mbm_total_bytes to read around the region")
    p.add_argument("--itt", action="store_true", help="resume/pause VTune collection via ittapi")
    p.add_argument("--result", help="write the JSON result here (default: stdout)")
    return p


def trace_spec(args: argparse.Namespace):
    """The ``TraceSpec`` that parsed arguments describe (ValueError on a violated constraint)."""
    from traces.spec import TraceSpec, parse_param_items

    return TraceSpec(args.model, args.workload, dim=args.dim, batch_size=args.batch_size, batches=args.batches,
                     seed=args.seed, alpha=args.alpha, pooling=args.pooling, line_bytes=args.line,
                     params=tuple(parse_param_items(args.model, args.param).items()), max_rows=args.max_rows)


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    from memprof.hw.perf import PerfControlError
    from memprof.hw.region import KernelRegion
    from memprof.hw.resctrl import read_mbm_total_bytes

    try:
        kernel = {"threads": check_threads(args.threads),
                  "prefetch_distance": check_prefetch_distance(args.prefetch_distance)}
        spec = trace_spec(args)
        rep = spec.representation()
        budget = args.budget if args.budget else max(rep.memory_bytes, 1)
        if rep.memory_bytes > budget:
            raise ValueError(f"{args.model}: tables need {rep.memory_bytes:,} bytes, over the budget {budget:,}")
        if args.fill == "random":
            rep.allocate(seed=args.seed, budget_bytes=budget)
            realign_weights(rep)
        else:
            fill_constant(rep)
        if args.batches_file:
            batches = load_batches(args.batches_file)
        else:
            batches = list(spec.build(rep).batches())
    except ValueError as exc:
        print(f"kernel_runner: {exc}", file=sys.stderr)
        return 2
    batches = [rep.prepare(batch) for batch in batches]  # the data loader's work, outside the counted region
    for i in range(args.warmup):
        rep.pooled(batches[i % len(batches)], **kernel)
    flush = np.ones(max(args.flush_bytes, 0) // 8, dtype=np.float64) if args.flush_bytes > 0 else None
    mbm_reader = (lambda: read_mbm_total_bytes(args.mbm)) if args.mbm else None
    if flush is not None:
        flush.sum()
    outputs = []
    region = KernelRegion(use_itt=args.itt, mbm_reader=mbm_reader)
    try:
        with region:
            for batch in batches:
                out = rep.pooled(batch, **kernel)
                outputs.append((out.ctypes.data, out.nbytes))
    except PerfControlError as exc:
        print(f"kernel_runner: {exc}", file=sys.stderr)
        return 3
    checksum = float(out.sum(dtype=np.float64))
    lookups = sum(b.num_lookups for b in batches)
    samples = sum(b.batch_size for b in batches)
    base = rep.weights.ctypes.data
    result = {
        "model": args.model,
        "workload": rep.workload.describe(),
        "params": {k: v for k, v in rep.describe().items() if k != "model"},
        "kernel": kernel,
        "memory_bytes": int(rep.memory_bytes),
        "batch_size": batches[0].batch_size,
        "batches": len(batches),
        "samples": int(samples),
        "lookups": int(lookups),
        "region_wall_ns": int(region.wall_ns),
        "weights_addr": int(base),
        "regions": [
            {"name": r.name, "base_addr": int(r.base_addr), "nbytes": int(r.nbytes), "real_addr": int(base + off * 4)}
            for r, off in zip(rep.layout.regions, rep.layout.elem_offsets)
        ],
        "index_lines": int(sum(_lines(b.indices.ctypes.data, b.indices.nbytes)
                               + _lines(b.offsets.ctypes.data, b.offsets.nbytes) for b in batches)),
        "arrays": [
            {"indices_addr": int(b.indices.ctypes.data), "indices_nbytes": int(b.indices.nbytes),
             "offsets_addr": int(b.offsets.ctypes.data), "offsets_nbytes": int(b.offsets.nbytes),
             "out_addr": int(addr), "out_nbytes": int(nbytes)}
            for b, (addr, nbytes) in zip(batches, outputs)
        ],
        "mbm_bytes": region.mbm_bytes,
        "mbm_status": region.mbm_status,
        "itt_status": region.itt_status,
        "perf_sessions": len(region.controls),
        "checksum": checksum,
        "pid": os.getpid(),
    }
    text = json.dumps(result, indent=1)
    if args.result:
        from traces.format.fileio import atomic_write_text

        atomic_write_text(args.result, text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
