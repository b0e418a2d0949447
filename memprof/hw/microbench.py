"""Memory microbenchmarks of one core: load-to-use latency per level, page-walk cost, lines
in flight (fill buffers) and per-core row bandwidth, for the timing model.

Why: the timing model charges L2/LLC/DRAM rows, TLB walks and memory-level parallelism
separately; each parameter is measured here (or, where impossible, assumed and marked).
How (docs/hardware.md, "Memory microbenchmarks"):
- latency: a dependent pointer chase over a random single-cycle permutation of 64 B lines
  (one pointer per line) at footprints 16 KiB .. ``max_footprint``, once with transparent
  huge pages (``madvise(MADV_HUGEPAGE)``, verified in /proc/self/smaps) and once with 4 KiB
  pages; each level's value is read at a footprint well inside it (``pick_footprints``);
- page walk: 4 KiB minus THP latency at a footprint past the STLB whose PTEs stay cached,
  and the same at the DRAM footprint (walks that miss);
- lines in flight: k interleaved chases at the DRAM footprint, k x t(1) / t(k);
- bandwidth: random 512 B (and 64 B) rows read in full, addresses known ahead.
Timing: ``time.perf_counter_ns``, kernels compiled first, pages touched first, best (and
median) of ``repeat`` runs of about 10 ms each.
"""

from __future__ import annotations

import mmap
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from memprof.hw import microbench_kernels as kern
from sim.sizes import format_size

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
LINE_BYTES = 64
WORDS_PER_LINE = LINE_BYTES // 8
HUGE_BYTES = 2 * MIB
MIN_FOOTPRINT = 16 * KIB
DEFAULT_MAX_FOOTPRINT = 1 * GIB  # 32x a 32 MiB LLC; its 512 huge pages fit the STLB
MIN_MAX_FOOTPRINT = 1 * MIB  # below this no level past L1 can be measured
WALK_FOOTPRINT = 16 * MIB  # 4096 4 KiB pages: past current x86 STLBs (1.5-3k entries); PTEs 32 KiB stay cached
DRAM_OVER_LLC = 8  # the DRAM footprint must be >= 8x the LLC (<= 1/8 of its lines can hit there)
K_VALUES = (1, 2, 4, 8, 12, 16, 24, 32)
ROW_BYTES = (512, 64)
DEFAULT_REPEAT = 7
DEFAULT_ROUNDS = 2
TARGET_NS = 4_000_000  # each timed run lasts about this long (short: a busy machine preempts long runs)
THP_ENABLED = "/sys/kernel/mm/transparent_hugepage/enabled"
SMAPS = "/proc/self/smaps"
MEMINFO = "/proc/meminfo"
LLC_NEAR_DRAM = 0.8  # an LLC latency this close to DRAM's is flagged
GRANTED = 0.9  # THP counts as granted when AnonHugePages covers this share of the buffer

# The parameters the timing model takes from calibration (core cycles unless the name says).
FIELDS = ("l1_hit_cycles", "l2_hit_cycles", "llc_hit_cycles", "dram_cycles", "page_walk_cycles", "fill_buffers",
          "l2_row_gbps", "llc_row_gbps", "dram_row_gbps", "kernel_call_cycles", "output_store_cycles_cache",
          "output_store_cycles_dram")
UNITS = {"l1_hit_cycles": "cycles", "l2_hit_cycles": "cycles", "llc_hit_cycles": "cycles", "dram_cycles": "cycles",
         "page_walk_cycles": "cycles", "page_walk_dram_cycles": "cycles", "fill_buffers": "lines",
         "l2_row_gbps": "GB/s", "llc_row_gbps": "GB/s", "dram_row_gbps": "GB/s", "l2_line_gbps": "GB/s",
         "llc_line_gbps": "GB/s", "dram_line_gbps": "GB/s", "kernel_call_cycles": "cycles", "llc_effective_bytes": "bytes",
         "output_store_cycles_cache": "cycles", "output_store_cycles_dram": "cycles"}
LEVELS = ("l1", "l2", "llc", "dram")
VM_NOTE = ("a virtual machine: the TLB caches guest-virtual to host-physical translations, so guest THP may not "
           "remove host-side (nested) walks")
# Placeholders used only when a value cannot be measured and no preset carries it.
PAGE_WALK_ASSUMED = (30.0, "assumed: 30 cycles, a placeholder of the order of two L2 hits (the page-table reads of "
                           "a walk whose upper levels sit in the paging-structure caches); no preset carries "
                           "page_walk_cycles")


def value(v, unit: str, source: str, **extra) -> dict:
    """One stored quantity: {"value", "unit", "source", ...}; source starts with measured:/sysfs:/assumed:."""
    return {"value": None if v is None else float(v), "unit": unit, "source": source, **extra}


# --------------------------------------------------------------------------- buffers and pages

def thp_mode(path: str | Path = THP_ENABLED) -> str | None:
    """The selected transparent-huge-page mode ("always", "madvise", "never"), None if unreadable."""
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    start, end = text.find("["), text.find("]")
    return text[start + 1:end].strip() if 0 <= start < end else None


def anon_huge_bytes(address: int, smaps_path: str | Path = SMAPS) -> int | None:
    """AnonHugePages (bytes) of the mapping of this process that contains ``address``; None if unreadable."""
    try:
        lines = Path(smaps_path).read_text().splitlines()
    except OSError:
        return None
    inside = False
    for line in lines:
        head = line.split(None, 1)[0] if line.strip() else ""
        if "-" in head and not head.endswith(":"):
            lo, _, hi = head.partition("-")
            try:
                inside = int(lo, 16) <= address < int(hi, 16)
            except ValueError:
                inside = False
        elif inside and head == "AnonHugePages:":
            return int(line.split()[1]) * 1024
    return None


def memory_available(meminfo_path: str | Path = MEMINFO) -> int | None:
    """MemAvailable in bytes, None if unreadable."""
    try:
        for line in Path(meminfo_path).read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class PagedBuffer:
    """``nbytes`` of anonymous memory as a uint64 array, 2 MiB aligned, with huge pages requested
    (``madvise(MADV_HUGEPAGE)``) or refused (``MADV_NOHUGEPAGE``); every page touched.
    ``huge_bytes``: AnonHugePages of the mapping after touching (None if unreadable)."""

    def __init__(self, nbytes: int, huge: bool, smaps_path: str | Path = SMAPS):
        self.nbytes, self.huge = nbytes, huge
        self._map = mmap.mmap(-1, nbytes + HUGE_BYTES, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        raw = np.frombuffer(self._map, dtype=np.uint8)
        offset = (-raw.ctypes.data) % HUGE_BYTES
        self._map.madvise(mmap.MADV_HUGEPAGE if huge else mmap.MADV_NOHUGEPAGE, offset, nbytes)
        self.words = raw[offset:offset + nbytes].view(np.uint64)
        self.words[::4096 // 8] = 0  # touch every 4 KiB page (a huge page is faulted in by its first touch)
        self.address = self.words.ctypes.data
        self.huge_bytes = anon_huge_bytes(self.address, smaps_path)
        del raw

    @property
    def huge_share(self) -> float | None:
        return None if self.huge_bytes is None else min(1.0, self.huge_bytes / self.nbytes)

    def close(self) -> None:
        self.words = None
        try:
            self._map.close()
        except BufferError:  # a view is still alive: the mapping goes when it does
            pass


# --------------------------------------------------------------------------- chains and timing

def cyclic_order(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random visiting order of lines 0..n-1 (a permutation): linked in this order, the
    lines form one cycle through all n."""
    return rng.permutation(n).astype(np.uint64)


def link_cycle(words: np.ndarray, order: np.ndarray) -> None:
    """Write the chain: the first word of line order[i] holds the word index of line order[i+1]
    (the last links back to the first), so ``p = words[p]`` visits the lines in ``order``.
    (Scattered into a dense array first, then written with one strided pass: far fewer TLB
    misses than scattering into the buffer itself.)"""
    n = len(order)
    successor = np.empty(n, dtype=np.uint64)
    successor[order] = np.roll(order, -1)
    successor *= np.uint64(WORDS_PER_LINE)
    words[:n * WORDS_PER_LINE:WORDS_PER_LINE] = successor


def chase(words: np.ndarray, start: int, steps: int) -> tuple[int, int]:
    """(last word index, sum of visited word indices) after ``steps`` dependent loads from ``start``."""
    p, total = kern._chase(words, np.uint64(start), int(steps))
    return int(p), int(total)


def chase_k(words: np.ndarray, starts, steps: int) -> tuple[np.ndarray, int]:
    """k interleaved chases of ``steps`` loads each from ``starts``: (final positions, sum of visited indices)."""
    positions = np.array(starts, dtype=np.uint64)
    total = kern._chase_k(words, positions, int(steps))
    return positions, int(total)


def read_rows(words: np.ndarray, starts: np.ndarray, row_bytes: int, distance: int = 0) -> int:
    """Sum of every word of the rows starting at word indices ``starts`` (``row_bytes`` each)."""
    return int(kern._read_rows(words, np.ascontiguousarray(starts, dtype=np.uint64), row_bytes // 8, int(distance)))


@dataclass(frozen=True)
class Timed:
    """ns per operation: the best and the median of the timed runs, and how many ran."""

    best_ns: float
    median_ns: float
    runs: int
    ops_per_run: int
    samples: tuple = ()  # ns per op of each run


def time_per_op(run, repeat: int, clock=time.perf_counter_ns, pilot_ops: int = 20_000,
                max_ops: int = 1 << 26, ops: int | None = None) -> Timed:
    """Time ``run(ops)`` (does ``ops`` operations): unless ``ops`` is given, a pilot sizes runs to
    about TARGET_NS; then ``repeat`` timed runs; per-op best and median."""
    if ops is None:
        start = clock()
        run(pilot_ops)
        pilot = max(1, clock() - start)
        ops = int(min(max_ops, max(pilot_ops, pilot_ops * TARGET_NS / pilot)))
    samples = []
    for _ in range(repeat):
        start = clock()
        run(ops)
        samples.append(max(1, clock() - start) / ops)
    return Timed(min(samples), statistics.median(samples), repeat, ops, tuple(samples))


def compile_kernels() -> None:
    """Compile (or load from Numba's cache) every kernel before anything is timed."""
    words = np.zeros(8 * WORDS_PER_LINE, dtype=np.uint64)
    link_cycle(words, np.arange(8, dtype=np.uint64))
    chase(words, 0, 4)
    chase_k(words, [0, 8], 4)
    for distance in (0, 1):
        read_rows(words, np.zeros(4, dtype=np.uint64), 64, distance)


def footprints_up_to(max_footprint: int) -> list[int]:
    """16 KiB, 32 KiB, ... powers of two up to ``max_footprint`` (and it, when not a power of two)."""
    out, f = [], MIN_FOOTPRINT
    while f <= max_footprint:
        out.append(f)
        f *= 2
    if out[-1] != max_footprint:
        out.append(max_footprint)
    return out


def latency_curves(bufs: dict, footprints, rng, *, repeat: int, rounds: int = 2, clock=time.perf_counter_ns,
                   progress=None) -> tuple[dict, np.ndarray]:
    """Chase latency (ns per load) at each footprint (ascending), in the first bytes of each
    buffer of ``bufs`` (page kind -> PagedBuffer). At each footprint the same cycle is linked in
    every buffer and the kinds are timed one after the other, each after its own warm-up pass,
    so a burst of load elsewhere hits both; the sweep runs ``rounds`` times (seconds apart) and
    best/median are over every round's runs. Returns {kind: rows} and {footprint: visiting order}."""
    orders, samples, runs = {}, {(kind, f): [] for kind in bufs for f in footprints}, {}
    for round_ in range(rounds):
        for footprint in footprints:
            n = footprint // LINE_BYTES
            if footprint not in orders:
                orders[footprint] = cyclic_order(n, rng)
            order = orders[footprint]
            for kind, buf in bufs.items():
                link_cycle(buf.words, order)
                state = {"p": int(order[0]) * WORDS_PER_LINE}

                def run(ops, state=state, words=buf.words):
                    state["p"] = chase(words, state["p"], ops)[0]

                run(min(n, 1 << 19))  # warm: one pass through the cycle (its caches, its TLB entries)
                timed = time_per_op(run, repeat, clock)
                samples[(kind, footprint)] += timed.samples
                runs[(kind, footprint)] = timed.ops_per_run
            if progress is not None:
                progress(f"latency at {format_size(footprint)} (round {round_ + 1}/{rounds}): " + ", ".join(
                    f"{kind} {min(samples[(kind, footprint)]):.1f} ns" for kind in bufs))
    curves = {kind: [{"footprint_bytes": f, "ns_best": min(samples[(kind, f)]),
                      "ns_median": statistics.median(samples[(kind, f)]), "runs": len(samples[(kind, f)]),
                      "loads_per_run": runs[(kind, f)]} for f in footprints] for kind in bufs}
    return curves, orders


def mlp_curve(buf: PagedBuffer, order: np.ndarray, ks=K_VALUES, *, repeat: int, rounds: int = 3,
              clock=time.perf_counter_ns) -> list[dict]:
    """k chases interleaved over the linked cycle ``order`` (starts n/k lines apart along it):
    ns per iteration (one load of each chase) and lines in flight k x t(1) / t(k), best over
    ``rounds`` rounds of every k (so a burst of load elsewhere cannot favour one k). A value
    above k (t(1) disturbed) is capped at k and flagged."""
    n = len(order)
    positions = {k: np.array([int(order[(j * n) // k]) * WORDS_PER_LINE for j in range(k)], dtype=np.uint64)
                 for k in ks}
    samples, sizes = {k: [] for k in ks}, {}
    for _ in range(rounds):
        for k in ks:
            def run(ops, positions=positions[k]):
                kern._chase_k(buf.words, positions, int(ops))

            if k not in sizes:
                run(1000)
            timed = time_per_op(run, repeat, clock, pilot_ops=max(1000, 20_000 // k), ops=sizes.get(k))
            sizes[k] = timed.ops_per_run
            samples[k] += timed.samples
    rows = [{"k": k, "ns_per_step_best": min(samples[k]), "ns_per_step_median": statistics.median(samples[k]),
             "runs": len(samples[k])} for k in ks]
    t1 = rows[0]["ns_per_step_best"] if rows and rows[0]["k"] == 1 else None
    t1m = rows[0]["ns_per_step_median"] if t1 is not None else None
    for row in rows:
        k = row["k"]
        raw = None if t1 is None else k * t1 / row["ns_per_step_best"]
        row["lines_in_flight"] = None if raw is None else min(raw, float(k))
        row["capped"] = raw is not None and raw > k
        row["lines_in_flight_median"] = None if t1 is None else min(k * t1m / row["ns_per_step_median"], float(k))
    return rows


def prefetch_rows(row_bytes: int) -> int:
    """Software prefetch distance in rows: about 32 lines ahead."""
    return max(1, 32 * LINE_BYTES // row_bytes)


def row_bandwidth(buf: PagedBuffer, footprint: int, row_bytes: int, rng, *, repeat: int,
                  clock=time.perf_counter_ns) -> dict:
    """GB/s of random ``row_bytes`` rows (aligned, read in full) in the first ``footprint`` bytes,
    without and with software prefetch; the best of the two is ``gbps``."""
    rows_in = footprint // row_bytes
    words_per_row = row_bytes // 8
    pool = (rng.integers(0, rows_in, size=1 << 20) * words_per_row).astype(np.uint64)
    out = {"footprint_bytes": footprint, "row_bytes": row_bytes}
    for label, distance in (("none", 0), ("software", prefetch_rows(row_bytes))):
        read_rows(buf.words, pool[:64], row_bytes, distance)  # compiled before timing
        read_rows(buf.words, pool[:min(len(pool), 4 * rows_in)], row_bytes, distance)  # warm the footprint

        def run(ops, distance=distance):
            for begin in range(0, ops, len(pool)):
                read_rows(buf.words, pool[:min(len(pool), ops - begin)], row_bytes, distance)

        timed = time_per_op(run, repeat, clock, pilot_ops=4096, max_ops=len(pool) * 4)
        out[f"gbps_{label}"] = row_bytes / timed.best_ns
        out[f"gbps_{label}_median"] = row_bytes / timed.median_ns
    best = max(("none", "software"), key=lambda m: out[f"gbps_{m}"])
    out["gbps"], out["gbps_median"], out["prefetch"] = out[f"gbps_{best}"], out[f"gbps_{best}_median"], best
    return out


# --------------------------------------------------------------------------- picking and provenance

def pick_footprints(footprints, l1d: int, l2: int, llc: int) -> dict[str, tuple[int | None, str]]:
    """The footprint each level's value is read at, with why (or why none):
    L1/L2/LLC: the largest footprint <= half the level and >= 4x the level below (L1: any);
    DRAM: the smallest footprint >= DRAM_OVER_LLC x the LLC (at most 1/8 of its lines can hit
    there, and the fewest pages: the largest footprint adds TLB-reach effects even with THP)."""
    sizes = sorted(set(int(f) for f in footprints))
    picked = {}
    below = {"l1": 0, "l2": l1d, "llc": l2}
    for level, size in (("l1", l1d), ("l2", l2), ("llc", llc)):
        low, high = 4 * below[level], size // 2
        inside = [f for f in sizes if low <= f <= high]
        if inside:
            f = inside[-1]
            picked[level] = (f, f"footprint {format_size(f)} (<= half the {format_size(size)} {level.upper()}"
                                + (f", >= 4x the {format_size(below[level])} level below)" if low else ")"))
        else:
            picked[level] = (None, f"no footprint between {format_size(max(low, 1))} and {format_size(high)} "
                                   f"(inside the {format_size(size)} {level.upper()}) was measured")
    largest = sizes[-1] if sizes else 0
    if largest >= DRAM_OVER_LLC * llc:
        f = next(f for f in sizes if f >= DRAM_OVER_LLC * llc)
        picked["dram"] = (f, f"footprint {format_size(f)} (the smallest >= {DRAM_OVER_LLC}x the "
                             f"{format_size(llc)} LLC)")
    else:
        picked["dram"] = (None, f"the largest footprint {format_size(largest)} is under {DRAM_OVER_LLC}x the "
                                f"{format_size(llc)} LLC (too little memory or --max-footprint; DRAM needs "
                                f">= {format_size(DRAM_OVER_LLC * llc)})")
    return picked


def walk_footprint(footprints, llc: int) -> tuple[int | None, str]:
    """The page-walk footprint: the smallest >= WALK_FOOTPRINT (past the STLB, PTEs cached)."""
    over = sorted(f for f in footprints if f >= WALK_FOOTPRINT)
    if not over:
        return None, f"no footprint >= {format_size(WALK_FOOTPRINT)} was measured (past the STLB)"
    f = over[0]
    where = "inside" if f <= llc else "beyond"
    return f, (f"footprint {format_size(f)} ({f // 4096} 4 KiB pages, past the STLB; their PTEs "
               f"{format_size(f // 512)}; lines {where} the {format_size(llc)} LLC)")


@dataclass(frozen=True)
class ThpStatus:
    """What was asked of transparent huge pages and what was granted."""

    mode: str | None  # the sysfs mode, None unreadable
    requested: bool
    share: float | None = None  # AnonHugePages / buffer bytes of the THP buffer, None unknown
    note: str = ""

    @property
    def granted(self) -> bool:
        return self.requested and self.share is not None and self.share >= GRANTED

    def describe(self) -> str:
        if not self.requested:
            return self.note
        if self.share is None:
            return "THP requested, AnonHugePages unreadable (not verified)"
        state = "granted" if self.granted else "requested but not granted"
        return f"THP {state}: AnonHugePages {self.share:.0%} of the buffer"


def thp_status(path: str | Path = THP_ENABLED) -> ThpStatus:
    """Whether huge pages can be requested (sysfs mode always or madvise), and why not."""
    mode = thp_mode(path)
    if mode is None:
        return ThpStatus(None, False, note=f"THP unavailable: {path} unreadable")
    if mode == "never":
        return ThpStatus(mode, False, note=f"THP unavailable: {path} is 'never'")
    return ThpStatus(mode, True)


def _at(curve: list[dict], footprint: int, key: str = "ns_best") -> float | None:
    return next((row[key] for row in curve if row["footprint_bytes"] == footprint), None)


def not_measured(name: str, unit: str, reason: str, assumed: dict) -> dict:
    """The stored value of a field that could not be measured: its assumed fallback, marked with
    the reason, or "unavailable: reason" when it has none."""
    if name in assumed:
        v, src = assumed[name]
        return value(v, unit, f"{src} (not measured: {reason})")
    return value(None, unit, f"unavailable: {reason}")


def memory_values(*, thp_curve: list[dict] | None, small_curve: list[dict], mlp: list[dict] | None,
                  bandwidth: list[dict], thp: ThpStatus, freq_ghz: float, l1d: int, l2: int, llc: int,
                  assumed: dict, repeat: int, rounds: int = 1) -> dict:
    """The stored values with provenance, from the measured curves (ns) and the host sizes.

    ``thp_curve``: latency with huge pages (None when not requested); ``small_curve``: with
    4 KiB pages; ``mlp``/``bandwidth``: measured on the THP buffer when granted, else the 4 KiB
    one; ``assumed``: field -> (value, source) fallbacks (sources start with "assumed")."""
    huge = thp_curve is not None and thp.granted
    base = thp_curve if huge else small_curve
    pages = "2 MiB pages (THP, " + thp.describe() + ")" if huge else (
        "4 KiB pages (" + (thp.describe() if thp.requested else thp.note) + "; includes page walks)")
    how = (f"measured: dependent pointer chase over a random single-cycle permutation of 64 B lines, "
           f"best of {repeat * rounds} runs of ~{TARGET_NS // 1_000_000} ms in {rounds} sweeps")
    out = {}
    footprints = [row["footprint_bytes"] for row in base]
    picked = pick_footprints(footprints, l1d, l2, llc)
    for level in LEVELS:
        name = f"{level}_hit_cycles" if level != "dram" else "dram_cycles"
        f, why = picked[level]
        if f is None:
            v, src = assumed[name]
            out[name] = value(v, "cycles", f"{src} (not measured: {why})")
            continue
        out[name] = value(_at(base, f) * freq_ghz, "cycles",
                          f"{how}, {why}, {pages}; {_at(base, f):.2f} ns x {freq_ghz:.3f} GHz",
                          median=_at(base, f, "ns_median") * freq_ghz, footprint_bytes=f)
    llc_v, dram_v = out["llc_hit_cycles"], out["dram_cycles"]
    if llc_v["source"].startswith("measured") and dram_v["source"].startswith("measured") and (
            llc_v["value"] >= LLC_NEAR_DRAM * dram_v["value"]):
        llc_v["source"] += (f"; warning: within {1 - LLC_NEAR_DRAM:.0%} of the DRAM latency: this core cannot hold "
                          "that footprint in the LLC sysfs reports (shared or virtualised?)")
    out["llc_effective_bytes"] = effective_llc(base, out, llc, pages)
    # page walks: 4 KiB minus THP latency
    wf, wwhy = walk_footprint(footprints, llc)
    for name, f, why in (("page_walk_cycles", wf, wwhy), ("page_walk_dram_cycles", picked["dram"][0],
                                                          picked["dram"][1])):
        reason = None
        if not huge:
            reason = "no THP baseline: " + (thp.describe() if thp.requested else thp.note)
        elif f is None:
            reason = why
        if reason is not None:
            out[name] = not_measured(name, "cycles", reason, assumed)
            continue
        diff = (_at(small_curve, f) - _at(thp_curve, f)) * freq_ghz
        diff_median = (_at(small_curve, f, "ns_median") - _at(thp_curve, f, "ns_median")) * freq_ghz
        note = "" if diff > 0 else " (clamped at 0: the 4 KiB chase was not slower)"
        out[name] = value(max(0.0, diff), "cycles",
                          f"measured: chase latency with 4 KiB pages minus with THP at {why}{note}",
                          median=diff_median, footprint_bytes=f)
    # lines in flight
    if mlp and picked["dram"][0] is not None:
        best = max(mlp, key=lambda row: row["lines_in_flight"])
        out["fill_buffers"] = value(best["lines_in_flight"], "lines",
                                    f"measured: max over k = {','.join(str(r['k']) for r in mlp)} interleaved "
                                    f"chases of k x t(1 chase)/t(k chases) per step, at k = {best['k']}, "
                                    f"{picked['dram'][1]}, {pages}"
                                    + (" (capped at k: t(1) was disturbed)" if best.get("capped") else ""),
                                    median=max(r["lines_in_flight_median"] for r in mlp), k=best["k"])
    else:
        out["fill_buffers"] = not_measured("fill_buffers", "lines", picked["dram"][1], assumed)
    # bandwidth
    for level in ("l2", "llc", "dram"):
        for row_bytes, name in ((512, f"{level}_row_gbps"), (64, f"{level}_line_gbps")):
            row = next((b for b in bandwidth if b.get("level") == level and b["row_bytes"] == row_bytes), None)
            if row is None:
                out[name] = not_measured(name, "GB/s", picked[level][1], assumed)
                continue
            prefetch = ("software prefetch of the row 32 lines ahead" if row["prefetch"] == "software"
                        else "no software prefetch (hardware overlap only)")
            out[name] = value(row["gbps"], "GB/s",
                              f"measured: one core reading random {row_bytes} B rows (64 B aligned, every word "
                              f"summed, addresses known ahead) in {picked[level][1]}, best of {repeat}, {prefetch}"
                              + (f", {pages}" if level == "dram" else ""),
                              median=row["gbps_median"], footprint_bytes=row["footprint_bytes"])
    return out


def effective_llc(curve: list[dict], values: dict, llc: int, pages: str) -> dict:
    """The LLC capacity this core actually gets: the largest footprint past L2 whose chase latency
    stays below the geometric mean of the L2 and DRAM latencies (half way on a log scale); the
    sysfs size when the curve never crosses it. A shared or virtualised LLC shows up here as a
    capacity far below what sysfs reports; the analysis can then simulate the size measured."""
    l2, dram = values["l2_hit_cycles"], values["dram_cycles"]
    sysfs = f"sysfs reports {format_size(llc)}"
    if not (l2["source"].startswith("measured") and dram["source"].startswith("measured")):
        return value(float(llc), "bytes", f"{sysfs}; not measured (the L2 or DRAM latency was not measured)")
    threshold = (l2["value"] * dram["value"]) ** 0.5  # cycles
    scale = l2["value"] / _at(curve, l2["footprint_bytes"])  # cycles per ns (the frequency)
    effective = None
    for row in sorted(curve, key=lambda r: r["footprint_bytes"]):
        if row["footprint_bytes"] <= l2["footprint_bytes"]:
            continue
        if row["ns_best"] * scale > threshold:
            break
        effective = row["footprint_bytes"]
    if effective is None:
        return value(float(llc), "bytes", f"{sysfs}; the chase past L2 is already above {threshold:.0f} cycles "
                                          "(the L2/DRAM geometric mean): no LLC capacity measurable")
    if effective >= llc:
        return value(float(llc), "bytes", f"measured: the chase stays below {threshold:.0f} cycles (the L2/DRAM "
                                          f"geometric mean) up to the LLC's size, {pages}; {sysfs}")
    return value(float(effective), "bytes",
                 f"measured: the largest footprint whose chase latency stays below {threshold:.0f} cycles (the "
                 f"L2/DRAM geometric mean), {pages}; {sysfs}: this core gets less (shared or virtualised LLC)")


def assumed_values(preset, freq_ghz: float) -> dict:
    """Fallbacks (value, source) for the fields that cannot be measured: the host preset's
    values with the preset's own source for each (which says when it is itself assumed)."""
    timing, sources = preset.timing, dict(getattr(preset, "sources", {}) or {})

    def cite(name: str, key: str | None = None) -> tuple[float, str]:
        v = getattr(timing, name)
        return v, f"assumed: the host preset's {name} = {v:g} ({sources.get(key or name, 'no source given')})"

    out = {name: cite(name) for name in ("l1_hit_cycles", "l2_hit_cycles", "llc_hit_cycles")}
    out["dram_cycles"] = cite("dram_cycles", "dram_ns")
    out["page_walk_cycles"] = cite("page_walk_cycles") if hasattr(timing, "page_walk_cycles") else PAGE_WALK_ASSUMED
    out["fill_buffers"] = cite("fill_buffers") if hasattr(timing, "fill_buffers") else (
        timing.mlp, f"assumed: the host preset's mlp = {timing.mlp:g}")
    lines = out["fill_buffers"][0]
    for level, latency in (("l2", "l2_hit_cycles"), ("llc", "llc_hit_cycles"), ("dram", "dram_cycles")):
        ns = out[latency][0] / freq_ghz
        out[f"{level}_row_gbps"] = (lines * LINE_BYTES / ns, f"assumed: Little's law, fill_buffers x 64 B / the "
                                                             f"{level} latency ({lines:g} x 64 B / {ns:.1f} ns)")
    return out


# --------------------------------------------------------------------------- the whole measurement

@dataclass
class MemoryResult:
    """The stored values (field -> {"value", "unit", "source", ...}) and the curves behind them."""

    values: dict
    detail: dict = field(default_factory=dict)


def usable_footprint(requested: int, available: int | None) -> tuple[int, str]:
    """The largest footprint to measure: ``requested`` (rounded down to 2 MiB when larger), capped so
    the two buffers (4 KiB pages and THP) and the permutation temporaries fit in the available memory."""
    if requested < MIN_MAX_FOOTPRINT:
        raise ValueError(f"max footprint {format_size(requested)} is below {format_size(MIN_MAX_FOOTPRINT)}")
    size = requested - requested % HUGE_BYTES if requested >= HUGE_BYTES else requested - requested % LINE_BYTES
    note = ""
    if available is not None:
        cap = 1 << max(20, int(np.floor(np.log2(max(1, available // 3)))) - 1)
        if cap < size:
            size, note = cap, (f"capped at {format_size(cap)} by memory available "
                               f"({available / GIB:.1f} GiB MemAvailable)")
    return size, note


def measure_memory(*, freq_ghz: float, l1d: int, l2: int, llc: int, preset, max_footprint: int = DEFAULT_MAX_FOOTPRINT,
                   repeat: int = DEFAULT_REPEAT, rounds: int = DEFAULT_ROUNDS, seed: int = 0,
                   thp_path: str | Path = THP_ENABLED,
                   smaps_path: str | Path = SMAPS, meminfo_path: str | Path = MEMINFO,
                   hypervisor: bool = False, clock=time.perf_counter_ns, progress=None) -> MemoryResult:
    """Run every memory microbenchmark (module docstring) and return the values with provenance.
    ``preset``: the host CpuPreset (the assumed fallbacks and their sources); ``hypervisor``: the
    CPU flag (a note on the page-walk values); paths are parameters so tests can say THP is
    "never" or memory is short."""
    if repeat < 1 or rounds < 1:
        raise ValueError(f"repeat and rounds must be >= 1, got {repeat} and {rounds}")
    say = progress or (lambda message: None)
    compile_kernels()
    size, cap_note = usable_footprint(max_footprint, memory_available(meminfo_path))
    footprints = footprints_up_to(size)
    picked = pick_footprints(footprints, l1d, l2, llc)
    thp = thp_status(thp_path)
    rng = np.random.default_rng(seed)
    detail = {"max_footprint_bytes": size, "footprints_bytes": footprints, "notes": [n for n in [cap_note] if n],
              "picked": {level: {"footprint_bytes": f, "why": why} for level, (f, why) in picked.items()}}
    thp_curve = mlp = None
    bandwidth = []

    def measure_dram_side(buf, orders):
        nonlocal mlp
        if picked["dram"][0] is not None:
            say(f"lines in flight at {format_size(picked['dram'][0])}: k = " + ",".join(map(str, K_VALUES)))
            order = orders[picked["dram"][0]]
            link_cycle(buf.words, order)
            mlp = mlp_curve(buf, order, repeat=repeat, clock=clock)
            say("lines in flight (k: k x t(1)/t(k)): " + ", ".join(f"{row['k']}: {row['lines_in_flight']:.1f}"
                                                                  for row in mlp))
        for level in ("l2", "llc", "dram"):
            f = picked[level][0]
            if f is None:
                continue
            for row_bytes in ROW_BYTES:
                say(f"bandwidth {level} ({format_size(f)}) {row_bytes} B rows")
                row = row_bandwidth(buf, f, row_bytes, rng, repeat=repeat, clock=clock)
                bandwidth.append({"level": level, **row})

    bufs = {}
    try:
        if thp.requested:
            bufs["THP"] = PagedBuffer(size, True, smaps_path)
            thp = ThpStatus(thp.mode, True, bufs["THP"].huge_share)
            say(thp.describe())
        else:
            say(thp.note + ": measuring with 4 KiB pages only")
        bufs["4KiB"] = PagedBuffer(size, False, smaps_path)
        curves, orders = latency_curves(bufs, footprints, rng, repeat=repeat, rounds=rounds, clock=clock,
                                       progress=say)
        thp_curve, small_curve = curves.get("THP"), curves["4KiB"]
        measure_dram_side(bufs["THP"] if thp.granted else bufs["4KiB"], orders)
        del orders
    finally:
        for buf in bufs.values():
            buf.close()
    detail.update({"thp": {"mode": thp.mode, "requested": thp.requested, "share": thp.share,
                           "granted": thp.granted, "describe": thp.describe()},
                   "latency_thp": thp_curve, "latency_4k": small_curve, "mlp": mlp, "bandwidth": bandwidth})
    values = memory_values(thp_curve=thp_curve, small_curve=small_curve, mlp=mlp, bandwidth=bandwidth, thp=thp,
                           freq_ghz=freq_ghz, l1d=l1d, l2=l2, llc=llc, assumed=assumed_values(preset, freq_ghz),
                           repeat=repeat, rounds=rounds)
    if hypervisor:
        for name in ("page_walk_cycles", "page_walk_dram_cycles", "dram_cycles"):
            if values[name]["source"].startswith("measured"):
                values[name]["source"] += f"; {VM_NOTE}"
    return MemoryResult(values, detail)
