"""Progress on stderr for long runs: rate, amount done and ETA, at most a few lines a second.

Silent for runs shorter than ``quiet_seconds`` and when stderr is not wanted (``enabled=False``).
"""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, label: str, total: int | None = None, unit: str = "accesses",
                 enabled: bool = True, quiet_seconds: float = 2.0, interval: float = 1.0):
        self.label, self.total, self.unit = label, total, unit
        self.enabled, self.quiet_seconds, self.interval = enabled, quiet_seconds, interval
        self.done = 0
        self.start = time.monotonic()
        self._last = self.start
        self._shown = False

    def update(self, amount: int) -> None:
        self.done += amount
        now = time.monotonic()
        if not self.enabled or now - self.start < self.quiet_seconds or now - self._last < self.interval:
            return
        self._last = now
        self._shown = True
        rate = self.done / max(now - self.start, 1e-9)
        text = f"{self.label}: {self.done:,} {self.unit} ({rate / 1e6:.1f} M/s)"
        if self.total:
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            text += f", {100 * self.done / self.total:.0f}%, ETA {eta:.0f} s"
        sys.stderr.write("\r" + text.ljust(78))
        sys.stderr.flush()

    def close(self) -> None:
        if self._shown:
            elapsed = time.monotonic() - self.start
            sys.stderr.write(f"\r{self.label}: {self.done:,} {self.unit} in {elapsed:.1f} s".ljust(79) + "\n")
            sys.stderr.flush()
