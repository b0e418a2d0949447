"""Replay of a trace file (memprof .trace, raw .npy, DineroIV din) through one simulator per
LLC configuration, in one pass over the file; one row per configuration."""

from __future__ import annotations

import os
from typing import Callable

import pandas as pd

from memprof.run.driver import StreamPosition, Warmup, drive, file_stream, resolve_warmup
from memprof.run.longrun import CheckpointPolicy, Interrupted, LongRun, simulated_line, trace_file_fingerprint
from sim.config import CacheConfig
from sim.engine.simulator import Simulator
from sim.policies import POLICIES
from traces.format.tracefile import DEFAULT_CHUNK_ENTRIES, count_accesses


class SimulatorSet:
    """The driver's consumer for a replay: one simulator per LLC configuration, fed the same chunks."""

    def __init__(self, sims: list[Simulator]):
        self.sims = sims

    @property
    def position(self) -> int:
        return self.sims[0].fed

    def feed(self, chunk, offset: int) -> None:
        for sim in self.sims:
            sim.feed(chunk)

    def end_warmup(self) -> None:
        for sim in self.sims:
            sim.reset_stats()

    def result(self) -> list:
        return [sim.result() for sim in self.sims]

    def checkpoint_objects(self) -> dict:
        return {f"llc{i}": sim for i, sim in enumerate(self.sims)}

    def checkpoint_extra(self) -> dict:
        return {}

    def restore_extra(self, extra: dict) -> None:
        pass


def _rows(path, sims: list[Simulator], results: list) -> list[dict]:
    rows = []
    for sim, result in zip(sims, results):
        row = {"trace": os.fspath(path), **result.to_record(), "seed": sim.configs[-1].seed}
        if result.notes:
            row["notes"] = "; ".join(result.notes)
        rows.append(row)
    return rows


def simulate_trace_file(
    path: str | os.PathLike,
    llc_configs: list[CacheConfig],
    *,
    l1: CacheConfig | None = None,
    l2: CacheConfig | None = None,
    inclusive: bool = True,
    prefetch: bool = False,
    warmup: int | float = 0,
    sample_sets: float | str | None = None,
    threads: int = 1,
    chunk_entries: int = DEFAULT_CHUNK_ENTRIES,
    progress: bool = True,
    checkpoint: CheckpointPolicy | None = None,
    should_stop: Callable[[StreamPosition], bool] | None = None,
) -> pd.DataFrame:
    """Simulate a trace file (memprof trace, raw ``.npy`` or DineroIV ``din``) through
    each LLC configuration; one pass over the file, one row per configuration.

    ``warmup`` is an access count or a fraction of the trace (the file is then counted
    first). Malformed files raise ``traces.format.tracefile.TraceFormatError`` (a ValueError).
    ``checkpoint``: save the simulators every ``every_seconds`` and on a stop, resume from
    them (``memprof.run.longrun``). Ctrl-C, SIGTERM or ``should_stop(position)`` (asked after
    every chunk) stop after the current chunk and raise ``memprof.run.longrun.Interrupted``
    with the rows so far (column ``partial`` True).
    """
    if not llc_configs:
        raise ValueError("give at least one LLC configuration")
    stream = file_stream(path, chunk_entries)
    total = stream.accesses
    if total is None and isinstance(warmup, float) and warmup > 0:
        total = stream.accesses = count_accesses(path, chunk_entries)  # a fraction needs the length
    warm = resolve_warmup(warmup, total)
    sims = [
        Simulator(cfg, l1=l1, l2=l2, inclusive=inclusive, prefetch=prefetch, sample_sets=sample_sets,
                  threads=threads)
        for cfg in llc_configs
    ]
    consumer = SimulatorSet(sims)
    longrun = LongRun("simulate-trace", checkpoint, trace=trace_file_fingerprint(path), config={"warmup": warm})
    with longrun:
        resume = longrun.resume_meta() is not None
        try:
            drive(stream, consumer, longrun, warmup=Warmup(warm), resume=resume, label="simulate",
                  progress=progress, should_stop=should_stop)
        except Interrupted as stop:
            raise _partial(path, sims, stop) from None
    longrun.finish()
    return pd.DataFrame(_rows(path, sims, consumer.result()))


def _partial(path, sims: list[Simulator], stop: Interrupted) -> Interrupted:
    where = stop.position
    warm = where.warmup.count
    frame = pd.DataFrame([{**row, "partial": True} for row in _rows(path, sims, stop.result)]) \
        if stop.result is not None else pd.DataFrame()
    inside = "" if where.measured else f", inside the warm-up ({warm:,} accesses): nothing measured"
    message = (f"interrupted: simulated {simulated_line(where.accesses, where.accesses_total)} of "
               f"{os.fspath(path)}{inside}; {stop.message}")
    metadata = {"partial": {"accesses_simulated": where.accesses, "accesses_total": where.accesses_total,
                            "warmup_accesses": warm}}
    return stop.replace(frame=frame, metadata=metadata, message=message)


def policies_frame() -> pd.DataFrame:
    """The policy registry as a frame (name, set-parallel, description)."""
    return pd.DataFrame(
        [{"policy": p.name, "set_parallel": p.set_parallel, "description": p.description} for p in POLICIES.values()]
    )
