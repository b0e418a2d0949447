"""The skew presets reproduce Meta's published within-batch locality (SPEC section 7) within 3
percentage points at the published batch size, on tables large enough to hold a batch's active rows."""

from __future__ import annotations

import pytest

from traces.generator import SyntheticGenerator
from traces.locality import META_LOCALITY, batch_stats
from traces.skew import SKEW_PRESETS, get_skew
from traces.workloads import get_workload

BIG_TABLES = get_workload(",".join(["40000000"] * 4), dim=16)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SKEW_PRESETS))
@pytest.mark.parametrize("seed", [0, 7])
def test_preset_matches_published_locality(name, seed):
    preset, published = get_skew(name), META_LOCALITY[name]
    generator = SyntheticGenerator(BIG_TABLES, alpha=preset.alpha, pooling=preset.pooling, seed=seed,
                                   active_reuse=preset.active_reuse)
    stats = batch_stats(generator.batch(preset.batch_size, 3), top_percents=tuple(published["top_pct"]))
    assert stats.rows_once_pct == pytest.approx(published["rows_once_pct"], abs=3.0)
    assert stats.accesses_once_pct == pytest.approx(published["accesses_once_pct"], abs=3.0)
    for percent, share in published["top_pct"].items():
        assert stats.top_pct[percent] == pytest.approx(share, abs=3.0), f"top {percent}% of rows"


def test_active_rows_bound_the_distinct_rows_of_a_batch():
    # 4 tables x 1000 samples x pooling 8 = 8000 lookups per table; reuse 10 -> at most 800 ranks each
    generator = SyntheticGenerator(BIG_TABLES, alpha=0.5, pooling=8, seed=1, active_reuse=10.0)
    batch = generator.batch(1000, 0)
    for t in range(4):
        tokens = batch.indices[batch.offsets[t * 1000]:batch.offsets[(t + 1) * 1000]]
        assert len(set(tokens.tolist())) <= 800
    assert batch_stats(batch).unique_rows > 4 * 600  # alpha 0.5: most of the 800 ranks are drawn


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ValueError, match="known: meta-2021, meta-2022"):
        get_skew("meta-2099")
    with pytest.raises(ValueError, match="active_reuse"):
        SyntheticGenerator(BIG_TABLES, active_reuse=0.5)
