"""Peak-memory estimates for ``--max-memory``: fit the run (pick a chunk size) or refuse up front.

Why: a run that would exceed the machine's memory should say so in one line before it
allocates gigabytes of cache state, not be killed hours later.

The estimate adds:
- cache state of every simulator alive at once, from the configurations: per way a
  stored tag (4 B, or 8 B when 32-bit tags cannot cover the 48-bit address space, the
  engine's rule), a policy word (``META_BYTES``) and a flags byte; per set a policy
  state word; with set sampling, a mask byte and a miss counter per LLC set; small
  per-level and per-partition arrays (``simulator_state_bytes``; tested against the
  arrays of constructed Simulators);
- trace buffers: ``TRACE_CHUNK_COPIES`` uint64 chunks (the file's stored chunk, the
  re-split chunk, one in flight) of the chosen chunk size; for a workload, one batch's
  token ids and emitted addresses (``batch_bytes``);
- miss-ratio curves: exact stack distances hold ``EXACT_BYTES_PER_LINE`` per distinct
  line with one set, ``EXACT_BYTES_PER_LINE_SETS`` with several (traced peaks of
  ``sim.mrc.stack.StackDistances`` including a doubling's old and new arrays and the
  final curve: 82-98 B and 86-113 B per line; tested with tracemalloc) and
  ``EXACT_BYTES_PER_SET`` per set; the distinct lines are bounded by min(accesses,
  footprint of the model, a sampled upper bound from one pass over a trace file:
  ``traces.format.tracefile.distinct_lines_bound``);
- ``BASELINE_BYTES``: the interpreter with numpy, numba (compiled kernels), pandas and
  the CLI libraries loaded, measured as the peak RSS of ``memprof simulate`` / ``memprof mrc`` on a
  1,000-access trace (206-220 MiB on x86-64 Linux, Python 3.12, numba 0.6x), rounded up.

The budget is ``--max-memory`` when given, else the memory available now
(``available_memory_bytes``: MemAvailable of /proc/meminfo, else the free pages of
``os.sysconf``) plus what the process already holds: a run that cannot fit is refused
before it allocates, with or without the flag.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from sim.config import CacheConfig
from sim.engine.kernels import ADDRESS_BITS_COVERED, NGEOM, NSTAT, TAG32_LIMIT
from sim.sampling import parse_fraction

MIB = 1 << 20
BASELINE_BYTES = 240 * MIB
META_BYTES = 4  # the engine's per-way policy word (uint32)
FLAG_BYTES = 1  # dirty / prefetched bits
SSTATE_BYTES = 8  # per-set policy state (uint64)
GSTATE_BYTES = 8  # per-level global state (DRRIP PSEL)
PARTITION_FLAG_BYTES = 1  # per partition: "a write was seen" (uint8)
TRACE_CHUNK_COPIES = 3
CHUNK_ENTRY_BYTES = 8  # one uint64 address
MIN_CHUNK_ENTRIES = 1 << 14
EXACT_BYTES_PER_LINE = 104
EXACT_BYTES_PER_LINE_SETS = 128
EXACT_BYTES_PER_SET = 320
EXACT_MIN_BYTES = 64 * 1024  # the smallest stack-distance state (1,024-slot table, 4,096-slot axis)
STACK_SCRATCH_PER_ENTRY = 4  # int32 distance per access of a chunk
CURVE_BYTES_PER_LINE = 32  # a finished curve: reuse lo/hi/weight and cumulative weights (float64) per distance
FOOTPRINT_BYTES_PER_LINE = 16  # working-set report: sorted distinct lines (uint64) and the sort's copy
BATCH_BYTES_PER_LOOKUP = 16  # token id plus offsets and the generator's temporaries, per lookup


def human_bytes(num_bytes: int) -> str:
    """Approximate binary size for messages: '512 B', '8.31 MiB', '240 MiB', '1.5 GiB'."""
    if num_bytes < 1024:
        return f"{int(num_bytes)} B"
    value, unit = float(num_bytes), "B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024:
            break
    return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"


class MemoryBudgetError(ValueError):
    """The estimated peak exceeds the budget (the message names the estimate, its parts, the budget and
    --max-memory, the flag that sets it)."""


class Budget(int):
    """A memory budget in bytes that remembers where it came from: ``--max-memory`` (``given``)
    or the memory available when the run starts (the default), and the command's flag that
    sets it (``flag``; None for commands without one), for the refusal's wording."""

    given: bool
    flag: str | None

    def __new__(cls, nbytes: int, given: bool = True, flag: str | None = "--max-memory"):
        if int(nbytes) < 1:
            raise ValueError(f"memory budget must be at least 1 byte, got {nbytes}")
        value = super().__new__(cls, int(nbytes))
        value.given, value.flag = bool(given), flag
        return value

    def describe(self) -> str:
        """'--max-memory 8 GiB' or 'the available memory 11.2 GiB (set a budget with --max-memory SIZE)'."""
        if self.given:
            return f"{self.flag or 'the budget'} {human_bytes(self)}"
        how = f" (set a budget with {self.flag} SIZE)" if self.flag else ""
        return f"the available memory {human_bytes(self)}{how}"


def available_memory_bytes(meminfo: str = "/proc/meminfo") -> int:
    """Memory available to a new run: MemAvailable of ``meminfo`` (Linux), else the free
    physical pages from ``os.sysconf``; ValueError when neither can be read."""
    try:
        with open(meminfo, encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    fields = line.split()
                    return int(fields[1]) * (1024 if fields[2:3] == ["kB"] else 1)
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        raise ValueError("cannot read the available memory (no /proc/meminfo MemAvailable, no sysconf "
                         "SC_AVPHYS_PAGES): give --max-memory SIZE") from None


def resident_bytes(statm: str = "/proc/self/statm") -> int:
    """This process's resident memory now (0 where /proc is missing)."""
    try:
        with open(statm, encoding="ascii") as handle:
            return int(handle.read().split()[1]) * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, IndexError):
        return 0


def default_budget(flag: str | None = "--max-memory") -> Budget:
    """The budget without --max-memory: the memory available now plus what this process
    already holds (an estimate is of the whole process, its baseline included). ``flag``:
    the command's option that sets a budget instead, None where it has none."""
    return Budget(available_memory_bytes() + resident_bytes(), given=False, flag=flag)


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated peak memory, part by part, and the chunk size it assumes."""

    parts: tuple[tuple[str, int], ...]
    chunk_entries: int | None = None
    budget_bytes: int | None = None

    def __post_init__(self):
        if any(nbytes < 0 for _, nbytes in self.parts):
            raise ValueError(f"memory parts must be >= 0 bytes, got {self.parts}")

    @property
    def total_bytes(self) -> int:
        return sum(nbytes for _, nbytes in self.parts)

    def describe(self) -> str:
        """'612 MiB (cache state 360 MiB, trace chunk buffers 12 MiB, baseline ... 240 MiB)'."""
        inner = ", ".join(f"{name} {human_bytes(nbytes)}" for name, nbytes in self.parts)
        return f"{human_bytes(self.total_bytes)} ({inner})"


def _tag_bytes(configs: list[CacheConfig], tag_bits: int | None) -> int:
    if tag_bits not in (None, 32, 64):
        raise ValueError(f"tag_bits={tag_bits!r}: must be None, 32 or 64")
    min_sets = min(c.num_sets for c in configs)
    llc = configs[-1]
    wide = tag_bits == 64 or (tag_bits is None and TAG32_LIMIT * min_sets * llc.line_bytes < 2**ADDRESS_BITS_COVERED)
    return 8 if wide else 4


def simulator_state_bytes(config: CacheConfig, *, l1: CacheConfig | None = None, l2: CacheConfig | None = None,
                          sample_sets: float | str | None = None, threads: int = 1, tag_bits: int | None = None) -> int:
    """Bytes of the state arrays of ``sim.engine.simulator.Simulator(config, l1=, l2=, sample_sets=, threads=)``
    (exact for threads=1; with more threads an upper bound of the per-partition counters)."""
    configs = [c for c in (l1, l2, config) if c is not None]
    nlev = len(configs)
    ways_total = sum(c.num_sets * c.ways for c in configs)
    sets_total = sum(c.num_sets for c in configs)
    per_way = _tag_bytes(configs, tag_bits) + META_BYTES + FLAG_BYTES
    nbytes = ways_total * per_way + sets_total * SSTATE_BYTES
    nbytes += nlev * (GSTATE_BYTES + NGEOM * 8)
    nbytes += max(1, int(threads)) * (nlev * (1 + NSTAT) * 8 + PARTITION_FLAG_BYTES)  # clocks, stats, write flag
    fraction = 1.0 if sample_sets is None else parse_fraction(sample_sets)
    if fraction < 1.0:
        nbytes += config.num_sets * (1 + 8)  # sampled-set mask and per-set miss counts
    return nbytes


def stack_distance_bytes(distinct_lines: int, sets: int = 1) -> int:
    """Upper estimate of exact stack-distance state (``sim.mrc.stack.StackDistances``) for
    ``distinct_lines`` distinct lines, including the final curve's arrays."""
    per_line = EXACT_BYTES_PER_LINE if int(sets) == 1 else EXACT_BYTES_PER_LINE_SETS
    return max(EXACT_MIN_BYTES, int(distinct_lines) * per_line) + int(sets) * EXACT_BYTES_PER_SET


def shards_size_bytes(max_lines: int) -> int:
    """State of fixed-size SHARDS (``sim.mrc.shards.ShardsSize``): fixed at construction, ~ max_lines."""
    bits = max(10, int(2 * max_lines - 1).bit_length())
    cap = max(64, 1 << int(4 * max_lines - 1).bit_length())
    return (1 << bits) * 12 + cap * 4 + (cap >> 6) * 12 + max_lines * 16 + 80 * 64 * 8 + 4096


def batch_bytes(lookups: int, max_lines_per_lookup: int) -> int:
    """One batch of a workload trace: its token ids and the emitted uint64 line addresses."""
    return int(lookups) * (BATCH_BYTES_PER_LOOKUP + CHUNK_ENTRY_BYTES * int(max_lines_per_lookup))


def fit(fixed: list[tuple[str, int]], per_chunk_entry: int, budget_bytes: int | None, *,
        preferred_entries: int, minimum_entries: int = MIN_CHUNK_ENTRIES,
        chunk_label: str = "trace chunk buffers", hint: str = "") -> MemoryEstimate:
    """The largest power-of-two chunk size (at most ``preferred_entries``, at least
    ``minimum_entries``) whose estimate fits ``budget_bytes``; MemoryBudgetError when none
    does. ``fixed`` parts do not depend on the chunk size; the baseline is added here."""
    fixed = [*fixed, ("interpreter+numba baseline", BASELINE_BYTES)]

    def estimate(entries: int) -> MemoryEstimate:
        parts = list(fixed)
        if per_chunk_entry:
            parts.insert(len(parts) - 1, (chunk_label, entries * per_chunk_entry))
        return MemoryEstimate(tuple(parts), entries if per_chunk_entry else None, budget_bytes)

    preferred = max(int(preferred_entries), 1)
    if budget_bytes is None:
        return estimate(preferred)
    minimum = min(int(minimum_entries), preferred)
    entries = preferred
    while True:
        candidate = estimate(entries)
        if candidate.total_bytes <= budget_bytes:
            return candidate
        if not per_chunk_entry or entries <= minimum:
            break
        entries = max(minimum, 1 << (math.ceil(math.log2(entries)) - 1))
    smallest = estimate(minimum) if per_chunk_entry else estimate(preferred)
    chunk_note = f" with the smallest chunk ({minimum:,} entries)" if per_chunk_entry else ""
    limit = budget_bytes.describe() if isinstance(budget_bytes, Budget) else f"--max-memory {human_bytes(budget_bytes)}"
    if isinstance(budget_bytes, Budget) and budget_bytes.flag is None:
        hint = hint.replace(", or raise --max-memory", "").replace("or raise --max-memory", "")
    raise MemoryBudgetError(
        f"estimated peak memory {smallest.describe()}{chunk_note} exceeds {limit}{'; ' + hint if hint else ''}"
    )


def plan_trace_simulation(llc_configs: list[CacheConfig], *, l1: CacheConfig | None = None,
                          l2: CacheConfig | None = None, sample_sets=None, threads: int = 1,
                          budget_bytes: int | None = None, preferred_entries: int = 1 << 20) -> MemoryEstimate:
    """A trace file through one simulator per LLC configuration, all alive at once."""
    state = sum(simulator_state_bytes(c, l1=l1, l2=l2, sample_sets=sample_sets, threads=threads)
                for c in llc_configs)
    per_entry = TRACE_CHUNK_COPIES * CHUNK_ENTRY_BYTES
    return fit([("cache state", state)], per_entry, budget_bytes,
               preferred_entries=preferred_entries,
               hint="simulate fewer --llc sizes per run, sample sets (--sample-sets), or raise --max-memory")


def plan_analysis(state_bytes: int, batch_peak_bytes: int, budget_bytes: int | None) -> MemoryEstimate:
    """The headline analysis: one simulator per LLC size for one model at a time, plus the
    largest model's batch (the batch is the unit fed, so no chunk size to choose)."""
    return fit([("cache state", state_bytes), ("one batch (token ids and addresses)", batch_peak_bytes)], 0,
               budget_bytes, preferred_entries=1,
               hint="simulate fewer --llc sizes per run, lower --batch-size, or raise --max-memory")


__all__ = ["human_bytes", "MemoryEstimate", "MemoryBudgetError", "Budget", "available_memory_bytes", "resident_bytes", "default_budget", "simulator_state_bytes", "stack_distance_bytes",
           "shards_size_bytes", "batch_bytes", "fit", "plan_trace_simulation", "plan_analysis", "BASELINE_BYTES"]
