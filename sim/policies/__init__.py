"""Replacement policies, one module each, registered by name in ``POLICIES``.

Every module provides per-set Numba helpers that tests can call alone (ChampSim's
pattern): ``victim(meta, base, ways, sstate, sidx) -> way`` (called only when every way
of the set is valid; invalid ways are always filled first, lowest index first),
``on_hit(meta, base, ways, way, sstate, sidx, clock)`` and
``on_fill(meta, base, ways, way, sstate, sidx, clock)``. ``meta[base:base+ways]`` is the
set's per-way policy word, ``sstate[sidx]`` its per-set word (PLRU bits or random
stream), ``clock`` a stamp that grows with every touch of the level. The engine
dispatches on ``policy_id`` inside its Numba loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from sim.policies import _ids, brrip, drrip, fifo, lru, plru, rand, srrip


@dataclass(frozen=True)
class PolicyInfo:
    """A registered policy: name, engine id, module and whether it can run set-parallel."""

    name: str
    policy_id: int
    module: ModuleType
    description: str
    set_parallel: bool = True

    def check_ways(self, ways: int) -> None:
        """Raise ValueError if the policy cannot handle this associativity."""
        self.module.check_ways(ways)


POLICIES: dict[str, PolicyInfo] = {
    info.name: info
    for info in (
        PolicyInfo("lru", _ids.LRU, lru, lru.DESCRIPTION),
        PolicyInfo("fifo", _ids.FIFO, fifo, fifo.DESCRIPTION),
        PolicyInfo("random", _ids.RANDOM, rand, rand.DESCRIPTION),
        PolicyInfo("plru", _ids.PLRU, plru, plru.DESCRIPTION),
        PolicyInfo("srrip", _ids.SRRIP, srrip, srrip.DESCRIPTION),
        PolicyInfo("brrip", _ids.BRRIP, brrip, brrip.DESCRIPTION),
        PolicyInfo("drrip", _ids.DRRIP, drrip, drrip.DESCRIPTION, set_parallel=False),
    )
}


def get_policy(name: str) -> PolicyInfo:
    """Look a policy up by (case-insensitive) name; ValueError lists the known ones."""
    info = POLICIES.get(str(name).lower())
    if info is None:
        raise ValueError(f"unknown replacement policy {name!r}; known: {', '.join(POLICIES)}")
    return info
