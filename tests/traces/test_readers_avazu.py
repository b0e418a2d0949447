"""Avazu CSV reader: header handling, hashing rule, missing values, gzip, errors."""

from __future__ import annotations

import gzip
import zlib

import pytest

from traces.readers import detect_kind, open_dataset
from traces.readers.avazu import AVAZU_COLUMNS, iter_avazu_batches

HEADER = ",".join(AVAZU_COLUMNS) + "\n"
ROW1 = "1000009418151094273,0,14102100,1005,0,1fbe01fe,f3845767,28905ebd,ecad2386,7801e8d9,07d7df22,a99f214a,ddd2926e,44956a24,1,2,15706,320,50,1722,0,35,-1,79\n"
ROW2 = "10000169349117863715,1,14102100,1005,,,f3845767,28905ebd,ecad2386,7801e8d9,07d7df22,a99f214a,96809ac8,711ee120,1,0,15704,320,50,1722,0,35,100084,79\n"


def _h(value: str) -> int:
    """The documented rule: 1-16 hex digits -> int(x, 16); anything else -> crc32 of its bytes."""
    if 0 < len(value) <= 16 and all(c in "0123456789abcdefABCDEF" for c in value):
        return int(value, 16)
    return zlib.crc32(value.encode())


def test_column_count_matches_preset():
    assert len(AVAZU_COLUMNS) == 24
    assert len([c for c in AVAZU_COLUMNS if c not in ("id", "click", "hour")]) == 21


def test_hand_derived_batch(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(HEADER + ROW1 + ROW2)
    (batch,) = list(iter_avazu_batches(path, 4))
    assert (batch.num_features, batch.batch_size) == (21, 2)
    # feature 0 = C1 "1005" read as hex; feature 2 = site_id; ROW2 misses banner_pos and site_id
    assert [batch.bag(0, s).tolist() for s in range(2)] == [[0x1005], [0x1005]]
    assert [batch.bag(1, s).tolist() for s in range(2)] == [[0], []]
    assert [batch.bag(2, s).tolist() for s in range(2)] == [[0x1FBE01FE], []]
    # C20 = "-1" is not hex: crc32("-1"); "100084" is hex-looking
    assert [batch.bag(19, s).tolist() for s in range(2)] == [[zlib.crc32(b"-1")], [0x100084]]
    assert batch.num_lookups == 42 - 2


def test_caps_missing_zero_and_gzip(tmp_path):
    path = tmp_path / "train.gz"  # extension says nothing about the kind once .gz is stripped
    with gzip.open(path, "wt") as handle:
        handle.write(HEADER + ROW1 + ROW2 * 3)
    caps = [7, 7, 4737, 7745, 26, 8552, 559, 36, 2686408, 6729486, 8251, 5, 4, 2626, 8, 9, 435, 4, 68, 172, 60]
    batches = list(open_dataset(path, 3, caps, kind="avazu", missing="zero"))
    assert [b.batch_size for b in batches] == [3, 1]
    rows = [ROW1, ROW2, ROW2, ROW2]
    for k, batch in enumerate(batches):
        for s in range(batch.batch_size):
            values = rows[3 * k + s].strip().split(",")[3:]
            for t in range(21):
                expected = _h(values[t]) % caps[t] if values[t] else 0
                assert batch.bag(t, s).tolist() == [expected]


def test_test_file_without_click(tmp_path):
    columns = [c for c in AVAZU_COLUMNS if c != "click"]
    row = ROW1.split(",")
    del row[1]
    path = tmp_path / "test.csv"
    path.write_text(",".join(columns) + "\n" + ",".join(row))
    (batch,) = list(iter_avazu_batches(path, 8))
    assert batch.num_features == 21 and batch.bag(20, 0).tolist() == [0x79]


def test_wrong_field_count_names_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + ROW1 + ROW1.replace(",79\n", "\n"))
    with pytest.raises(ValueError, match=r"bad\.csv: line 3: expected 24 fields separated by ',', got 23"):
        list(iter_avazu_batches(path, 8))


def test_missing_header_rejected(tmp_path):
    path = tmp_path / "nohead.csv"
    path.write_text(ROW1)
    with pytest.raises(ValueError, match=r"nohead\.csv: line 1: expected a CSV header"):
        iter_avazu_batches(path, 8)


def test_caps_length_checked(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(HEADER + ROW1)
    with pytest.raises(ValueError, match=r"the data has 21 categorical features but the workload has 26 tables.*"
                                         r"use --workload avazu"):
        iter_avazu_batches(path, 8, caps=[5] * 26)


def test_detect_kind(tmp_path):
    plain = tmp_path / "x"
    plain.write_text(HEADER + ROW1)
    assert detect_kind(plain) == "avazu"
    assert detect_kind(tmp_path / "a.csv.gz") == "avazu"
    assert detect_kind(tmp_path / "a.txt") == "criteo"
    assert detect_kind(tmp_path / "a.npz") == "npz"
