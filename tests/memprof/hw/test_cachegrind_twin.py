"""The twin's cachegrind side: LL geometry for 14/28/56 MB, counts of a forked child minus the null child."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from memprof.hw.backends import cachegrind_geometry
from memprof.hw.cachegrind import parse_file
from memprof.hw.cachegrind_fork import region_counts

FIX = Path(__file__).parents[2] / "fixtures" / "cachegrind"
MB = 1 << 20


def host(ways, size=32 * MB):
    return SimpleNamespace(llc=SimpleNamespace(size_bytes=size, ways=ways, line_bytes=64))


# By hand: 14 MiB / (14 x 64 B) = 14 * 2^20 / 896 = 2^14 sets; 28 MiB: 2^15; 56 MiB: 2^16.
# A 16-way LL would give 14 * 2^20 / 1024 = 14,336 sets (not a power of two), so 16 is refused.
@pytest.mark.parametrize("size_mb,sets", [(14, 16384), (28, 32768), (56, 65536)])
def test_a_sixteen_way_host_gets_fourteen_ways_for_the_paper_sizes(size_mb, sets):
    size, ways, line = cachegrind_geometry(size_mb * MB, host(16))
    assert (size, ways, line) == (size_mb * MB, 14, 64)
    assert size // (ways * line) == sets


def test_the_host_associativity_is_kept_where_it_is_legal():
    # 32 MiB / (16 x 64 B) = 2^25 / 2^10 = 32,768 sets: a power of two, so the host's 16 ways stay
    assert cachegrind_geometry(32 * MB, host(16)) == (32 * MB, 16, 64)


def test_a_size_no_way_count_makes_legal_is_refused():
    with pytest.raises(ValueError, match="no way count makes"):
        cachegrind_geometry(10_000_000, host(16))  # 10^7 = 2^7 x 5^7: no listed way count x 64 B leaves 2^k


def test_region_counts_are_the_child_summary_minus_the_null_child():
    null, child = parse_file(FIX / "fork_null.out").summary, parse_file(FIX / "fork_child.out").summary
    counts = region_counts(child, null, "dlrm", 4096)
    # by hand from the two summary lines
    assert counts.instructions == 2366276114 - 2365976114 == 300_000
    assert counts.data_reads == 100_000
    assert counts.d1_read_misses == 30_000
    assert counts.ll_read_misses == 1649571 - 1619571 == 30_000
    assert counts.ll_write_misses == 1_000
    assert counts.ll_misses == 31_000
    assert counts.lookups == 4096 and counts.model == "dlrm"


def test_a_child_below_the_null_child_is_an_error_not_a_negative_count():
    null, child = parse_file(FIX / "fork_null.out").summary, parse_file(FIX / "fork_child.out").summary
    with pytest.raises(RuntimeError, match="fewer .*than the null child"):
        region_counts(null, child, "memrec", 10)
