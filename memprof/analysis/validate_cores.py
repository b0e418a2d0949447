"""``memprof validate --cores N``: the many-core prediction (``memprof.analysis.multicore``)
against the real kernels running on N cores of this machine, as processes and as threads.

- processes (``tables="private"``): N forked processes, each with its own copy of the tables
  (same seed, separate memory), core c looping over batches c*B .. c*B+B-1 of the seeded
  stream; all start together at a barrier; ns per lookup of each core is the best of
  ``repeat`` timed passes over its ring after a warm pass; the row reports their mean.
- threads (``tables="shared"``): one process, one copy of the tables, the kernel's parallel
  variant (``threads=N``) over all N*B batches; ns per lookup per core = elapsed x N / lookups.
  The parallel kernel splits each batch over the threads (features x 64-sample blocks) where the
  prediction gives each core its own batches: the same lookups on the same tables, in another
  interleaving.
- predicted: ``predict_cores`` with the host preset and calibration, the LLC and page size as
  ``memprof validate`` simulates them (``validate.host_llc``, ``validate.table_page_bytes``),
  each core's B batches with the first quarter as warm-up.
The measured timings are never used to fit a parameter.
"""

from __future__ import annotations

import multiprocessing as mp
import statistics
import time
from dataclasses import replace

import numpy as np
import pandas as pd

CORES_VALIDATE_COLUMNS = ("model", "mode", "tables", "cores", "footprint_bytes", "batch_size", "batches_per_core",
                          "measured_ns_per_lookup_per_core", "predicted_ns_per_lookup_per_core", "error",
                          "measured_one_core_ns_per_lookup", "predicted_one_core_ns_per_lookup")
MODES = {"processes": "private", "threads": "shared"}


def _ring(spec, first: int, count: int) -> list:
    generator = spec.build().generator
    return [generator.batch(spec.batch_size, first + k) for k in range(count)]


def _time_ring(rep, ring, repeat: int, threads: int) -> float:
    """Best ns per lookup of ``repeat`` passes over ``ring`` (prepared batches) after a warm pass."""
    lookups = sum(b.num_lookups for b in ring)
    out = np.empty((rep.output_features(ring[0].num_features), ring[0].batch_size, rep.dim), dtype=np.float32)
    best = None
    for index in range(repeat + 1):
        start = time.perf_counter_ns()
        for batch in ring:
            rep.pooled(batch, out, threads=threads)
        elapsed = time.perf_counter_ns() - start
        if index:
            best = elapsed if best is None else min(best, elapsed)
    return best / lookups


def _build(spec):
    from memprof.hw.kernel_runner import fill_constant

    rep = spec.representation()
    fill_constant(rep)
    return rep


def _process_core(spec, core: int, batches: int, repeat: int, barrier, results) -> None:
    """One core of the processes mode (a forked child): its own tables, its own batches."""
    rep = _build(spec)
    ring = [rep.prepare(b) for b in _ring(spec, core * batches, batches)]
    _time_ring(rep, ring[:1], 1, 1)  # compile / load the kernel before the common start
    barrier.wait()
    results[core] = _time_ring(rep, ring, repeat, 1)


def measure_processes(spec, cores: int, batches: int, repeat: int) -> list[float]:
    """ns per lookup of each of ``cores`` forked processes running together (module docstring)."""
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(cores)
    results = ctx.Array("d", cores)
    workers = [ctx.Process(target=_process_core, args=(spec, c, batches, repeat, barrier, results))
               for c in range(cores)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    failed = [c for c, w in enumerate(workers) if w.exitcode != 0]
    if failed:
        raise RuntimeError(f"validate --cores: core process(es) {failed} failed (exit "
                           f"{[workers[c].exitcode for c in failed]})")
    return list(results)


def measure_threads(spec, cores: int, batches: int, repeat: int) -> float:
    """ns per lookup per core of the parallel kernel on ``cores`` threads over one shared copy."""
    rep = _build(spec)
    ring = [rep.prepare(b) for b in _ring(spec, 0, cores * batches)]
    return _time_ring(rep, ring, repeat, cores) * cores


def run_validate_cores(specs, cores: int, *, batches: int = 8, repeat: int = 5, log=None) -> pd.DataFrame:
    """Measured against predicted per-core ns/lookup for each spec (a ``TraceSpec`` of one point),
    in both modes, beside the one-core measurement and prediction of the same batches."""
    from memprof.analysis.experiment import CacheSetup
    from memprof.analysis.multicore import predict_cores
    from memprof.analysis.validate import host_llc, table_page_bytes
    from memprof.hw.host import cpu_preset

    log = log or (lambda _m: None)
    host = cpu_preset("host")
    llc_bytes, ways, _ = host_llc(host)
    rows = []
    for spec in specs:
        spec = replace(spec, batches=batches)
        rep = _build(spec)
        page_bytes, footprint = table_page_bytes([rep]), int(rep.memory_bytes)
        one_ring = [rep.prepare(b) for b in _ring(spec, 0, batches)]
        one_measured = _time_ring(rep, one_ring, repeat, 1)
        del rep, one_ring
        setup = CacheSetup((llc_bytes,), ways=ways, page_bytes=page_bytes, threads=1)
        one_predicted = predict_cores(spec, 1, "private", setup=setup, cpu="host").ns_per_lookup
        for mode, tables in MODES.items():
            if mode == "processes":
                measured = statistics.mean(measure_processes(spec, cores, batches, repeat))
            else:
                measured = measure_threads(spec, cores, batches, repeat)
            predicted = predict_cores(spec, cores, tables, setup=setup, cpu="host").ns_per_lookup
            rows.append({"model": spec.model, "mode": mode, "tables": tables, "cores": cores,
                         "footprint_bytes": footprint, "batch_size": spec.batch_size,
                         "batches_per_core": batches, "measured_ns_per_lookup_per_core": measured,
                         "predicted_ns_per_lookup_per_core": predicted, "error": predicted / measured - 1,
                         "measured_one_core_ns_per_lookup": one_measured,
                         "predicted_one_core_ns_per_lookup": one_predicted})
            log(f"validate --cores {cores}: {spec.model} {mode}: measured {measured:.1f} ns/lookup per core, "
                f"predicted {predicted:.1f} (one core: {one_measured:.1f} / {one_predicted:.1f})")
    return pd.DataFrame(rows, columns=list(CORES_VALIDATE_COLUMNS))
