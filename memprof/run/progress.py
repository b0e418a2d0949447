"""Progress on stderr for long runs: amount done, rate, percent and ETA, at most a few lines a second.

Silent for runs shorter than ``quiet_seconds`` and when stderr is not wanted (``enabled=False``).
The ETA comes from ``total`` (same unit as the amounts) or, when the total is unknown in
that unit, from a ``fraction`` done given to ``update`` (e.g. batches done / batches).
A resumed run passes ``start`` (the amount already done before it) and, with fractions,
``start_fraction``: the rate and ETA count only this run's work.
"""

from __future__ import annotations

import sys
import time


class Progress:
    """One progress line on stderr (or ``stream``), rewritten in place; ``clock`` for tests."""

    def __init__(self, label: str, total: int | None = None, unit: str = "accesses",
                 enabled: bool = True, quiet_seconds: float = 2.0, interval: float = 1.0,
                 start: int = 0, start_fraction: float = 0.0, clock=time.monotonic, stream=None):
        self.label, self.total, self.unit = label, total, unit
        self.enabled, self.quiet_seconds, self.interval = enabled, quiet_seconds, interval
        self.done = int(start)
        self._start_done = int(start)
        self._clock = clock
        self._stream = stream
        self.start = clock()
        self._last = self.start
        self._shown = False
        self._fraction: float | None = None
        self._start_fraction = float(start_fraction)

    @property
    def _out(self):
        return self._stream if self._stream is not None else sys.stderr

    def line(self, now: float | None = None) -> str:
        """The progress text: done, rate (M units/s), and percent and ETA where known."""
        now = self._clock() if now is None else now
        elapsed = max(now - self.start, 1e-9)
        rate = (self.done - self._start_done) / elapsed
        text = f"{self.label}: {self.done:,} {self.unit} ({rate / 1e6:.1f} M/s)"
        if self.total:
            fraction = min(self.done / self.total, 1.0)
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        elif self._fraction is not None:
            fraction = self._fraction
            gained = fraction - self._start_fraction
            eta = elapsed * (1.0 - fraction) / gained if gained > 0 else float("inf")
        else:
            return text
        eta_text = "unknown" if eta == float("inf") else f"{eta:.0f} s"
        return text + f", {100 * fraction:.0f}%, ETA {eta_text}"

    def update(self, amount: int, fraction: float | None = None) -> None:
        self.done += amount
        if fraction is not None:
            self._fraction = min(max(float(fraction), 0.0), 1.0)
        now = self._clock()
        if not self.enabled or now - self.start < self.quiet_seconds or now - self._last < self.interval:
            return
        self._last = now
        self._shown = True
        self._out.write("\r" + self.line(now).ljust(78))
        self._out.flush()

    def close(self) -> None:
        if self._shown:
            elapsed = self._clock() - self.start
            self._out.write(f"\r{self.label}: {self.done:,} {self.unit} in {elapsed:.1f} s".ljust(79) + "\n")
            self._out.flush()
