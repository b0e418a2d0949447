"""Valgrind cachegrind: simulated I1/D1/LL misses of the real kernel, on any machine (no PMU needed).

Geometry: cachegrind needs a power-of-two number of sets (size / (assoc x line)) and
a power-of-two line size; a 14-way LL makes 14, 28 and 56 MB legal (16,384 / 32,768 /
65,536 sets of 14 x 64 B). ``check_geometry`` refuses anything else with the reason.

Output file (``--cachegrind-out-file``): 'desc:' lines, 'cmd:', 'events: Ir I1mr ILmr
Dr D1mr DLmr Dw D1mw DLmw', then per 'fl=' file and 'fn=' function, lines of
'<line number> <counts...>' (missing trailing counts are zero), and 'summary:'.

Scoping: cachegrind 3.19 cannot start or stop instrumentation, so the kernel's counts
are taken from the functions without a symbol ('fn=???'): Numba's JIT code (the
kernel) has none, while the interpreter, numpy and libc do. A run that never calls the
kernel leaves only a few thousand LL misses in '???' (measured: see docs/hardware.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from sim.sizes import format_size

EVENTS = ("Ir", "I1mr", "ILmr", "Dr", "D1mr", "DLmr", "Dw", "D1mw", "DLmw")
UNKNOWN_FN = "???"


class CachegrindFormatError(ValueError):
    """A cachegrind output file that does not follow the documented format."""


def find_valgrind() -> str | None:
    return shutil.which(os.environ.get("MEMPROF_VALGRIND", "valgrind"))


def valgrind_version(valgrind: str | None = None) -> str | None:
    import subprocess

    valgrind = valgrind or find_valgrind()
    if not valgrind:
        return None
    try:
        out = subprocess.run([valgrind, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.removeprefix("valgrind-") or None


def _pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def check_geometry(size_bytes: int, ways: int, line_bytes: int) -> int:
    """Return the set count, or raise ValueError saying why cachegrind would refuse it."""
    if ways < 1 or line_bytes < 1 or size_bytes < 1:
        raise ValueError(f"cache geometry {size_bytes} B, {ways}-way, {line_bytes} B lines: all must be positive")
    if not _pow2(line_bytes) or line_bytes < 16:
        raise ValueError(f"cachegrind needs a power-of-two line size of at least 16 B, got {line_bytes}")
    set_bytes = ways * line_bytes
    if size_bytes % set_bytes:
        raise ValueError(f"{format_size(size_bytes)} is not a whole number of {ways}-way x {line_bytes} B sets")
    sets = size_bytes // set_bytes
    if not _pow2(sets):
        hint = ""
        for alt_ways in (14, 12, 16, 20, 11, 15, 24, 7):
            if size_bytes % (alt_ways * line_bytes) == 0 and _pow2(size_bytes // (alt_ways * line_bytes)):
                hint = f"; {alt_ways}-way gives {size_bytes // (alt_ways * line_bytes)} sets (legal)"
                break
        raise ValueError(
            f"cachegrind needs a power-of-two number of sets: {format_size(size_bytes)} / ({ways} x {line_bytes} B)"
            f" = {sets} sets{hint}"
        )
    return sets


def build_argv(command, *, out_file, ll: tuple[int, int, int], d1: tuple[int, int, int] | None = None,
               i1: tuple[int, int, int] | None = None, valgrind: str = "valgrind") -> list[str]:
    """``valgrind --tool=cachegrind --cache-sim=yes --LL=size,assoc,line ... -- command`` (no shell)."""
    argv = [valgrind, "--tool=cachegrind", "--cache-sim=yes", f"--cachegrind-out-file={out_file}"]
    for flag, geometry in (("--I1", i1), ("--D1", d1), ("--LL", ll)):
        if geometry is None:
            continue
        size, ways, line = (int(x) for x in geometry)
        check_geometry(size, ways, line)
        argv.append(f"{flag}={size},{ways},{line}")
    command = [str(c) for c in command]
    if not command:
        raise ValueError("empty command")
    return argv + command


def run_cachegrind(argv: list[str], *, env, timeout_s: float):
    """Run a ``build_argv`` command line: (completed process, wall seconds); TimeoutError past
    ``timeout_s``, RuntimeError (with the tail of stderr) on a non-zero exit."""
    start = time.monotonic()
    try:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"cachegrind run exceeded {timeout_s:g} s") from None
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise RuntimeError(f"valgrind failed (exit {proc.returncode}): {proc.stderr.strip()[-600:]}")
    return proc, wall


@dataclass
class CachegrindResult:
    """Parsed cachegrind output: event names, the summary, and per-(file, function) totals."""

    events: tuple[str, ...]
    summary: dict[str, int]
    functions: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    desc: dict[str, str] = field(default_factory=dict)
    cmd: str = ""

    def function_totals(self, fn: str) -> dict[str, int]:
        """Counts summed over every file for functions named ``fn`` (e.g. '???')."""
        total = {e: 0 for e in self.events}
        for (_, name), counts in self.functions.items():
            if name == fn:
                for e, v in counts.items():
                    total[e] += v
        return total

    def ll_misses(self, counts: dict[str, int] | None = None) -> dict[str, int]:
        """LL misses split as cachegrind prints them: data reads, data writes, instructions."""
        c = self.summary if counts is None else counts
        return {"ll_data_read_misses": c.get("DLmr", 0), "ll_data_write_misses": c.get("DLmw", 0),
                "ll_instr_misses": c.get("ILmr", 0),
                "ll_misses": c.get("DLmr", 0) + c.get("DLmw", 0) + c.get("ILmr", 0)}


def parse_text(text: str, name: str = "cachegrind output") -> CachegrindResult:
    events: tuple[str, ...] | None = None
    summary = None
    functions: dict[tuple[str, str], dict[str, int]] = {}
    desc: dict[str, str] = {}
    cmd = ""
    fl = fn = None
    current = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("desc:"):
            key, _, value = line[5:].partition(":")
            desc[key.strip()] = value.strip()
        elif line.startswith("cmd:"):
            cmd = line[4:].strip()
        elif line.startswith("events:"):
            events = tuple(line[7:].split())
            if not events:
                raise CachegrindFormatError(f"{name}:{number}: empty events line")
        elif line.startswith("fl="):
            fl, fn, current = line[3:].strip(), None, None
        elif line.startswith("fn="):
            if events is None:
                raise CachegrindFormatError(f"{name}:{number}: fn= before the events: line")
            fn = line[3:].strip()
            current = functions.setdefault((fl or "", fn), {e: 0 for e in events})
        elif line.startswith("summary:"):
            if events is None:
                raise CachegrindFormatError(f"{name}:{number}: summary: before the events: line")
            values = _counts(line[8:].split(), events, name, number)
            summary = dict(zip(events, values))
        elif line[0].isdigit():
            if current is None:
                raise CachegrindFormatError(f"{name}:{number}: counts outside any fn= block")
            parts = line.split()
            values = _counts(parts[1:], events, name, number)
            for e, v in zip(events, values):
                current[e] += v
        elif line.startswith(("version:", "creator:", "positions:", "totals:")):
            continue
        else:
            raise CachegrindFormatError(f"{name}:{number}: unexpected line {line[:60]!r}")
    if events is None:
        raise CachegrindFormatError(f"{name}: no 'events:' line (not a cachegrind output file)")
    if summary is None:
        raise CachegrindFormatError(f"{name}: no 'summary:' line (truncated: did valgrind finish?)")
    return CachegrindResult(events, summary, functions, desc, cmd)


def _counts(parts: list[str], events, name, number) -> list[int]:
    if len(parts) > len(events):
        raise CachegrindFormatError(f"{name}:{number}: {len(parts)} counts for {len(events)} events")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise CachegrindFormatError(f"{name}:{number}: counts must be integers: {' '.join(parts)[:60]!r}") from None
    return values + [0] * (len(events) - len(values))


def parse_file(path: str | os.PathLike) -> CachegrindResult:
    path = Path(path)
    return parse_text(path.read_text(errors="replace"), str(path))
