"""Simulator.feed(chunk, served=...): the level that served each access, in every mode,
against the slow reference (the level whose hit count an access raised), and never a
changed count."""

import numpy as np
import pytest

from sim.config import CacheConfig
from sim.engine.simulator import Simulator
from sim.reference import ReferenceHierarchy

L1 = CacheConfig(8 * 2 * 64, 2)
L2 = CacheConfig(16 * 4 * 64, 4)


def _reference_served(trace, llc, **kwargs) -> np.ndarray:
    """Per access: the first level whose hit count it raised, else len(levels) (memory)."""
    ref = ReferenceHierarchy(llc, **kwargs)
    out = np.empty(trace.size, dtype=np.uint8)
    for i, a in enumerate(trace.tolist()):
        before = [lv.counts["hits"] for lv in ref.levels]
        ref.access(a)
        after = [lv.counts["hits"] for lv in ref.levels]
        out[i] = next((k for k, (b, c) in enumerate(zip(before, after)) if c > b), len(ref.levels))
    return out


def _feed(sim, trace, chunk, record=True):
    served = np.full(trace.size, 77, dtype=np.uint8)
    for lo in range(0, trace.size, chunk):
        buf = np.full(chunk + 3, 99, dtype=np.uint8) if record else None  # longer than the chunk on purpose
        piece = trace[lo:lo + chunk]
        sim.feed(piece, served=buf)
        if record:
            served[lo:lo + piece.size] = buf[:piece.size]
    return served


CASES = [
    dict(llc=CacheConfig(32 * 4 * 64, 4)),
    dict(llc=CacheConfig(32 * 16 * 64, 16, policy="srrip")),  # unrolled 16-way scan
    dict(llc=CacheConfig(32 * 4 * 64, 4), prefetch=True),
    dict(llc=CacheConfig(64 * 8 * 64, 8), l1=L1),
    dict(llc=CacheConfig(64 * 8 * 64, 8), l1=L1, l2=L2, inclusive=True),
    dict(llc=CacheConfig(64 * 8 * 64, 8, policy="plru"), l1=L1, l2=L2, inclusive=False, prefetch=True),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_served_levels_match_the_reference(case, zipf_trace):
    kw = dict(CASES[case])
    llc = kw.pop("llc")
    trace = zipf_trace(6_000, rows=600, writes=0.2)
    got = _feed(Simulator(llc, **kw), trace, 1_000)
    assert np.array_equal(got, _reference_served(trace, llc, **kw))
    assert len(set(got.tolist())) > 1  # hits and misses both occur


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("threads", [1, 4])
def test_recording_changes_no_count(case, threads, zipf_trace, level_counts):
    kw = dict(CASES[case])
    llc = kw.pop("llc")
    trace = zipf_trace(20_000, rows=2_000, writes=0.2)
    plain = Simulator(llc, threads=threads, warmup=3_000, **kw)
    recorded = Simulator(llc, threads=threads, warmup=3_000, **kw)
    _feed(plain, trace, 4_096, record=False)
    _feed(recorded, trace, 4_096)
    assert level_counts(plain.result()) == level_counts(recorded.result())
    assert np.array_equal(plain._tags, recorded._tags) and np.array_equal(plain._meta, recorded._meta)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_threads_and_warmup_split_give_the_serial_levels(case, zipf_trace):
    kw = dict(CASES[case])
    llc = kw.pop("llc")
    trace = zipf_trace(40_000, rows=3_000, writes=0.1)
    serial = _feed(Simulator(llc, **kw), trace, 10_000)
    threaded_sim = Simulator(llc, threads=4, warmup=12_345, **kw)
    threaded = _feed(threaded_sim, trace, 10_000)  # the warm-up ends inside the second chunk
    serial_only = kw.get("prefetch") and "l1" in kw  # the hierarchy prefetcher runs in one partition
    assert threaded_sim.partitions == (1 if serial_only else 4)
    assert np.array_equal(threaded, serial)


def test_sampled_sets_mark_unsimulated_accesses(zipf_trace):
    llc = CacheConfig(256 * 4 * 64, 4)
    trace = zipf_trace(30_000, rows=5_000)
    full = _feed(Simulator(llc), trace, 7_000)
    sim = Simulator(llc, sample_sets=0.25)
    sampled = _feed(sim, trace, 7_000)
    kept = sampled != 255
    assert 0 < kept.sum() < trace.size
    assert kept.sum() == sim.result().llc.accesses
    assert np.array_equal(sampled[kept], full[kept])  # sets are independent


@pytest.mark.parametrize("kw", [dict(), dict(l1=L1, l2=L2), dict(prefetch=True)])
def test_set_partitions_each_write_their_own_accesses(kw, zipf_trace):
    llc = CacheConfig(64 * 8 * 64, 8)
    trace = zipf_trace(20_000, rows=3_000, writes=0.2)
    full = _feed(Simulator(llc, **kw), trace, 5_000)
    parts = [_feed(Simulator(llc, set_partition=(p, 4), **kw), trace, 5_000) for p in range(4)]
    written = np.stack([p != 255 for p in parts])
    assert np.array_equal(written.sum(axis=0), np.ones(trace.size))  # exactly one partition each
    merged = np.choose(np.argmax(written, axis=0), parts)
    assert np.array_equal(merged, full)


def test_bad_served_buffers_are_refused():
    sim = Simulator(CacheConfig(32 * 4 * 64, 4))
    chunk = np.arange(10, dtype=np.uint64) * np.uint64(64)
    for bad, words in [(np.zeros(9, np.uint8), "9 entries"), (np.zeros(10, np.int64), "uint8"),
                       (np.zeros((10, 1), np.uint8), "1-D")]:
        with pytest.raises(ValueError, match=words):
            sim.feed(chunk, served=bad)
    assert sim.fed == 0
