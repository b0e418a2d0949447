"""Replay of a trace file (memprof .trace, raw .npy, DineroIV din) through one simulator per
LLC configuration, in one pass over the file; one row per configuration."""

from __future__ import annotations

import os

import pandas as pd

from memprof.run.longrun import (CheckpointPolicy, Interrupted, LongRun, feed, simulated_line,
                                 trace_file_fingerprint, trace_length)
from memprof.run.progress import Progress
from sim.config import CacheConfig
from sim.engine.simulator import Simulator, resolve_warmup
from sim.policies import POLICIES
from traces.format.tracefile import DEFAULT_CHUNK_ENTRIES, iter_trace_file


def _count_accesses(path, chunk_entries: int) -> int:
    return sum(int(chunk.shape[0]) for chunk in iter_trace_file(path, chunk_entries))


def _rows(path, sims: list[Simulator]) -> list[dict]:
    rows = []
    for sim in sims:
        result = sim.result()
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
) -> pd.DataFrame:
    """Simulate a trace file (memprof trace, raw ``.npy`` or DineroIV ``din``) through
    each LLC configuration; one pass over the file, one row per configuration.

    ``warmup`` is an access count or a fraction of the trace (the file is then counted
    first). Malformed files raise ``traces.format.tracefile.TraceFormatError`` (a ValueError).
    ``checkpoint``: save the simulators every ``every_seconds`` and on Ctrl-C, resume from
    them (``memprof.run.longrun``). Ctrl-C stops after the current chunk and raises
    ``memprof.run.longrun.Interrupted`` with the rows so far (column ``partial`` True).
    """
    if not llc_configs:
        raise ValueError("give at least one LLC configuration")
    total = trace_length(path)
    if total is None and isinstance(warmup, float) and warmup > 0:
        total = _count_accesses(path, chunk_entries)
    warm = resolve_warmup(warmup, total)
    sims = [
        Simulator(cfg, l1=l1, l2=l2, inclusive=inclusive, prefetch=prefetch, warmup=warm,
                  sample_sets=sample_sets, threads=threads)
        for cfg in llc_configs
    ]
    objects = {f"llc{i}": sim for i, sim in enumerate(sims)}
    longrun = LongRun("simulate-trace", checkpoint, trace=trace_file_fingerprint(path))

    def state():
        return objects, {}

    with longrun:
        if longrun.resume_meta() is not None:
            longrun.restore(objects)
        start = min(sim.fed for sim in sims)
        meter = Progress("simulate", total=total, enabled=progress, start=start)
        offset = 0
        try:
            for chunk in iter_trace_file(path, chunk_entries):
                end = offset + int(chunk.shape[0])
                if end > start:
                    feed(sims, chunk, offset)
                    meter.update(end - max(offset, start))
                offset = end
                longrun.step(state)
        except KeyboardInterrupt:
            meter.close()
            note = longrun.stopped(state)
            raise _partial(path, sims, warm, total, note) from None
        meter.close()
    if warm and sims[0].fed <= warm:
        raise ValueError(f"the warm-up ({warm:,} accesses) covers the whole trace ({sims[0].fed:,} accesses)")
    longrun.finish()
    return pd.DataFrame(_rows(path, sims))


def _partial(path, sims: list[Simulator], warm: int, total: int | None, note: str) -> Interrupted:
    done = sims[0].fed
    measured = not (warm and done <= warm)
    frame = pd.DataFrame([{**row, "partial": True} for row in _rows(path, sims)]) if measured else pd.DataFrame()
    where = "" if measured else f", inside the warm-up ({warm:,} accesses): nothing measured"
    message = f"interrupted: simulated {simulated_line(done, total)} of {os.fspath(path)}{where}; {note}"
    metadata = {"partial": {"accesses_simulated": done, "accesses_total": total, "warmup_accesses": warm}}
    return Interrupted(frame, metadata, message)


def policies_frame() -> pd.DataFrame:
    """The policy registry as a frame (name, set-parallel, description)."""
    return pd.DataFrame(
        [{"policy": p.name, "set_parallel": p.set_parallel, "description": p.description} for p in POLICIES.values()]
    )
