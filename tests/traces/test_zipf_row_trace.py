"""traces.generator.zipf_row_trace: row lookups from the generator's bounded-Zipf sampler,
each read as its consecutive lines; the stream does not depend on the chunking."""

import numpy as np
import pytest

from traces.generator import zipf_row_trace


def test_each_lookup_reads_its_row_lines_in_order():
    trace = np.concatenate(list(zipf_row_trace(300, row_bytes=256, line_bytes=64, accesses=4_000, seed=1,
                                               base_addr=1 << 20)))
    assert trace.dtype == np.uint64 and trace.size == 4_000
    rows = (trace.reshape(-1, 4) - np.uint64(1 << 20)) // np.uint64(256)
    assert (rows == rows[:, :1]).all() and int(rows.max()) < 300  # 4 lines of one row per lookup
    offsets = (trace.reshape(-1, 4) - np.uint64(1 << 20)) % np.uint64(256)
    assert (offsets == np.array([0, 64, 128, 192], dtype=np.uint64)).all()


def test_stream_is_independent_of_chunking_and_seeded():
    whole = np.concatenate(list(zipf_row_trace(1_000, accesses=20_003, alpha=1.0, seed=3)))
    pieces = list(zipf_row_trace(1_000, accesses=20_003, alpha=1.0, seed=3, chunk_entries=777))
    assert len(pieces) > 20
    np.testing.assert_array_equal(np.concatenate(pieces), whole)
    other = np.concatenate(list(zipf_row_trace(1_000, accesses=20_003, alpha=1.0, seed=4)))
    assert not np.array_equal(other, whole)


def test_row_frequencies_follow_bounded_zipf():
    n, alpha = 20, 1.0
    trace = np.concatenate(list(zipf_row_trace(n, row_bytes=64, accesses=200_000, alpha=alpha, seed=2)))
    counts = np.bincount((trace // np.uint64(64)).astype(np.int64), minlength=n)
    pmf = np.arange(1, n + 1, dtype=float) ** -alpha
    pmf /= pmf.sum()
    observed = np.sort(counts)[::-1] / counts.sum()  # rows are scattered: compare sorted frequencies
    sigma = np.sqrt(pmf * (1 - pmf) / counts.sum())
    assert np.all(np.abs(observed - pmf) < 5 * sigma + 1e-4)


@pytest.mark.parametrize("kwargs", [dict(num_rows=0), dict(row_bytes=100), dict(alpha=-1.0), dict(accesses=-1)])
def test_bad_arguments(kwargs):
    args = dict(num_rows=10, accesses=10) | kwargs
    with pytest.raises(ValueError, match="num_rows > 0"):
        list(zipf_row_trace(args.pop("num_rows"), **args))
