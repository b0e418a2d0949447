"""memprof CLI command ``mrc``: LRU miss-ratio curves at every cache size from one pass.

The work lives in ``mrc_curves`` (library function: traces in, curves out; checkpoints,
resume and Ctrl-C through ``memprof.longrun``) and ``curve_frame`` (curves -> one long
DataFrame); the click command parses options, checks ``--max-memory`` up front
(``estimate_mrc_memory``), calls them and hands the frame to ``memprof.report``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterator

import click
import numpy as np
import pandas as pd

from memprof.experiment import batch_lookups_estimate, trace_identity
from memprof.longrun import (Interrupted, LongRun, checkpoint_policy, feed, finish_partial, position,
                             simulated_line, skip_batches, trace_file_fingerprint, trace_length)
from memprof.memory_budget import (CHUNK_ENTRY_BYTES, CURVE_BYTES_PER_LINE, FOOTPRINT_BYTES_PER_LINE,
                                   STACK_SCRATCH_PER_ENTRY, TRACE_CHUNK_COPIES, MemoryBudgetError, MemoryEstimate,
                                   fit, shards_size_bytes, stack_distance_bytes)
from memprof.options import (csv_list, long_run_options, make_trace, parse_max_memory, parse_model_params,
                             parse_models, runtime_errors, workload_options, workload_opts)
from memprof.progress import Progress
from memprof.report.tables import FORMATS, emit
from memprof.working_set import working_set_frame, working_set_rows
from sim.mrc import MissRatioCurve, StackDistances
from sim.shards import ShardsRate, ShardsSize
from sim.sizes import SIZE_HELP, parse_size
from traces.stream import ModelTrace
from traces.tracefile import DEFAULT_CHUNK_ENTRIES, iter_trace_file

MB = 1 << 20
MARKED = (14 * MB, 28 * MB, 56 * MB)
DEFAULT_SIZES = "1MB..128MB"
DEFAULT_POINTS = 24

CURVE_COLUMNS = ("representation", "method", "sets", "ways", "line_bytes", "size_bytes", "miss_ratio", "misses",
                 "accesses", "footprint_bytes")


def parse_size_spec(text: str, points: int = DEFAULT_POINTS) -> list[int]:
    """'A..B' -> ``points`` log-spaced sizes from A to B plus 14/28/56 MB where inside;
    'A,B,C' -> those sizes. Binary units. ValueError names the problem."""
    text = str(text).strip()
    if ".." in text:
        low_text, _, high_text = text.partition("..")
        low, high = parse_size(low_text), parse_size(high_text)
        if high < low:
            raise ValueError(f"size range {text!r}: the end must not be below the start")
        if points < 2:
            raise ValueError(f"--points {points}: need at least 2 points for a range")
        sizes = set(np.geomspace(low, high, points).round().astype(np.int64).tolist())
        sizes.update(m for m in MARKED if low <= m <= high)
        return sorted(int(s) for s in sizes)
    sizes = [parse_size(item) for item in csv_list(text)]
    if not sizes:
        raise ValueError(f"sizes {text!r}: give a range A..B or a comma list")
    return sorted(set(sizes))


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


def _chunks(source, start_batch: int) -> Iterator[tuple[np.ndarray, float | None, int]]:
    """(chunk, fraction of the input done or None, batches done) from a trace file path or a ModelTrace;
    a ModelTrace is fed batch by batch from batch ``start_batch`` (regenerated, not re-emitted)."""
    if isinstance(source, ModelTrace):
        total = max(source.num_batches, 1)
        number = start_batch
        for batch in skip_batches(source, start_batch):
            addrs = source.representation.emit(batch, source.line_bytes)
            number += 1
            yield addrs, number / total, number
    else:
        yield from ((chunk, None, 0) for chunk in source)


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
               longrun: LongRun | None = None, totals: dict | None = None) -> dict[str, Finished]:
    """Feed each named source (a ModelTrace, or an iterable of uint64 chunks such as
    ``iter_trace_file(path)``) to a fresh accumulator from ``make()``; return {name: Finished}.

    Accumulators live one at a time (each is reduced to its curve, plus its footprint
    sample with ``working_set``). ``longrun``: checkpoint finished curves and the current
    accumulator, resume from them, and turn Ctrl-C into ``Interrupted`` whose frame is
    left to the caller: the exception's ``frame`` is the dict of Finished results (the
    current one marked partial). ``totals``: accesses per source when known (progress ETA).
    """
    totals = totals or {}
    resumed = longrun.resume_meta() if longrun is not None else None
    extra = resumed["extra"] if resumed else {}
    finished = _finished_from(extra.get("finished", {}), longrun.saved_arrays()) if resumed else {}
    for name, source in sources.items():
        if name in finished:
            continue
        acc = make()
        start_batch = 0
        if resumed and extra.get("current") == name:
            longrun.restore({"acc": acc})
            start_batch = int(extra.get("batches_done", 0))
        meter = Progress(f"mrc {name}", total=totals.get(name), enabled=progress, start=position(acc),
                         start_fraction=start_batch / max(getattr(source, "num_batches", 1), 1))
        batches_done = start_batch

        def state(acc=acc, name=name):
            entries, arrays = _finished_state(finished)
            return {"acc": acc}, {"finished": entries, "current": name, "batches_done": batches_done}, arrays

        offset = position(acc) if isinstance(source, ModelTrace) else 0
        try:
            for chunk, fraction, batches_done in _chunks(source, start_batch):
                end = offset + int(chunk.shape[0])
                if end > position(acc):
                    before = position(acc)
                    feed((acc,), chunk, offset)
                    meter.update(position(acc) - before, fraction=fraction)
                offset = end
                if longrun is not None:
                    longrun.step(state)
        except KeyboardInterrupt:
            meter.close()
            if longrun is None or longrun.guard.forced:
                raise
            note = longrun.stopped(state)
            current = Finished(acc.curve(), acc.footprint_sample() if working_set else None, partial=True)
            results = {**finished, name: current} if position(acc) else dict(finished)
            total = totals.get(name)
            message = (f"interrupted: partial results; {name}: {simulated_line(position(acc), total)}; "
                       f"curves finished: {', '.join(finished) or 'none'}; {note}")
            raise Interrupted(results, {"partial": {"in_progress": name, "accesses_simulated": position(acc),
                                                    "accesses_total": total, "finished": list(finished)}},
                              message) from None
        meter.close()
        finished[name] = Finished(acc.curve(), acc.footprint_sample() if working_set else None)
        del acc, state  # one accumulator alive at a time
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


def _method(exact: bool, shards: float | None, shards_max: int | None) -> str:
    chosen = [name for name, on in (("--exact", exact), ("--shards", shards is not None),
                                    ("--shards-max", shards_max is not None)) if on]
    if len(chosen) > 1:
        raise click.UsageError(f"choose one method, got {' and '.join(chosen)}")
    if shards is not None:
        if not 0 < shards <= 1:
            raise click.BadParameter(f"{shards}: the sampling rate must be in (0, 1]", param_hint="--shards")
        return "shards-rate"
    if shards_max is not None:
        return "shards-size"
    return "exact"


@click.command("mrc")
@click.option("--trace", "trace_path", type=click.Path(exists=True, dir_okay=False),
              help="Trace file (memprof .trace, raw .npy of uint64 byte addresses, or DineroIV din).")
@click.option("--model", "models", default=None,
              help="Representation(s) to trace on the workload, comma list (e.g. dlrm,memrec).")
@workload_options
@click.option("--exact", is_flag=True, help="Exact LRU stack distances (the default method).")
@click.option("--shards", type=float, default=None, metavar="RATE",
              help="Fixed-rate SHARDS at sampling rate RATE, e.g. 0.01 (approximate, fast).")
@click.option("--shards-max", type=click.IntRange(min=1), default=None, metavar="LINES",
              help="Fixed-size SHARDS keeping at most LINES sampled lines (bounded memory).")
@click.option("--shards-seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the SHARDS sampling hash.")
@click.option("--sets", type=click.IntRange(min=1), default=1, show_default=True,
              help="Set count for set-associative LRU curves (set = line mod N; point k = N x k ways x line "
                   "bytes); 1 = fully associative.")
@click.option("--sizes", "sizes_spec", default=DEFAULT_SIZES, show_default=True,
              help=f"Range A..B (log-spaced, plus 14/28/56MB inside it) or comma list ({SIZE_HELP}).")
@click.option("--points", type=click.IntRange(min=2), default=DEFAULT_POINTS, show_default=True,
              help="Points of a size range.")
@click.option("--working-set", is_flag=True,
              help="Print the working-set report (footprint per representation and table, sizes reaching 2x "
                   "and 1.1x the compulsory miss ratio) instead of the curve.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write to FILE (atomically).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Also draw miss ratio vs size (log x) to this PNG.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress on stderr.")
@long_run_options
@runtime_errors
def mrc(trace_path, models, exact, shards, shards_max, shards_seed, sets, sizes_spec, points, working_set, fmt,
        output, plot_path, progress, checkpoint, checkpoint_every, resume, max_memory, **kwargs):
    """LRU miss-ratio curve at every cache size, from one pass over a trace.

    \b
    Examples:
      memprof mrc --model dlrm,memrec --batches 4 --sizes 1MB..128MB --plot mrc.png
      memprof mrc --trace run.trace --shards 0.01 --format csv -o mrc.csv
      memprof mrc --trace run.trace --exact --sets 57344 --sizes 14MB,28MB,56MB
      memprof mrc --model dlrm --working-set
      memprof mrc --trace big.trace --exact --checkpoint ckpt/ --max-memory 8GB   (Ctrl-C, then add --resume)
    """
    method = _method(exact, shards, shards_max)
    if (trace_path is None) == (models is None):
        raise click.UsageError("give either --trace FILE or --model NAME[,NAME...]")
    try:
        sizes = parse_size_spec(sizes_spec, points)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--sizes") from None
    policy = checkpoint_policy(checkpoint, checkpoint_every, resume)
    budget = parse_max_memory(max_memory)
    opts = workload_opts(kwargs)
    line_bytes = opts["line_bytes"]

    def make():
        return make_accumulator(method, line_bytes=line_bytes, sets=sets, rate=shards, max_lines=shards_max,
                                seed=shards_seed)

    try:
        make()  # validate the method and geometry before reading any trace
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    sources, regions, totals = {}, {}, {}
    metadata = {"method": method, "line_bytes": line_bytes, "sets": sets}
    identity = {}
    if trace_path is not None:
        name = Path(trace_path).name
        totals[name] = trace_length(trace_path)
        chunk_entries = DEFAULT_CHUNK_ENTRIES
        if budget is not None:
            try:
                estimate = estimate_mrc_memory(method, {name: _file_bound(trace_path, totals[name], line_bytes)},
                                               sets=sets, rate=shards, max_lines=shards_max,
                                               working_set=working_set, budget_bytes=budget, file_input=True)
            except MemoryBudgetError as exc:
                raise click.UsageError(str(exc)) from None
            chunk_entries = estimate.chunk_entries
        sources[name] = iter_trace_file(trace_path, chunk_entries)
        metadata["trace"] = str(trace_path)
        identity[name] = trace_file_fingerprint(trace_path)
    else:
        names = parse_models(models)
        params = parse_model_params(kwargs.get("params"), names)
        bounds = {}
        for name in names:
            model_trace = make_trace(name, opts, params)
            sources[name] = model_trace
            regions[name] = model_trace.representation.layout.regions
            metadata.setdefault("traces", {})[name] = model_trace.header()
            identity[name] = trace_identity(model_trace)
            if budget is not None:
                bounds[name] = _model_bound(model_trace)
        if budget is not None:
            try:
                estimate = estimate_mrc_memory(method, bounds, sets=sets, rate=shards, max_lines=shards_max,
                                               working_set=working_set, budget_bytes=budget, file_input=False)
            except MemoryBudgetError as exc:
                raise click.UsageError(str(exc)) from None
    if budget is not None:
        click.echo(f"memory estimate {estimate.describe()}", err=True)

    longrun = LongRun("mrc", policy, trace={"sources": identity},
                      config={"method": method, "line_bytes": line_bytes, "sets": sets, "rate": shards,
                              "max_lines": shards_max, "seed": shards_seed, "working_set": working_set})
    try:
        with longrun:
            results = mrc_curves(sources, make, working_set=working_set, progress=progress, longrun=longrun,
                                 totals=totals)
    except Interrupted as stop:
        metadata.update(stop.metadata)
        stop.metadata = metadata
        stop.frame = _frame(stop.frame, sizes, working_set, regions, mark_partial=True)
        finish_partial(stop, fmt, output)
    metadata["curves"] = {name: done.curve.describe() for name, done in results.items()}
    frame = _frame(results, sizes, working_set, regions)
    emit(frame, fmt, output, metadata=metadata)
    if plot_path is not None:
        from memprof.report.mrc_plot import plot_mrc

        plot_mrc([(name, done.curve) for name, done in results.items()], plot_path, min_bytes=min(sizes),
                 max_bytes=max(sizes),
                 title=f"LRU miss ratio ({'fully associative' if sets == 1 else f'{sets} sets'}, "
                       f"{line_bytes} B lines)")
        click.echo(f"plot written to {os.fspath(plot_path)}", err=True)


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


def _file_bound(path, total: int | None, line_bytes: int) -> tuple[int, int | None]:
    """(accesses, footprint lines or None) of a trace file, for the memory estimate."""
    from traces.tracefile import TraceReader, detect_format

    accesses = total if total is not None else sum(int(c.shape[0]) for c in iter_trace_file(path))
    footprint = None
    if detect_format(path) == "memprof":
        header = TraceReader(path).header
        if header.get("model_bytes"):
            regions = len(header.get("regions") or []) + 1
            footprint = int(header["model_bytes"]) // line_bytes + regions
    return accesses, footprint


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
    when over ``budget_bytes``. ``bounds``: {name: (accesses, footprint lines or None[, batch entries])}."""
    largest, kept, batch_entries = 0, 0, 0
    for bound in bounds.values():
        accesses, footprint = bound[0], bound[1]
        if len(bound) > 2:
            batch_entries = max(batch_entries, bound[2])
        distinct = accesses if footprint is None else min(accesses, footprint)
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


COMMANDS = [mrc]
