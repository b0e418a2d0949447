"""The child's side of every counter backend: mark the kernel region.

``KernelRegion`` is entered just before the timed kernel loop and left just after. On
entry it enables the perf sessions named in ``MEMPROF_PERF_CONTROL`` (see ``perf.py``),
resumes VTune collection through ``ittapi`` when asked and importable, and reads the
resctrl MBM byte counter; on exit it does the reverse, in reverse order. It records
the region's wall time itself (``time.perf_counter_ns``), so wall time exists on every
machine, PMU or not.
"""

from __future__ import annotations

import time

from memprof.hw.perf import ControlClient, clients_from_env


def itt_module():
    """The ``ittapi`` module, or None with the reason it cannot be used."""
    try:
        import ittapi  # type: ignore
    except ImportError:
        return None, "the ittapi package is not installed (pip install ittapi)"
    return ittapi, ""


class KernelRegion:
    """Context manager around the kernel: perf enable/disable, ITT resume/pause, MBM, wall time."""

    def __init__(self, controls: list[ControlClient] | None = None, use_itt: bool = False,
                 mbm_reader=None, timeout_s: float = 10.0):
        self.controls = clients_from_env(timeout_s) if controls is None else controls
        self.itt = None
        self.itt_status = "not requested"
        if use_itt:
            module, why = itt_module()
            self.itt = module
            self.itt_status = "resume/pause via ittapi" if module else f"unavailable ({why})"
        self.mbm_reader = mbm_reader
        self.mbm_bytes: int | None = None
        self.mbm_status = "not requested" if mbm_reader is None else ""
        self.wall_ns: int | None = None
        self._mbm_start = None
        self._t0 = 0

    def __enter__(self) -> "KernelRegion":
        for client in self.controls:
            client.send("enable")
        if self.itt is not None:
            self.itt.resume()
        if self.mbm_reader is not None:
            try:
                self._mbm_start = self.mbm_reader()
            except (OSError, ValueError) as exc:
                self.mbm_status = f"unavailable ({exc})"
        self._t0 = time.perf_counter_ns()
        return self

    def __exit__(self, *exc) -> None:
        self.wall_ns = time.perf_counter_ns() - self._t0
        if self.mbm_reader is not None and self._mbm_start is not None:
            try:
                self.mbm_bytes = self.mbm_reader() - self._mbm_start
                self.mbm_status = "measured"
            except (OSError, ValueError) as exc:
                self.mbm_status = f"unavailable ({exc})"
        if self.itt is not None:
            self.itt.pause()
        for client in reversed(self.controls):
            client.send("disable")
        for client in self.controls:
            client.close()
