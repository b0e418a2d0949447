"""One pass of a trace through an optional TLB and several cache simulators, with the row
accounting of each: what the analysis feeds in place of its list of simulators.

Per chunk: the TLB (if any) inserts its page walks' entry reads once (``sim.tlb``); every
simulator is fed that expanded chunk with a served-level buffer; the row pass
(``sim.rows``) then counts that simulator's rows by their slowest line. So the
simulators' own counts include the walk reads (what a PMU counts), and ``RowStats`` gives
the data-only split. Without a TLB the chunk is fed unchanged (no walks).

Warm-up: call ``reset_stats`` at its end (the simulators' own ``warmup`` must be 0: they
count expanded accesses, not trace accesses). ``fed`` counts trace (data) accesses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from sim.access import as_chunk
from sim.engine.simulator import Simulator
from sim.rows import RowCounter, RowStats
from sim.stats import SimResult
from sim.tlb import Tlb, TlbStats


@dataclass(frozen=True)
class PassResult:
    """``per_sim[i]`` = (SimResult, RowStats) of simulator i; ``tlb`` = TlbStats or None."""

    per_sim: tuple[tuple[SimResult, RowStats], ...]
    tlb: TlbStats | None


class HierarchyPass:
    """``sims`` (Simulators, same line size, warmup 0) behind an optional ``tlb``."""

    def __init__(self, sims: Sequence[Simulator], tlb: Tlb | None = None) -> None:
        sims = list(sims)
        if not sims:
            raise ValueError("HierarchyPass needs at least one Simulator")
        for i, sim in enumerate(sims):
            if not isinstance(sim, Simulator):
                raise ValueError(f"sims[{i}]: expected a Simulator, got {type(sim).__name__}")
            if sim.warmup:
                raise ValueError(f"sims[{i}]: warmup={sim.warmup}; a HierarchyPass ends the warm-up with "
                                 "reset_stats() (pass warmup=0 to the Simulators)")
        if tlb is not None and not isinstance(tlb, Tlb):
            raise ValueError(f"tlb: expected a sim.tlb.Tlb or None, got {type(tlb).__name__}")
        self.sims = sims
        self.tlb = tlb
        self.rows = [RowCounter(len(s.configs), s.configs[-1].line_shift, s.names) for s in sims]
        self.position = PassPosition()
        self._served = np.zeros(0, dtype=np.uint8)
        self._no_kinds = np.zeros(0, dtype=np.uint8)

    def feed(self, addrs) -> None:
        """One trace chunk of byte addresses (bit 63 = write)."""
        arr = as_chunk(addrs)
        if self.tlb is not None:
            expanded, kinds = self.tlb.expand(arr)
        else:
            expanded, kinds = arr, self._no_kinds
        if self._served.size < expanded.size:
            self._served = np.empty(max(expanded.size, 2 * self._served.size), dtype=np.uint8)
        for sim, rows in zip(self.sims, self.rows):
            sim.feed(expanded, served=self._served)
            rows.add(expanded, kinds, self._served)
        self.position.fed += arr.size

    @property
    def fed(self) -> int:
        """Trace (data) accesses fed so far (walk reads not included)."""
        return self.position.fed

    def reset_stats(self) -> None:
        """The warm-up's end: zero the simulators', TLB and row counts (contents kept)."""
        for sim, rows in zip(self.sims, self.rows):
            sim.reset_stats()
            rows.reset_stats()
        if self.tlb is not None:
            self.tlb.reset_stats()

    def results(self) -> PassResult:
        return PassResult(per_sim=tuple((sim.result(), rows.stats()) for sim, rows in zip(self.sims, self.rows)),
                          tlb=self.tlb.stats() if self.tlb is not None else None)

    # -- checkpoints (sim.checkpoint.save_checkpoint / restore_checkpoint) --------------
    def checkpoint_objects(self, prefix: str = "") -> dict:
        """{name: object} for save/restore_checkpoint: the simulators, their row counters
        and the TLB state. Restore into a freshly built pass of the same configuration."""
        objects = {}
        for i, (sim, rows) in enumerate(zip(self.sims, self.rows)):
            objects[f"{prefix}sim{i}"] = sim
            objects[f"{prefix}rows{i}"] = rows
        if self.tlb is not None:
            objects[f"{prefix}tlb"] = self.tlb.state
        objects[f"{prefix}position"] = self.position
        return objects

    def checkpoint_config(self) -> dict:
        """What must match on resume beyond each Simulator's own configuration (pass as
        ``config=``): the TLB geometry, or none."""
        return {"tlb": asdict(self.tlb.config) if self.tlb is not None else None}



class PassPosition:
    """The pass's trace position (data accesses fed), a plain object a checkpoint restores in place."""

    def __init__(self) -> None:
        self.fed = 0
