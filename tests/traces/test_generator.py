"""The synthetic generator: exact bounded-Zipf frequencies, scatter, pooling, determinism."""

import math

import numpy as np
import pytest

from traces.generator import SyntheticGenerator, feistel_half_bits, feistel_permute, parse_pooling
from traces.workloads import get_workload


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0, 1.3])
def test_rank_frequencies_match_bounded_zipf(alpha):
    n = 20
    gen = SyntheticGenerator(get_workload(str(n), dim=4), alpha=alpha, seed=2)
    tokens = np.concatenate([gen.batch(20000, i).indices for i in range(10)])
    counts = np.bincount(tokens, minlength=n)
    # Tokens are scattered by a permutation: compare sorted frequencies with the pmf.
    pmf = np.arange(1, n + 1, dtype=float) ** -alpha
    pmf /= pmf.sum()
    observed = np.sort(counts)[::-1] / counts.sum()
    sigma = np.sqrt(pmf * (1 - pmf) / counts.sum())
    assert np.all(np.abs(observed - pmf) < 5 * sigma + 1e-4)


def test_feistel_is_a_permutation_for_awkward_sizes():
    for n in (1, 2, 3, 17, 1000, 4097):
        half = feistel_half_bits(n)
        image = sorted(feistel_permute(i, n, half, 12345) for i in range(n))
        assert image == list(range(n))


def test_large_tables_need_no_per_row_memory_and_stay_in_range():
    wl = get_workload("criteo-tb")
    gen = SyntheticGenerator(wl, alpha=1.05, seed=0)
    batch = gen.batch(512, 3)
    assert batch.num_lookups == 26 * 512
    for t, n in enumerate(wl.cardinalities):
        tokens = batch.indices[batch.offsets[t * 512] : batch.offsets[(t + 1) * 512]]
        assert tokens.min() >= 0 and tokens.max() < n


def test_batches_are_deterministic_and_independent_of_order():
    wl = get_workload("1000,300", dim=8)
    a = SyntheticGenerator(wl, seed=7, pooling="poisson:3")
    b = SyntheticGenerator(wl, seed=7, pooling="poisson:3")
    late = b.batch(32, 5)
    assert np.array_equal(a.batch(32, 5).indices, late.indices)
    assert not np.array_equal(a.batch(32, 4).indices, late.indices)
    assert not np.array_equal(SyntheticGenerator(wl, seed=8).batch(32, 5).indices, a.batch(32, 5).indices)


def test_pooling_distributions():
    wl = get_workload("1000,300", dim=8)
    fixed = SyntheticGenerator(wl, pooling="3,5", seed=0).batch(100, 0)
    assert np.all(np.diff(fixed.offsets[:101]) == 3) and np.all(np.diff(fixed.offsets[100:]) == 5)
    poisson = SyntheticGenerator(wl, pooling="poisson:2", seed=0).batch(5000, 0)
    sizes = np.diff(poisson.offsets)
    assert abs(sizes.mean() - 2) < 0.1 and (sizes == 0).mean() == pytest.approx(math.exp(-2), abs=0.02)
    uniform = SyntheticGenerator(wl, pooling="uniform:2-4", seed=0).batch(3000, 0)
    assert set(np.diff(uniform.offsets).tolist()) == {2, 3, 4}


def test_workload_multihot_pooling_is_the_default():
    wl = get_workload("criteo-tb-v2-multihot")
    batch = SyntheticGenerator(wl, seed=0).batch(4, 0)
    assert batch.num_lookups == 4 * sum(wl.pooling)


@pytest.mark.parametrize("spec", ["poisson:-1", "uniform:5-2", "1,2", "zipf:3", "-2"])
def test_bad_pooling_specs_are_refused(spec):
    with pytest.raises(ValueError, match="pooling"):
        parse_pooling(spec, 3)


def test_bad_alpha_is_refused():
    with pytest.raises(ValueError, match="alpha"):
        SyntheticGenerator(get_workload("10"), alpha=-0.5)
