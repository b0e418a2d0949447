"""Run a kernel under cachegrind and replay the same kernel's trace through memprof's simulator.

Both sides see the same lookups at the same addresses: the batches are generated here
and handed to the child as an .npz; the child reports the real address of its table
buffer, and the trace (``Representation.emit``, virtual layout addresses) is remapped
region by region onto those real addresses. The simulated hierarchy matches
cachegrind's model: a D1 of the given geometry in front of a non-inclusive LL, LRU,
write-allocate, 64 B lines.

What differs, and is reported rather than hidden:
- the kernel also reads its index/offset arrays; cachegrind counts those misses, the
  trace does not. The child reports how many lines those arrays span (all cold after
  the flush), and they are added to the simulated count;
- unsymbolised non-kernel code also lands in cachegrind's '???' bucket (a few
  thousand LL misses per run, measured without the kernel).

Numba under valgrind: the kernel is compiled outside valgrind first (``cache=True``
writes it to disk) for a portable CPU target (``NUMBA_CPU_NAME=generic``), because
valgrind 3.19 lacks AVX-512 and a host-tuned cache entry would not match valgrind's
view of the CPU (forcing a very slow recompilation under valgrind).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from memprof.hw.cachegrind import UNKNOWN_FN, build_argv, check_geometry, find_valgrind, parse_file, run_cachegrind
from memprof.hw.runspec import RunSpec

PORTABLE_ENV = {"NUMBA_CPU_NAME": "generic"}


@dataclass(frozen=True)
class Comparison:
    """cachegrind's kernel LL misses against memprof's simulation of the same trace."""

    ll_bytes: int
    ll_ways: int
    line_bytes: int
    d1: tuple[int, int, int]
    lookups: int
    trace_accesses: int
    cachegrind_ll_read_misses: int  # DLmr of the kernel ('???' functions)
    cachegrind_ll_write_misses: int
    cachegrind_ll_misses_total: int  # whole program, all kinds
    index_lines: int
    simulated_ll_misses: int
    simulated_l1_misses: int
    aligned: bool
    simulated_exact_ll_misses: int | None  # DLRM: full kernel trace (index, offsets, output rows) simulated
    wall_s: float
    runner: dict

    @property
    def simulated_with_index(self) -> int:
        return self.simulated_ll_misses + self.index_lines

    @property
    def exact_relative_difference(self) -> float | None:
        """(cachegrind - exact kernel trace simulated) / simulated, DLRM only."""
        if self.simulated_exact_ll_misses is None:
            return None
        return (self.cachegrind_ll_read_misses - self.simulated_exact_ll_misses) / max(self.simulated_exact_ll_misses, 1)

    @property
    def relative_difference(self) -> float:
        """(cachegrind - simulated) / simulated, index-array lines included on the simulated side."""
        return (self.cachegrind_ll_read_misses - self.simulated_with_index) / max(self.simulated_with_index, 1)


def remap(addrs: np.ndarray, regions: list[dict]) -> np.ndarray:
    """Virtual layout byte addresses -> the child's real addresses, region by region."""
    bases = np.array([r["base_addr"] for r in regions], dtype=np.uint64)
    order = np.argsort(bases)
    bases = bases[order]
    real = np.array([regions[i]["real_addr"] for i in order], dtype=np.uint64)
    ends = np.array([regions[i]["base_addr"] + regions[i]["nbytes"] for i in order], dtype=np.uint64)
    addrs = np.asarray(addrs, dtype=np.uint64)
    idx = np.searchsorted(bases, addrs, side="right") - 1
    if (idx < 0).any() or (addrs >= ends[np.maximum(idx, 0)] + np.uint64(64)).any():
        raise ValueError("trace address outside every region of the layout")
    return addrs - bases[idx] + real[idx]


def regions_aligned(regions: list[dict], line_bytes: int) -> bool:
    return all((r["real_addr"] - r["base_addr"]) % line_bytes == 0 for r in regions)


def dlrm_kernel_trace(table_lines: np.ndarray, batch, arrays: dict, dim: int, line_bytes: int = 64) -> np.ndarray:
    """The full DLRM kernel's line accesses in loop order, side arrays included.

    For bag k (table-major): offsets[k], offsets[k+1]; then per lookup i of the bag:
    indices[i], and for each line j of the row: the output row's line j, the table
    row's line j (``row[j] += weights[start + j]``). ``table_lines`` is the emitted
    (real-address) trace of the batch, ``lines_per_row`` addresses per lookup.
    """
    row_bytes = dim * 4
    if row_bytes % line_bytes:
        raise ValueError(f"rows of {row_bytes} B are not whole lines of {line_bytes} B")
    per_row = row_bytes // line_bytes
    offsets = np.asarray(batch.offsets, dtype=np.int64)
    bags = offsets.size - 1
    n = int(offsets[-1])
    table = np.asarray(table_lines, dtype=np.uint64).reshape(n, per_row)
    block = 1 + 2 * per_row
    out = np.empty(2 * bags + block * n, dtype=np.uint64)
    k = np.arange(bags, dtype=np.int64)
    starts = 2 * k + block * offsets[:-1]
    out[starts] = arrays["offsets_addr"] + 8 * k
    out[starts + 1] = arrays["offsets_addr"] + 8 * (k + 1)
    bag_of = np.repeat(k, np.diff(offsets))
    i = np.arange(n, dtype=np.int64)
    pos = 2 * bag_of + 2 + block * i
    out[pos] = arrays["indices_addr"] + 8 * i
    out_rows = arrays["out_addr"] + bag_of * row_bytes
    for j in range(per_row):
        out[pos + 1 + 2 * j] = out_rows + j * line_bytes
        out[pos + 2 + 2 * j] = table[:, j]
    return out & ~np.uint64(line_bytes - 1)


def simulate_real(rep, batches, runner: dict, *, ll: tuple[int, int, int], d1: tuple[int, int, int],
                  exact: bool = False):
    """Simulate the kernel's trace at the child's real addresses through D1 + non-inclusive LL.

    ``exact=False`` replays the emitted trace (table reads only); ``exact=True`` (DLRM
    only) replays ``dlrm_kernel_trace``, which adds the index, offset and output-row
    accesses in the kernel's loop order. Returns (SimResult, accesses fed).
    """
    from sim.config import CacheConfig
    from sim.engine.simulator import Simulator

    line = ll[2]
    sim = Simulator(CacheConfig(ll[0], ll[1], line, "lru"), l1=CacheConfig(d1[0], d1[1], d1[2], "lru"),
                    inclusive=False)
    accesses = 0
    for batch, arrays in zip(batches, runner["arrays"]):
        chunk = remap(rep.emit(batch, line_bytes=line), runner["regions"])
        if exact:
            chunk = dlrm_kernel_trace(chunk, batch, arrays, rep.dim, line)
        accesses += chunk.size
        sim.feed(chunk)
    return sim.result(), accesses


def run(spec: RunSpec, *, ll: tuple[int, int, int], d1: tuple[int, int, int], timeout_s: float = 600,
        valgrind: str | None = None, workdir: str | os.PathLike | None = None, keep: bool = False) -> Comparison:
    """Run ``spec``'s kernel under cachegrind with LL/D1 geometry and compare with the simulator."""
    for geometry in (ll, d1):
        check_geometry(*geometry)
    valgrind = valgrind or find_valgrind()
    if not valgrind:
        raise FileNotFoundError("valgrind is not installed (apt install valgrind)")
    rep, batches = spec.build()
    if rep.memory_bytes > (spec.budget_bytes or rep.memory_bytes):
        raise ValueError(f"{spec.model}: tables need {rep.memory_bytes:,} bytes, over the budget")
    env = {**os.environ, **PORTABLE_ENV}
    env.pop("NUMBA_CPU_FEATURES", None)
    with tempfile.TemporaryDirectory(prefix="memprof-cg-", dir=workdir) as tmp:
        tmp = Path(tmp)
        from memprof.hw.kernel_runner import save_batches

        batches_file = tmp / "batches.npz"
        save_batches(batches_file, batches)
        # 1. compile (or load) the kernel for the portable target outside valgrind.
        warm = subprocess.run(spec.runner_argv(batches_file=str(batches_file), warmup=1,
                                               result=str(tmp / "warm.json")),
                              env=env, capture_output=True, text=True, timeout=timeout_s)
        if warm.returncode != 0:
            raise RuntimeError(f"kernel run failed before valgrind: {warm.stderr.strip()[-400:]}")
        # 2. the measured run under cachegrind: no warm-up kernel call, LL flushed just before the region.
        out_file = tmp / "cachegrind.out"
        result_file = tmp / "result.json"
        command = spec.runner_argv(batches_file=str(batches_file), warmup=0, flush_bytes=2 * ll[0],
                                   result=str(result_file))
        argv = build_argv(command, out_file=out_file, ll=ll, d1=d1, valgrind=valgrind)
        proc, wall = run_cachegrind(argv, env=env, timeout_s=timeout_s)
        if not out_file.exists():
            raise RuntimeError(f"valgrind failed (exit {proc.returncode}): {proc.stderr.strip()[-600:]}")
        parsed = parse_file(out_file)
        runner = json.loads(result_file.read_text())
        if keep:
            (Path(workdir or ".") / "cachegrind.out").write_text(out_file.read_text())
    kernel = parsed.function_totals(UNKNOWN_FN)
    aligned = regions_aligned(runner["regions"], ll[2])
    sim_result, accesses = simulate_real(rep, batches, runner, ll=ll, d1=d1)
    exact_misses = None
    if spec.model == "dlrm" and aligned and (rep.dim * 4) % ll[2] == 0:
        exact_misses = int(simulate_real(rep, batches, runner, ll=ll, d1=d1, exact=True)[0].llc.misses)
    return Comparison(
        ll_bytes=ll[0], ll_ways=ll[1], line_bytes=ll[2], d1=tuple(d1), lookups=runner["lookups"],
        trace_accesses=accesses,
        cachegrind_ll_read_misses=kernel.get("DLmr", 0),
        cachegrind_ll_write_misses=kernel.get("DLmw", 0),
        cachegrind_ll_misses_total=parsed.ll_misses()["ll_misses"],
        index_lines=runner["index_lines"],
        simulated_ll_misses=int(sim_result.llc.misses),
        simulated_l1_misses=int(sim_result.levels[0].misses) if len(sim_result.levels) > 1 else -1,
        aligned=aligned,
        simulated_exact_ll_misses=exact_misses,
        wall_s=wall,
        runner=runner,
    )
