"""Sensitivity sweeps: independent configurations run through an executor, gathered in order.

Two kinds of job: a workload point (``SweepJob``: build the representations' traces,
simulate every LLC size in one pass, apply the timing model; ratios versus dlrm) and a
trace-file point (``TraceSweepJob``: one cache configuration over a trace file, one row).
``run_sweep`` runs them on any ``concurrent.futures`` executor (``memprof.run.executors``:
this process, local processes, Dask) and gathers one long-form DataFrame in the order of
the product, identical to a serial run. With a checkpoint store
(``memprof.run.checkpoint_store.CheckpointStore``) each finished job's rows are saved at
once (one atomic JSON file per job, named by a hash of the job), so an interrupted sweep
resumes where it stopped; Ctrl-C or SIGTERM raises ``memprof.run.longrun.Interrupted``
carrying the rows finished so far.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from dataclasses import asdict, dataclass, replace
from typing import Callable

import pandas as pd

from memprof import __version__
from memprof.run.checkpoint_store import CheckpointStore
from memprof.run.driver import resolve_warmup
from memprof.run.executors import ExecutorSpec, completed, open_executor
from memprof.run.longrun import Interrupted, StopGuard
from memprof.analysis.experiment import CacheSetup, run_analysis
from memprof.analysis.partitioned import FileSource, SimJob, result_row, run_sim_job
from memprof.report.schema import LOOKUPS_UNKNOWN_TRACE
from sim.config import CacheConfig
from sim.timing.model import field_names as timing_fields
from sim.time_sampling import TimeSampling
from traces.representations import config_fields
from traces.spec import TraceSpec, coerce_param
from traces.format.tracefile import count_accesses

WORKLOAD_KEYS = {"alpha": float, "batch_size": int, "batches": int, "pooling": str, "seed": int, "dim": int,
                 "workload": str}
CACHE_KEYS = {"ways": int, "policy": str, "warmup": float, "sample_sets": str}


@dataclass(frozen=True)
class Axis:
    """One swept parameter: where it applies (workload, cache, timing or a model) and its values."""

    name: str  # as given: alpha, ways, fill_buffers, memrec.d
    scope: str  # "workload" | "cache" | "timing" | model name
    field: str
    values: tuple


def _convert(kind, text: str, name: str):
    """A workload, cache or timing axis value (representation fields go through ``coerce_param``)."""
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"sweep {name}={text}: expected {kind.__name__}") from None


def parse_axis(item: str, models: list[str]) -> list[Axis]:
    """``alpha=0.8,1.0`` / ``ways=8,16`` / ``fill_buffers=12,16`` / ``memrec.d=50000,75000`` -> axes.

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
        try:
            values = tuple(coerce_param(target, field, v) for v in raw)
        except ValueError as exc:
            raise ValueError(f"sweep parameter {item!r}: {exc}") from None
        axes.append(Axis(key, target, field, values))
    if not axes:
        known = sorted(set(WORKLOAD_KEYS) | set(CACHE_KEYS) | {"fill_buffers", "dram_cycles", "freq_ghz", "..."})
        raise ValueError(f"sweep parameter {item!r}: unknown name {key!r}; workload/cache/timing names "
                         f"({', '.join(known)}) or a representation field such as memrec.d")
    return axes


def parse_axes(items, models: list[str]) -> list[Axis]:
    """Every ``--param`` item as axes (``parse_axis``); a parameter given twice (``ways=8 --param
    ways=16``, or ``d=...`` beside ``memrec.d=...``) is a ValueError naming it: one axis per parameter."""
    axes, first = [], {}
    for item in items:
        for axis in parse_axis(item, models):
            where = (axis.scope, axis.field)
            if where in first:
                label = axis.field if axis.scope in ("workload", "cache", "timing") else f"{axis.scope}.{axis.field}"
                raise ValueError(f"sweep parameter {label} given twice ({first[where]!r} and {item!r}): "
                                 "give its values once, as one comma list")
            first[where] = item
            axes.append(axis)
    return axes


@dataclass(frozen=True)
class SweepJob:
    """One point of a workload sweep: everything a worker process needs (picklable).

    ``traces``: one ``TraceSpec`` per representation (the dlrm baseline among them), the
    point's workload and parameter values already applied.
    """

    point: tuple[tuple[str, object], ...]  # (axis name, value) pairs for the result columns
    traces: tuple[TraceSpec, ...]
    setup: CacheSetup
    cpu: str
    timing: dict
    progress: bool = False  # per-access progress on stderr (useful in this process only; not part of the key)

    def __post_init__(self):
        if not self.traces or not all(isinstance(t, TraceSpec) for t in self.traces):
            raise ValueError("a sweep job needs at least one TraceSpec (one per representation)")

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(t.model for t in self.traces)


def run_job(job: SweepJob) -> tuple[list[dict], dict]:
    """Run one workload point (in whichever process the executor chose): rows and metadata."""
    frame, metadata = run_analysis([spec.build() for spec in job.traces], job.setup, cpu=job.cpu,
                                   timing_overrides=job.timing, progress=job.progress)
    for name, value in job.point:
        frame[name] = [value] * len(frame)
    return frame.to_dict("records"), metadata


def make_jobs(axes: list[Axis], traces: list[TraceSpec], setup: CacheSetup, cpu: str,
              timing: dict) -> list[SweepJob]:
    """The Cartesian product of the axes' values as jobs (axes of one name move together).

    ``traces``: one spec per representation; a workload axis replaces that field of every
    spec, a representation axis the parameter of its model's spec (ValueError names a value
    that breaks a constraint). The traces use the cache's line size.
    """
    names = list(dict.fromkeys(a.name for a in axes))
    grouped = {n: [a for a in axes if a.name == n] for n in names}
    jobs = []
    for combo in itertools.product(*(grouped[n][0].values for n in names)):
        specs = [replace(t, line_bytes=setup.line_bytes) for t in traces]
        cache, tim = {}, dict(timing)
        for name, value in zip(names, combo):
            for axis in grouped[name]:
                if axis.scope == "workload":
                    try:
                        specs = [replace(t, **{axis.field: value}) for t in specs]
                    except ValueError as exc:
                        raise ValueError(f"sweep {axis.name}={value}: {exc}") from None
                elif axis.scope == "cache":
                    cache[axis.field] = value
                elif axis.scope == "timing":
                    tim[axis.field] = value
                else:
                    specs = [replace(t, params={**t.param_dict, axis.field: value}) if t.model == axis.scope else t
                             for t in specs]
        jobs.append(SweepJob(tuple(zip(names, combo)), tuple(specs), replace(setup, **cache), cpu, tim))
    return jobs


@dataclass(frozen=True)
class TraceSweepJob:
    """One point of a trace-file sweep: one cache configuration (``sim``) and its axis values."""

    point: tuple[tuple[str, object], ...]
    sim: SimJob
    seed: int = 0


def run_trace_job(job: TraceSweepJob) -> tuple[list[dict], dict]:
    """Simulate the trace through the point's configuration: one row."""
    row = result_row(run_sim_job(job.sim), job.sim.source, job.seed)
    for name, value in job.point:
        row[name] = value
    return [row], {"source": job.sim.source.describe(), "lookups": LOOKUPS_UNKNOWN_TRACE}


def make_trace_jobs(path: str, axes: list[Axis], llc_sizes: list[int], *, ways: int = 16, policy: str = "lru",
                    line_bytes: int = 64, warmup: int | float = 0, sample_sets: str | None = None,
                    l1: CacheConfig | None = None, l2: CacheConfig | None = None, inclusive: bool = True,
                    prefetch: bool = False, seed: int = 0, time_sampling: TimeSampling | None = None,
                    threads: int = 1, total_accesses: int | None = None) -> list[TraceSweepJob]:
    """One job per (cache-axis values, LLC size), LLC size varying fastest.

    Only cache axes apply to a trace (ways, policy, warmup, sample_sets); ``warmup`` is an
    access count or a fraction of the trace (the file is then counted once, here). Geometry
    errors (a size that is not a multiple of ways x line) raise ValueError naming the point.
    """
    wrong = [a.name for a in axes if a.scope != "cache"]
    if wrong:
        raise ValueError(f"a trace sweep varies the cache only ({', '.join(CACHE_KEYS)}); "
                         f"{', '.join(dict.fromkeys(wrong))} describe(s) a workload, timing or representation")
    names = list(dict.fromkeys(a.name for a in axes))
    grouped = {n: next(a for a in axes if a.name == n) for n in names}
    source = FileSource(os.fspath(path))
    total = [total_accesses]

    def length() -> int:  # counted once, and only when a fraction needs it
        if total[0] is None:
            total[0] = count_accesses(path)
        return total[0]

    def warm_count(value) -> int:
        return resolve_warmup(value, length)

    jobs = []
    for combo in itertools.product(*(grouped[n].values for n in names)):
        values = {"ways": ways, "policy": policy, "warmup": warmup, "sample_sets": sample_sets,
                  **dict(zip(names, combo))}
        for size in llc_sizes:
            try:
                llc = CacheConfig(size, values["ways"], line_bytes, values["policy"], seed)
            except ValueError as exc:
                raise ValueError(f"sweep point {dict(zip(names, combo))} at LLC {size} bytes: {exc}") from None
            sim = SimJob(source, llc, l1=l1, l2=l2, inclusive=inclusive, prefetch=prefetch,
                         warmup=warm_count(values["warmup"]), sample_sets=values["sample_sets"],
                         time_sampling=time_sampling, threads=threads)
            jobs.append(TraceSweepJob(tuple(zip(names, combo)), sim, seed))
    return jobs


def run_point(job: SweepJob | TraceSweepJob) -> tuple[list[dict], dict]:
    """Run one sweep job of either kind (module level, so any executor can pickle it)."""
    return run_trace_job(job) if isinstance(job, TraceSweepJob) else run_job(job)


# -- checkpoints ----------------------------------------------------------------------------

CHECKPOINT_FORMAT = 1


def _plain(value):
    if hasattr(value, "__dataclass_fields__"):
        return {"_type": type(value).__name__, **{k: _plain(v) for k, v in asdict(value).items()}}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def job_key(job: SweepJob | TraceSweepJob) -> str:
    """A stable hash of everything that determines the job's rows (and of the trace file's
    size and modification time, for trace jobs)."""
    plain = _plain(job)
    plain.pop("progress", None)  # neither changes the rows' numbers: a resumed run may differ in them
    plain.get("setup", {}).pop("threads", None)
    plain.get("sim", {}).pop("threads", None)
    if isinstance(job, TraceSweepJob):
        stat = os.stat(job.sim.source.path)
        plain["file"] = [stat.st_size, stat.st_mtime_ns]
    text = json.dumps({"format": CHECKPOINT_FORMAT, "memprof": __version__, "job": plain}, sort_keys=True,
                      default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def save_job(store: CheckpointStore, job, rows: list[dict], metadata: dict) -> None:
    """Keep a finished job's rows in ``store`` (named by ``job_key``)."""
    store.save_job(job_key(job), rows, metadata, _plain(job))


def load_job(store: CheckpointStore, job) -> tuple[list[dict], dict] | None:
    """A job's rows and metadata saved in ``store`` by an earlier run, or None."""
    return store.load_job(job_key(job))


# -- running ---------------------------------------------------------------------------------


def _gathered(outputs: list) -> tuple[pd.DataFrame, list[dict]]:
    finished = [o for o in outputs if o is not None]
    return pd.DataFrame([r for rows, _ in finished for r in rows]), [m for _, m in finished]


def run_sweep(jobs: list, workers: int = 1, executor=None, on_done=None,
              checkpoint: CheckpointStore | None = None,
              should_stop: Callable[[int, int], bool] | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """Run the jobs and gather one long-form frame in the order of ``jobs`` (the product).

    ``executor``: any ``concurrent.futures`` executor; default: this process (``workers == 1``)
    or ``workers`` local processes. ``checkpoint``: jobs finished earlier are loaded, not run,
    and each job is saved as it finishes. ``on_done(done, total)`` after every finished job;
    ``should_stop(done, total)`` then: True stops like Ctrl-C. Ctrl-C or SIGTERM (at once;
    a job file being written is finished first) raises ``memprof.run.longrun.Interrupted``
    with the finished rows (in product order) as ``frame``, their metadata list as
    ``metadata``, and ``done``/``total`` configurations.
    """
    if executor is None:
        with open_executor(ExecutorSpec(jobs=workers)) as pool:
            return run_sweep(jobs, executor=pool, on_done=on_done, checkpoint=checkpoint, should_stop=should_stop)
    outputs: list = [load_job(checkpoint, job) if checkpoint else None for job in jobs]
    todo = [i for i, output in enumerate(outputs) if output is None]
    done = len(jobs) - len(todo)
    if done and on_done:
        on_done(done, len(jobs))
    guard = StopGuard(defer=False)
    stream = completed(executor, run_point, [jobs[i] for i in todo])
    try:
        with guard:
            for k, output in stream:
                index = todo[k]
                outputs[index] = output
                if checkpoint:
                    with guard.saving():
                        save_job(checkpoint, jobs[index], *output)
                done += 1
                if on_done:
                    on_done(done, len(jobs))
                guard.check()  # a signal while the job file was written
                if should_stop is not None and should_stop(done, len(jobs)):
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        stream.close()
        frame, metadata = _gathered(outputs)
        raise Interrupted(frame, metadata, f"sweep interrupted after {done} of {len(jobs)} configurations",
                          done=done, total=len(jobs), signum=guard.signum) from None
    finally:
        stream.close()
    return _gathered(outputs)
