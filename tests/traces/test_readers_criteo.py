"""Criteo TSV reader: hand-derived batches, missing values, gzip, errors, streaming blocks."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from traces.readers import open_dataset
from traces.readers.criteo import iter_criteo_batches

DENSE = "\t".join(str(i) for i in range(13))


def _line(label, cats, dense=DENSE):
    assert len(cats) == 26
    return f"{label}\t{dense}\t" + "\t".join(cats) + "\n"


def _small_file(path):
    a = ["a"] * 26                      # 10
    b = ["ff"] * 26                     # 255
    b[1] = ""                           # missing C2
    c = [f"{k:x}" for k in range(26)]   # C(k+1) = k
    c[25] = "FFFFFFFF"                  # 4294967295, uppercase
    path.write_text(_line(1, a) + _line(0, b, dense="\t" * 12) + _line(1, c))


def test_hand_derived_batch_with_caps(tmp_path):
    path = tmp_path / "day.tsv"
    _small_file(path)
    caps = [7] * 25 + [1000]
    (batch,) = list(iter_criteo_batches(path, 8, caps))
    assert (batch.num_features, batch.batch_size) == (26, 3)
    # feature 0 (C1): 10 % 7 = 3, 255 % 7 = 3, 0 % 7 = 0
    assert batch.bag(0, 0).tolist() == [3] and batch.bag(0, 1).tolist() == [3] and batch.bag(0, 2).tolist() == [0]
    # feature 1 (C2): sample 1 is missing -> empty bag
    assert [batch.bag(1, s).tolist() for s in range(3)] == [[3], [], [1]]
    # feature 25 (C26): 10 % 1000, 255 % 1000, 4294967295 % 1000 = 295
    assert [batch.bag(25, s).tolist() for s in range(3)] == [[10], [255], [295]]
    assert batch.num_lookups == 26 * 3 - 1
    assert batch.offsets[:5].tolist() == [0, 1, 2, 3, 4]  # feature 0's three bags, then feature 1's first
    assert batch.offsets[4:7].tolist() == [4, 4, 5]      # the empty bag


def test_missing_zero_and_no_caps(tmp_path):
    path = tmp_path / "day.tsv"
    _small_file(path)
    (batch,) = list(iter_criteo_batches(path, 3, None, missing="zero"))
    assert batch.num_lookups == 78
    assert [batch.bag(1, s).tolist() for s in range(3)] == [[10], [0], [1]]
    assert batch.bag(25, 2).tolist() == [0xFFFFFFFF]


def _random_lines(rng, n):
    lines, cats_all = [], []
    for _ in range(n):
        cats = [("" if rng.random() < 0.1 else f"{int(rng.integers(0, 1 << 32)):08x}") for _ in range(26)]
        cats_all.append(cats)
        lines.append(_line(int(rng.integers(0, 2)), cats))
    return "".join(lines), cats_all


def _reference(cats_all, caps, lo, hi):
    """Pure-Python table-major expectation for samples lo..hi-1 (missing -> empty bag)."""
    bags = [[[int(cats_all[s][t], 16) % caps[t]] if cats_all[s][t] else [] for s in range(lo, hi)] for t in range(26)]
    return bags


@pytest.mark.parametrize("gz", [False, True])
def test_streaming_blocks_batches_and_gzip(tmp_path, gz):
    rng = np.random.default_rng(5)
    text, cats_all = _random_lines(rng, 53)
    path = tmp_path / ("d.tsv.gz" if gz else "d.tsv")
    if gz:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    caps = [int(c) for c in rng.integers(1, 5000, size=26)]
    # tiny blocks: lines straddle reads, many blocks per batch and batches per block
    batches = list(iter_criteo_batches(path, 10, caps, block_bytes=301))
    assert [b.batch_size for b in batches] == [10, 10, 10, 10, 10, 3]
    for k, batch in enumerate(batches):
        expected = _reference(cats_all, caps, 10 * k, 10 * k + batch.batch_size)
        got = [[batch.bag(t, s).tolist() for s in range(batch.batch_size)] for t in range(26)]
        assert got == expected


def test_max_samples_and_crlf_and_blank_lines(tmp_path):
    path = tmp_path / "d.tsv"
    _small_file(path)
    text = path.read_text()
    path.write_bytes(("\n" + text.replace("\n", "\r\n") + "\n\n").encode())
    batches = list(iter_criteo_batches(path, 2, [1 << 40] * 26, max_samples=3))
    assert [b.batch_size for b in batches] == [2, 1]
    assert batches[1].bag(25, 0).tolist() == [0xFFFFFFFF]
    assert [b.batch_size for b in iter_criteo_batches(path, 2, max_samples=1)] == [1]
    assert list(iter_criteo_batches(path, 2, max_samples=0)) == []


def test_long_hex_reduced_exactly(tmp_path):
    cats = ["1"] * 26
    cats[3] = "123456789abcdef0123"  # 19 digits, over 64 bits
    path = tmp_path / "d.tsv"
    path.write_text(_line(0, cats))
    (batch,) = list(iter_criteo_batches(path, 1, [997] * 26))
    assert batch.bag(3, 0).tolist() == [0x123456789ABCDEF0123 % 997]
    with pytest.raises(ValueError, match="does not fit in int64"):
        list(iter_criteo_batches(path, 1))


def test_non_hex_value_names_line_and_field(tmp_path):
    path = tmp_path / "bad.tsv"
    cats = ["a"] * 26
    cats[4] = "xyz"
    path.write_text(_line(1, ["b"] * 26) + "\n" + _line(0, cats))
    with pytest.raises(ValueError, match=r"bad\.tsv: line 3, field index 18 \(C5\): 'xyz' is not a hexadecimal value"):
        list(iter_criteo_batches(path, 4))


def test_wrong_field_count_names_line(tmp_path):
    path = tmp_path / "bad.tsv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(_line(1, ["b"] * 26) + _line(1, ["c"] * 26).replace("\tc\n", "\n"))
    with pytest.raises(ValueError, match=r"bad\.tsv\.gz: line 2: expected 40 fields separated by '\\t', got 39"):
        list(iter_criteo_batches(path, 4))


def test_no_label_column(tmp_path):
    path = tmp_path / "test.txt"
    path.write_text(DENSE + "\t" + "\t".join(["10"] * 26) + "\n")
    (batch,) = list(iter_criteo_batches(path, 4, label=False))
    assert batch.indices.tolist() == [16] * 26


@pytest.mark.parametrize("kwargs, match", [
    ({"caps": [5] * 25}, "the data has 26 categorical features but the workload has 25 tables"),
    ({"caps": [5] * 25 + [0]}, "positive"),
    ({"batch_size": 0}, "batch_size must be positive"),
    ({"missing": "drop"}, "missing must be one of"),
])
def test_argument_errors_at_call_time(tmp_path, kwargs, match):
    path = tmp_path / "d.tsv"
    _small_file(path)
    args = {"batch_size": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        iter_criteo_batches(path, **args)


def test_open_dataset_dispatch(tmp_path):
    path = tmp_path / "day_0"  # no extension: detected by content
    _small_file(path)
    batches = list(open_dataset(path, 2, [7] * 26))
    assert [b.batch_size for b in batches] == [2, 1]
    assert batches[0].bag(0, 0).tolist() == [3]
    with pytest.raises(ValueError, match="unknown dataset kind"):
        open_dataset(path, 2, kind="parquet")
