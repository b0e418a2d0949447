"""Engine against analytic expectations: counts derived by hand, not from the code."""

import numpy as np
import pytest

from sim.config import CacheConfig
from sim.engine.simulator import Simulator, simulate

LINE = 64


@pytest.mark.parametrize("ways, sets", [(4, 1), (11, 7), (16, 57)])
def test_ways_plus_one_lines_cycling_in_one_set_always_miss_under_lru(ways, sets, lines_to_addrs):
    cfg = CacheConfig(ways * sets * LINE, ways, policy="lru")
    lines = [3 + i * sets for i in range(ways + 1)]  # all map to set 3 % sets
    r = simulate(lines_to_addrs(lines * 20), cfg)
    assert r.llc.hits == 0 and r.llc.misses == 20 * (ways + 1)
    assert r.llc.evictions == 20 * (ways + 1) - ways


@pytest.mark.parametrize("policy", ["lru", "fifo", "random", "plru", "srrip", "brrip", "drrip"])
def test_working_set_that_fits_gives_only_compulsory_misses(policy, lines_to_addrs):
    cfg = CacheConfig(8 * 96 * LINE, 8, policy=policy)  # 96 sets (not a power of two)
    lines = np.random.default_rng(1).permutation(8 * 96)  # exactly the capacity, every set full
    r = simulate(lines_to_addrs(np.tile(lines, 5)), cfg)
    assert r.llc.misses == 8 * 96 and r.llc.hits == 4 * 8 * 96 and r.llc.evictions == 0
    assert r.dram_read_bytes == 8 * 96 * LINE and r.dram_write_bytes == 0


def test_fifo_and_lru_differ_where_a_hit_refreshes(lines_to_addrs):
    # 2-way single set: A B A C A. LRU: C evicts B, last A hits (2 hits).
    # FIFO: C evicts A (oldest fill), last A misses (1 hit).
    cfg = dict(size_bytes=2 * LINE, ways=2)
    seq = lines_to_addrs([0, 1, 0, 2, 0])
    assert simulate(seq, CacheConfig(**cfg, policy="lru")).llc.hits == 2
    assert simulate(seq, CacheConfig(**cfg, policy="fifo")).llc.hits == 1


def test_index_by_modulo_not_mask(lines_to_addrs):
    # 3 sets: lines 0, 3, 6, 9 share set 0 under modulo (a 2-bit mask would spread them).
    cfg = CacheConfig(3 * 2 * LINE, 2)
    r = simulate(lines_to_addrs([0, 3, 6, 9] * 3), cfg)
    assert r.llc.hits == 0
    r = simulate(lines_to_addrs([0, 3, 1, 4, 2, 5] * 3), cfg)  # two lines per set: fits
    assert r.llc.misses == 6


def test_write_back_write_allocate_counts(lines_to_addrs):
    # direct-mapped 1 set: write 0 (miss, dirty), read 1 (evicts dirty 0: write-back),
    # read 0 (evicts clean 1), write 0 (hit), read 2 (evicts dirty 0: write-back).
    cfg = CacheConfig(LINE, 1)
    seq = lines_to_addrs([0, 1, 0, 0, 2], writes=[True, False, False, True, False])
    r = simulate(seq, cfg)
    assert (r.llc.misses, r.llc.hits, r.llc.writes) == (4, 1, 2)
    assert (r.llc.evictions, r.llc.writebacks) == (3, 2)
    assert r.dram_read_bytes == 4 * LINE and r.dram_write_bytes == 2 * LINE


def test_byte_addresses_inside_a_line_share_it():
    cfg = CacheConfig(4 * LINE, 4)
    r = simulate(np.array([0, 1, 63, 64, 127], dtype=np.uint64), cfg)
    assert (r.llc.misses, r.llc.hits) == (2, 3)


def test_inclusive_llc_back_invalidates_upper_levels(lines_to_addrs):
    # L1: 1 set x 2 ways; LLC: 1 set x 2 ways, both LRU. Read 0, 1, 2, 0:
    #   0: misses both; LLC {0}, L1 {0}.   1: misses both; LLC {0, 1}, L1 {0, 1}.
    #   2: misses both; the LLC's LRU victim is 0, still in L1: back-invalidation 1;
    #      LLC {2, 1}; L1 fills 2 into the way 0 left invalid: L1 {2, 1}.
    #   0: misses L1 (it was removed) and the LLC; the LLC's LRU victim is now 1 (filled
    #      before 2), in L1: back-invalidation 2; LLC {2, 0}, L1 {2, 0}.
    # So L1 misses all 4 and the LLC back-invalidates exactly twice.
    l1 = CacheConfig(2 * LINE, 2)
    llc = CacheConfig(2 * LINE, 2)
    seq = lines_to_addrs([0, 1, 2, 0])
    inc = simulate(seq, llc, l1=l1, inclusive=True)
    assert inc.level("L1").misses == 4 and inc.llc.back_invalidations == 2
    non = simulate(seq, llc, l1=CacheConfig(4 * LINE, 4), inclusive=False)
    # non-inclusive with a 4-way L1: 0 is still in L1 -> hit, the LLC never sees it
    assert non.level("L1").hits == 1 and non.llc.accesses == 3 and non.llc.back_invalidations == 0


def test_dirty_upper_copy_is_written_back_on_back_invalidation(lines_to_addrs):
    l1 = CacheConfig(2 * LINE, 2)
    llc = CacheConfig(2 * LINE, 2)
    seq = lines_to_addrs([0, 1, 2], writes=[True, False, False])
    r = simulate(seq, llc, l1=l1, inclusive=True)
    # line 0 is dirty only in L1; the LLC evicts it when 2 arrives -> one DRAM write
    assert r.llc.writebacks == 1 and r.dram_write_bytes == LINE


def test_next_line_prefetcher_on_a_sequential_stream(lines_to_addrs):
    # Streaming lines 0..N-1 through a large cache: each access prefetches line+1, so
    # only line 0 misses; N prefetches are issued (lines 1..N), the last one never used.
    n = 1000
    r = simulate(lines_to_addrs(np.arange(n)), CacheConfig(64 * 1024, 16), prefetch=True)
    assert r.llc.misses == 1 and r.llc.hits == n - 1
    assert r.llc.prefetch_fills == n and r.llc.prefetch_hits == n - 1
    assert r.dram_read_bytes == (n + 1) * LINE


def test_useless_prefetches_are_counted_on_eviction(lines_to_addrs):
    # 1 set x 1 way: 0 misses; prefetch 1 evicts 0; 10 misses and evicts the unused 1
    # (useless); prefetch 11 evicts 10. 11 is still cached, unused: not counted yet.
    r = simulate(lines_to_addrs([0, 10]), CacheConfig(LINE, 1), prefetch=True)
    assert (r.llc.prefetch_fills, r.llc.useless_prefetches, r.llc.prefetch_hits) == (2, 1, 0)
    assert r.llc.evictions == 3 and r.llc.misses == 2


def test_warmup_resets_stats_but_keeps_state(lines_to_addrs):
    cfg = CacheConfig(16 * LINE, 16)
    seq = lines_to_addrs(list(range(8)) * 3)
    r = simulate(seq, cfg, warmup=8)
    assert (r.llc.hits, r.llc.misses, r.trace_accesses, r.warmup_accesses) == (16, 0, 16, 8)
    r = simulate(seq, cfg, warmup=1 / 3)  # fraction of a known total (24 accesses)
    assert (r.llc.hits, r.llc.misses) == (16, 0)
    with pytest.raises(ValueError, match="total_accesses"):
        simulate(iter([seq]), cfg, warmup=0.5)


def _zipf_lines(n, seed):
    rng = np.random.default_rng(seed)
    return np.minimum(rng.zipf(1.3, n), 20000).astype(np.uint64) * np.uint64(7)


@pytest.mark.parametrize("policy", ["lru", "random", "srrip", "drrip"])
def test_same_result_whatever_the_chunk_size(policy, lines_to_addrs):
    addrs = lines_to_addrs(_zipf_lines(20000, 3), writes=np.arange(20000) % 5 == 0)
    cfg = CacheConfig(12 * 40 * LINE, 12, policy=policy, seed=9)
    whole = simulate(addrs, cfg, prefetch=True, warmup=3000)
    for size in (1, 777, 4096):
        chunks = [addrs[i:i + size] for i in range(0, addrs.size, size)]
        assert simulate(chunks, cfg, prefetch=True, warmup=3000) == whole


@pytest.mark.parametrize("policy", ["lru", "fifo", "random", "plru", "srrip", "brrip"])
@pytest.mark.parametrize("prefetch", [False, True])
def test_threads_give_identical_counts(policy, prefetch, lines_to_addrs):
    addrs = lines_to_addrs(_zipf_lines(30000, 4), writes=np.arange(30000) % 3 == 0)
    cfg = CacheConfig(16 * 128 * LINE, 16, policy=policy, seed=2)
    serial = simulate(addrs, cfg, prefetch=prefetch)
    parallel = simulate(addrs, cfg, prefetch=prefetch, threads=2)
    assert parallel.threads == 2
    assert parallel.levels == serial.levels
    assert (parallel.dram_read_bytes, parallel.dram_write_bytes) == (serial.dram_read_bytes, serial.dram_write_bytes)


@pytest.mark.parametrize("threads,sets", [(3, 96 * 8), (4, 128 * 8), (6, 96 * 8)])
def test_more_threads_than_two_give_identical_counts(threads, sets, lines_to_addrs):
    """Partition counts other than 2 take the general ownership paths (an address bit field
    for 4, a reciprocal for 3 and 6), with writes, sampling and several chunks."""
    addrs = lines_to_addrs(_zipf_lines(40000, 6), writes=np.arange(40000) % 5 == 0)
    cfg = CacheConfig(sets * 8 * LINE, 8, seed=4)
    chunks = [addrs[i:i + 7001] for i in range(0, addrs.size, 7001)]
    for sample in (None, "1/4"):
        serial = simulate(chunks, cfg, sample_sets=sample, warmup=5000)
        parallel = simulate(chunks, cfg, sample_sets=sample, warmup=5000, threads=threads)
        assert parallel.threads == threads
        assert parallel.levels == serial.levels
        assert parallel.set_miss_sumsq == serial.set_miss_sumsq


def test_threads_with_private_levels_identical(lines_to_addrs):
    addrs = lines_to_addrs(_zipf_lines(30000, 5), writes=np.arange(30000) % 4 == 0)
    kw = dict(l1=CacheConfig(8 * 8 * LINE, 8), l2=CacheConfig(8 * 32 * LINE, 8), inclusive=True)
    llc = CacheConfig(16 * 128 * LINE, 16)
    assert simulate(addrs, llc, threads=2, **kw).levels == simulate(addrs, llc, **kw).levels


def test_drrip_runs_serially_and_says_so(lines_to_addrs):
    r = simulate(lines_to_addrs(range(100)), CacheConfig(16 * 64 * LINE, 16, policy="drrip"), threads=2)
    assert r.threads == 1 and "PSEL" in r.notes[0]


def test_set_sampling_scales_and_reports_fraction(lines_to_addrs):
    cfg = CacheConfig(8 * 4096 * LINE, 8)
    rng = np.random.default_rng(0)
    addrs = lines_to_addrs(rng.integers(0, 200000, 200000))
    full = simulate(addrs, cfg)
    est = simulate(addrs, cfg, sample_sets="1/8")
    assert est.sampled and 0.09 < est.sample_fraction < 0.16
    assert est.sampled_sets == round(est.sample_fraction * 4096)
    record = est.to_record()
    assert record["estimated"] and record["llc_misses"] == pytest.approx(est.llc.misses * 4096 / est.sampled_sets)
    # uniform traffic: the scaled estimate lands within a few percent of the exact count
    assert abs(record["llc_misses"] / full.llc.misses - 1) < 0.05
    assert simulate(addrs, cfg, sample_sets=1.0).levels == full.levels
    with pytest.raises(ValueError, match="fraction"):
        simulate(addrs, cfg, sample_sets="2/1")


def test_simulator_keeps_state_across_feeds(lines_to_addrs):
    sim = Simulator(CacheConfig(4 * LINE, 4))
    sim.feed(lines_to_addrs([1, 2]))
    sim.feed(lines_to_addrs([1, 2]))
    assert (sim.result().llc.hits, sim.result().llc.misses) == (2, 2)


def test_bad_inputs():
    cfg = CacheConfig(4 * LINE, 4)
    with pytest.raises(ValueError, match="1-D"):
        simulate(np.zeros((2, 2), dtype=np.uint64), cfg)
    with pytest.raises(ValueError, match="negative"):
        simulate(np.array([-64], dtype=np.int64), cfg)
    with pytest.raises(ValueError, match="line_bytes"):
        simulate(np.zeros(1, dtype=np.uint64), cfg, l1=CacheConfig(128, 1, line_bytes=128))
    with pytest.raises(ValueError, match="LLC-only"):
        simulate(np.zeros(1, dtype=np.uint64), cfg, l1=CacheConfig(128, 2), sample_sets=0.5)


def test_address_beyond_32_bit_tags_is_a_clear_error():
    # 1 set x 2 ways with forced 32-bit tags: the stored tag is line + 1, so line 2**32 - 2
    # is the last that fits
    cfg = CacheConfig(2 * LINE, 2)
    sim = Simulator(cfg, tag_bits=32)
    sim.feed(np.array([(2**32 - 2) * LINE], dtype=np.uint64))
    assert sim.result().llc.misses == 1
    with pytest.raises(ValueError, match="32-bit"):
        Simulator(cfg, tag_bits=32).feed(np.array([0, (2**32 - 1) * LINE], dtype=np.uint64))
    # the default picks 64-bit tags for such a small cache, so the same address works
    assert Simulator(cfg).tag_bits == 64
    assert simulate(np.array([(2**40) * LINE] * 2, dtype=np.uint64), cfg).llc.hits == 1


def test_threaded_run_names_the_first_address_beyond_32_bit_tags():
    # 4 sets, 2 threads: each thread checks the addresses it scans; the error names the
    # first bad address of the chunk, whichever thread owns it
    cfg = CacheConfig(8 * LINE, 2)
    limit = (2**32 - 1) * 4  # first line whose tag (line // 4 + 1) needs 33 bits
    # with 2 threads, lines limit + 2 and limit have different owners (2-line blocks)
    chunk = np.array([0, LINE, (limit + 2) * LINE, limit * LINE, 2 * LINE], dtype=np.uint64)
    for threads in (1, 2):
        sim = Simulator(cfg, tag_bits=32, threads=threads)
        assert sim.partitions == threads
        with pytest.raises(ValueError, match=f"address {(limit + 2) * LINE:#x} is too large"):
            sim.feed(chunk)


def test_small_private_levels_take_real_user_space_addresses():
    # a 32 KiB L1 has 64 sets: 32-bit tags would stop at 16 TiB, below 0x7f... addresses
    base = np.uint64(0x7FFF_1234_5000)
    addrs = base + np.arange(0, 64 * 600, 64, dtype=np.uint64)
    r = simulate(np.concatenate([addrs, addrs]), CacheConfig("56MB", 16), l1=CacheConfig("32KB", 8),
                 inclusive=False)
    assert r.level("L1").misses == 1200 and r.llc.hits == 600 and r.llc.misses == 600


def test_large_real_world_addresses_work_at_56mb():
    # 47-bit user-space addresses are far inside the limit of a 57,344-set cache
    base = np.uint64(0x7F12_3456_7000)
    addrs = base + np.arange(0, 64 * 1000, 64, dtype=np.uint64)
    r = simulate(np.concatenate([addrs, addrs]), CacheConfig("56MB", 16))
    assert (r.llc.misses, r.llc.hits) == (1000, 1000)
