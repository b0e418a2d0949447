"""memprof trace file: round trip, re-chunking, corruption detection, atomic writes."""

from __future__ import annotations

import json
import os
import struct
import zlib

import numpy as np
import pytest

from traces.format.tracefile import (
    MAGIC,
    TraceFormatError,
    TraceReader,
    TraceWriter,
    detect_format,
    iter_trace_file,
    rechunk,
    write_trace,
)

W = 1 << 63
HEADER = {"workload": "unit", "seed": 7, "line_bytes": 64,
          "regions": [{"name": "t0", "base_addr": 4096, "nbytes": 8192}]}


def _chunks():
    return [
        np.array([0, 64, 128 | W, 4096], dtype=np.uint64),
        np.array([5, 6 | W, 7 | W], dtype=np.uint64),
        np.arange(100, 110, dtype=np.uint64),
    ]


@pytest.fixture
def trace(tmp_path):
    path = tmp_path / "run.trace"
    with TraceWriter(path, HEADER) as writer:
        for chunk in _chunks():
            writer.write(chunk)
    return path


def test_round_trip_header_chunks_counts(trace):
    reader = TraceReader(trace)
    assert reader.header == HEADER
    assert reader.version == 1
    assert (reader.total, reader.num_chunks, reader.writes, reader.reads) == (17, 3, 3, 14)
    stored = list(reader.iter_chunks())
    assert [c.tolist() for c in stored] == [c.tolist() for c in _chunks()]
    assert all(c.dtype == np.uint64 and c.flags.c_contiguous for c in stored)
    assert reader.validate() == {"total": 17, "num_chunks": 3, "reads": 14, "writes": 3}
    assert detect_format(trace) == "memprof"


def test_layout_is_aligned_and_documented(trace):
    raw = trace.read_bytes()
    assert raw[:8] == MAGIC
    version, flags, json_nbytes, json_crc = struct.unpack_from("<IIII", raw, 8)
    total, chunks, writes = struct.unpack_from("<QQQ", raw, 24)
    assert (version, flags, total, chunks, writes) == (1, 0, 17, 3, 3)
    assert json_nbytes % 8 == 0
    assert json.loads(raw[64 : 64 + json_nbytes]) == HEADER
    first = 64 + json_nbytes
    assert raw[first : first + 4] == b"CHNK"
    crc, entries = struct.unpack_from("<IQ", raw, first + 4)
    payload = raw[first + 16 : first + 16 + 8 * entries]
    assert entries == 4 and zlib.crc32(payload) == crc
    assert np.frombuffer(payload, "<u8").tolist() == _chunks()[0].tolist()
    assert raw[-32:-28] == b"TEND"
    assert len(raw) == first + 3 * 16 + 17 * 8 + 32


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 16, 17, 100])
def test_rechunking(trace, size):
    flat = np.concatenate(_chunks()).tolist()
    got = list(iter_trace_file(trace, chunk_entries=size))
    assert [len(c) for c in got] == [min(size, 17 - i) for i in range(0, 17, size)]
    assert np.concatenate(got).tolist() == flat


def test_rechunk_rejects_nonpositive():
    with pytest.raises(ValueError, match="positive"):
        list(rechunk([np.zeros(3, np.uint64)], 0))


def test_writer_accepts_integer_dtypes_and_skips_empty(tmp_path):
    path = tmp_path / "a.trace"
    assert write_trace(path, [np.array([1, 2], np.int32), np.array([], np.uint64), [3]], {}) == 3
    reader = TraceReader(path)
    assert reader.num_chunks == 2
    assert np.concatenate(list(reader.iter_chunks())).tolist() == [1, 2, 3]


@pytest.mark.parametrize("bad, match", [
    (np.array([-1], np.int64), "non-negative"),
    (np.zeros((2, 2), np.uint64), "1-D"),
    (np.array([1.5]), "integers"),
])
def test_writer_rejects_bad_chunks(tmp_path, bad, match):
    with pytest.raises(ValueError, match=match):
        with TraceWriter(tmp_path / "x.trace", {}) as writer:
            writer.write(bad)
    assert os.listdir(tmp_path) == []


def test_writer_rejects_unserialisable_header(tmp_path):
    with pytest.raises(ValueError, match="JSON"):
        TraceWriter(tmp_path / "x.trace", {"f": object()})
    assert os.listdir(tmp_path) == []


def test_exception_inside_writer_leaves_nothing(tmp_path):
    path = tmp_path / "run.trace"
    with pytest.raises(RuntimeError, match="boom"):
        with TraceWriter(path, HEADER) as writer:
            writer.write(np.arange(10, dtype=np.uint64))
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_failed_rewrite_keeps_old_file(trace):
    before = trace.read_bytes()
    with pytest.raises(KeyboardInterrupt):
        with TraceWriter(trace, {}) as writer:
            writer.write(np.arange(3, dtype=np.uint64))
            raise KeyboardInterrupt
    assert trace.read_bytes() == before
    assert os.listdir(trace.parent) == [trace.name]


def test_empty_trace(tmp_path):
    path = tmp_path / "empty.trace"
    write_trace(path, [], {"a": 1})
    reader = TraceReader(path)
    assert (reader.total, reader.num_chunks) == (0, 0)
    assert list(iter_trace_file(path, allow_empty=True)) == []  # a valid file ...
    with pytest.raises(TraceFormatError, match="holds no accesses"):  # ... but no data to simulate (issue 15)
        list(iter_trace_file(path))
