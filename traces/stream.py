"""End-to-end trace streams: batches (synthetic or from a dataset) -> a representation's
emitter -> uint64 chunks of about ``chunk_entries`` line addresses.

``phase``: forward (the inference reads, default), backward or train (forward + backward +
optimizer step, traces.training; writes carry ``sim.access.WRITE_FLAG``), with ``train`` (a
``TrainConfig``: gradient mode and optimizer) for the last two.

Memory is one batch's addresses plus one chunk, whatever the number of batches.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from traces.batch import Batch
from traces.generator import SyntheticGenerator
from traces.representations import Representation, build
from traces.training import TrainConfig, Trainer, check_phase
from traces.format.tracefile import DEFAULT_CHUNK_ENTRIES, rechunk
from traces.workloads import Workload, get_workload



class ModelTrace:
    """The line-address trace of one representation over a stream of batches (iterable, once per pass)."""

    def __init__(self, representation: Representation, batches: Iterable[Batch] | None = None, *,
                 generator: SyntheticGenerator | None = None, batch_size: int = 2048, num_batches: int = 10,
                 line_bytes: int = 64, chunk_entries: int = DEFAULT_CHUNK_ENTRIES, source: dict | None = None,
                 phase: str = "forward", train: TrainConfig | None = None):
        if batches is None and generator is None:
            raise ValueError("ModelTrace needs batches or a generator")
        if generator is not None and (batch_size < 1 or num_batches < 0):
            raise ValueError(f"batch_size must be >= 1 and batches >= 0, got {batch_size} and {num_batches}")
        self.representation = representation
        self._batches = batches
        self.generator = generator
        self.batch_size = batch_size
        self.num_batches = num_batches
        self.line_bytes = line_bytes
        self.chunk_entries = chunk_entries
        self.source = source or (generator.describe() if generator is not None else {"source": "batches"})
        self.lookups = 0  # counted while iterating
        self.phase = check_phase(phase)
        self.train = train or TrainConfig()
        self.trainer = Trainer(representation, self.train) if self.phase != "forward" else None

    def batches(self) -> Iterator[Batch]:
        if self.generator is not None:
            return self.generator.batches(self.batch_size, self.num_batches)
        return iter(self._batches)

    def _addresses(self) -> Iterator[np.ndarray]:
        self.lookups = 0
        for batch in self.batches():
            self.lookups += batch.num_lookups
            yield self.emit(batch)

    def emit(self, batch: Batch) -> np.ndarray:
        """The addresses of one batch in this trace's phase."""
        if self.trainer is None:
            return self.representation.emit(batch, self.line_bytes)
        return self.trainer.emit(batch, self.phase, self.line_bytes)

    def op_counts(self):
        """The representation's operations per lookup in this trace's phase (``Representation.op_counts``)."""
        return self.representation.op_counts(self.phase, self.train.grad, self.train.optimizer)

    def __iter__(self) -> Iterator[np.ndarray]:
        return rechunk(self._addresses(), self.chunk_entries)

    def header(self) -> dict:
        """Everything needed to reproduce this trace (goes into trace files and result metadata)."""
        rep = self.representation
        training = {} if self.trainer is None else {"phase": self.phase, **self.trainer.describe()}
        layout = rep.layout if self.trainer is None else self.trainer.tl.layout
        return {
            **training,
            "workload": rep.workload.describe(),
            "representation": rep.describe(),
            "source": self.source,
            "batch_size": self.batch_size,
            "batches": self.num_batches if self.generator is not None else None,
            "line_bytes": self.line_bytes,
            "model_bytes": rep.memory_bytes,
            "regions": layout.describe(),
        }


def model_trace(model: str, workload: str | Workload = "criteo-tb", *, batch_size: int = 2048, batches: int = 10,
                seed: int = 0, alpha: float = 1.05, pooling=None, line_bytes: int = 64,
                chunk_entries: int = DEFAULT_CHUNK_ENTRIES, phase: str = "forward", train: TrainConfig | None = None,
                **model_params) -> ModelTrace:
    """The trace of representation ``model`` on a seeded synthetic ``workload`` (in ``phase``)."""
    wl = workload if isinstance(workload, Workload) else get_workload(workload)
    rep = build(model, wl, **model_params)
    gen = SyntheticGenerator(wl, alpha=alpha, pooling=pooling, seed=seed)
    return ModelTrace(rep, generator=gen, batch_size=batch_size, num_batches=batches,
                      line_bytes=line_bytes, chunk_entries=chunk_entries, phase=phase, train=train)
