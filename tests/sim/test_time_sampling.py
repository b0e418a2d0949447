"""Time sampling: the schedule (what is fed, measured, skipped), exactness without skipping,
and the coverage of its standard error on a stationary Zipf trace."""

import numpy as np
import pytest

from sim.config import CacheConfig
from sim.engine.simulator import Simulator
from sim.time_sampling import TimeSampler, TimeSampling, merge_time_partitions, parse_count


@pytest.mark.parametrize("hierarchy", [False, True])
def test_window_equal_to_period_is_the_exact_run(hierarchy, zipf_trace, feed_chunks, level_counts):
    config = CacheConfig(64 * 8 * 64, 8)
    levels = {"l1": CacheConfig(8 * 4 * 64, 4), "l2": CacheConfig(16 * 8 * 64, 8)} if hierarchy else {}
    trace = zipf_trace(50_000, writes=0.2)
    exact = feed_chunks(Simulator(config, warmup=7_000, **levels), trace, 4_096)
    sampler = TimeSampler(Simulator(config, **levels), TimeSampling(window=3_000, period=3_000), warmup=7_000)
    sampled = feed_chunks(sampler, trace, 4_096)
    assert level_counts(sampled.measured) == level_counts(exact)
    assert sampled.total_accesses == sampled.measured.trace_accesses == exact.trace_accesses == 43_000
    assert sampled.windows == 15  # 43,000 / 3,000 rounded up: 14 full windows and one of 1,000
    assert sampled.llc_misses == exact.llc.misses
    assert sampled.llc_misses_stderr == 0.0
    record = sampled.to_record()
    assert record["llc_misses"] == exact.llc.misses and record["llc_misses_stderr"] == 0.0


def test_schedule_feeds_warmups_and_windows_and_skips_the_rest(feed_chunks):
    """Distinct lines (every access a compulsory miss): 1,000 global warm-up accesses, then
    periods of 1,000 = 300 warm-up + 200 measured + 500 skipped. 9,400 accesses = warm-up +
    8 full periods + a last one of 400 (300 warm-up, 100 measured)."""
    trace = np.arange(9_400, dtype=np.uint64) * np.uint64(64)
    sim = Simulator(CacheConfig(64 * 8 * 64, 8))
    sampler = TimeSampler(sim, TimeSampling.parse("200/1000", warmup="300"), warmup=1_000)
    result = feed_chunks(sampler, trace, 777)  # chunks straddle every boundary
    assert sim.fed == 1_000 + 8 * 500 + 400
    assert result.windows == 9
    assert result.window_accesses.tolist() == [200] * 8 + [100]
    assert result.window_misses.tolist() == [200] * 8 + [100]
    assert result.measured.trace_accesses == result.measured.llc.accesses == 1_700
    assert result.total_accesses == 8_400
    assert result.llc_misses == pytest.approx(8_400)  # every access misses: the ratio is exact
    assert result.llc_misses_stderr == pytest.approx(0.0, abs=1e-9)  # every window has the same ratio
    row = result.to_record()
    assert row["accesses"] == 8_400 and row["llc_accesses"] == pytest.approx(8_400)
    assert row["time_windows"] == 9 and row["time_sample_fraction"] == pytest.approx(1_700 / 8_400)


def test_stderr_is_the_ratio_estimators_by_hand(feed_chunks):
    """Windows 0 and 2 fetch 100 new lines each (100 misses), window 1 rereads window 0's
    lines (0 misses): s**2 follows from the three (misses, accesses) pairs by hand."""
    first, second = np.arange(100, dtype=np.uint64), np.arange(1000, 1100, dtype=np.uint64)
    skipped = np.arange(5000, 5100, dtype=np.uint64)  # each window is followed by 100 skipped accesses
    full = np.concatenate([first, skipped, first, skipped, second, skipped])
    result = feed_chunks(TimeSampler(Simulator(CacheConfig(64 * 16 * 64, 16)), TimeSampling(100, 200)),
                   full * np.uint64(64), 50)
    assert result.window_misses.tolist() == [100, 0, 100]
    ratio = 200 / 300
    s2 = sum((m - ratio * 100) ** 2 for m in (100, 0, 100)) / 2
    expected = (600 / 300) * np.sqrt((1 - 300 / 600) * 3 * s2)
    assert result.llc_misses == pytest.approx(400)
    assert result.llc_misses_stderr == pytest.approx(expected, rel=1e-12)


def test_exact_count_lies_within_three_standard_errors(zipf_trace, feed_chunks):
    """Stationary Zipf traces, 20 seeds: 20% of the trace measured in 40 windows after a
    warm-up longer than the cache; a normal estimate strays beyond 3 SE 0.3% of the time."""
    config = CacheConfig(256 * 8 * 64, 8)  # 2,048 lines
    sampling = TimeSampling(window=2_000, period=10_000, warmup=4_000)
    inside, errors = 0, []
    for seed in range(20):
        trace = zipf_trace(400_000, seed=seed)
        exact = feed_chunks(Simulator(config, warmup=10_000), trace, 1 << 16).llc.misses
        result = feed_chunks(TimeSampler(Simulator(config), sampling, warmup=10_000), trace, 1 << 16)
        assert result.windows == 39 and result.llc_misses_stderr > 0
        errors.append((result.llc_misses - exact) / result.llc_misses_stderr)
        inside += abs(result.llc_misses - exact) <= 3 * result.llc_misses_stderr
    assert inside >= 18, errors
    assert abs(np.mean(errors)) < 1.5  # no gross bias from stale cache state after the skips


def test_merged_time_sampled_partitions_equal_the_whole_run(zipf_trace, feed_chunks, level_counts):
    config = CacheConfig(96 * 8 * 64, 8)
    trace = zipf_trace(60_000, writes=0.2)
    sampling = TimeSampling(window=1_500, period=5_000, warmup=1_000)
    whole = feed_chunks(TimeSampler(Simulator(config), sampling, warmup=2_000), trace, 8_192)
    parts = [feed_chunks(TimeSampler(Simulator(config, set_partition=(i, 2)), sampling, warmup=2_000), trace, 8_192)
             for i in range(2)]
    merged = merge_time_partitions(parts)
    assert level_counts(merged.measured) == level_counts(whole.measured)
    assert merged.window_misses.tolist() == whole.window_misses.tolist()
    assert all(p.measured.llc.misses < whole.measured.llc.misses for p in parts)
    assert merged.llc_misses_stderr == pytest.approx(whole.llc_misses_stderr, rel=1e-12)


def test_errors(zipf_trace, feed_chunks):
    with pytest.raises(ValueError, match="must not exceed the period"):
        TimeSampling(window=600, period=1000, warmup=500)
    with pytest.raises(ValueError, match="window >= 1"):
        TimeSampling(window=0, period=10)
    with pytest.raises(ValueError, match="WINDOW/PERIOD"):
        TimeSampling.parse("1M")
    with pytest.raises(ValueError, match="whole number"):
        parse_count("1.5x")
    assert TimeSampling.parse("1M/16M", "250k") == TimeSampling(1_000_000, 16_000_000, 250_000)
    assert parse_count("1e6") == 1_000_000
    config = CacheConfig(64 * 8 * 64, 8)
    with pytest.raises(ValueError, match="set sampling"):
        TimeSampler(Simulator(CacheConfig(1024 * 8 * 64, 8), sample_sets="1/4"), TimeSampling(1, 2))
    with pytest.raises(ValueError, match="fresh"):
        TimeSampler(Simulator(config, warmup=10), TimeSampling(1, 2))
    other = TimeSampler(Simulator(config, set_partition=(1, 2)), TimeSampling(10, 20))
    first = feed_chunks(TimeSampler(Simulator(config, set_partition=(0, 2)), TimeSampling(10, 20)), zipf_trace(1_000), 100)
    with pytest.raises(ValueError, match="different traces"):
        merge_time_partitions([first, feed_chunks(other, zipf_trace(900), 100)])
