"""``RunSpec``: which kernel run a counter backend wraps, and the child argv that performs it."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RunSpec:
    """One representation's kernel over ``batches`` batches (see ``memprof.hw.kernel_runner``)."""

    model: str
    workload: str = "criteo-tb"
    dim: int | None = None
    max_rows: int | None = None
    params: tuple[tuple[str, object], ...] = field(default=())
    batch_size: int = 2048
    batches: int = 10
    alpha: float = 1.05
    pooling: str | None = None
    seed: int = 0
    warmup: int = 1
    budget_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.batches < 1:
            raise ValueError(f"batches must be >= 1, got {self.batches}")
        if self.max_rows is not None and self.max_rows < 1:
            raise ValueError(f"max_rows must be >= 1, got {self.max_rows}")
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup}")
        if not self.alpha >= 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}")

    @property
    def param_dict(self) -> dict:
        return dict(self.params)

    def runner_argv(self, *, result: str | None = None, batches_file: str | None = None, warmup: int | None = None,
                    flush_bytes: int = 0, mbm: str | None = None, itt: bool = False, fill: str = "constant") -> list[str]:
        """``python -m memprof.hw.kernel_runner ...`` for this spec.

        Tables are filled with a constant by default: counts and timings do not depend
        on the values, and filling gigabytes with random numbers would dominate the run.
        """
        argv = [sys.executable, "-m", "memprof.hw.kernel_runner", "--model", self.model, "--workload", self.workload,
                "--batch-size", str(self.batch_size), "--batches", str(self.batches), "--alpha", repr(self.alpha),
                "--seed", str(self.seed), "--warmup", str(self.warmup if warmup is None else warmup),
                "--fill", fill]
        if self.dim is not None:
            argv += ["--dim", str(self.dim)]
        if self.max_rows is not None:
            argv += ["--max-rows", str(self.max_rows)]
        if self.pooling is not None:
            argv += ["--pooling", str(self.pooling)]
        if self.budget_bytes is not None:
            argv += ["--budget", str(self.budget_bytes)]
        for key, value in self.params:
            argv += ["--param", f"{key}={value}"]
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
        from memprof.hw.kernel_runner import build_representation, make_batches

        rep = build_representation(self.model, self.workload, dim=self.dim, max_rows=self.max_rows,
                                   params=self.param_dict)
        batches = make_batches(rep, batch_size=self.batch_size, batches=self.batches, alpha=self.alpha,
                               pooling=self.pooling, seed=self.seed)
        return rep, batches

    def describe(self) -> dict:
        return {"model": self.model, "workload": self.workload, "dim": self.dim, "max_rows": self.max_rows,
                "params": self.param_dict, "batch_size": self.batch_size, "batches": self.batches,
                "alpha": self.alpha, "pooling": self.pooling, "seed": self.seed}
