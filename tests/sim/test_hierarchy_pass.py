"""sim.hierarchy_pass: simulators behind a TLB with row accounting, as one object."""

import io

import pytest

from sim.checkpoint import restore_checkpoint, save_checkpoint
from sim.config import CacheConfig
from sim.engine.simulator import Simulator
from sim.hierarchy_pass import HierarchyPass
from sim.tlb import Tlb, TlbConfig

LLC = CacheConfig(64 * 8 * 64, 8)
L1 = CacheConfig(8 * 2 * 64, 2)
TLB = TlbConfig(page_bytes=4096, dtlb_entries=8, dtlb_ways=2, stlb_entries=32, stlb_ways=4, psc_entries=2)


def _sims():
    return [Simulator(LLC), Simulator(LLC, l1=L1), Simulator(CacheConfig(256 * 8 * 64, 8), threads=2)]


def test_without_tlb_the_simulators_see_the_trace_unchanged(zipf_trace, level_counts):
    trace = zipf_trace(30_000, rows=3_000, writes=0.1)
    hp = HierarchyPass(_sims())
    plain = _sims()
    for lo in range(0, trace.size, 8_000):
        hp.feed(trace[lo:lo + 8_000])
        for sim in plain:
            sim.feed(trace[lo:lo + 8_000])
    res = hp.results()
    assert res.tlb is None and hp.fed == trace.size
    for (got, rows), sim in zip(res.per_sim, plain):
        want = sim.result()
        assert level_counts(got) == level_counts(want)
        # every data line is counted once, at the level the hits say
        hits = [lv.hits for lv in want.levels] + [want.levels[-1].misses]
        assert list(rows.data_lines) == hits and sum(rows.row_lines) == trace.size
        assert sum(rows.leaf_reads) == 0
        # a 512-byte row of the Zipf trace is 8 consecutive lines: rows never longer than runs
        assert 0 < sum(rows.rows) <= trace.size // 8 + 1


def test_with_tlb_walk_reads_are_simulated_and_split(zipf_trace):
    trace = zipf_trace(30_000, rows=20_000)
    hp = HierarchyPass(_sims(), Tlb(TLB))
    for lo in range(0, trace.size, 8_000):
        hp.feed(trace[lo:lo + 8_000])
    res = hp.results()
    t = res.tlb
    assert t.accesses == trace.size and t.walks > 0 and t.upper_reads > 0
    for sim_result, rows in res.per_sim:
        assert sim_result.trace_accesses == trace.size + t.walks + t.upper_reads  # walk reads included
        assert sum(rows.data_lines) + rows.unsimulated_data_lines == trace.size
        assert sum(rows.leaf_reads) == t.walks and sum(rows.upper_reads) == t.upper_reads
        assert sum(rows.row_lines) == trace.size


def test_reset_and_checkpoint_resume_equal_an_uninterrupted_pass(zipf_trace, level_counts):
    trace = zipf_trace(24_000, rows=5_000, writes=0.1)
    whole = HierarchyPass(_sims(), Tlb(TLB))
    whole.feed(trace[:6_000])
    whole.reset_stats()
    whole.feed(trace[6_000:15_000])
    whole.feed(trace[15_000:])

    first = HierarchyPass(_sims(), Tlb(TLB))
    first.feed(trace[:6_000])
    first.reset_stats()
    first.feed(trace[6_000:15_000])
    buf = io.BytesIO()
    save_checkpoint(buf, first.checkpoint_objects(), trace={"n": 1}, config=first.checkpoint_config())
    buf.seek(0)
    second = HierarchyPass(_sims(), Tlb(TLB))
    restore_checkpoint(buf, second.checkpoint_objects(), trace={"n": 1}, config=second.checkpoint_config())
    assert second.fed == 15_000
    second.feed(trace[15_000:])
    a, b = whole.results(), second.results()
    assert a.tlb == b.tlb and a.tlb.accesses == trace.size - 6_000
    for (ra, rowa), (rb, rowb) in zip(a.per_sim, b.per_sim):
        assert level_counts(ra) == level_counts(rb) and rowa == rowb


def test_refusals():
    with pytest.raises(ValueError, match="warmup"):
        HierarchyPass([Simulator(LLC, warmup=10)])
    with pytest.raises(ValueError, match="at least one"):
        HierarchyPass([])
    with pytest.raises(ValueError, match="tlb"):
        HierarchyPass([Simulator(LLC)], tlb=TLB)
