"""Per-set policy helpers called alone, against hand-derived expectations."""

import numpy as np
import pytest

from sim.policies import brrip, drrip, fifo, lru, plru, rand, srrip


def _set(ways):
    return np.zeros(ways, dtype=np.int64), np.zeros(1, dtype=np.uint64)


def test_lru_victim_is_oldest_stamp_and_hit_refreshes():
    meta, ss = _set(4)
    for way, stamp in enumerate([5, 2, 9, 7]):
        lru.on_fill(meta, 0, 4, way, ss, 0, stamp)
    assert lru.victim(meta, 0, 4, ss, 0) == 1
    lru.on_hit(meta, 0, 4, 1, ss, 0, 10)
    assert lru.victim(meta, 0, 4, ss, 0) == 0


def test_fifo_ignores_hits():
    meta, ss = _set(3)
    for way, stamp in enumerate([1, 2, 3]):
        fifo.on_fill(meta, 0, 3, way, ss, 0, stamp)
    fifo.on_hit(meta, 0, 3, 0, ss, 0, 4)
    assert fifo.victim(meta, 0, 3, ss, 0) == 0


def test_plru_tree_4_ways_by_hand():
    # Heap-ordered tree: node 1 chooses between (0,1) [node 2] and (2,3) [node 3].
    meta, ss = _set(4)
    plru.on_fill(meta, 0, 4, 0, ss, 0, 0)  # root -> right, node 2 -> way 1
    assert plru.victim(meta, 0, 4, ss, 0) == 2  # node 3 untouched -> left = way 2
    plru.on_fill(meta, 0, 4, 2, ss, 0, 0)  # root -> left, node 3 -> way 3
    assert plru.victim(meta, 0, 4, ss, 0) == 1
    plru.on_hit(meta, 0, 4, 1, ss, 0, 0)  # root -> right, node 2 -> way 0
    assert plru.victim(meta, 0, 4, ss, 0) == 3
    plru.on_hit(meta, 0, 4, 3, ss, 0, 0)  # root -> left
    assert plru.victim(meta, 0, 4, ss, 0) == 0


def test_plru_rejects_non_power_of_two():
    with pytest.raises(ValueError, match="power-of-two"):
        plru.check_ways(12)


def test_plru_never_evicts_the_most_recent_way():
    meta, ss = _set(8)
    rng = np.random.default_rng(0)
    for _ in range(200):
        way = int(rng.integers(8))
        plru.on_hit(meta, 0, 8, way, ss, 0, 0)
        assert plru.victim(meta, 0, 8, ss, 0) != way


@pytest.mark.parametrize("ways", [11, 12, 16])
def test_random_covers_every_way_about_uniformly(ways):
    meta, ss = _set(ways)
    ss[0] = np.uint64(12345)
    draws = np.array([rand.victim(meta, 0, ways, ss, 0) for _ in range(ways * 2000)])
    counts = np.bincount(draws, minlength=ways)
    assert counts.size == ways and draws.min() >= 0
    # each way expects 2000 draws; 6 sigma of a binomial is ~ 6 * sqrt(2000) ~ 270
    assert np.all(np.abs(counts - 2000) < 270)


def test_srrip_paper_worked_example():
    """Jaleel et al. ISCA 2010, Fig. 4's mixed pattern a1 a2 a2 a1 b1 b2 b3 b4 a1 a2 on a
    4-way set (2-bit RRPV, insert at 2, hit -> 0, empty blocks at 3): SRRIP keeps a1 and a2
    through the scan, so their last references hit (LRU would miss them)."""
    ways = 4
    meta = np.full(ways, srrip.MAX_RRPV, dtype=np.int64)  # empty blocks predicted distant
    ss = np.zeros(1, dtype=np.uint64)
    lines = [None] * ways
    outcome = []
    for ref in ["a1", "a2", "a2", "a1", "b1", "b2", "b3", "b4", "a1", "a2"]:
        if ref in lines:
            srrip.on_hit(meta, 0, ways, lines.index(ref), ss, 0, 0)
            outcome.append("hit")
        else:
            way = srrip.victim(meta, 0, ways, ss, 0)
            lines[way] = ref
            srrip.on_fill(meta, 0, ways, way, ss, 0, 0)
            outcome.append("miss")
    assert outcome == ["miss", "miss", "hit", "hit", "miss", "miss", "miss", "miss", "hit", "hit"]
    # by hand: after b2 the RRPVs are [0,0,2,2]; b3 ages to [1,1,3,3] and replaces b1;
    # b4 replaces b2; then a1 and a2 hit and return to 0.
    assert lines == ["a1", "a2", "b3", "b4"]
    assert meta.tolist() == [0, 0, 2, 2]


def test_brrip_inserts_distant_mostly():
    meta, ss = _set(1)
    ss[0] = np.uint64(7)
    values = []
    for _ in range(32000):
        brrip.on_fill(meta, 0, 1, 0, ss, 0, 0)
        values.append(int(meta[0]))
    values = np.array(values)
    assert set(np.unique(values)) == {2, 3}
    # long insertion with probability 1/32: expect 1000, sd ~31
    assert 850 < int((values == 2).sum()) < 1150


def test_drrip_leader_sets_and_psel():
    num_sets = 2048
    roles = np.array([drrip.set_role(s, num_sets) for s in range(num_sets)])
    assert (roles == drrip.SRRIP_LEADER).sum() == 32
    assert (roles == drrip.BRRIP_LEADER).sum() == 32
    g = np.array([drrip.PSEL_INIT], dtype=np.int64)
    assert not drrip.uses_brrip(g, 0, drrip.FOLLOWER)
    drrip.record_miss(g, 0, drrip.SRRIP_LEADER)  # SRRIP leaders missing more -> followers go BRRIP
    assert g[0] == drrip.PSEL_INIT + 1 and drrip.uses_brrip(g, 0, drrip.FOLLOWER)
    for _ in range(3000):
        drrip.record_miss(g, 0, drrip.BRRIP_LEADER)
    assert g[0] == 0  # saturates
    assert drrip.uses_brrip(g, 0, drrip.BRRIP_LEADER) and not drrip.uses_brrip(g, 0, drrip.SRRIP_LEADER)
