"""Several representations' kernels under ONE cachegrind process: start-up paid once, one fork per kernel.

Why: valgrind 3.19 cannot start or stop instrumentation, and starting Python, NumPy and
Numba under cachegrind costs 30-70 s, far more than a small kernel region. So one
process per LL size builds every representation, loads its kernel (one warm call), then
forks once per representation; each child flushes the LL (reads a buffer of 2 x LL),
runs only the kernel region and exits at once (``os._exit``). Valgrind follows forks and
writes one output file per process (``--cachegrind-out-file=.../cg.%p.out``). A forked
child starts with a copy of its parent's counts (measured: a child's totals include the
parent's start-up), so a first, null child does everything the others do (flush, region
bookkeeping, result file) but calls no kernel, and

    kernel region counts of a child = child's summary counts - the null child's

(whole-process summaries, so the region's Python dispatch and output allocation count,
as a PMU region would; this also avoids relying on JIT code being the only '???' code:
NumPy's stripped static functions land there too).

Child side: ``python -m memprof.hw.cachegrind_fork JOB.json`` (the job: kernel-runner argv
per run, batches file, result path; written by ``run_forked``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from memprof.hw.cachegrind import build_argv, check_geometry, find_valgrind, parse_file, run_cachegrind
from memprof.hw.region import KernelRegion
from memprof.hw.runspec import RunSpec
from traces.format.fileio import atomic_write_text

# The portable Numba target of cachegrind_compare, and one thread per BLAS (fewer threads to fork past).
CHILD_ENV = {"NUMBA_CPU_NAME": "generic", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


@dataclass(frozen=True)
class ForkedCounts:
    """One representation's kernel region under cachegrind (counts of the region only)."""

    model: str
    lookups: int
    ll_read_misses: int  # DLmr
    ll_write_misses: int  # DLmw
    d1_read_misses: int  # D1mr
    data_reads: int  # Dr
    instructions: int  # Ir

    @property
    def ll_misses(self) -> int:
        """Data LL misses, reads + writes (the kernel also writes its output rows)."""
        return self.ll_read_misses + self.ll_write_misses


def _job_runs(job: dict):
    """(model, representation, prepared batches, kernel kwargs) per run of a job, warm-called once."""
    from memprof.hw.kernel_runner import fill_constant, load_batches, parser, trace_spec

    built = []
    for run in job["runs"]:
        args = parser().parse_args(run["argv"])
        spec = trace_spec(args)
        rep = spec.representation()
        fill_constant(rep)
        batches = [rep.prepare(b) for b in load_batches(run["batches_file"])]
        kernel = {"threads": 1, "prefetch_distance": args.prefetch_distance}
        rep.pooled(batches[0], **kernel)  # loads (or compiles) the kernel before any fork
        built.append((run, rep, batches, kernel))
    return built


def _child(run: dict, rep, batches, kernel, flush) -> None:
    """In the forked child: flush, the kernel region (empty when ``rep`` is None: the null
    child), the result JSON; never returns."""
    code = 0
    try:
        flush.sum()
        region = KernelRegion(controls=[])
        with region:
            for batch in batches:
                rep.pooled(batch, **kernel)
        lookups = int(sum(b.num_lookups for b in batches)) if rep is not None else 0
        atomic_write_text(run["result"], json.dumps({"model": rep.name if rep is not None else None,
                                                     "pid": os.getpid(), "lookups": lookups,
                                                     "region_wall_ns": int(region.wall_ns)}) + "\n")
    except BaseException as exc:  # noqa: BLE001 - a child must never return into the parent's loop
        print(f"cachegrind_fork child {run['result']}: {exc}", file=sys.stderr)
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main(argv=None) -> int:
    import numpy as np

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m memprof.hw.cachegrind_fork JOB.json", file=sys.stderr)
        return 2
    job = json.loads(Path(argv[0]).read_text())
    built = _job_runs(job)
    flush = np.ones(max(int(job["flush_bytes"]), 8) // 8, dtype=np.float64)
    null = ({"result": job["null_result"]}, None, [], {})
    for run, rep, batches, kernel in [null, *built]:
        pid = os.fork()
        if pid == 0:
            _child(run, rep, batches, kernel, flush)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            print(f"cachegrind_fork: the child for {run['result']} failed", file=sys.stderr)
            return 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip the interpreter's teardown (seconds under valgrind)


def region_counts(child: dict[str, int], null: dict[str, int], model: str, lookups: int) -> ForkedCounts:
    """A child's counts minus the null child's: the kernel region's."""
    diff = {e: child.get(e, 0) - null.get(e, 0) for e in child}
    low = [e for e in ("Ir", "Dr", "DLmr", "DLmw") if diff.get(e, 0) < 0]
    if low:
        raise RuntimeError(f"cachegrind: the {model} child counted fewer {', '.join(low)} than the null child "
                           "(no kernel): the forked children did not start from the same counts")
    return ForkedCounts(model, lookups, diff.get("DLmr", 0), diff.get("DLmw", 0), diff.get("D1mr", 0),
                        diff.get("Dr", 0), diff.get("Ir", 0))


def run_forked(specs: list[RunSpec], *, ll: tuple[int, int, int], d1: tuple[int, int, int],
               timeout_s: float = 1200, valgrind: str | None = None) -> tuple[dict[str, ForkedCounts], float]:
    """Cachegrind counts of each spec's kernel region with LL ``ll`` and D1 ``d1`` (size, ways, line),
    in one valgrind process; also the seconds that process took."""
    return run_forked_sizes(specs, lls=[ll], d1=d1, timeout_s=timeout_s, valgrind=valgrind)[ll[0]]


def run_forked_sizes(specs: list[RunSpec], *, lls: list[tuple[int, int, int]], d1: tuple[int, int, int],
                     timeout_s: float = 1200, valgrind: str | None = None,
                     jobs: int | None = None) -> dict[int, tuple[dict[str, ForkedCounts], float]]:
    """``run_forked`` for several LL geometries: {LL bytes: (counts, valgrind seconds)}. The job
    first runs natively once (compiling the kernels for the portable target into Numba's cache),
    then one valgrind process per LL, ``jobs`` at a time (default: one per CPU)."""
    for geometry in (*lls, d1):
        check_geometry(*geometry)
    valgrind = valgrind or find_valgrind()
    if not valgrind:
        raise FileNotFoundError("valgrind is not installed (apt install valgrind)")
    from concurrent.futures import ThreadPoolExecutor

    from memprof.hw.kernel_runner import save_batches

    env = {**os.environ, **CHILD_ENV}
    env.pop("NUMBA_CPU_FEATURES", None)
    with tempfile.TemporaryDirectory(prefix="memprof-cgfork-") as tmp:
        tmp = Path(tmp)
        batch_files = []
        for i, spec in enumerate(specs):
            batch_files.append(tmp / f"batches{i}.npz")
            save_batches(batch_files[-1], spec.build()[1])

        def job_for(name: str, flush_bytes: int) -> tuple[list[str], dict]:
            folder = tmp / name
            (folder / "cg").mkdir(parents=True)
            runs = [{"argv": spec.runner_argv(batches_file=str(bf))[3:],  # drop 'python -m memprof.hw.kernel_runner'
                     "batches_file": str(bf), "result": str(folder / f"result{i}.json")}
                    for i, (spec, bf) in enumerate(zip(specs, batch_files))]
            job = {"runs": runs, "flush_bytes": flush_bytes, "null_result": str(folder / "null.json")}
            (folder / "job.json").write_text(json.dumps(job))
            return [sys.executable, "-m", "memprof.hw.cachegrind_fork", str(folder / "job.json")], job

        command, _ = job_for("native", 2 * lls[0][0])
        native = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout_s)
        if native.returncode != 0:
            raise RuntimeError(f"kernel runs failed before valgrind: {native.stderr.strip()[-400:]}")

        def one(k: int, ll):
            command, job = job_for(f"ll{k}", 2 * ll[0])
            out_dir = Path(job["null_result"]).parent / "cg"
            argv = build_argv(command, out_file=out_dir / "cg.%p.out", ll=ll, d1=d1, valgrind=valgrind)
            _, wall = run_cachegrind(argv, env=env, timeout_s=timeout_s)
            null_pid = json.loads(Path(job["null_result"]).read_text())["pid"]
            null = parse_file(out_dir / f"cg.{null_pid}.out").summary
            counts = {}
            for run in job["runs"]:
                result = json.loads(Path(run["result"]).read_text())
                child = parse_file(out_dir / f"cg.{result['pid']}.out").summary
                counts[result["model"]] = region_counts(child, null, result["model"], result["lookups"])
            return counts, wall

        workers = max(1, min(len(lls), jobs or os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {ll[0]: pool.submit(one, k, ll) for k, ll in enumerate(lls)}
            return {size: future.result() for size, future in futures.items()}


if __name__ == "__main__":
    sys.exit(main())
