"""SHARDS (sim.mrc.shards): sampling filter, fixed-rate and fixed-size curves against the exact one."""

from __future__ import annotations

import numpy as np
import pytest

from sim.mrc.stack import StackDistances, exact_mrc
from sim.mrc.shards import ShardsRate, ShardsSize, sample_hash, shards_filter, shards_mrc, threshold_for_rate

LINE = 64
MB = 1 << 20


def zipf_row_chunks(accesses: int, rows: int, alpha: float, seed: int, chunk_accesses: int = 1 << 20):
    """Seeded Zipf(alpha) row lookups over ``rows`` rows of 512 B, each reading its 8 lines."""
    cdf = np.cumsum(np.arange(1, rows + 1, dtype=np.float64) ** -alpha)
    cdf /= cdf[-1]
    rng = np.random.default_rng(seed)
    scatter = 2_654_435_761 % rows
    while np.gcd(scatter, rows) != 1:
        scatter += 1
    offsets = (np.arange(8, dtype=np.uint64) * np.uint64(LINE))[None, :]
    left = accesses
    while left > 0:
        n_rows = min(chunk_accesses, left + 7) // 8
        rank = np.searchsorted(cdf, rng.random(n_rows), side="right").clip(max=rows - 1)
        row = (rank.astype(np.uint64) * np.uint64(scatter) + np.uint64(12345)) % np.uint64(rows)
        chunk = ((np.uint64(1 << 32) + row * np.uint64(512))[:, None] + offsets).reshape(-1)[:left]
        left -= chunk.size
        yield np.ascontiguousarray(chunk)


def small_trace(seed=1, n=200_000, universe=20_000):
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, universe + 1)
    ranks = rng.choice(universe, size=n, p=weights / weights.sum())
    return (rng.permutation(universe)[ranks].astype(np.uint64)) * np.uint64(LINE)


def test_rate_one_is_the_exact_curve():
    addrs = small_trace()
    exact = exact_mrc([addrs])
    full = shards_mrc([addrs], rate=1.0)
    sizes = np.arange(1, 25_000, 97) * LINE
    assert full.sampling_rate == 1.0
    assert np.allclose(full.misses(sizes), exact.misses(sizes), rtol=0, atol=1e-6)


def test_filter_keeps_every_access_of_a_sampled_line_and_about_rate_lines():
    lines = np.arange(200_000, dtype=np.uint64)
    addrs = np.concatenate([lines, lines[::-1], lines]) * np.uint64(LINE)
    rate = 0.05
    kept = shards_filter(addrs, rate)
    values, counts = np.unique(kept, return_counts=True)
    assert np.all(counts == 3)  # spatial sampling: a line is in or out for the whole trace
    assert np.array_equal(np.sort(values), np.sort(lines[sample_hash(lines) <= threshold_for_rate(rate)]))
    # binomial(200000, 0.05): mean 10000, sd ~97; 6 sd bounds
    assert abs(values.size - 10_000) < 6 * 97
    # another seed samples other lines at the same rate
    other = np.unique(shards_filter(addrs, rate, seed=1))
    assert abs(other.size - 10_000) < 6 * 97
    assert np.intersect1d(values, other).size < 0.2 * values.size


def test_adjusted_weights_add_up_to_the_trace():
    addrs = small_trace()
    curve = shards_mrc([addrs], rate=0.1)
    assert curve.compulsory_misses + curve.reuse_weight.sum() == pytest.approx(addrs.size)
    assert curve.miss_ratio([LINE])[0] <= 1.0


@pytest.mark.slow
def test_shards_adj_rate_001_error_over_1_to_128mb():
    # Issue 5 acceptance: 10.5M accesses (seed 3: 2M rows x 512 B, Zipf alpha 1.05, 8 lines
    # per lookup), SHARDS_adj at R = 0.01 (sampling seed 0): mean absolute miss-ratio error
    # over 48 log-spaced sizes from 1 to 128 MB below 0.005 against the exact curve.
    exact = StackDistances(LINE)
    sampled = ShardsRate(0.01, LINE, adjust=True, seed=0)
    bounded = ShardsSize(8192, LINE, seed=0)
    for chunk in zipf_row_chunks(10_500_000, rows=2_000_000, alpha=1.05, seed=3):
        exact.update(chunk)
        sampled.update(chunk)
        bounded.update(chunk)
    sizes = np.geomspace(MB, 128 * MB, 48).astype(np.int64) // LINE * LINE
    reference = exact.curve().miss_ratio(sizes)
    assert reference[0] - reference[-1] > 0.1  # the curve is not flat over the range
    mae = np.mean(np.abs(sampled.curve().miss_ratio(sizes) - reference))
    assert mae < 0.005, mae
    assert sampled.sampled_accesses < 0.02 * exact.accesses
    # fixed-size SHARDS with 8192 lines: same order of accuracy, bounded state
    assert np.mean(np.abs(bounded.curve().miss_ratio(sizes) - reference)) < 0.01
    assert bounded.peak_sampled_lines <= 8192


def test_fixed_size_respects_its_bound_and_lowers_the_rate():
    acc = ShardsSize(512, LINE)
    memory = acc.memory_bytes
    addrs = small_trace(n=300_000, universe=100_000)
    for start in range(0, addrs.size, 50_000):
        acc.update(addrs[start:start + 50_000])
        assert acc.sampled_lines <= 512
    assert acc.peak_sampled_lines == 512
    assert acc.memory_bytes == memory  # nothing grew
    distinct = np.unique(addrs).size
    assert acc.rate < 1.0
    # the sample holds the 512 lines of smallest hash among all touched lines
    assert acc.rate == pytest.approx(512 / distinct, rel=0.2)


def test_fixed_size_without_eviction_equals_exact_up_to_binning():
    addrs = small_trace(n=100_000, universe=5_000)
    exact = exact_mrc([addrs])
    approx = shards_mrc([addrs], max_lines=10_000)
    sizes = np.unique(np.geomspace(LINE, 6000 * LINE, 60).astype(np.int64))
    # 64 bins per octave: a distance is placed within 1.1 % of its value
    assert np.max(np.abs(approx.miss_ratio(sizes) - exact.miss_ratio(sizes))) < 0.01
    assert approx.footprint_lines == exact.footprint_lines


@pytest.mark.parametrize("make", [lambda: ShardsRate(0.05, LINE), lambda: ShardsSize(300, LINE)])
def test_same_curve_for_any_chunk_size(make):
    addrs = small_trace(n=60_000, universe=30_000)
    sizes = np.geomspace(LINE, 30_000 * LINE, 40).astype(np.int64)
    curves = []
    for chunk in (1_000, 7_777, addrs.size):
        acc = make()
        for start in range(0, addrs.size, chunk):
            acc.update(addrs[start:start + chunk])
        curves.append(acc.curve().misses(sizes))
    assert np.array_equal(curves[0], curves[1]) and np.array_equal(curves[0], curves[2])


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5])
def test_bad_rate_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="rate"):
        ShardsRate(bad)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="max sampled lines"):
        ShardsSize(0)
    with pytest.raises(ValueError, match="exactly one"):
        shards_mrc([], rate=0.1, max_lines=10)
    with pytest.raises(ValueError, match="seed"):
        ShardsRate(0.1, seed=-1)
