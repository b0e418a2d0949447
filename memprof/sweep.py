"""Sensitivity sweeps: the analysis over the Cartesian product of parameter values.

Each point of the product is an independent job (build traces, simulate every LLC size
in one pass, apply the timing model), run through an executor: in this process
(``jobs=1``) or in local worker processes. The results are one long-form DataFrame
with a column per swept parameter.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

import pandas as pd

from memprof.experiment import CacheSetup, run_analysis
from sim.timing import field_names as timing_fields
from traces.representations import config_fields
from traces.stream import model_trace
from traces.workloads import get_workload

WORKLOAD_KEYS = {"alpha": float, "batch_size": int, "batches": int, "pooling": str, "seed": int, "dim": int,
                 "workload": str}
CACHE_KEYS = {"ways": int, "policy": str, "warmup": float}


@dataclass(frozen=True)
class Axis:
    """One swept parameter: where it applies (workload, cache, timing or a model) and its values."""

    name: str  # as given: alpha, ways, mlp, memrec.d
    scope: str  # "workload" | "cache" | "timing" | model name
    field: str
    values: tuple


def _convert(kind, text: str, name: str):
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"sweep {name}={text}: expected {kind.__name__}") from None


def parse_axis(item: str, models: list[str]) -> list[Axis]:
    """``alpha=0.8,1.0`` / ``ways=8,16`` / ``mlp=6,10`` / ``memrec.d=50000,75000`` -> axes.

    A bare representation field (``d=...``) applies to every selected model that has it.
    """
    key, sep, text = item.partition("=")
    key = key.strip()
    raw = [v.strip() for v in text.split(",") if v.strip()]
    if not sep or not key or not raw:
        raise ValueError(f"sweep parameter {item!r}: expected NAME=V1,V2,... (e.g. alpha=0.8,1.0,1.2)")
    if key in WORKLOAD_KEYS:
        return [Axis(key, "workload", key, tuple(_convert(WORKLOAD_KEYS[key], v, key) for v in raw))]
    if key in CACHE_KEYS:
        return [Axis(key, "cache", key, tuple(_convert(CACHE_KEYS[key], v, key) for v in raw))]
    if key in timing_fields() and key not in ("name", "compute_cycles_per_lookup"):
        return [Axis(key, "timing", key, tuple(_convert(float, v, key) for v in raw))]
    model, dot, field = key.rpartition(".")
    targets = [model] if dot else [m for m in models if field in config_fields(m)]
    if dot and model not in models:
        raise ValueError(f"sweep parameter {item!r}: model {model!r} is not among the selected models "
                         f"({', '.join(models)})")
    axes = []
    for target in targets:
        fields = config_fields(target)
        if field not in fields:
            raise ValueError(f"sweep parameter {item!r}: {target} has no parameter {field!r}")
        default = fields[field]
        kind = type(default) if default is not None and not isinstance(default, bool) else int
        if isinstance(default, bool):
            values = tuple(v.lower() in ("1", "true", "yes", "on") for v in raw)
        else:
            values = tuple(_convert(kind, v, key) for v in raw)
        axes.append(Axis(key, target, field, values))
    if not axes:
        known = sorted(set(WORKLOAD_KEYS) | set(CACHE_KEYS) | {"mlp", "dram_cycles", "freq_ghz", "..."})
        raise ValueError(f"sweep parameter {item!r}: unknown name {key!r}; workload/cache/timing names "
                         f"({', '.join(known)}) or a representation field such as memrec.d")
    return axes


@dataclass(frozen=True)
class SweepJob:
    """One point of the sweep: everything a worker process needs (picklable)."""

    point: tuple[tuple[str, object], ...]  # (axis name, value) pairs for the result columns
    models: tuple[str, ...]
    workload: dict
    model_params: dict
    setup: CacheSetup
    cpu: str
    timing: dict


def run_job(job: SweepJob) -> tuple[list[dict], dict]:
    """Run one sweep point (in whichever process the executor chose)."""
    w = job.workload
    wl = get_workload(w["workload"], w.get("dim"))
    traces = [model_trace(m, wl, batch_size=w["batch_size"], batches=w["batches"], seed=w["seed"],
                          alpha=w["alpha"], pooling=w["pooling"], line_bytes=job.setup.line_bytes,
                          **job.model_params.get(m, {})) for m in job.models]
    frame, metadata = run_analysis(traces, job.setup, cpu=job.cpu, timing_overrides=job.timing, progress=False)
    for name, value in job.point:
        frame[name] = [value] * len(frame)
    return frame.to_dict("records"), metadata


def make_jobs(axes: list[Axis], models: list[str], workload: dict, model_params: dict, setup: CacheSetup,
              cpu: str, timing: dict) -> list[SweepJob]:
    """The Cartesian product of the axes' values as jobs (axes of one name move together)."""
    names = list(dict.fromkeys(a.name for a in axes))
    grouped = {n: [a for a in axes if a.name == n] for n in names}
    jobs = []
    for combo in itertools.product(*(grouped[n][0].values for n in names)):
        wl, params, cache, tim = dict(workload), {m: dict(model_params.get(m, {})) for m in models}, {}, dict(timing)
        for name, value in zip(names, combo):
            for axis in grouped[name]:
                if axis.scope == "workload":
                    wl[axis.field] = value
                elif axis.scope == "cache":
                    cache[axis.field] = value
                elif axis.scope == "timing":
                    tim[axis.field] = value
                else:
                    params[axis.scope][axis.field] = value
        jobs.append(SweepJob(tuple(zip(names, combo)), tuple(models), wl, params, replace(setup, **cache), cpu, tim))
    return jobs


def run_sweep(jobs: list[SweepJob], workers: int = 1, executor=None, on_done=None) -> tuple[pd.DataFrame, list[dict]]:
    """Run the jobs (in order of the product) and gather one long-form frame.

    ``executor``: any ``concurrent.futures``-style executor (``submit`` returning futures);
    default: this process when ``workers == 1``, else a local process pool.
    """
    if executor is None and workers == 1:
        outputs = []
        for job in jobs:
            outputs.append(run_job(job))
            if on_done:
                on_done(len(outputs), len(jobs))
    else:
        own = executor is None
        pool = ProcessPoolExecutor(max_workers=workers) if own else executor
        try:
            futures = [pool.submit(run_job, job) for job in jobs]
            outputs = []
            for future in futures:
                outputs.append(future.result())
                if on_done:
                    on_done(len(outputs), len(jobs))
        finally:
            if own:
                pool.shutdown(cancel_futures=True)
    records = [r for rows, _ in outputs for r in rows]
    return pd.DataFrame(records), [m for _, m in outputs]
