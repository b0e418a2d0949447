"""Set sampling reports accesses, misses, hits and the miss ratio that agree with each other,
with standard errors, and estimates the exact run within a few standard errors."""

from __future__ import annotations

import numpy as np
import pytest

from sim.config import CacheConfig
from sim.engine.simulator import simulate
from traces.generator import zipf_row_trace


def _trace():
    return np.concatenate(list(zipf_row_trace(200_000, alpha=1.05, accesses=2_000_000, seed=5)))


def test_sampled_columns_are_consistent_and_close_to_exact():
    addrs = _trace()
    cfg = CacheConfig(4 << 20, 16)
    exact = simulate(addrs, cfg).to_record()
    est = simulate(addrs, cfg, sample_sets="1/16").to_record()
    assert est["estimated"]
    assert est["llc_accesses"] == exact["llc_accesses"] == addrs.size  # LLC-only: every access is known
    assert est["llc_hits"] + est["llc_misses"] == pytest.approx(est["llc_accesses"])
    assert est["llc_miss_ratio"] == pytest.approx(est["llc_misses"] / est["llc_accesses"])
    assert est["llc_miss_ratio_stderr"] == pytest.approx(est["llc_misses_stderr"] / addrs.size)
    assert abs(est["llc_misses"] - exact["llc_misses"]) < 4 * est["llc_misses_stderr"]
    assert abs(est["llc_miss_ratio"] - exact["llc_miss_ratio"]) < 4 * est["llc_miss_ratio_stderr"]
    assert est["dram_read_bytes"] == pytest.approx(est["llc_misses"] * 64)
