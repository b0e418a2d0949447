"""CacheConfig: geometry from first principles, validation messages, policy registry."""

import pytest

from sim.config import CacheConfig
from sim.policies import POLICIES, get_policy


@pytest.mark.parametrize("size, sets", [("14MB", 14336), ("28MB", 28672), ("56MB", 57344), ("56MiB", 57344),
                                        ("56m", 57344), (58720256, 57344)])
def test_set_counts_of_the_paper_sizes(size, sets):
    # 56 MiB / (16 ways x 64 B) = 58720256 / 1024 = 57344 sets, not a power of two.
    cfg = CacheConfig(size, 16)
    assert cfg.num_sets == sets
    assert cfg.num_lines == sets * 16
    assert cfg.size_bytes == sets * 16 * 64


@pytest.mark.parametrize("kwargs, message", [
    (dict(size_bytes=1000, ways=16), "multiple of ways x line_bytes"),
    (dict(size_bytes=0, ways=16), "positive"),
    (dict(size_bytes=-1024, ways=1), "positive"),
    (dict(size_bytes="1MB", ways=0), "ways"),
    (dict(size_bytes="1MB", ways=16, line_bytes=48), "power of two"),
    (dict(size_bytes="1MB", ways=16, policy="lfu"), "known: lru, fifo, random, plru, srrip, brrip, drrip"),
    (dict(size_bytes=12 * 64 * 4, ways=12, policy="plru"), "power-of-two ways"),
    (dict(size_bytes="1MB", ways=16, write_policy="write-through"), "write-back"),
    (dict(size_bytes="56 parsecs", ways=16), "expected a number"),
])
def test_invalid_configs_name_the_constraint(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CacheConfig(**kwargs)


def test_config_is_frozen_and_policy_normalised():
    cfg = CacheConfig("1MB", 16, policy="LRU")
    assert cfg.policy == "lru"
    with pytest.raises(AttributeError):
        cfg.ways = 8


def test_registry_covers_the_issue_policies():
    assert set(POLICIES) == {"lru", "fifo", "random", "plru", "srrip", "brrip", "drrip"}
    assert len({p.policy_id for p in POLICIES.values()}) == len(POLICIES)
    with pytest.raises(ValueError, match="known: lru"):
        get_policy("mru")
