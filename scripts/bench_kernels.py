"""Benchmark: real-kernel latency per item, DLRM versus compressed models, and the cost of counting.

Measures, in one run on this machine:
- pyperf latency per item at a few batch sizes for each model (``memprof.hw.bench``), and the
  ratio dlrm / model at each batch size (the seed deck's "Mem-Rec is N x faster" table);
- the kernel region's wall time plain versus under ``perf stat`` with the FIFO scoping
  (the overhead the counting adds to the region; should be ~1.0).

Usage: python scripts/bench_kernels.py [--models dlrm,memrec] [--batch-sizes 1,64,1024,16384]
                                       [--workload criteo-tb] [--budget 4GB] [--fast]
"""

from __future__ import annotations

import argparse
import sys

from memprof.hw.bench import BenchConfig, run_bench
from sim.sizes import format_size, parse_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="dlrm,memrec")
    parser.add_argument("--batch-sizes", default="1,64,1024,16384")
    parser.add_argument("--workload", default="criteo-tb")
    parser.add_argument("--budget", default="4GB", help="memory budget for one model's tables")
    parser.add_argument("--fast", action="store_true", help="one pyperf process, two values")
    args = parser.parse_args()
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    sizes = tuple(int(b) for b in args.batch_sizes.split(","))
    budget = parse_size(args.budget)
    kwargs = dict(models=models, batch_sizes=sizes, workload=args.workload, budget_bytes=budget)
    config = BenchConfig.quick(**kwargs) if args.fast else BenchConfig(**kwargs)
    frame, meta = run_bench(config, log=lambda m: print(m, file=sys.stderr))
    print(f"workload {args.workload}, budget {format_size(budget)}")
    for model, info in meta["models"].items():
        cap = f"capped at {info['max_rows_cap']:,} rows" if info["max_rows_cap"] else "full tables"
        print(f"  {model}: {cap}, {info['table_bytes'] / 2**30:.2f} GiB")
    print(frame[["model", "batch_size", "ms_per_item", "ms_per_item_stdev", "items_per_second"]].to_string(index=False))
    base = frame[frame.model == "dlrm"].set_index("batch_size")["ms_per_item"] if "dlrm" in models else None
    if base is not None:
        print("\nlatency ratio dlrm / model (> 1: the model is faster)")
        for model in models:
            if model == "dlrm":
                continue
            other = frame[frame.model == model].set_index("batch_size")["ms_per_item"]
            print(f"  {model}: " + ", ".join(f"B={b}: {base[b] / other[b]:.2f}x" for b in sizes))

    from memprof.hw import perf as perf_mod
    from memprof.hw.backends import _run_plain
    from memprof.hw.runspec import RunSpec
    from traces.spec import TraceSpec

    if perf_mod.find_perf():
        import json
        import tempfile
        from pathlib import Path

        spec = RunSpec(TraceSpec(model=models[0], workload=args.workload,
                                 max_rows=meta["models"][models[0]]["max_rows_cap"], batch_size=2048, batches=20))
        plain = _run_plain(spec, 600)["region_wall_ns"]
        with tempfile.TemporaryDirectory() as tmp:
            result = Path(tmp) / "r.json"
            perf_mod.run_counted(spec.runner_argv(result=str(result)), ["task-clock"], timeout_s=600)
            counted = json.loads(result.read_text())["region_wall_ns"]
        print(f"\nkernel region wall time under perf stat / plain ({models[0]}, B=2048 x 20): "
              f"{counted / plain:.3f} ({counted / 1e6:.1f} ms vs {plain / 1e6:.1f} ms)")


if __name__ == "__main__":
    main()
