"""``RunSpec``: which kernel run a counter backend wraps, and the child argv that performs it."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from traces.spec import TraceSpec


@dataclass(frozen=True)
class RunSpec:
    """One representation's kernel over the batches of ``trace`` (see ``memprof.hw.kernel_runner``):
    the trace description plus how the child runs it (warm-up calls, table memory budget)."""

    trace: TraceSpec
    warmup: int = 1
    budget_bytes: int | None = None
    threads: int = 1  # of the pooled() kernel
    prefetch_distance: int | None = None  # None: the kernels' default

    def __post_init__(self) -> None:
        if not isinstance(self.trace, TraceSpec):
            raise ValueError(f"trace must be a TraceSpec, got {type(self.trace).__name__}")
        if self.trace.data is not None:
            raise ValueError("a kernel run generates its batches: the trace cannot read a dataset (data=...)")
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, int) or self.warmup < 0:
            raise ValueError(f"warmup must be an integer >= 0, got {self.warmup!r}")
        if self.budget_bytes is not None and self.budget_bytes < 1:
            raise ValueError(f"budget_bytes must be >= 1, got {self.budget_bytes}")
        from sim.jit import check_threads
        from traces.representations.base import check_prefetch_distance

        check_threads(self.threads)
        if self.prefetch_distance is not None:
            check_prefetch_distance(self.prefetch_distance)

    @property
    def model(self) -> str:
        return self.trace.model

    def runner_argv(self, *, result: str | None = None, batches_file: str | None = None, warmup: int | None = None,
                    flush_bytes: int = 0, mbm: str | None = None, itt: bool = False, fill: str = "constant") -> list[str]:
        """``python -m memprof.hw.kernel_runner ...`` for this spec (the trace's ``to_argv`` plus the run's options).

        Tables are filled with a constant by default: counts and timings do not depend
        on the values, and filling gigabytes with random numbers would dominate the run.
        """
        argv = [sys.executable, "-m", "memprof.hw.kernel_runner", *self.trace.to_argv(),
                "--warmup", str(self.warmup if warmup is None else warmup), "--fill", fill]
        if self.budget_bytes is not None:
            argv += ["--budget", str(self.budget_bytes)]
        if self.threads != 1:
            argv += ["--threads", str(self.threads)]
        if self.prefetch_distance is not None:
            argv += ["--prefetch-distance", str(self.prefetch_distance)]
        if batches_file:
            argv += ["--batches-file", str(batches_file)]
        if flush_bytes:
            argv += ["--flush-bytes", str(int(flush_bytes))]
        if mbm:
            argv += ["--mbm", str(mbm)]
        if itt:
            argv.append("--itt")
        if result:
            argv += ["--result", str(result)]
        return argv

    def build(self):
        """(representation, batches) built in this process, identical to the child's."""
        rep = self.trace.representation()
        return rep, list(self.trace.build(rep).batches())

    def describe(self) -> dict:
        return {**self.trace.describe(), "warmup": self.warmup, "budget_bytes": self.budget_bytes,
                "threads": self.threads, "prefetch_distance": self.prefetch_distance}
