"""Within-batch locality statistics on hand-counted batches."""

from __future__ import annotations

import pytest

from traces.batch import Batch
from traces.locality import batch_stats, mean_stats


def _batch() -> Batch:
    # feature 0: rows 1, 1, 2; feature 1: rows 1, 3, 3, 3 (row 1 of feature 1 is not row 1 of feature 0)
    return Batch.from_bags([[[1, 1], [2]], [[1], [3, 3, 3]]])


def test_hand_counted_batch():
    stats = batch_stats(_batch(), top_percents=(25.0, 50.0))
    # pairs: (0,1) x2, (0,2) x1, (1,1) x1, (1,3) x3 -> 7 lookups, 4 unique rows
    assert (stats.lookups, stats.unique_rows) == (7, 4)
    assert stats.reuse == pytest.approx(7 / 4)
    assert stats.rows_once_pct == pytest.approx(50.0)  # (0,2) and (1,1)
    assert stats.accesses_once_pct == pytest.approx(100 * 2 / 7)
    assert stats.top_pct[25.0] == pytest.approx(100 * 3 / 7)  # the hottest row: (1,3)
    assert stats.top_pct[50.0] == pytest.approx(100 * 5 / 7)  # (1,3) and (0,1)


def test_tiny_percent_still_counts_the_hottest_row():
    stats = batch_stats(_batch(), top_percents=(0.1,))
    assert stats.top_pct[0.1] == pytest.approx(100 * 3 / 7)


def test_mean_weighs_batches_equally():
    one = batch_stats(_batch(), top_percents=(25.0,))
    flat = batch_stats(Batch.from_bags([[[5], [6]]]), top_percents=(25.0,))  # 2 rows once each
    mean = mean_stats([one, flat])
    assert mean.batches == 2
    assert mean.rows_once_pct == pytest.approx((50.0 + 100.0) / 2)
    assert mean.lookups == 9 and mean.unique_rows == 6


def test_empty_batch_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        batch_stats(Batch.from_bags([[[], []]]))
