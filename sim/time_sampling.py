"""Time sampling: simulate periodic windows of a trace and estimate the whole run.

Every ``period`` trace accesses, the first ``warmup`` are fed to the simulator without
being counted (they refresh the cache state left stale by the skip), the next ``window``
are fed and counted, and the rest are skipped (never fed). Counts of the measured windows
are scaled by (all accesses) / (measured accesses). The windows are treated as a sample of
the trace's periods; the standard error of the estimated LLC misses comes from their
spread, with the ratio estimator of cluster sampling::

    T = A * M / A_m,  SE(T) = (A / A_m) * sqrt((1 - A_m / A) * n * s**2),
    s**2 = sum_i (m_i - (M / A_m) * a_i)**2 / (n - 1)

(A all accesses, A_m measured accesses, n windows, m_i / a_i misses / accesses of window
i, M their total). Systematic (periodic) samples are treated as random ones, as SMARTS
does; a trace periodic in step with the sampling period breaks that assumption. With
``window == period`` (nothing skipped, no per-window warm-up) the run is the exact one and
the standard error 0. An optional global ``warmup`` is fed in full before sampling starts.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field, replace

import numpy as np

from sim.access import as_chunk
from sim.engine.simulator import Simulator
from sim.stats import COUNT_FIELDS, SimResult, merge_partitions

_SUFFIX = {"k": 10**3, "m": 10**6, "g": 10**9, "": 1}


def parse_count(text: str | int, what: str = "count") -> int:
    """An access count: 1000000, 1e6, 1M, 250k (decimal suffixes k, M, G)."""
    if isinstance(text, (int, np.integer)) and not isinstance(text, bool):
        return int(text)
    raw = str(text).strip()
    suffix = raw[-1:].lower() if raw[-1:].isalpha() else ""
    try:
        value = float(raw[: len(raw) - len(suffix)]) * _SUFFIX[suffix]
    except (ValueError, KeyError):
        raise ValueError(f"{what} {text!r}: expected a whole number of accesses such as 1000000, 1e6 or 1M") from None
    if value != int(value) or value < 0:
        raise ValueError(f"{what} {text!r}: expected a whole number of accesses >= 0")
    return int(value)


@dataclass(frozen=True)
class TimeSampling:
    """Measure ``window`` accesses out of every ``period``, after ``warmup`` unmeasured ones."""

    window: int
    period: int
    warmup: int = 0

    def __post_init__(self):
        for name in ("window", "period", "warmup"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"time sampling {name}={value!r}: must be a whole number of accesses")
        if self.window < 1 or self.warmup < 0:
            raise ValueError(f"time sampling: need window >= 1 and warmup >= 0 (got {self.window}, {self.warmup})")
        if self.warmup + self.window > self.period:
            raise ValueError(f"time sampling: warmup + window ({self.warmup} + {self.window}) must not exceed the "
                             f"period ({self.period})")

    @classmethod
    def parse(cls, text: str, warmup: str | int = 0) -> "TimeSampling":
        """``"W/P"`` (e.g. ``1M/16M``): W measured accesses out of every P; ``warmup`` before each window."""
        window, sep, period = str(text).partition("/")
        if not sep:
            raise ValueError(f"time sampling {text!r}: expected WINDOW/PERIOD in accesses, e.g. 1M/16M")
        return cls(parse_count(window, "time-sampling window"), parse_count(period, "time-sampling period"),
                   parse_count(warmup, "time-sampling warm-up"))

    @property
    def fraction(self) -> float:
        """Nominal fraction of the trace measured (window / period)."""
        return self.window / self.period

    def describe(self) -> str:
        return f"{self.window}/{self.period} accesses measured after {self.warmup} warm-up"


def _count_vector(result: SimResult) -> np.ndarray:
    """Every count of a result as one int64 vector (levels x COUNT_FIELDS, then DRAM bytes)."""
    values = [getattr(level, name) for level in result.levels for name in COUNT_FIELDS]
    return np.array(values + [result.dram_read_bytes, result.dram_write_bytes], dtype=np.int64)


def _with_counts(template: SimResult, counts: np.ndarray, trace_accesses: int) -> SimResult:
    nfields = len(COUNT_FIELDS)
    levels = tuple(
        replace(level, **{name: int(counts[k * nfields + j]) for j, name in enumerate(COUNT_FIELDS)})
        for k, level in enumerate(template.levels))
    return replace(template, levels=levels, dram_read_bytes=int(counts[-2]), dram_write_bytes=int(counts[-1]),
                   trace_accesses=int(trace_accesses))


@dataclass(frozen=True)
class TimeSampledResult:
    """A time-sampled run: the measured windows' counts and the whole run's estimate.

    ``measured`` holds the counts of the measured windows only (``trace_accesses`` = measured
    accesses); ``total_accesses`` every trace access after the global warm-up, fed or skipped.
    ``window_misses`` / ``window_accesses``: LLC misses and measured trace accesses per window.
    """

    measured: SimResult
    sampling: TimeSampling
    total_accesses: int
    window_misses: np.ndarray = field(compare=False, repr=False)
    window_accesses: np.ndarray = field(compare=False, repr=False)

    @property
    def windows(self) -> int:
        return int(self.window_misses.size)

    @property
    def scale(self) -> float:
        """All accesses / measured accesses: the factor applied to measured counts."""
        measured = self.measured.trace_accesses
        return self.total_accesses / measured if measured else float("nan")

    @property
    def llc_misses(self) -> float:
        """Estimated LLC misses of the whole run."""
        return self.measured.llc.misses * self.scale

    @property
    def llc_misses_stderr(self) -> float:
        """Standard error of ``llc_misses`` from the spread between windows (0.0 when exact; NaN
        with fewer than two windows)."""
        n = self.windows
        total, measured = self.total_accesses, int(self.window_accesses.sum())
        if measured == total:
            return 0.0
        if n < 2 or measured == 0:
            return float("nan")
        m = [int(v) for v in self.window_misses]
        a = [int(v) for v in self.window_accesses]
        big_m = sum(m)
        # s**2 * (n - 1) * A_m**2, in exact integers: sum (m_i A_m - M a_i)**2
        spread = sum((mi * measured - big_m * ai) ** 2 for mi, ai in zip(m, a))
        s2 = spread / (measured * measured) / (n - 1)
        return (total / measured) * math.sqrt((1.0 - measured / total) * n * s2)

    def to_record(self) -> dict:
        """``SimResult.to_record`` columns with counts scaled to the whole run, plus the error."""
        measured = self.measured
        row = measured.to_record()
        scale = self.scale
        for name in ("llc_accesses", "llc_hits", "llc_misses", "evictions", "writebacks", "dram_read_bytes",
                     "dram_write_bytes", "prefetch_fills", "prefetch_hits", "useless_prefetches",
                     "back_invalidations"):
            if name in row:
                row[name] = row[name] * scale
        for upper in measured.levels[:-1]:
            prefix = upper.level.lower()
            for name in ("accesses", "hits", "misses", "evictions", "writebacks"):
                row[f"{prefix}_{name}"] = row[f"{prefix}_{name}"] * scale
        row["accesses"] = self.total_accesses
        row["estimated"] = True
        row["time_sample_fraction"] = measured.trace_accesses / self.total_accesses if self.total_accesses else 1.0
        row["time_windows"] = self.windows
        row["measured_accesses"] = measured.trace_accesses
        row["llc_misses_stderr"] = self.llc_misses_stderr
        return row


class TimeSampler:
    """Feeds a ``Simulator`` the periodic windows of a streamed trace (``feed`` / ``result``).

    ``simulator`` must be fresh, without its own warm-up or set sampling (the two errors do not
    combine). ``warmup``: trace accesses fed in full, uncounted, before sampling starts.
    """

    def __init__(self, simulator: Simulator, sampling: TimeSampling, warmup: int = 0):
        if not isinstance(sampling, TimeSampling):
            raise ValueError(f"sampling: expected a TimeSampling, got {type(sampling).__name__}")
        if simulator.fed or simulator.warmup:
            raise ValueError("TimeSampler needs a fresh Simulator built with warmup=0 (pass the warm-up here)")
        if simulator.sampled_sets < simulator.owned_sets:
            raise ValueError("time sampling and set sampling cannot be combined (their errors do not add up "
                             "simply): use one")
        if isinstance(warmup, bool) or not isinstance(warmup, (int, np.integer)) or warmup < 0:
            raise ValueError(f"warmup={warmup!r}: must be a whole number of accesses >= 0")
        self.simulator = simulator
        self.sampling = sampling
        self.warmup = int(warmup)
        self.position = 0  # trace accesses seen (fed or skipped)
        self._start = None  # count vector when the open window began
        self._window_accesses = 0
        self._measured = None  # summed count vector of the closed windows
        self._misses = array("q")
        self._accesses = array("q")
        self._llc_miss_index = (len(simulator.configs) - 1) * len(COUNT_FIELDS) + COUNT_FIELDS.index("misses")

    def _open(self) -> None:
        self._start = _count_vector(self.simulator.result())
        self._window_accesses = 0

    def _close(self) -> None:
        delta = _count_vector(self.simulator.result()) - self._start
        self._measured = delta if self._measured is None else self._measured + delta
        self._misses.append(int(delta[self._llc_miss_index]))
        self._accesses.append(self._window_accesses)
        self._start = None

    def feed(self, chunk) -> None:
        """Feed the parts of this chunk that the schedule measures or warms with; skip the rest."""
        arr = as_chunk(chunk)
        sim, s = self.simulator, self.sampling
        i, n = 0, arr.size
        while i < n:
            pos = self.position
            if pos < self.warmup:
                take = min(n - i, self.warmup - pos)
                sim.feed(arr[i:i + take])
            else:
                offset = (pos - self.warmup) % s.period
                if offset < s.warmup:
                    take = min(n - i, s.warmup - offset)
                    sim.feed(arr[i:i + take])
                elif offset < s.warmup + s.window:
                    if self._start is None:
                        self._open()
                    take = min(n - i, s.warmup + s.window - offset)
                    sim.feed(arr[i:i + take])
                    self._window_accesses += take
                    if offset + take == s.warmup + s.window:
                        self._close()
                else:
                    take = min(n - i, s.period - offset)  # skipped: never fed
            self.position += take
            i += take

    def result(self) -> TimeSampledResult:
        """The estimate so far (a window still open counts with the accesses it measured)."""
        final = self.simulator.result()
        now = _count_vector(final)
        measured = self._measured if self._measured is not None else np.zeros_like(now)
        misses, accesses = list(self._misses), list(self._accesses)
        if self._start is not None and self._window_accesses:
            delta = now - self._start
            measured = measured + delta
            misses.append(int(delta[self._llc_miss_index]))
            accesses.append(self._window_accesses)
        base = replace(_with_counts(final, measured, sum(accesses)), warmup_accesses=self.warmup)
        return TimeSampledResult(base, self.sampling, max(self.position - self.warmup, 0),
                                 np.array(misses, dtype=np.int64), np.array(accesses, dtype=np.int64))


def merge_time_partitions(results) -> TimeSampledResult:
    """The full run's estimate from time-sampled set partitions (same trace, same schedule):
    measured counts merged like ``sim.stats.merge_partitions``, window misses summed."""
    results = list(results)
    if not results:
        raise ValueError("merge_time_partitions: no results")
    first = results[0]
    for r in results[1:]:
        if r.sampling != first.sampling or r.total_accesses != first.total_accesses or \
                not np.array_equal(r.window_accesses, first.window_accesses):
            raise ValueError("merge_time_partitions: partitions used different traces or sampling schedules")
    measured = merge_partitions(r.measured for r in results)
    misses = np.sum([r.window_misses for r in results], axis=0).astype(np.int64)
    return TimeSampledResult(measured, first.sampling, first.total_accesses, misses, first.window_accesses.copy())
