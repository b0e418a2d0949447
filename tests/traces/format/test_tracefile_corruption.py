"""Every corruption class is a TraceFormatError naming the file and the byte offset."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest

from traces.format.tracefile import TraceFormatError, TraceReader, TraceWriter, iter_trace_file

HEADER = {"workload": "unit", "line_bytes": 64}


@pytest.fixture
def trace(tmp_path):
    path = tmp_path / "bad.trace"
    with TraceWriter(path, HEADER) as writer:
        writer.write(np.arange(8, dtype=np.uint64))
        writer.write(np.arange(8, 12, dtype=np.uint64) | np.uint64(1 << 63))
    return path


def _json_end(raw: bytes) -> int:
    return 64 + struct.unpack_from("<I", raw, 16)[0]


def _fix_preamble_crc(raw: bytearray) -> None:
    struct.pack_into("<I", raw, 60, zlib.crc32(bytes(raw[:60])))


def _read_all(path):
    return [c.copy() for c in iter_trace_file(path)]


def _expect(path, offset, words):
    with pytest.raises(TraceFormatError) as info:
        _read_all(path)
    message = str(info.value)
    assert path.name in message
    assert f"byte offset {offset}" in message
    for word in words:
        assert word in message
    assert info.value.offset == offset
    assert isinstance(info.value, ValueError)


def test_bad_magic(trace):
    raw = bytearray(trace.read_bytes())
    raw[0:8] = b"\x93MPTRACX"
    trace.write_bytes(bytes(raw))
    # no longer detected as a memprof trace: the explicit reader names the magic
    with pytest.raises(TraceFormatError, match=r"bad\.trace \(byte offset 0\): bad magic"):
        TraceReader(trace)


def test_unsupported_version(trace):
    raw = bytearray(trace.read_bytes())
    struct.pack_into("<I", raw, 8, 99)
    _fix_preamble_crc(raw)
    trace.write_bytes(bytes(raw))
    _expect(trace, 8, ["unsupported trace format version 99"])


def test_preamble_corruption(trace):
    raw = bytearray(trace.read_bytes())
    raw[30] ^= 0xFF  # inside the total count
    trace.write_bytes(bytes(raw))
    _expect(trace, 60, ["preamble CRC32 mismatch"])


def test_bad_json(trace):
    raw = bytearray(trace.read_bytes())
    raw[64] = ord("[")  # '{' -> '[' : invalid JSON, CRC patched so the parser sees it
    end = _json_end(raw)
    struct.pack_into("<I", raw, 20, zlib.crc32(bytes(raw[64:end])))
    _fix_preamble_crc(raw)
    trace.write_bytes(bytes(raw))
    with pytest.raises(TraceFormatError, match=r"bad\.trace \(byte offset \d+\): JSON header is not valid JSON"):
        TraceReader(trace)


def test_json_not_an_object(trace, tmp_path):
    raw = bytearray(trace.read_bytes())
    end = _json_end(raw)
    body = b"[1, 2]".ljust(end - 64)
    raw[64:end] = body
    struct.pack_into("<I", raw, 20, zlib.crc32(body))
    _fix_preamble_crc(raw)
    trace.write_bytes(bytes(raw))
    _expect(trace, 64, ["must be an object"])


def test_json_bitflip_caught_by_crc(trace):
    raw = bytearray(trace.read_bytes())
    raw[66] ^= 0x01
    trace.write_bytes(bytes(raw))
    _expect(trace, 64, ["JSON header CRC32 mismatch"])


def test_truncated_mid_chunk(trace):
    raw = trace.read_bytes()
    first = _json_end(raw)
    trace.write_bytes(raw[: first + 16 + 20])  # 20 of the first chunk's 64 payload bytes
    _expect(trace, first, ["truncated mid-chunk", "chunk 0"])


def test_truncated_inside_chunk_header(trace):
    raw = trace.read_bytes()
    second = _json_end(raw) + 16 + 64
    trace.write_bytes(raw[: second + 8])
    _expect(trace, second, ["truncated inside a chunk header"])


def test_missing_footer(trace):
    raw = trace.read_bytes()
    trace.write_bytes(raw[:-32])  # truncated exactly at a chunk boundary
    _expect(trace, len(raw) - 32, ["before the end marker"])


def test_truncated_footer(trace):
    raw = trace.read_bytes()
    trace.write_bytes(raw[:-5])
    _expect(trace, len(raw) - 32, ["end marker"])


def test_trailing_garbage(trace):
    raw = trace.read_bytes()
    trace.write_bytes(raw + b"\0" * 8)
    _expect(trace, len(raw), ["unexpected bytes after the end marker"])


def test_crc_mismatch(trace):
    raw = bytearray(trace.read_bytes())
    second = _json_end(raw) + 16 + 64
    raw[second + 16 + 3] ^= 0x40  # a payload byte of chunk 1
    trace.write_bytes(bytes(raw))
    _expect(trace, second, ["chunk 1 payload CRC32 mismatch"])


def test_bad_chunk_magic(trace):
    raw = bytearray(trace.read_bytes())
    first = _json_end(raw)
    raw[first : first + 4] = b"XXXX"
    trace.write_bytes(bytes(raw))
    _expect(trace, first, ["bad chunk magic"])


def test_count_mismatch_preamble(trace):
    raw = bytearray(trace.read_bytes())
    struct.pack_into("<Q", raw, 24, 13)  # total says 13, chunks hold 12
    _fix_preamble_crc(raw)
    trace.write_bytes(bytes(raw))
    # the footer (total 12) disagrees first
    _expect(trace, len(raw) - 32, ["disagree with the preamble"])


def test_count_mismatch_chunks(trace):
    raw = bytearray(trace.read_bytes())
    # claim 13 addresses in both preamble and footer; the chunks hold 12
    struct.pack_into("<Q", raw, 24, 13)
    _fix_preamble_crc(raw)
    foot = len(raw) - 32
    struct.pack_into("<Q", raw, foot + 8, 13)
    struct.pack_into("<I", raw, foot + 4, zlib.crc32(bytes(raw[foot + 8 :])))
    trace.write_bytes(bytes(raw))
    _expect(trace, 0, ["count mismatch", "13", "12"])


def test_write_count_mismatch(trace):
    raw = bytearray(trace.read_bytes())
    struct.pack_into("<Q", raw, 40, 3)  # 4 writes recorded -> 3
    _fix_preamble_crc(raw)
    foot = len(raw) - 32
    struct.pack_into("<Q", raw, foot + 24, 3)
    struct.pack_into("<I", raw, foot + 4, zlib.crc32(bytes(raw[foot + 8 :])))
    trace.write_bytes(bytes(raw))
    _expect(trace, 0, ["3 writes", "hold 4"])


def test_structure_checked_before_any_data(trace):
    raw = trace.read_bytes()
    trace.write_bytes(raw[:-32])
    chunks = iter_trace_file(trace, chunk_entries=1)
    with pytest.raises(TraceFormatError):
        next(chunks)  # not after 8 chunks of data


def test_missing_file(tmp_path):
    with pytest.raises(TraceFormatError, match="nope.trace: cannot read"):
        TraceReader(tmp_path / "nope.trace")


def test_header_json_is_stable(trace):
    raw = trace.read_bytes()
    assert json.loads(raw[64:_json_end(raw)]) == HEADER
