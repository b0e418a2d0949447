"""Export to .npy / din, reading them back, din parse errors, trace_info."""

from __future__ import annotations

import os

import numpy as np
import pytest

from traces.format.tracefile import (
    TraceFormatError,
    TraceWriter,
    detect_format,
    export_trace,
    iter_trace_file,
    trace_info,
)

W = 1 << 63
ADDRS = [0x1000, 0x1040 | W, 0x2FFF, 0x7F0000000000, 0x1001 | W]


@pytest.fixture
def trace(tmp_path):
    path = tmp_path / "run.trace"
    with TraceWriter(path, {"line_bytes": 64}) as writer:
        writer.write(np.array(ADDRS[:2], dtype=np.uint64))
        writer.write(np.array(ADDRS[2:], dtype=np.uint64))
    return path


def _flat(path, chunk_entries=2):
    return np.concatenate(list(iter_trace_file(path, chunk_entries))).tolist()


def test_export_din_text_and_round_trip(trace, tmp_path):
    out = tmp_path / "run.din"
    assert export_trace(trace, "din", out) == 5
    assert out.read_text() == "0 1000\n1 1040\n0 2fff\n0 7f0000000000\n1 1001\n"
    assert detect_format(out) == "din"
    assert _flat(out) == ADDRS


def test_export_npy_strips_write_flag(trace, tmp_path):
    out = tmp_path / "run.npy"
    assert export_trace(trace, "npy", out) == 5
    arr = np.load(out)
    assert arr.dtype == np.dtype("<u8") and arr.shape == (5,)
    assert arr.tolist() == [a & (W - 1) for a in ADDRS]
    assert detect_format(out) == "npy"
    assert _flat(out) == arr.tolist()


def test_export_from_din_and_npy_sources(trace, tmp_path):
    din = tmp_path / "a.din"
    export_trace(trace, "din", din)
    npy = tmp_path / "b.npy"
    assert export_trace(din, "npy", npy) == 5  # din source: total counted in a first pass
    assert np.load(npy).tolist() == [a & (W - 1) for a in ADDRS]
    din2 = tmp_path / "c.din"
    export_trace(npy, "din", din2)
    assert din2.read_text().split("\n")[1] == "0 1040"


def test_export_rejects_unknown_format(trace, tmp_path):
    with pytest.raises(ValueError, match="'din' or 'npy'"):
        export_trace(trace, "csv", tmp_path / "x")
    assert sorted(os.listdir(tmp_path)) == ["run.trace"]


def test_export_failure_leaves_no_file(tmp_path):
    src = tmp_path / "in.din"
    src.write_text("0 10\n7 20\n")
    with pytest.raises(TraceFormatError):
        export_trace(src, "din", tmp_path / "out.din")
    assert sorted(os.listdir(tmp_path)) == ["in.din"]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint32, np.int64, np.int16, ">u8"])
def test_npy_integer_dtypes(tmp_path, dtype):
    path = tmp_path / "x.npy"
    np.save(path, np.array([3, 0, 100, 7], dtype=dtype))
    chunks = list(iter_trace_file(path, 3))
    assert [c.dtype for c in chunks] == [np.dtype(np.uint64)] * 2
    assert np.concatenate(chunks).tolist() == [3, 0, 100, 7]


def test_npy_negative_named(tmp_path):
    path = tmp_path / "neg.npy"
    np.save(path, np.array([1, 2, -5], dtype=np.int32))
    with pytest.raises(TraceFormatError, match=r"neg\.npy \(byte offset \d+\): negative address -5 at element 2"):
        list(iter_trace_file(path))


@pytest.mark.parametrize("arr, match", [(np.zeros((2, 2), np.uint64), "1-D"), (np.zeros(3), "integers")])
def test_npy_bad_shape_or_dtype(tmp_path, arr, match):
    path = tmp_path / "x.npy"
    np.save(path, arr)
    with pytest.raises(TraceFormatError, match=match):
        list(iter_trace_file(path))


def test_din_parsing_variants(tmp_path):
    path = tmp_path / "v.din"
    path.write_bytes(b"0 0x10\r\n\n  1\tABCDEF  \n2 7fffffffffffffff\n\n0 0X20")  # no final newline
    assert _flat(path, 10) == [0x10, 0xABCDEF | W, (1 << 63) - 1, 0x20]


def test_din_many_blocks(tmp_path, monkeypatch):
    import traces.format.tracefile as tf

    monkeypatch.setattr(tf, "_DIN_BLOCK_BYTES", 7)  # lines straddle every read
    rng = np.random.default_rng(3)
    addrs = rng.integers(0, 1 << 40, size=200, dtype=np.uint64)
    writes = rng.random(200) < 0.3
    path = tmp_path / "m.din"
    path.write_text("".join(f"{int(w)} {a:x}\n" for w, a in zip(writes, addrs.tolist())))
    expected = [a | (W if w else 0) for a, w in zip(addrs.tolist(), writes)]
    assert _flat(path, 64) == expected


@pytest.mark.parametrize("line, problem", [
    ("0 zz", "expected '<label> <hex address>'"),
    ("5 10", "unsupported label 5"),
    ("0", "expected '<label> <hex address>'"),
    ("0 10 20", "expected '<label> <hex address>'"),
    ("1 8000000000000000", "does not fit in 63 bits"),
    ("x 10", "expected '<label> <hex address>'"),
])
def test_din_bad_line_named(tmp_path, line, problem):
    path = tmp_path / "bad.din"
    good = "0 10\n\n1 20\n"
    path.write_text(good + line + "\n0 30\n")
    with pytest.raises(TraceFormatError) as info:
        list(iter_trace_file(path))
    message = str(info.value)
    assert f"bad.din (line 4, byte offset {len(good)}): " in message
    assert problem in message


def test_detect_unknown_format(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"\x00\x01garbage")
    with pytest.raises(TraceFormatError, match=r"x\.bin \(byte offset 0\): unrecognised trace format"):
        detect_format(path)
    empty = tmp_path / "e.txt"
    empty.write_bytes(b"")
    with pytest.raises(TraceFormatError, match="empty file"):
        detect_format(empty)
    empty_din = tmp_path / "e.din"
    empty_din.write_bytes(b"")
    assert list(iter_trace_file(empty_din, allow_empty=True)) == []
    with pytest.raises(TraceFormatError, match=r"e\.din: the trace holds no accesses"):  # issue 15: not data
        list(iter_trace_file(empty_din))


def test_trace_info_counts_footprint_regions(tmp_path):
    # regions: A = [0x1000, 0x2000), B = [0x3000, 0x3100); line 64 bytes
    header = {"line_bytes": 64, "workload": "unit", "regions": [
        {"name": "B", "base_addr": 0x3000, "nbytes": 0x100},
        {"name": "A", "base_addr": 0x1000, "nbytes": 0x1000},
    ]}
    addrs = [0x1000, 0x1004, 0x103F | W, 0x1040, 0x1FFF,  # A: lines 0x40, 0x41, 0x7f -> 3 distinct
             0x3000 | W, 0x30FF,                            # B: lines 0xc0, 0xc3 -> 2 distinct
             0x2000, 0x2001, 0x3100, 0x0]                   # other: lines 0x80, 0xc4, 0x0 -> 3
    path = tmp_path / "i.trace"
    with TraceWriter(path, header) as writer:
        writer.write(np.array(addrs[:6], dtype=np.uint64))
        writer.write(np.array(addrs[6:], dtype=np.uint64))
    info = trace_info(path, chunk_entries=4)
    assert (info["accesses"], info["reads"], info["writes"]) == (11, 9, 2)
    assert info["distinct_lines"] == 8 and info["footprint_bytes"] == 8 * 64
    assert info["header"]["workload"] == "unit" and info["format"] == "memprof"
    rows = {r["name"]: r for r in info["regions"]}
    assert [r["name"] for r in info["regions"]] == ["A", "B", "other"]
    assert (rows["A"]["accesses"], rows["A"]["writes"], rows["A"]["distinct_lines"]) == (5, 1, 3)
    assert (rows["B"]["accesses"], rows["B"]["writes"], rows["B"]["distinct_lines"]) == (2, 1, 2)
    assert (rows["other"]["accesses"], rows["other"]["distinct_lines"]) == (4, 3)
    assert rows["B"]["footprint_bytes"] == 128
    # a different line size changes the footprint: 4 KiB pages -> 0x1, 0x2, 0x3, 0x0 pages
    assert trace_info(path, line_bytes=4096)["distinct_lines"] == 4


def test_trace_info_streaming_distinct_matches_set(tmp_path):
    rng = np.random.default_rng(11)
    chunks = [rng.integers(0, 1 << 20, size=5000, dtype=np.uint64) for _ in range(6)]
    path = tmp_path / "r.trace"
    with TraceWriter(path, {}) as writer:
        for chunk in chunks:
            writer.write(chunk)
    info = trace_info(path, chunk_entries=1000)
    expected = {int(a) // 64 for c in chunks for a in c}
    assert info["distinct_lines"] == len(expected)
    assert info["regions"] == [{"name": "other", "base_addr": None, "nbytes": None, "accesses": 30000,
                                "reads": 30000, "writes": 0, "distinct_lines": len(expected),
                                "footprint_bytes": 64 * len(expected)}]


def test_trace_info_on_din(tmp_path):
    path = tmp_path / "x.din"
    path.write_text("0 0\n1 3f\n0 40\n")
    info = trace_info(path)
    assert (info["accesses"], info["writes"], info["distinct_lines"], info["header"]) == (3, 1, 2, {})


def test_overlapping_regions_rejected(tmp_path):
    path = tmp_path / "o.trace"
    with TraceWriter(path, {"regions": [{"name": "a", "base_addr": 0, "nbytes": 100},
                                        {"name": "b", "base_addr": 50, "nbytes": 100}]}) as writer:
        writer.write([1])
    with pytest.raises(TraceFormatError, match="overlap"):
        trace_info(path)


def test_parse_hex_fields_matches_python_int():
    from traces.format.tracefile import parse_hex_fields

    rng = np.random.default_rng(2)
    alphabet = list("0123456789abcdefABCDEF") + ["g", "x", " ", "-"]
    texts = ["", "0", "ffffffffffffffff", "1" * 17] + [
        "".join(rng.choice(alphabet, size=int(rng.integers(1, 18)))) for _ in range(300)
    ]
    buf = np.frombuffer("".join(texts).encode(), dtype=np.uint8)
    ends = np.cumsum([len(t) for t in texts])
    starts = ends - [len(t) for t in texts]
    values, ok = parse_hex_fields(buf, starts, ends)
    for text, value, good in zip(texts, values.tolist(), ok.tolist()):
        valid = 0 < len(text) <= 16 and all(c in "0123456789abcdefABCDEF" for c in text)
        assert good == valid, text
        if valid:
            assert value == int(text, 16)
