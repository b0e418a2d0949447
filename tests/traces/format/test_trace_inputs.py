"""Issue 15 inputs: gzip din (found by magic bytes), standard input (memprof stream, din, gzip din)
read streaming with the positions a file gives, empty traces refused, and the sampled bound on
distinct lines that sizes exact miss-ratio curves."""

from __future__ import annotations

import gzip
import io
import sys

import numpy as np
import pytest

from traces.format.tracefile import (TraceFormatError, count_accesses, detect_format, distinct_lines_bound,
                                     iter_trace_file, write_trace)

WRITE = np.uint64(1 << 63)


def _din_text(addrs: np.ndarray) -> bytes:
    return "".join(f"{1 if i % 3 == 0 else 0} {int(a):x}\n" for i, a in enumerate(addrs)).encode()


def _expected(addrs: np.ndarray) -> np.ndarray:
    out = addrs.astype(np.uint64).copy()
    out[::3] |= WRITE
    return out


@pytest.fixture
def addrs():
    return np.random.default_rng(5).integers(0, 1 << 30, 5000).astype(np.uint64)


def _read(path_or_dash, chunk_entries=1000) -> np.ndarray:
    return np.concatenate(list(iter_trace_file(path_or_dash, chunk_entries)))


@pytest.fixture
def stdin_bytes(monkeypatch):
    def feed(data: bytes):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    return feed


def test_gzip_din_is_found_by_its_magic_bytes_with_or_without_the_suffix(tmp_path, addrs):
    text = _din_text(addrs)
    for name in ("t.din.gz", "t.bin"):
        path = tmp_path / name
        path.write_bytes(gzip.compress(text))
        assert detect_format(path) == "din.gz"
        assert np.array_equal(_read(path), _expected(addrs))
        assert count_accesses(path) == addrs.size


def test_gzip_of_a_non_din_file_is_refused_in_one_line(tmp_path):
    path = tmp_path / "t.npy.gz"
    buf = io.BytesIO()
    np.save(buf, np.arange(4, dtype=np.uint64))
    path.write_bytes(gzip.compress(buf.getvalue()))
    with pytest.raises(TraceFormatError, match="gzip-compressed npy data: only din text"):
        detect_format(path)


@pytest.mark.parametrize("kind", ["memprof", "din", "din.gz"])
def test_stdin_gives_the_chunks_of_the_file(tmp_path, addrs, stdin_bytes, kind):
    path = tmp_path / "t"
    if kind == "memprof":
        write_trace(path, [_expected(addrs)[:1234], _expected(addrs)[1234:]], {"line_bytes": 64})
    else:
        text = _din_text(addrs)
        path.write_bytes(gzip.compress(text) if kind == "din.gz" else text)
    stdin_bytes(path.read_bytes())
    assert np.array_equal(_read("-", 777), _expected(addrs))
    assert count_accesses("-", scan=False) is None


def test_a_bad_din_line_has_the_same_position_in_a_file_gzip_and_stdin(tmp_path, addrs, stdin_bytes):
    text = _din_text(addrs[:100]) + b"0 zz\n" + _din_text(addrs[:10])
    offset = len(_din_text(addrs[:100]))
    where = f"(line 101, byte offset {offset})"
    plain, packed = tmp_path / "bad.din", tmp_path / "bad.din.gz"
    plain.write_bytes(text)
    packed.write_bytes(gzip.compress(text))
    for source in (plain, packed):
        with pytest.raises(TraceFormatError) as info:
            _read(source)
        assert where in str(info.value) and str(source) in str(info.value)
    stdin_bytes(gzip.compress(text))
    with pytest.raises(TraceFormatError) as info:
        _read("-")
    assert str(info.value).startswith("<stdin> " + where)


def test_a_truncated_memprof_stream_on_stdin_names_the_offset(tmp_path, addrs, stdin_bytes):
    path = tmp_path / "t.trace"
    write_trace(path, [addrs], {})
    data = path.read_bytes()
    stdin_bytes(data[:-40])  # the footer and 8 bytes of the payload missing
    with pytest.raises(TraceFormatError, match=r"<stdin> \(byte offset \d+\): stream ends mid-chunk"):
        _read("-")


def test_npy_on_stdin_and_second_passes_are_refused(stdin_bytes):
    buf = io.BytesIO()
    np.save(buf, np.arange(4, dtype=np.uint64))
    stdin_bytes(buf.getvalue())
    with pytest.raises(TraceFormatError, match="not from standard input"):
        _read("-")
    with pytest.raises(ValueError, match="standard input can be read only once"):
        count_accesses("-")
    with pytest.raises(ValueError, match="standard input can be read only once"):
        distinct_lines_bound("-")


def test_empty_traces_are_errors_naming_the_file(tmp_path, stdin_bytes):
    empty_npy, blank_din = tmp_path / "e.npy", tmp_path / "e.din"
    np.save(empty_npy, np.zeros(0, np.uint64))
    blank_din.write_bytes(b"\n\n")
    for path in (empty_npy, blank_din):
        with pytest.raises(TraceFormatError, match=rf"{path.name}: the trace holds no accesses"):
            list(iter_trace_file(path))
    stdin_bytes(b"")
    with pytest.raises(TraceFormatError, match=r"<stdin> \(byte offset 0\): empty"):
        list(iter_trace_file("-"))


def test_distinct_lines_bound_is_an_upper_bound_close_to_the_truth(tmp_path):
    rng = np.random.default_rng(11)
    for distinct, repeats in ((200_000, 6), (3_000, 40)):
        lines = rng.choice(1 << 40, distinct, replace=False)
        trace = np.concatenate([lines, rng.choice(lines, distinct * (repeats - 1))]).astype(np.uint64) * 64
        path = tmp_path / f"t{distinct}.npy"
        np.save(path, trace + np.uint64(13))  # byte addresses inside the line
        accesses, bound = distinct_lines_bound(path, 64)
        assert accesses == trace.size
        assert distinct <= bound
        if distinct >= 100_000:  # ~780 sampled lines: a margin of 4 sd + 16 lines, about 16%
            assert bound <= 1.2 * distinct
        assert bound <= trace.size
    exact = distinct_lines_bound(path, 64, sample_bits=0)
    assert exact == (trace.size, 3_000)
