"""sim.tlb: the DTLB + STLB + PSC against a slow list-based reference, hand-made cases,
config validation and checkpoints."""

import io

import numpy as np
import pytest

from sim.checkpoint import restore_checkpoint, save_checkpoint
from sim.tlb import Tlb, TlbConfig

LEAF = 1 << 47  # the documented layout
UPPER = (1 << 47) + (1 << 46)


class RefLru:
    """Set-associative LRU over keys: each set a list, most recent last."""

    def __init__(self, entries, ways):
        self.ways = ways
        self.sets = [[] for _ in range(entries // ways)] if entries else []

    def lookup(self, key):
        if not self.sets:
            return False
        s = self.sets[key % len(self.sets)]
        if key in s:
            s.remove(key)
            s.append(key)
            return True
        return False

    def fill(self, key):
        if not self.sets:
            return
        s = self.sets[key % len(self.sets)]
        if len(s) == self.ways:
            s.pop(0)
        s.append(key)


def reference_expand(addrs, cfg):
    shift = cfg.page_bytes.bit_length() - 1
    dtlb, stlb = RefLru(cfg.dtlb_entries, cfg.dtlb_ways), RefLru(cfg.stlb_entries, cfg.stlb_ways)
    psc = RefLru(cfg.psc_entries, cfg.psc_ways or max(cfg.psc_entries, 1))
    out, kinds = [], []
    stats = dict(accesses=0, dtlb_hits=0, stlb_hits=0, walks=0, upper_reads=0)
    for a in addrs:
        page = (a & ((1 << 63) - 1)) >> shift
        stats["accesses"] += 1
        if dtlb.lookup(page):
            stats["dtlb_hits"] += 1
        elif stlb.lookup(page):
            stats["stlb_hits"] += 1
            dtlb.fill(page)
        else:
            stats["walks"] += 1
            if not psc.lookup(page // 512):
                stats["upper_reads"] += 1
                out.append(UPPER + (page // 512) * 8)
                kinds.append(2)
                psc.fill(page // 512)
            out.append(LEAF + page * 8)
            kinds.append(1)
            stlb.fill(page)
            dtlb.fill(page)
        out.append(a)
        kinds.append(0)
    return out, kinds, stats


CONFIGS = [
    TlbConfig(),
    TlbConfig(page_bytes=4096, dtlb_entries=4, dtlb_ways=2, stlb_entries=16, stlb_ways=4, psc_entries=4),
    TlbConfig(page_bytes=4096, dtlb_entries=8, dtlb_ways=8, stlb_entries=8, stlb_ways=1, psc_entries=0),
    TlbConfig(page_bytes=2 << 20, dtlb_entries=8, dtlb_ways=4, stlb_entries=32, stlb_ways=4, psc_entries=2,
              psc_ways=1),
    TlbConfig(page_bytes=1 << 30, dtlb_entries=2, dtlb_ways=1, stlb_entries=4, stlb_ways=2, psc_entries=1),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.describe())
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_the_reference_over_random_traces(cfg, seed):
    rng = np.random.default_rng(seed)
    span = cfg.page_bytes * 3000
    addrs = rng.integers(0, span, 20_000, dtype=np.uint64)
    addrs[rng.random(addrs.size) < 0.3] = addrs[0]  # some reuse
    addrs[rng.random(addrs.size) < 0.1] |= np.uint64(1 << 63)  # writes
    tlb = Tlb(cfg)
    got_out, got_kinds = [], []
    for part in np.array_split(addrs, 7):  # streaming: state kept across chunks
        out, kinds = tlb.expand(part)
        got_out += out.tolist()
        got_kinds += kinds.tolist()
    want_out, want_kinds, want_stats = reference_expand(addrs.tolist(), cfg)
    assert got_out == want_out and got_kinds == want_kinds
    assert {k: v for k, v in tlb.stats().as_dict().items() if k != "page_bytes"} == want_stats
    assert 0 < want_stats["walks"] < want_stats["accesses"]


def test_hand_made_cycle():
    # 4 KiB pages; DTLB 2 entries fully associative, STLB 4; pages 0,1,2 cycled: the DTLB
    # (LRU, 2 ways) misses every access, the STLB hits from the second round on
    cfg = TlbConfig(page_bytes=4096, dtlb_entries=2, dtlb_ways=2, stlb_entries=4, stlb_ways=4, psc_entries=1)
    tlb = Tlb(cfg)
    addrs = np.array([0, 4096, 8192] * 3, dtype=np.uint64) + np.uint64(100)
    out, kinds = tlb.expand(addrs)
    s = tlb.stats()
    assert (s.accesses, s.dtlb_hits, s.stlb_hits, s.walks, s.upper_reads) == (9, 0, 6, 3, 1)
    # first access: upper entry of table 0, leaf of page 0, then the data
    assert out[:3].tolist() == [UPPER, LEAF, 100]
    assert out[3:5].tolist() == [LEAF + 8, 4196]  # page 1: PSC hit, leaf only
    assert kinds.tolist() == [2, 1, 0, 1, 0, 1, 0] + [0] * 6


def test_reset_keeps_contents_and_buffers_are_reused():
    tlb = Tlb(TlbConfig())
    addrs = np.arange(0, 64 * 4096, 4096, dtype=np.uint64)
    tlb.expand(addrs)
    tlb.reset_stats()
    out, kinds = tlb.expand(addrs)
    assert tlb.stats().dtlb_hits == 64 and tlb.stats().walks == 0
    assert np.array_equal(out, addrs) and not kinds.any()


def test_collision_with_the_page_tables_is_refused():
    tlb = Tlb(TlbConfig())
    with pytest.raises(ValueError, match="page-table region"):
        tlb.expand(np.array([0, 1 << 47], dtype=np.uint64))


@pytest.mark.parametrize("kwargs, words", [
    (dict(page_bytes=8192), "allowed page sizes are 4096"),
    (dict(dtlb_entries=63), "not a multiple of dtlb_ways"),
    (dict(stlb_entries=1000, stlb_ways=12), "not a multiple of stlb_ways"),
    (dict(dtlb_entries=64, stlb_entries=32, stlb_ways=4), "larger than the STLB"),
    (dict(psc_entries=6, psc_ways=4), "not a multiple of psc_ways"),
    (dict(psc_entries=-1), "psc_entries"),
])
def test_bad_configs_are_refused(kwargs, words):
    with pytest.raises(ValueError, match=words):
        TlbConfig(**kwargs)


def test_checkpoint_round_trip_continues_exactly():
    cfg = CONFIGS[1]
    rng = np.random.default_rng(5)
    addrs = rng.integers(0, 4096 * 500, 10_000, dtype=np.uint64)
    whole = Tlb(cfg)
    want = [whole.expand(addrs[:6000])[0].copy(), whole.expand(addrs[6000:])[0].copy()]
    first = Tlb(cfg)
    first.expand(addrs[:6000])
    buf = io.BytesIO()
    save_checkpoint(buf, {"tlb": first.state}, trace={"t": 1})
    buf.seek(0)
    second = Tlb(cfg)
    restore_checkpoint(buf, {"tlb": second.state}, trace={"t": 1})
    assert np.array_equal(second.expand(addrs[6000:])[0], want[1])
    assert second.stats() == whole.stats()
