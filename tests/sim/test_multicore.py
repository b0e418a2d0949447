"""sim.multicore against a pure-Python reference: per-core LRU L1/L2 and one shared LRU
LLC, each access walked through its core's three levels in the documented interleaving."""

from collections import OrderedDict

import numpy as np
import pytest

from sim.access import WRITE_FLAG
from sim.config import CacheConfig
from sim.multicore import MulticoreHierarchy

LINE = 64


class LruLevel:
    """sets x ways LRU, set = line % sets (obviously correct, slow)."""

    def __init__(self, sets, ways):
        self.sets, self.ways = sets, ways
        self.content = [OrderedDict() for _ in range(sets)]

    def lookup(self, line):
        s = self.content[line % self.sets]
        if line in s:
            s.move_to_end(line)
            return True
        return False

    def fill(self, line):
        s = self.content[line % self.sets]
        if len(s) >= self.ways:
            s.popitem(last=False)
        s[line] = True


def reference(rounds, cores, geo, offsets):
    """rounds: [[(lines of lookup 0, lines of lookup 1, ...) per core] per round].
    Returns per core the served level of every access (0 L1, 1 L2, 2 LLC, 3 memory), in core order."""
    l1 = [LruLevel(*geo[0]) for _ in range(cores)]
    l2 = [LruLevel(*geo[1]) for _ in range(cores)]
    llc = LruLevel(*geo[2])
    served = [[] for _ in range(cores)]
    for per_core in rounds:
        for k in range(max(len(lookups) for lookups in per_core)):
            for c in range(cores):
                if k >= len(per_core[c]):
                    continue
                for line in per_core[c][k]:
                    line += offsets[c] // LINE
                    levels = [l1[c], l2[c], llc]
                    hit = next((i for i, lvl in enumerate(levels) if lvl.lookup(line)), 3)
                    for lvl in levels[:hit]:
                        lvl.fill(line)
                    served[c].append(hit)
    return served


def make_rounds(rng, cores, nrounds, lines_per_lookup, universe):
    return [[[tuple(int(x) for x in rng.integers(0, universe, lines_per_lookup))
              for _ in range(int(rng.integers(1, 12)))] for _ in range(cores)] for _ in range(nrounds)]


@pytest.mark.parametrize("cores,offsets", [(1, None), (3, None), (3, [0, 1 << 20, 2 << 20])])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_reference(cores, offsets, seed):
    geo = ((2, 2), (4, 2), (8, 4))  # (sets, ways) of L1, L2, LLC
    cfg = [CacheConfig(s * w * LINE, w, LINE, "lru") for s, w in geo]
    rng = np.random.default_rng(seed)
    rounds = make_rounds(rng, cores, 4, 3, 120)
    hier = MulticoreHierarchy([cfg[2]], cores, l1=cfg[0], l2=cfg[1], offsets=offsets)
    for per_core in rounds:
        chunks = [np.array([line * LINE for lookup in lookups for line in lookup], dtype=np.uint64)
                  for lookups in per_core]
        hier.feed_round(chunks, [len(lookups) for lookups in per_core])
    expected = reference(rounds, cores, geo, offsets or [0] * cores)
    llc_total_misses = 0
    for c in range(cores):
        want = np.bincount(expected[c], minlength=4)
        rows = hier.core_rows(c, 0)
        assert rows.data_lines == tuple(int(v) for v in want)
        llc = hier.core_llc(c, 0)
        assert (llc.hits, llc.misses) == (int(want[2]), int(want[3]))
        result = hier.core_result(c, 0)
        assert result.levels[0].hits == want[0] and result.levels[1].hits == want[1]
        llc_total_misses += int(want[3])
    assert hier.llc_result(0).llc.misses == llc_total_misses


def test_sharing_hits_another_cores_line():
    """Core 1 reads the line core 0 just brought into the shared LLC: an LLC hit, not a miss."""
    tiny = CacheConfig(1 * 1 * LINE, 1, LINE, "lru")
    llc = CacheConfig(4 * 4 * LINE, 4, LINE, "lru")
    hier = MulticoreHierarchy([llc], 2, l1=tiny, l2=tiny)
    hier.feed_round([np.array([0], dtype=np.uint64), np.array([0], dtype=np.uint64)], [1, 1])
    assert (hier.core_llc(0, 0).misses, hier.core_llc(1, 0).hits) == (1, 1)
    private = MulticoreHierarchy([llc], 2, l1=tiny, l2=tiny, offsets=[0, 1 << 30])
    private.feed_round([np.array([0], dtype=np.uint64), np.array([0], dtype=np.uint64)], [1, 1])
    assert (private.core_llc(0, 0).misses, private.core_llc(1, 0).misses) == (1, 1)


def test_refuses_writes_and_bad_cores():
    cfg = CacheConfig(8 * 4 * LINE, 4, LINE, "lru")
    hier = MulticoreHierarchy([cfg], 1, l1=cfg, l2=cfg)
    with pytest.raises(ValueError, match="read-only"):
        hier.feed_round([np.array([64], dtype=np.uint64) | WRITE_FLAG], [1])
    with pytest.raises(ValueError, match="cores"):
        MulticoreHierarchy([cfg], 0, l1=cfg, l2=cfg)
