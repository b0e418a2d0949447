"""Miss-ratio curves of traces: one pass per source feeds an accumulator (exact stack
distances or SHARDS); ``mrc_curves`` runs the passes (through ``memprof.run.driver``:
checkpoints, resume, Ctrl-C and SIGTERM), ``curve_frame`` turns curves into one long DataFrame, and
``estimate_mrc_memory`` sizes the run before it starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Callable

import numpy as np
import pandas as pd

from memprof.analysis.experiment import batch_lookups_estimate
from memprof.analysis.working_set import working_set_frame, working_set_rows
from memprof.run.driver import Stream, StreamPosition, addresses, batch_stream, chunk_stream, drive
from memprof.run.longrun import Interrupted, LongRun, simulated_line
from memprof.run.memory_budget import (CHUNK_ENTRY_BYTES, CURVE_BYTES_PER_LINE, FOOTPRINT_BYTES_PER_LINE,
                                       STACK_SCRATCH_PER_ENTRY, TRACE_CHUNK_COPIES, MemoryEstimate, fit,
                                       shards_size_bytes, stack_distance_bytes)
from sim.mrc.shards import ShardsRate, ShardsSize
from sim.mrc.stack import MissRatioCurve, StackDistances
from traces.format.tracefile import DEFAULT_CHUNK_ENTRIES, count_accesses
from memprof.report import schema
from traces.stream import ModelTrace

MB = 1 << 20
MARKED = (14 * MB, 28 * MB, 56 * MB)

CURVE_COLUMNS = schema.CURVE_COLUMNS


def make_accumulator(method: str, *, line_bytes: int, sets: int = 1, rate: float | None = None,
                     max_lines: int | None = None, seed: int = 0):
    """The one-pass accumulator for ``method`` ('exact', 'shards-rate', 'shards-size')."""
    if method == "exact":
        return StackDistances(line_bytes=line_bytes, sets=sets)
    if sets != 1:
        raise ValueError("--sets needs --exact: SHARDS samples lines, which estimates fully-associative curves only")
    if method == "shards-rate":
        return ShardsRate(rate, line_bytes=line_bytes, seed=seed)
    if method == "shards-size":
        return ShardsSize(max_lines, line_bytes=line_bytes, seed=seed)
    raise ValueError(f"method {method!r}: expected exact, shards-rate or shards-size")


@dataclass
class Finished:
    """One trace's result: its curve, and its footprint sample (lines, scale) for the working-set report."""

    curve: MissRatioCurve
    footprint: tuple[np.ndarray, float] | None = None
    partial: bool = False


class _CurveConsumer:
    """The driver's consumer for one miss-ratio curve: an accumulator from ``make()``."""

    def __init__(self, acc, working_set: bool):
        self.acc, self.working_set = acc, working_set

    @property
    def position(self) -> int:
        return int(self.acc.accesses)

    def feed(self, item, offset: int) -> None:
        self.acc.update(addresses(item))

    def result(self, partial: bool = True) -> Finished:
        return Finished(self.acc.curve(), self.acc.footprint_sample() if self.working_set else None, partial=partial)

    def checkpoint_objects(self) -> dict:
        return {"acc": self.acc}

    def checkpoint_extra(self) -> dict:
        return {}

    def restore_extra(self, extra: dict) -> None:
        pass


def _stream(name: str, source, total: int | None) -> Stream:
    """A ModelTrace (seekable, batch by batch), a Stream, or any iterable of uint64 chunks (read once)."""
    if isinstance(source, Stream):
        return source
    if isinstance(source, ModelTrace):
        return batch_stream(source, name)
    return chunk_stream(source, name, total)


def _curve_arrays(name: str, done: Finished) -> tuple[dict, dict]:
    meta, arrays = {}, {}
    for f in fields(done.curve):
        if not f.init:
            continue
        value = getattr(done.curve, f.name)
        if isinstance(value, np.ndarray):
            arrays[f"{name}.{f.name}"] = value
        else:
            meta[f.name] = value
    entry = {"curve": meta, "scale": None, "partial": done.partial}
    if done.footprint is not None:
        arrays[f"{name}.footprint"] = done.footprint[0]
        entry["scale"] = done.footprint[1]
    return entry, arrays


def _finished_state(finished: dict[str, Finished]) -> tuple[dict, dict]:
    """Finished curves as checkpoint extra (JSON) and arrays."""
    entries, arrays = {}, {}
    for name, done in finished.items():
        entries[name], more = _curve_arrays(name, done)
        arrays.update(more)
    return entries, arrays


def _finished_from(entries: dict, arrays: dict) -> dict[str, Finished]:
    out = {}
    for name, entry in entries.items():
        kwargs = dict(entry["curve"])
        for f in fields(MissRatioCurve):
            if f.init and f"{name}.{f.name}" in arrays:
                kwargs[f.name] = arrays[f"{name}.{f.name}"]
        footprint = None
        if entry["scale"] is not None:
            footprint = (arrays[f"{name}.footprint"], float(entry["scale"]))
        out[name] = Finished(MissRatioCurve(**kwargs), footprint)
    return out


def mrc_curves(sources: dict, make, *, working_set: bool = False, progress: bool = True,
               longrun: LongRun | None = None, totals: dict | None = None,
               should_stop: Callable[[StreamPosition], bool] | None = None) -> dict[str, Finished]:
    """Feed each named source (a ModelTrace, a ``memprof.run.driver.Stream``, or an iterable of
    uint64 chunks such as ``iter_trace_file(path)``) to a fresh accumulator from ``make()``,
    through ``memprof.run.driver.drive``; return {name: Finished}.

    Accumulators live one at a time (each is reduced to its curve, plus its footprint
    sample with ``working_set``). ``longrun``: checkpoint finished curves and the current
    accumulator, resume from them, and turn Ctrl-C/SIGTERM into ``Interrupted`` whose frame
    is left to the caller: the exception's ``frame`` is the dict of Finished results (the
    current one marked partial). ``totals``: accesses per source when known (progress ETA).
    ``should_stop(position)`` (``position.name`` the source) is asked after every chunk or
    batch; True stops like Ctrl-C.
    """
    totals = totals or {}
    resumed = longrun.resume_meta() if longrun is not None else None
    extra = resumed["extra"] if resumed else {}
    finished = _finished_from(extra.get("finished", {}), longrun.saved_arrays()) if resumed else {}
    for name, source in sources.items():
        if name in finished:
            continue
        consumer = _CurveConsumer(make(), working_set)

        def saved(name=name):
            entries, arrays = _finished_state(finished)
            return {"finished": entries, "current": name}, arrays

        try:
            drive(_stream(name, source, totals.get(name)), consumer, longrun,
                  resume=bool(resumed) and extra.get("current") == name, saved=saved, label=f"mrc {name}",
                  progress=progress, should_stop=should_stop)
        except Interrupted as stop:
            at = stop.position
            results = {**finished, name: stop.result} if at.accesses else dict(finished)
            message = (f"interrupted: partial results; {name}: {simulated_line(at.accesses, at.accesses_total)}; "
                       f"curves finished: {', '.join(finished) or 'none'}; {stop.message}")
            raise stop.replace(frame=results, metadata={"partial": {
                "in_progress": name, "accesses_simulated": at.accesses, "accesses_total": at.accesses_total,
                "finished": list(finished)}}, message=message) from None
        finished[name] = consumer.result(partial=False)
        del consumer, saved  # one accumulator alive at a time
        if longrun is not None and longrun.policy is not None:
            entries, arrays = _finished_state(finished)
            longrun.save({}, {"finished": entries}, arrays)
    if longrun is not None:
        longrun.finish()
    return finished


def curve_frame(curves: dict[str, MissRatioCurve], sizes: list[int]) -> pd.DataFrame:
    """One long frame: a row per (curve, size); sizes round down to whole ways (lines per set)."""
    frames = []
    for label, curve in curves.items():
        table = curve.table(sizes)
        n = table["size_bytes"].size
        frames.append(pd.DataFrame({
            "representation": [label] * n,
            "method": [curve.method_label] * n,
            "sets": np.full(n, curve.sets, np.int64),
            "ways": (table["size_bytes"] // (curve.sets * curve.line_bytes)).astype(np.int64),
            "line_bytes": np.full(n, curve.line_bytes, np.int64),
            "size_bytes": table["size_bytes"].astype(np.int64),
            "miss_ratio": table["miss_ratio"].astype(np.float64),
            "misses": np.round(table["misses"]).astype(np.int64),
            "accesses": np.full(n, curve.accesses, np.int64),
            "footprint_bytes": np.full(n, int(round(curve.footprint_bytes)), np.int64),
        }))
    if not frames:
        return pd.DataFrame(columns=list(CURVE_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(CURVE_COLUMNS)]


def _frame(results: dict[str, Finished], sizes: list[int], working_set: bool, regions: dict,
           mark_partial: bool = False) -> pd.DataFrame:
    """The curve table (or the working-set report); with ``mark_partial`` a ``partial`` column."""
    if working_set:
        rows = []
        for name, done in results.items():
            lines, scale = done.footprint
            more = working_set_rows(name, done.curve, lines, scale, regions.get(name))
            rows.extend({**row, "partial": done.partial} if mark_partial else row for row in more)
        return working_set_frame(rows) if not mark_partial else pd.DataFrame(rows)
    frame = curve_frame({name: done.curve for name, done in results.items()}, sizes)
    if mark_partial:
        flags = {name: done.partial for name, done in results.items()}
        frame["partial"] = frame["representation"].map(flags).astype(bool)
    return frame


SAMPLE_ABOVE_LINES = 1 << 20  # a cheaper bound above this many lines (~100 MiB of state) is worth a sampling pass


def _file_bound(path, total: int | None, line_bytes: int, sample: bool = True) -> tuple[int | None, int | None]:
    """(accesses, distinct lines bound) of a trace file, for the memory estimate; (None, None)
    for standard input (nothing can be read ahead of the pass).

    The cheap bounds are the accesses (the header's count, the .npy shape, or a din file's
    size / 4, its shortest line being ``0 0``) and the footprint of the header's model
    (``model_bytes`` / line plus a line per region); when the smaller is above
    ``SAMPLE_ABOVE_LINES`` one sampling pass (``distinct_lines_bound``) gives a tighter one
    (with ``sample``; without it only where there is no cheap bound, as for gzip din).
    """
    from traces.format.tracefile import detect_format, distinct_lines_bound, is_stdin, read_header

    if is_stdin(path):
        return None, None
    kind = detect_format(path)
    accesses = total if total is not None else count_accesses(path, scan=False)
    cheap = accesses
    if cheap is None and kind == "din":
        cheap = (os.path.getsize(path) + 1) // 4
    footprint = None
    header = read_header(path)
    if header.get("model_bytes"):
        footprint = int(header["model_bytes"]) // line_bytes + len(header.get("regions") or []) + 1
    known = [b for b in (cheap, footprint) if b is not None]
    bound = min(known) if known else None
    if bound is None or (sample and bound > SAMPLE_ABOVE_LINES):  # no bound at all (gzip din): always
        accesses, bound = distinct_lines_bound(path, line_bytes)
    return (accesses if accesses is not None else cheap), bound


def _model_bound(trace: ModelTrace) -> tuple[int, int, int]:
    """(accesses bound, footprint lines bound, addresses of one batch) of a workload trace."""
    rep = trace.representation
    per_batch = batch_lookups_estimate(trace) * rep.max_lines_per_lookup(trace.line_bytes)
    footprint = rep.memory_bytes // trace.line_bytes + len(rep.layout.regions) + 1
    return per_batch * trace.num_batches, footprint, per_batch


def estimate_mrc_memory(method: str, bounds: dict, *, sets: int = 1, rate: float | None = None,
                        max_lines: int | None = None, working_set: bool = False, budget_bytes: int | None = None,
                        file_input: bool = True) -> MemoryEstimate:
    """Peak-memory estimate of ``memprof mrc``: the largest accumulator (one lives at a time),
    the finished curves (and footprint samples), and the input buffers; MemoryBudgetError
    when over ``budget_bytes``. ``bounds``: {name: (accesses, distinct lines bound[, batch entries])},
    None where unknown."""
    largest, kept, batch_entries = 0, 0, 0
    for bound in bounds.values():
        accesses, footprint = bound[0], bound[1]
        if len(bound) > 2:
            batch_entries = max(batch_entries, bound[2])
        known = [b for b in (accesses, footprint) if b is not None]
        distinct = min(known) if known else 0  # unknown (standard input): the caller says so
        if method == "exact":
            state = stack_distance_bytes(distinct, sets)
            curve_lines = distinct
        elif method == "shards-rate":
            sampled = int(distinct * min(1.0, 1.5 * rate)) + 1024
            state = stack_distance_bytes(sampled)
            curve_lines = sampled
        else:
            state = shards_size_bytes(max_lines)
            curve_lines = 0
        largest = max(largest, state)
        kept += curve_lines * (CURVE_BYTES_PER_LINE + (FOOTPRINT_BYTES_PER_LINE if working_set else 0))
    per_entry = STACK_SCRATCH_PER_ENTRY + (CHUNK_ENTRY_BYTES if method == "shards-rate" else 0)
    fixed = [("accumulator state", largest), ("finished curves", kept)]
    if file_input:
        return fit(fixed, TRACE_CHUNK_COPIES * CHUNK_ENTRY_BYTES + per_entry, budget_bytes,
                   preferred_entries=DEFAULT_CHUNK_ENTRIES,
                   hint="use SHARDS (--shards RATE or --shards-max LINES), or raise --max-memory")
    fixed.append(("one batch (addresses and scratch)", batch_entries * (CHUNK_ENTRY_BYTES + per_entry)))
    return fit(fixed, 0, budget_bytes, preferred_entries=1,
               hint="use SHARDS (--shards RATE or --shards-max LINES), fewer --batches, or raise --max-memory")
