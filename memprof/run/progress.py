"""Progress on stderr for long runs: amount done, rate, percent and ETA, at most a few lines a second.

Silent for runs shorter than ``quiet_seconds`` and when stderr is not wanted (``enabled=False``).
The ETA comes from ``total`` (same unit as the amounts) or, when the total is unknown in
that unit, from a ``fraction`` done given to ``update`` (e.g. batches done / batches).
A resumed run passes ``start`` (the amount already done before it) and, with fractions,
``start_fraction``: the rate and ETA count only this run's work.

No ETA is shown until the rate is measured over a real interval: the first update's step
(often dominated by Numba compiling the kernels) is left out, so the ETA appears from the
second update on and counts only the work done after the first. ``end_open_lines()`` ends a
progress line left open (before an error or another message is printed).
"""

from __future__ import annotations

import sys
import time
import weakref

_OPEN: "weakref.WeakSet[Progress]" = weakref.WeakSet()


def end_open_lines() -> None:
    """Finish every progress line still open (a newline after it), so a message starts its own line."""
    for progress in list(_OPEN):
        progress.end_line()


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
        self._base: tuple[float, int, float | None] | None = None  # (time, done, fraction) at the first update
        self._open = False

    @property
    def _out(self):
        return self._stream if self._stream is not None else sys.stderr

    def line(self, now: float | None = None) -> str:
        """The progress text: done, rate (M units/s), and percent and ETA where known (the ETA only
        once a rate is measured after the first update)."""
        now = self._clock() if now is None else now
        measured = self._base is not None and now > self._base[0] and self.done > self._base[1]
        if measured:
            since, done_then, fraction_then = self._base
            interval = now - since
            rate = (self.done - done_then) / interval
        else:
            rate = (self.done - self._start_done) / max(now - self.start, 1e-9)
        text = f"{self.label}: {self.done:,} {self.unit} ({rate / 1e6:.1f} M/s)"
        if self.total:
            fraction = min(self.done / self.total, 1.0)
            eta = (self.total - self.done) / rate if measured else None
        elif self._fraction is not None:
            fraction = self._fraction
            if measured:
                gained = fraction - (fraction_then if fraction_then is not None else self._start_fraction)
                eta = interval * (1.0 - fraction) / gained if gained > 0 else None
            else:
                eta = None
        else:
            return text
        return text + f", {100 * fraction:.0f}%" + (f", ETA {eta:.0f} s" if eta is not None else "")

    def update(self, amount: int, fraction: float | None = None) -> None:
        self.done += amount
        if fraction is not None:
            self._fraction = min(max(float(fraction), 0.0), 1.0)
        now = self._clock()
        if self._base is None:
            self._base = (now, self.done, self._fraction)
        if not self.enabled or now - self.start < self.quiet_seconds or now - self._last < self.interval:
            return
        self._last = now
        self._shown = True
        self._open = True
        _OPEN.add(self)
        self._out.write("\r" + self.line(now).ljust(78))
        self._out.flush()

    def end_line(self) -> None:
        """End the open progress line (the next update starts a new one)."""
        if self._open:
            self._out.write("\n")
            self._out.flush()
            self._open = False
        _OPEN.discard(self)

    def close(self) -> None:
        self._open = False
        _OPEN.discard(self)
        if self._shown:
            elapsed = self._clock() - self.start
            self._out.write(f"\r{self.label}: {self.done:,} {self.unit} in {elapsed:.1f} s".ljust(79) + "\n")
            self._out.flush()
