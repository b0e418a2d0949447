"""Latency per item versus batch size of the real Numba kernels, timed with pyperf.

Why pyperf: worker processes (a fresh process per series of values, so one process's
luck with page placement does not decide the result), warm-ups that absorb the JIT
compile and page faults, loop calibration, and JSON files that
``python -m pyperf compare_to dlrm.json memrec.json`` reads.

How: ``run_bench`` starts, per model, ``python -m memprof.hw.bench ...`` in a subprocess
with its own argv (pyperf's Runner parses sys.argv and re-executes the program for its
workers, so it must not run inside the ``memprof`` CLI process). That script defines
one benchmark per batch size, named ``batch_size=B`` (the same names in every model's
file, so compare_to pairs them), each timing ``rep.pooled(batch)`` over a ring of
distinct pre-generated batches with ``inner_loops=B``: pyperf's values are seconds
per item (sample). Each call writes into one reused output buffer (``pooled(batch, out)``,
as a model serving requests would), with the configured kernel threads and prefetch distance.

Tables are sized to a memory budget (default half of RAM): when the full tables do
not fit, every table is capped at the largest row count that fits, and the cap and
footprint are reported. Tables are filled with one constant (``kernel_runner.fill_constant``):
lookup time does not depend on the values, and filling 10 GB with random numbers per
worker process would dominate the run.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_BATCH_SIZES = (1, 64, 128, 256, 512, 1024, 16384)
RING_SAMPLES = 16384  # distinct samples cycled through per batch size (defeats cache reuse across calls)
TRAIN_BUDGET_SHARE = 3  # off the forward phase the parameters get budget / this (gradient + optimizer state)


def total_ram_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def default_budget_bytes() -> int:
    """Half of physical RAM."""
    return total_ram_bytes() // 2


def table_cap(model: str, workload_spec: str, *, dim: int | None = None, params: dict | None = None,
              budget_bytes: int) -> tuple[int | None, int]:
    """(max_rows cap or None, memory_bytes): the largest per-table cap whose arrays fit the budget."""
    from memprof.hw.kernel_runner import build_representation

    rep = build_representation(model, workload_spec, dim=dim, params=params)
    if rep.memory_bytes <= budget_bytes:
        return None, rep.memory_bytes
    lo, hi = 1, max(rep.workload.cardinalities)
    smallest = build_representation(model, workload_spec, dim=dim, max_rows=1, params=params).memory_bytes
    if smallest > budget_bytes:
        raise ValueError(f"{model}: even one row per table needs {smallest:,} bytes, over the budget "
                         f"{budget_bytes:,} bytes")
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if build_representation(model, workload_spec, dim=dim, max_rows=mid, params=params).memory_bytes <= budget_bytes:
            lo = mid
        else:
            hi = mid - 1
    return lo, build_representation(model, workload_spec, dim=dim, max_rows=lo, params=params).memory_bytes


@dataclass(frozen=True)
class BenchConfig:
    """What ``run_bench`` times and how hard pyperf works at it."""

    models: tuple[str, ...] = ("dlrm", "memrec")
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES
    workload: str = "criteo-tb"
    dim: int | None = None
    alpha: float = 1.05
    pooling: str | None = None
    seed: int = 0
    budget_bytes: int | None = None
    params: tuple[tuple[str, tuple[tuple[str, object], ...]], ...] = field(default=())
    processes: int = 3
    values: int = 3
    warmups: int = 1
    min_time: float = 0.1
    loops: int | None = None
    ring_samples: int = RING_SAMPLES
    threads: int = 1  # of the pooled() kernel
    prefetch_distance: int | None = None  # None: the kernels' default
    phase: str = "forward"  # forward: pooled(); backward: the backward kernels; train: forward + backward + step
    grad: str = "sparse"  # off forward: sparse | dense gradients (traces.training)
    optimizer: str = "sgd"  # train: sgd | adagrad

    def __post_init__(self) -> None:
        from sim.jit import check_threads
        from traces.representations.base import check_prefetch_distance
        from traces.training import TrainConfig, check_phase

        check_phase(self.phase)
        TrainConfig(grad=self.grad, optimizer=self.optimizer)

        check_threads(self.threads)
        if self.prefetch_distance is not None:
            check_prefetch_distance(self.prefetch_distance)
        if not self.models:
            raise ValueError("at least one model is needed")
        if not self.batch_sizes or any(b < 1 for b in self.batch_sizes):
            raise ValueError(f"batch sizes must be positive integers, got {self.batch_sizes}")
        for name in ("processes", "values"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.warmups < 0:
            raise ValueError(f"warmups must be >= 0, got {self.warmups}")
        if self.loops is not None and self.loops < 1:
            raise ValueError(f"loops must be >= 1, got {self.loops}")
        if self.budget_bytes is not None and self.budget_bytes < 1:
            raise ValueError(f"budget must be positive, got {self.budget_bytes}")
        if self.ring_samples < 1:
            raise ValueError(f"ring_samples must be >= 1, got {self.ring_samples}")

    def model_params(self, model: str) -> dict:
        return dict(dict(self.params).get(model, ()))

    @classmethod
    def quick(cls, **kw) -> "BenchConfig":
        """Rough numbers fast (tests, smoke runs): one worker, two values, fixed loops."""
        base = dict(processes=1, values=2, warmups=1, loops=2, ring_samples=256)
        base.update(kw)
        return cls(**base)


def worker_argv(config: BenchConfig, model: str, max_rows: int | None, output: str) -> list[str]:
    """argv of the pyperf script for one model (its own process; pyperf parses this argv)."""
    argv = [sys.executable, "-m", "memprof.hw.bench", "--model", model, "--workload", config.workload,
            "--batch-sizes", ",".join(str(b) for b in config.batch_sizes), "--alpha", repr(config.alpha),
            "--seed", str(config.seed), "--ring-samples", str(config.ring_samples),
            "-o", output, "--quiet", "--processes", str(config.processes), "--values", str(config.values),
            "--warmups", str(config.warmups), "--min-time", repr(config.min_time)]
    if config.loops is not None:
        argv += ["--loops", str(config.loops)]
    argv += ["--threads", str(config.threads)]
    if config.prefetch_distance is not None:
        argv += ["--prefetch-distance", str(config.prefetch_distance)]
    if config.phase != "forward":
        argv += ["--phase", config.phase, "--grad", config.grad, "--optimizer", config.optimizer]
    if config.dim is not None:
        argv += ["--dim", str(config.dim)]
    if max_rows is not None:
        argv += ["--max-rows", str(max_rows)]
    if config.pooling is not None:
        argv += ["--pooling", str(config.pooling)]
    for key, value in config.model_params(model).items():
        argv += ["--param", f"{key}={value}"]
    return argv


def run_bench(config: BenchConfig, json_dir: str | os.PathLike | None = None, *, timeout_s: float | None = None,
              log=None):
    """Time every model; returns (DataFrame, metadata). pyperf JSON files go to ``json_dir``."""
    import pandas as pd

    from memprof.report.schema import BENCH_COLUMNS

    budget = config.budget_bytes or default_budget_bytes()
    rows, models_meta = [], {}
    # training keeps a gradient buffer (dense: the parameters' size) and optimizer state beside the
    # parameters: the parameters get a third of the budget off the forward phase
    table_budget = budget if config.phase == "forward" else budget // TRAIN_BUDGET_SHARE
    with tempfile.TemporaryDirectory(prefix="memprof-bench-") as tmp:
        out_dir = Path(json_dir) if json_dir else Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        for model in config.models:
            cap, footprint = table_cap(model, config.workload, dim=config.dim, params=config.model_params(model),
                                       budget_bytes=table_budget)
            models_meta[model] = {"max_rows_cap": cap, "table_bytes": footprint,
                                  "json": str(out_dir / f"{model}.json") if json_dir else None}
            if log:
                capped = f"tables capped at {cap:,} rows" if cap else "full tables"
                log(f"bench {model}: {capped}, {footprint / 2**30:.2f} GiB (budget {budget / 2**30:.2f} GiB)")
            path = out_dir / f"{model}.json"
            if path.exists():
                path.unlink()  # pyperf refuses to overwrite
            proc = subprocess.run(worker_argv(config, model, cap, str(path)), capture_output=True, text=True,
                                  timeout=timeout_s)
            if proc.returncode != 0 or not path.exists():
                raise RuntimeError(f"pyperf run of {model} failed (exit {proc.returncode}): "
                                   f"{(proc.stderr or proc.stdout).strip()[-800:]}")
            rows += suite_rows(path, model, cap, footprint)
    frame = pd.DataFrame(rows, columns=list(BENCH_COLUMNS))
    metadata = {"workload": config.workload, "dim": config.dim, "alpha": config.alpha, "pooling": config.pooling,
                "seed": config.seed, "memory_budget_bytes": budget, "ram_bytes": total_ram_bytes(),
                "pyperf": {"processes": config.processes, "values": config.values, "warmups": config.warmups,
                           "loops": config.loops, "min_time": config.min_time},
                "ring_samples": config.ring_samples, "models": models_meta, "threads": config.threads,
                "prefetch_distance": config.prefetch_distance,
                **({} if config.phase == "forward" else
                   {"phase": config.phase, "grad": config.grad, "optimizer": config.optimizer,
                    "table_budget_bytes": table_budget}),
                "table_fill": "constant (lookup time does not depend on values)"}
    return frame, metadata


def suite_rows(path, model: str, cap, footprint) -> list[dict]:
    """One row per batch size from a pyperf JSON file (values are seconds per item)."""
    import pyperf

    suite = pyperf.BenchmarkSuite.load(str(path))
    rows = []
    for bench in suite.get_benchmarks():
        name = bench.get_name()
        if not name.startswith("batch_size="):
            continue
        batch_size = int(name.split("=", 1)[1])
        mean = bench.mean()
        stdev = bench.stdev() if bench.get_nvalue() > 1 else None
        rows.append({"model": model, "batch_size": batch_size, "ms_per_item": mean * 1e3,
                     "ms_per_item_stdev": stdev * 1e3 if stdev is not None else None,
                     "items_per_second": 1.0 / mean, "table_bytes": footprint,
                     "max_rows_cap": cap if cap is not None else "none (full tables)"})
    return sorted(rows, key=lambda r: r["batch_size"])


# --- the pyperf script (runs in its own process: python -m memprof.hw.bench ...) ------------

_ARGS = None
_STATE: dict = {}


def _add_cmdline_args(cmd, args) -> None:
    cmd += ["--model", args.model, "--workload", args.workload, "--batch-sizes", args.batch_sizes,
            "--alpha", repr(args.alpha), "--seed", str(args.seed), "--ring-samples", str(args.ring_samples),
            "--threads", str(args.threads), "--prefetch-distance", str(args.prefetch_distance)]
    if args.dim is not None:
        cmd += ["--dim", str(args.dim)]
    if args.max_rows is not None:
        cmd += ["--max-rows", str(args.max_rows)]
    if args.pooling is not None:
        cmd += ["--pooling", args.pooling]
    for item in args.param:
        cmd += ["--param", item]
    if args.phase != "forward":
        cmd += ["--phase", args.phase, "--grad", args.grad, "--optimizer", args.optimizer]


def _setup(batch_size: int):
    """Build and fill the representation once per process; a ring of batches per batch size."""
    import numpy as np

    from memprof.hw.kernel_runner import build_representation, fill_constant, make_batches
    from traces.spec import parse_param_items

    args = _ARGS
    if "rep" not in _STATE:
        rep = build_representation(args.model, args.workload, dim=args.dim, max_rows=args.max_rows,
                                   params=parse_param_items(args.model, args.param))
        fill_constant(rep)
        _STATE["rep"] = rep
    rep = _STATE["rep"]
    if batch_size not in _STATE:
        count = max(2, math.ceil(args.ring_samples / batch_size))
        ring = [rep.prepare(batch)  # the data loader's work (Mem-Rec's hashing): not timed, as released
                for batch in make_batches(rep, batch_size=batch_size, batches=count, alpha=args.alpha,
                                          pooling=args.pooling, seed=args.seed)]
        features = rep.output_features(ring[0].num_features)
        out = np.empty((features, batch_size, rep.dim), dtype=np.float32)  # reused, as in production
        rep.pooled(ring[0], out, **_kernel_kwargs())  # compile or load the kernel before any timing
        _STATE[batch_size] = [ring, 0, out]
        if args.phase != "forward":
            _STATE[batch_size].append(_training_step(rep, ring[0], out))
    return rep, _STATE[batch_size]


def _training_step(rep, batch, out):
    """The timed call of a training phase: backward (dL/dout = ones, the PSS paper's loss = sum
    of the outputs) or forward + backward + optimizer step; compiled here, before any timing."""
    import numpy as np

    from traces.training import TrainConfig, Trainer

    args = _ARGS
    trainer = _STATE.get("trainer")
    if trainer is None:
        trainer = _STATE["trainer"] = Trainer(rep, TrainConfig(grad=args.grad, optimizer=args.optimizer))
        trainer.allocate()
    ones = np.ones_like(out)
    kwargs = _kernel_kwargs()

    def step(b):
        if args.phase == "train":
            rep.pooled(b, out, **kwargs)
        trainer.backward(b, ones)
        if args.phase == "train":
            trainer.step()

    step(batch)
    return step


def _kernel_kwargs() -> dict:
    return {"threads": _ARGS.threads, "prefetch_distance": _ARGS.prefetch_distance}


def _time_batches(loops: int, batch_size: int) -> float:
    import pyperf

    rep, slot = _setup(batch_size)
    ring, k, out = slot[:3]
    kwargs = _kernel_kwargs()
    count = len(ring)
    start = pyperf.perf_counter()
    step = slot[3] if len(slot) > 3 else None
    for _ in range(loops):
        if step is None:
            rep.pooled(ring[k], out, **kwargs)
        else:
            step(ring[k])
        k += 1
        if k == count:
            k = 0
    elapsed = pyperf.perf_counter() - start
    slot[1] = k
    return elapsed


def _pyperf_main() -> None:
    global _ARGS
    import pyperf

    from traces.representations.base import DEFAULT_PREFETCH_DISTANCE

    runner = pyperf.Runner(program_args=("-m", "memprof.hw.bench"), add_cmdline_args=_add_cmdline_args)
    p = runner.argparser
    p.add_argument("--model", required=True)
    p.add_argument("--workload", default="criteo-tb")
    p.add_argument("--dim", type=int, default=None)
    p.add_argument("--max-rows", type=int, default=None)
    p.add_argument("--batch-sizes", default=",".join(str(b) for b in DEFAULT_BATCH_SIZES))
    p.add_argument("--alpha", type=float, default=1.05)
    p.add_argument("--pooling", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ring-samples", type=int, default=RING_SAMPLES)
    p.add_argument("--param", action="append", default=[])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--prefetch-distance", type=int, default=DEFAULT_PREFETCH_DISTANCE)
    p.add_argument("--phase", default="forward")
    p.add_argument("--grad", default="sparse")
    p.add_argument("--optimizer", default="sgd")
    _ARGS = runner.parse_args()
    runner.metadata["memprof_model"] = _ARGS.model
    runner.metadata["memprof_workload"] = _ARGS.workload
    runner.metadata["memprof_max_rows"] = str(_ARGS.max_rows)
    runner.metadata["unit_note"] = "values are seconds per item (inner_loops = batch size)"
    for batch_size in (int(b) for b in _ARGS.batch_sizes.split(",") if b.strip()):
        runner.bench_time_func(f"batch_size={batch_size}", _time_batches, batch_size, inner_loops=batch_size)


if __name__ == "__main__":
    _pyperf_main()
