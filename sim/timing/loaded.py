"""Loaded DRAM latency: latency rising as the socket's bandwidth demand approaches its peak,
solved as a fixed point so that many cores' throughput saturates.

Curve (assumed, an M/M/1-style queue at the memory controller; not measured here):
``latency(u) = idle * (1 + u / (1 - u)) = idle / (1 - u)`` with utilisation
``u = min(demand / peak, U_MAX)``. Measured loaded-latency curves (e.g. Intel MLC's
``--loaded_latency``) stay flatter up to ~60-70 % and then rise more steeply; this curve
is a stand-in with the same two ends (idle latency at no load, unbounded near the peak).
``U_MAX`` caps the queue at 20x the idle latency; the socket's peak itself is enforced by
the timing model's bandwidth floor (each of N cores gets ``peak / N``).

Fixed point: the demand is what the cores ask at a latency (``demand(latency)``, bytes per
second, falls as latency rises), so ``g(L) = curve(demand(L)) - L`` decreases in L; the
solution in ``[idle, idle / (1 - U_MAX)]`` is found by bisection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

U_MAX = 0.95  # utilisation cap of the queue (latency at most idle / (1 - U_MAX) = 20x idle)
CURVE = "latency = idle / (1 - u), u = min(demand / peak, 0.95) (assumed M/M/1-style queue; not measured)"


def queue_latency(idle: float, utilisation: float, u_max: float = U_MAX) -> float:
    """DRAM latency at ``utilisation`` (demand / peak): ``idle / (1 - min(u, u_max))``."""
    if idle < 0 or utilisation < 0:
        raise ValueError(f"loaded latency: idle={idle} and utilisation={utilisation} must be >= 0")
    if not 0 <= u_max < 1:
        raise ValueError(f"loaded latency: u_max={u_max} must be in [0, 1)")
    return idle / (1.0 - min(utilisation, u_max))


@dataclass(frozen=True)
class LoadedPoint:
    """The fixed point: latency (the unit of ``idle``), demand (bytes/s) and utilisation there."""

    latency: float
    demand_bytes_per_second: float
    utilisation: float
    iterations: int


def solve_loaded_latency(idle: float, peak_bytes_per_second: float,
                         demand: Callable[[float], float], *, u_max: float = U_MAX,
                         tolerance: float = 1e-9, max_iterations: int = 200) -> LoadedPoint:
    """The latency L with ``L = queue_latency(idle, demand(L) / peak)`` (bisection; ``demand``
    must not increase with latency). ``tolerance``: relative width of the final bracket."""
    if peak_bytes_per_second <= 0:
        raise ValueError(f"loaded latency: peak bandwidth {peak_bytes_per_second} B/s must be > 0")
    if idle <= 0:
        raise ValueError(f"loaded latency: idle latency {idle} must be > 0")

    def gap(latency: float) -> float:
        return queue_latency(idle, demand(latency) / peak_bytes_per_second, u_max) - latency

    lo, hi = idle, queue_latency(idle, u_max, u_max)
    iterations = 0
    if gap(lo) <= 0:  # no demand: idle latency
        hi = lo
    while hi - lo > tolerance * hi and iterations < max_iterations:
        mid = 0.5 * (lo + hi)
        if gap(mid) > 0:
            lo = mid
        else:
            hi = mid
        iterations += 1
    latency = hi
    asked = demand(latency)
    return LoadedPoint(latency, asked, asked / peak_bytes_per_second, iterations)
