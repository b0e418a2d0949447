"""The PSS paper's Table 2 on this CPU: ROBE-Z forward and backward time per iteration.

Desai & Shrivastava, "The trade-offs of model size in large recommendation models: 100GB to
10MB Criteo-tb DLRM model" (seeds/002, Table 2): one embedding table of n rows (4M .. 256M),
dim 128, batch 10240 (one lookup per sample), loss = the sum of every retrieved element (so
dL/d(output) = 1), on one GPU. Panels: (a) forward, (b) backward with dense gradients
(sparse = false), (c) backward with sparse gradients, against compression 10x .. 10^4x (chunk
32); (d)-(f) the same against ROBE's chunk size Z = 1, 4, 16, 32 at 100x (the paper does not
print it: its (d) and (e) rows for Z = 32 repeat (a)'s and (b)'s 100x rows within 0.03). The
published values are kept beside ours; their unit is not printed in the caption.

Here every cell runs the real Numba kernels (``rep.pooled``, one thread; ``Trainer.backward``
sparse and dense) on seeded uniform token ids, the median over ``repeats`` timed iterations
after one untimed warm-up. A cell whose ROBE memory plus gradient buffer (dense: the memory's
size again) would exceed the memory budget is not run and says so. Times are milliseconds per
iteration (one batch).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

GIB = 1 << 30
ROWS = tuple(1 << p for p in range(22, 29))  # 4M .. 256M (binary millions, as 2^22 .. 2^28)
ROW_LABELS = ("4M", "8M", "16M", "32M", "64M", "128M", "256M")
COMPRESSIONS = (10, 100, 1000, 10000)
CHUNKS = (1, 4, 16, 32)
PASSES = ("forward", "backward_dense", "backward_sparse")
PANELS = {  # panel -> (pass, the varied axis)
    "a": ("forward", "compression"), "b": ("backward_dense", "compression"), "c": ("backward_sparse", "compression"),
    "d": ("forward", "chunk"), "e": ("backward_dense", "chunk"), "f": ("backward_sparse", "chunk"),
}
SOURCE = ("Desai & Shrivastava, The trade-offs of model size in large recommendation models (seeds/002), "
          "Table 2: one GPU, batch 10240, dim 128, loss = sum of the retrieved elements")

# Table 2 as published, per panel: {compression or chunk: values for n = 4M .. 256M}.
PUBLISHED = {
    "a": {10: (0.40, 0.36, 0.37, 0.37, 0.37, 0.37, 0.36), 100: (0.31, 0.32, 0.31, 0.25, 0.37, 0.37, 0.36),
          1000: (0.27, 0.29, 0.30, 0.31, 0.30, 0.32, 0.31), 10000: (0.27, 0.27, 0.27, 0.26, 0.28, 0.29, 0.30)},
    "b": {10: (2.55, 4.81, 9.15, 17.81, 35.10, 69.73, 14.34), 100: (0.59, 0.83, 1.27, 2.13, 3.85, 7.42, 14.34),
          1000: (0.35, 0.37, 0.41, 0.54, 0.73, 1.08, 1.78), 10000: (0.35, 0.35, 0.34, 0.35, 0.36, 0.40, 0.47)},
    "c": {10: (2.67, 2.53, 2.52, 2.51, 2.51, 2.52, 2.54), 100: (2.48, 2.58, 2.68, 2.64, 2.66, 2.65, 2.52),
          1000: (2.56, 2.48, 2.58, 2.56, 2.63, 2.65, 2.53), 10000: (2.52, 2.53, 2.45, 2.55, 2.60, 2.54, 2.62)},
    "d": {1: (0.68, 0.75, 0.77, 0.80, 0.92, 0.88, 0.88), 4: (0.55, 0.54, 0.54, 0.54, 0.65, 0.65, 0.65),
          16: (0.31, 0.31, 0.31, 0.24, 0.37, 0.37, 0.36), 32: (0.31, 0.31, 0.31, 0.23, 0.37, 0.37, 0.36)},
    "e": {1: (1.29, 1.56, 2.02, 2.96, 4.69, 8.15, 15.17), 4: (0.80, 1.07, 1.54, 2.40, 4.13, 7.70, 14.61),
          16: (0.58, 0.82, 1.27, 2.12, 3.85, 7.43, 14.34), 32: (0.57, 0.80, 1.27, 2.12, 3.85, 7.42, 14.34)},
    "f": {1: (3.17, 3.41, 3.56, 3.68, 3.94, 3.98, 4.00), 4: (2.61, 2.64, 2.74, 2.73, 2.91, 2.77, 2.74),
          16: (2.50, 2.66, 2.54, 2.53, 2.52, 2.51, 2.53), 32: (2.48, 2.61, 2.62, 2.50, 2.64, 2.60, 2.50)},
}
PSS_COLUMNS = ("panel", "pass", "rows", "rows_label", "compression", "chunk", "robe_memory_bytes",
               "measured_ms_per_iteration", "modelled_ms_per_iteration", "published_gpu", "status")


@dataclass(frozen=True)
class PssConfig:
    """The grid and the measurement: ``rows`` a subset of ROWS, batch, dim, repeats, budget."""

    rows: tuple[int, ...] = ROWS
    compressions: tuple[int, ...] = COMPRESSIONS
    chunks: tuple[int, ...] = CHUNKS
    chunk: int = 32  # Z of panels a-c
    chunk_compression: int = 100  # compression of panels d-f
    batch_size: int = 10240
    dim: int = 128
    repeats: int = 3
    seed: int = 0
    budget_bytes: int = 2 * GIB
    cpu: str | None = "icx"  # the preset of the modelled column (None: no modelled column)

    def __post_init__(self):
        if not self.rows or any(r not in ROWS for r in self.rows):
            raise ValueError(f"pss rows must be some of {', '.join(map(str, ROWS))} (4M .. 256M), got {self.rows}")
        if not set(self.compressions) <= set(COMPRESSIONS) or not set(self.chunks) <= set(CHUNKS):
            raise ValueError(f"pss compressions must be among {COMPRESSIONS} and chunks among {CHUNKS}")
        for name in ("batch_size", "dim", "repeats", "budget_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"pss {name} must be >= 1, got {getattr(self, name)}")


def robe_floats(rows: int, dim: int, compression: float, chunk: int) -> int:
    """ROBE's memory for one table of ``rows`` x ``dim`` at ``compression`` (RobeConfig's rule)."""
    return max(chunk, math.ceil(rows * dim / compression))


def cell_bytes(rows: int, dim: int, compression: float, chunk: int) -> int:
    """What a cell holds at once: the memory and a dense gradient buffer of its size."""
    return 2 * 4 * robe_floats(rows, dim, compression, chunk)


def _batches(rows: int, batch_size: int, seed: int, count: int):
    from traces.batch import Batch

    rng = np.random.default_rng(seed)
    offsets = np.arange(batch_size + 1, dtype=np.int64)
    return [Batch(rng.integers(0, rows, batch_size, dtype=np.int64), offsets, 1, batch_size) for _ in range(count)]


def _median_ms(func, batches, repeats: int) -> float:
    func(batches[0])  # untimed: compiles or loads the kernel, faults the pages in
    times = []
    for k in range(repeats):
        start = time.perf_counter()
        func(batches[(k + 1) % len(batches)])
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def measure_cell(rows: int, compression: float, chunk: int, config: PssConfig) -> dict[str, float]:
    """ms per iteration of the three passes of one (rows, compression, chunk) cell."""
    from memprof.hw.kernel_runner import fill_constant
    from traces.representations import build
    from traces.training import TrainConfig, Trainer
    from traces.workloads import get_workload

    rep = build("robe", get_workload(str(rows), dim=config.dim), chunk=chunk, compression=float(compression))
    fill_constant(rep)
    batches = _batches(rows, config.batch_size, config.seed, 2)
    out = np.empty((1, config.batch_size, config.dim), dtype=np.float32)
    ones = np.ones_like(out)
    result = {"forward": _median_ms(lambda b: rep.pooled(b, out, threads=1), batches, config.repeats)}
    for grad in ("dense", "sparse"):
        trainer = Trainer(rep, TrainConfig(grad=grad))
        trainer.allocate()
        result[f"backward_{grad}"] = _median_ms(lambda b, t=trainer: t.backward(b, ones), batches, config.repeats)
    return result


def model_cell(rows: int, compression: float, chunk: int, config: PssConfig) -> dict[str, float]:
    """Modelled ms per iteration of the three passes of one cell on ``config.cpu``: the same
    batches' exact trace (forward reads; backward with its writes) through the preset's L1d, L2,
    LLC and TLB and the timing model (docs/timing-model.md); the first batch warms the caches,
    the second is the iteration."""
    from memprof.analysis.experiment import CacheSetup, analysis_timing, simulate_model, timed_rows
    from traces.representations import build
    from traces.stream import ModelTrace
    from traces.training import TrainConfig
    from traces.workloads import get_workload

    rep = build("robe", get_workload(str(rows), dim=config.dim), chunk=chunk, compression=float(compression))
    batches = _batches(rows, config.batch_size, config.seed, 2)
    out = {}
    for pass_ in PASSES:
        phase, grad = ("forward", "sparse") if pass_ == "forward" else ("backward", pass_.split("_")[1])
        trace = ModelTrace(rep, batches, batch_size=config.batch_size, num_batches=len(batches), phase=phase,
                           train=TrainConfig(grad=grad))
        preset, timing, _, _ = analysis_timing(config.cpu, [trace])
        setup = CacheSetup((preset.llc.size_bytes,), ways=preset.llc.ways, warmup=0.5)
        run = simulate_model(trace, setup, preset, progress=False)
        out[pass_] = timed_rows(run, timing, trace.op_counts())[0]["seconds"] * 1e3
    return out


def _cells(config: PssConfig):
    """(rows, compression, chunk) of every distinct cell the panels need."""
    cells = [(n, c, config.chunk) for c in config.compressions for n in config.rows]
    cells += [(n, config.chunk_compression, z) for z in config.chunks for n in config.rows]
    return list(dict.fromkeys(cells))


def pss_table(config: PssConfig | None = None, log=None) -> tuple[pd.DataFrame, dict]:
    """The long-form Table 2 rows (PSS_COLUMNS) and the run's metadata."""
    config = config or PssConfig()
    measured: dict[tuple, dict | str] = {}
    modelled: dict[tuple, dict] = {}
    started = time.perf_counter()
    for n, c, z in _cells(config):
        need = cell_bytes(n, config.dim, c, z)
        if need > config.budget_bytes:
            measured[(n, c, z)] = (f"unavailable (needs {need / GIB:.2f} GiB for the memory and its dense gradient, "
                                   f"over the {config.budget_bytes / GIB:.2f} GiB budget)")
            continue
        measured[(n, c, z)] = measure_cell(n, c, z, config)
        if config.cpu is not None:
            modelled[(n, c, z)] = model_cell(n, c, z, config)
        if log:
            log(f"pss: n={n:,} compression={c}x chunk={z}: " + ", ".join(
                f"{k} {v:.3f} ms" for k, v in measured[(n, c, z)].items()))
    rows = []
    for panel, (pass_, axis) in PANELS.items():
        keys = config.compressions if axis == "compression" else config.chunks
        for key in keys:
            for n in config.rows:
                c, z = (key, config.chunk) if axis == "compression" else (config.chunk_compression, key)
                value = measured[(n, c, z)]
                ok = isinstance(value, dict)
                rows.append({"panel": panel, "pass": pass_, "rows": n, "rows_label": ROW_LABELS[ROWS.index(n)],
                             "compression": c, "chunk": z,
                             "robe_memory_bytes": 4 * robe_floats(n, config.dim, c, z),
                             "measured_ms_per_iteration": round(value[pass_], 4) if ok else value,
                             "modelled_ms_per_iteration": (round(modelled[(n, c, z)][pass_], 4)
                                                           if (n, c, z) in modelled else
                                                           value if not ok else "unavailable (no --cpu preset)"),
                             "published_gpu": PUBLISHED[panel][key][ROWS.index(n)],
                             "status": "measured" if ok else "over the memory budget"})
    frame = pd.DataFrame(rows, columns=list(PSS_COLUMNS))
    metadata = {"source": SOURCE, "config": {k: (list(v) if isinstance(v, tuple) else v)
                                             for k, v in config.__dict__.items()},
                "kernels": "memprof's ROBE-Z Numba kernels: rep.pooled (threads=1) and Trainer.backward "
                           "(sparse: unique rows + compact scatter; dense: zero a memory-sized buffer + scatter)",
                "measurement": f"median of {config.repeats} timed iterations after one warm-up, per cell",
                "tokens": "uniform random token ids in [0, n), seeded, one lookup per sample",
                "published_unit": "as printed in Table 2 (the caption names no unit)",
                "modelled": (f"the same batches' exact traces through the {config.cpu} preset's caches, TLB and "
                             "timing model (sim/timing/model.py); first batch warm-up" if config.cpu else "not run"),
                "elapsed_s": round(time.perf_counter() - started, 1)}
    return frame, metadata


def panel_grid(frame: pd.DataFrame, panel: str) -> pd.DataFrame:
    """One panel in Table 2's shape: a row per compression (or chunk), a column per n, each cell
    'measured ms / modelled ms (published)' (the modelled part only when it was run)."""
    part = frame[frame["panel"] == panel]
    axis = PANELS[panel][1]
    out = []
    for key, group in part.groupby(axis, sort=True):
        row = {axis: f"{key}x" if axis == "compression" else str(key)}
        for _, r in group.iterrows():
            value, model = r["measured_ms_per_iteration"], r["modelled_ms_per_iteration"]
            shown = f"{value:.3f}" if isinstance(value, float) else "unavailable (budget)"
            if isinstance(model, float):
                shown += f" / {model:.3f}"
            row[r["rows_label"]] = f"{shown} ({r['published_gpu']:.2f})"
        out.append(row)
    return pd.DataFrame(out)


def grids_markdown(frame: pd.DataFrame, metadata: dict) -> str:
    """Every panel as a Markdown table: measured ms per iteration on this CPU (published GPU value)."""
    from memprof.report.tables import to_markdown

    titles = {"a": "forward", "b": "backward, dense gradients (sparse = false)",
              "c": "backward, sparse gradients (sparse = true)"}
    cfg = metadata["config"]
    modelled = f" / modelled for the {cfg['cpu']} preset" if cfg.get("cpu") else ""
    parts = [f"# PSS Table 2 on this CPU\n\nms per iteration measured here{modelled} (published GPU value in "
             f"brackets; {SOURCE}). Chunk {cfg['chunk']} in (a)-(c); {cfg['chunk_compression']}x in (d)-(f).\n"]
    for panel in PANELS:
        if panel not in set(frame["panel"]):
            continue
        what = titles.get(panel) or f"{titles[chr(ord(panel) - 3)]}, against the chunk size"
        parts.append(f"\n## ({panel}) {what}\n\n" + to_markdown(panel_grid(frame, panel)))
    return "".join(parts)
