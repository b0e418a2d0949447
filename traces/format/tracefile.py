"""The memprof trace file: a versioned, self-describing, checksummed stream of uint64
byte addresses (bit 63 = write flag, see ``sim.access``), plus readers for raw ``.npy``
and DineroIV ``din`` text, ``trace_info`` (counts, footprint, per-region breakdown) and
``export_trace`` (to ``.npy`` or ``din``). Byte layout: ``docs/trace-format.md``.

Layout (all integers little-endian; every section starts 8-byte aligned)::

    preamble  64 B   magic "\\x93MPTRACE", u32 version, u32 flags, u32 json_nbytes,
                     u32 json_crc32, u64 total, u64 num_chunks, u64 writes,
                     u64 reserved, u32 reserved, u32 preamble_crc32 (of bytes 0..59)
    header    json_nbytes B  UTF-8 JSON object, space-padded to a multiple of 8
    chunk*    16 B   "CHNK", u32 payload_crc32, u64 entries;  then entries x u64 payload
    footer    32 B   "TEND", u32 crc32 (of bytes 8..31), u64 total, u64 num_chunks, u64 writes

Inputs people have: a gzip-compressed din (``.din.gz``, recognised by the gzip magic bytes,
whatever the suffix) and standard input (path ``-``: a memprof trace stream, din text or
gzip din) are read streaming, with the same line numbers and byte offsets (of the
uncompressed stream) in errors. Standard input is read once: what needs a second pass
(``count_accesses`` with a scan) says so. A trace with no accesses is an error naming the file.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import math
import mmap
import os
import re
import struct
import sys
import zlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from numba import njit

from sim.access import ADDR_MASK, WRITE_FLAG, as_chunk
from traces.format.fileio import atomic_open, iter_line_blocks

MAGIC = b"\x93MPTRACE"
VERSION = 1
SUPPORTED_VERSIONS = (1,)
CHUNK_MAGIC = b"CHNK"
FOOTER_MAGIC = b"TEND"
NPY_MAGIC = b"\x93NUMPY"
GZIP_MAGIC = b"\x1f\x8b"
STDIN = "-"  # --trace -: read the trace from standard input (once, streaming)

_PREAMBLE = struct.Struct("<8sIIIIQQQQII")  # 64 bytes
_CHUNK = struct.Struct("<4sIQ")  # 16 bytes
_FOOTER = struct.Struct("<4sIQQQ")  # 32 bytes
PREAMBLE_BYTES = _PREAMBLE.size
CHUNK_HEADER_BYTES = _CHUNK.size
FOOTER_BYTES = _FOOTER.size
DEFAULT_CHUNK_ENTRIES = 1 << 20
DEFAULT_LINE_BYTES = 64


class TraceFormatError(ValueError):
    """A trace file is malformed; the message names the file, the byte offset and the problem."""

    def __init__(self, path: str | os.PathLike, offset: int | None, problem: str, line: int | None = None):
        where = [] if line is None else [f"line {line}"]
        if offset is not None:
            where.append(f"byte offset {offset}")
        location = f" ({', '.join(where)})" if where else ""
        super().__init__(f"{os.fspath(path)}{location}: {problem}")
        self.path = os.fspath(path)
        self.offset = offset
        self.line = line


# ----------------------------------------------------------------------------- writing


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _as_address_chunk(chunk: Any, what: str) -> np.ndarray:
    """``chunk`` as a trace chunk (``sim.access.as_chunk``), errors naming ``what``."""
    try:
        return as_chunk(chunk)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None


def _count_writes(chunk: np.ndarray) -> int:
    return int(np.count_nonzero(chunk >= WRITE_FLAG))


class TraceWriter:
    """Write a memprof trace file atomically.

    ``with TraceWriter(path, header) as w: w.write(chunk)``. The file appears at
    ``path`` only when the writer closes without error; an exception inside the
    ``with`` block leaves neither the file nor its temporary sibling behind.
    ``header`` is any JSON-serialisable dict (conventional keys: ``workload``,
    ``representation``, ``seed``, ``line_bytes``, ``regions`` = list of
    ``{name, base_addr, nbytes}``); the counts are recorded by the writer itself.
    """

    def __init__(self, path: str | os.PathLike, header: dict | None = None):
        header = {} if header is None else header
        if not isinstance(header, dict):
            raise ValueError(f"trace header must be a dict, got {type(header).__name__}")
        try:
            text = json.dumps(header, sort_keys=True, default=_json_default, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"trace header must be JSON-serialisable: {exc}") from None
        raw = text.encode("utf-8")
        self._json = raw + b" " * (-len(raw) % 8)
        self.path = Path(path)
        self.total = 0
        self.num_chunks = 0
        self.writes = 0
        self._closed = False
        self._stack = contextlib.ExitStack()
        self._handle = self._stack.enter_context(atomic_open(self.path, "w+b"))
        self._handle.write(self._preamble())
        self._handle.write(self._json)

    def _preamble(self) -> bytes:
        head = _PREAMBLE.pack(
            MAGIC, VERSION, 0, len(self._json), zlib.crc32(self._json),
            self.total, self.num_chunks, self.writes, 0, 0, 0,
        )
        return head[:60] + struct.pack("<I", zlib.crc32(head[:60]))

    def write(self, chunk: Any) -> None:
        """Append one chunk of byte addresses (bit 63 = write). Empty chunks are skipped."""
        if self._closed:
            raise ValueError(f"{self.path}: write() on a closed TraceWriter")
        arr = _as_address_chunk(chunk, os.fspath(self.path))
        if arr.size == 0:
            return
        payload = memoryview(arr).cast("B")
        self._handle.write(_CHUNK.pack(CHUNK_MAGIC, zlib.crc32(payload), arr.size))
        self._handle.write(payload)
        self.total += int(arr.size)
        self.num_chunks += 1
        self.writes += _count_writes(arr)

    def close(self) -> None:
        """Write the footer, patch the counts into the preamble and rename into place."""
        if self._closed:
            return
        self._closed = True
        body = struct.pack("<QQQ", self.total, self.num_chunks, self.writes)
        self._handle.write(_FOOTER.pack(FOOTER_MAGIC, zlib.crc32(body), self.total, self.num_chunks, self.writes))
        self._handle.seek(0)
        self._handle.write(self._preamble())
        self._handle.seek(0, os.SEEK_END)
        self._stack.close()

    def abort(self) -> None:
        """Discard everything written; no file is created."""
        if self._closed:
            return
        self._closed = True
        self._stack.__exit__(RuntimeError, RuntimeError("trace writer aborted"), None)

    def __enter__(self) -> "TraceWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_trace(path: str | os.PathLike, chunks, header: dict | None = None) -> int:
    """Write an iterable of chunks to ``path``; return the number of addresses written."""
    with TraceWriter(path, header) as writer:
        for chunk in chunks:
            writer.write(chunk)
    return writer.total


# ----------------------------------------------------------------------------- reading


class TraceReader:
    """Read a memprof trace file, validating as it goes.

    Opening parses the preamble and JSON header (bad magic, unsupported version,
    corrupted header are reported at once). ``iter_chunks`` first walks the chunk
    headers (so truncation and count mismatches are reported before any data is
    yielded), then memory-maps each payload, checks its CRC32 and yields it.
    Yielded arrays are read-only views of the mapping (or fresh arrays when re-split
    across stored chunks); copy them if you need to modify them.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            self.file_bytes = self.path.stat().st_size
            with open(self.path, "rb") as handle:
                raw = handle.read(PREAMBLE_BYTES)
                self._parse_preamble(raw)
                json_raw = handle.read(self._json_nbytes)
        except OSError as exc:
            raise TraceFormatError(self.path, None, f"cannot read: {exc.strerror or exc}") from None
        if len(json_raw) < self._json_nbytes:
            self._fail(PREAMBLE_BYTES + len(json_raw), f"file truncated inside the JSON header "
                       f"({len(json_raw)} of {self._json_nbytes} bytes)")
        if zlib.crc32(json_raw) != self._json_crc:
            self._fail(PREAMBLE_BYTES, "JSON header CRC32 mismatch (header corrupted)")
        try:
            header = json.loads(json_raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            pos = getattr(exc, "pos", getattr(exc, "start", 0)) or 0
            self._fail(PREAMBLE_BYTES + pos, f"JSON header is not valid JSON: {exc}")
        if not isinstance(header, dict):
            self._fail(PREAMBLE_BYTES, f"JSON header must be an object, got {type(header).__name__}")
        self.header: dict = header
        self.data_offset = PREAMBLE_BYTES + self._json_nbytes
        self._index: list[tuple[int, int, int]] | None = None  # (payload offset, entries, crc)

    def _fail(self, offset: int | None, problem: str):
        raise TraceFormatError(self.path, offset, problem)

    def _parse_preamble(self, raw: bytes) -> None:
        if len(raw) < len(MAGIC) or raw[: len(MAGIC)] != MAGIC:
            self._fail(0, f"bad magic {raw[:8]!r}: not a memprof trace file (expected {MAGIC!r})")
        if len(raw) < PREAMBLE_BYTES:
            self._fail(len(raw), f"file truncated inside the {PREAMBLE_BYTES}-byte preamble")
        (_, version, _flags, json_nbytes, json_crc, total, chunks, writes, _r1, _r2, crc) = _PREAMBLE.unpack(raw)
        if version not in SUPPORTED_VERSIONS:
            self._fail(8, f"unsupported trace format version {version} (this memprof reads {SUPPORTED_VERSIONS})")
        if zlib.crc32(raw[:60]) != crc:
            self._fail(60, "preamble CRC32 mismatch (preamble corrupted)")
        if json_nbytes % 8:
            self._fail(16, f"JSON header length {json_nbytes} is not a multiple of 8")
        self.version = version
        self._json_nbytes = json_nbytes
        self._json_crc = json_crc
        self.total = total
        self.num_chunks = chunks
        self.writes = writes

    @property
    def reads(self) -> int:
        return self.total - self.writes

    def _scan(self) -> list[tuple[int, int, int]]:
        """Walk chunk headers and the footer; check structure and counts (not payload CRCs)."""
        if self._index is not None:
            return self._index
        index: list[tuple[int, int, int]] = []
        pos = self.data_offset
        size = self.file_bytes
        seen = 0
        with open(self.path, "rb") as handle:
            while True:
                handle.seek(pos)
                tag = handle.read(4)
                if len(tag) == 0:
                    self._fail(pos, "end of file before the end marker (file truncated at a chunk boundary?)")
                if tag == FOOTER_MAGIC:
                    raw = tag + handle.read(FOOTER_BYTES - 4)
                    if len(raw) < FOOTER_BYTES:
                        self._fail(pos, f"file truncated inside the {FOOTER_BYTES}-byte end marker")
                    _, crc, total, chunks, writes = _FOOTER.unpack(raw)
                    if zlib.crc32(raw[8:]) != crc:
                        self._fail(pos, "end-marker CRC32 mismatch (footer corrupted)")
                    if pos + FOOTER_BYTES != size:
                        self._fail(pos + FOOTER_BYTES, f"{size - pos - FOOTER_BYTES} unexpected bytes after the end marker")
                    if (total, chunks, writes) != (self.total, self.num_chunks, self.writes):
                        self._fail(pos, f"end marker counts (total={total}, chunks={chunks}, writes={writes}) "
                                   f"disagree with the preamble (total={self.total}, chunks={self.num_chunks}, "
                                   f"writes={self.writes})")
                    break
                if tag != CHUNK_MAGIC:
                    self._fail(pos, f"bad chunk magic {tag!r} (expected {CHUNK_MAGIC!r} or {FOOTER_MAGIC!r})")
                raw = tag + handle.read(CHUNK_HEADER_BYTES - 4)
                if len(raw) < CHUNK_HEADER_BYTES:
                    self._fail(pos, f"file truncated inside a chunk header (chunk {len(index)})")
                _, crc, entries = _CHUNK.unpack(raw)
                payload = pos + CHUNK_HEADER_BYTES
                end = payload + 8 * entries
                if end > size:
                    self._fail(pos, f"file truncated mid-chunk: chunk {len(index)} declares {entries} entries "
                               f"({8 * entries} bytes) but only {size - payload} bytes remain")
                index.append((payload, entries, crc))
                seen += entries
                pos = end
        if len(index) != self.num_chunks or seen != self.total:
            self._fail(0, f"count mismatch: preamble says {self.total} addresses in {self.num_chunks} chunks, "
                       f"the file holds {seen} in {len(index)}")
        self._index = index
        return index

    def _stored_chunks(self) -> Iterator[np.ndarray]:
        index = self._scan()
        if not index:
            return
        with open(self.path, "rb") as handle:
            mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        writes = 0
        for k, (offset, entries, crc) in enumerate(index):
            view = memoryview(mapping)[offset : offset + 8 * entries]
            if zlib.crc32(view) != crc:
                self._fail(offset - CHUNK_HEADER_BYTES, f"chunk {k} payload CRC32 mismatch (data corrupted)")
            chunk = np.frombuffer(view, dtype="<u8")
            writes += _count_writes(chunk)
            yield chunk
        if writes != self.writes:
            self._fail(0, f"count mismatch: preamble says {self.writes} writes, the chunks hold {writes}")

    def iter_chunks(self, chunk_entries: int | None = None) -> Iterator[np.ndarray]:
        """Yield uint64 chunks: as stored (``None``) or re-split to ``chunk_entries`` each (last may be shorter)."""
        if chunk_entries is None:
            yield from self._stored_chunks()
        else:
            yield from rechunk(self._stored_chunks(), chunk_entries)

    def validate(self) -> dict:
        """Check everything (structure, CRCs, counts); return the counts."""
        for _ in self._stored_chunks():
            pass
        return {"total": self.total, "num_chunks": self.num_chunks, "reads": self.reads, "writes": self.writes}


def rechunk(chunks, chunk_entries: int) -> Iterator[np.ndarray]:
    """Re-split a stream of 1-D chunks into chunks of exactly ``chunk_entries`` (the last may be shorter)."""
    if int(chunk_entries) <= 0:
        raise ValueError(f"chunk_entries must be positive, got {chunk_entries}")
    n = int(chunk_entries)
    pending: list[np.ndarray] = []
    have = 0
    for chunk in chunks:
        start = 0
        size = chunk.shape[0]
        if have:
            take = min(n - have, size)
            pending.append(chunk[:take])
            have += take
            start = take
            if have < n:
                continue
            yield np.concatenate(pending)
            pending, have = [], 0
        while size - start >= n:
            yield chunk[start : start + n]
            start += n
        if start < size:
            # keep a copy: the source buffer may be reused or unmapped by the producer
            pending.append(np.array(chunk[start:]))
            have = size - start
    if have:
        yield np.concatenate(pending)


# ----------------------------------------------------------------------------- other formats


_DIN_LINE = re.compile(rb"[ \t]*([0-9]+)[ \t]+(?:0[xX])?([0-9a-fA-F]+)[ \t]*")
_DIN_BLOCK_BYTES = 1 << 22


def is_stdin(path) -> bool:
    """Whether ``path`` names standard input (``-``)."""
    return os.fspath(path) == STDIN


def _kind_of(head: bytes, path, suffix: str) -> str:
    """Format of a stream from its first bytes: memprof, npy, din, or gzip (compressed)."""
    if head.startswith(MAGIC):
        return "memprof"
    if head.startswith(NPY_MAGIC):
        return "npy"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if suffix == ".din":
        return "din"
    if not head:
        raise TraceFormatError(path, 0, "empty file: not a memprof trace, .npy or din text")
    first = head.lstrip(b" \t\r\n").split(b"\n", 1)[0].rstrip(b"\r")
    if _DIN_LINE.fullmatch(first):
        return "din"
    raise TraceFormatError(path, 0, f"unrecognised trace format (first bytes {head[:16]!r}); "
                           "expected a memprof trace, a .npy array or DineroIV din text")


def _gunzip_head(path, handle) -> bytes:
    try:
        return gzip.GzipFile(fileobj=handle, mode="rb").read(4096)
    except (OSError, EOFError, zlib.error) as exc:
        raise TraceFormatError(path, 0, f"cannot decompress gzip data: {exc}") from None


def detect_format(path: str | os.PathLike) -> str:
    """Return ``"memprof"``, ``"npy"``, ``"din"`` or ``"din.gz"`` (gzip-compressed din) from
    the file's first bytes. A gzip file holding anything but din text is refused."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
            kind = _kind_of(head, path, path.suffix.lower())
            if kind == "gzip":
                handle.seek(0)
                inner = _kind_of(_gunzip_head(path, handle), path, Path(path.stem).suffix.lower())
    except OSError as exc:
        raise TraceFormatError(path, None, f"cannot read: {exc.strerror or exc}") from None
    if kind != "gzip":
        return kind
    if inner != "din":
        raise TraceFormatError(path, 0, f"gzip-compressed {inner} data: only din text is read compressed; "
                               "decompress it first (gunzip)")
    return "din.gz"


class _Prefixed(io.RawIOBase):
    """A one-way stream: ``head`` (bytes already read for format detection), then ``rest``."""

    def __init__(self, head: bytes, rest):
        self._head, self._rest = memoryview(head), rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head.nbytes:
            n = min(len(buffer), self._head.nbytes)
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _stream_source(handle, name) -> tuple[str, io.BufferedReader]:
    """(format, readable stream) of a one-way binary ``handle``: format from its first bytes,
    gzip decompressed on the fly; .npy is refused (it is read by memory-mapping a file)."""
    head = _read_exact(handle, 4096)
    kind = _kind_of(head, name, "")
    stream = io.BufferedReader(_Prefixed(head, handle), 1 << 20)
    if kind == "gzip":
        unzipped = gzip.GzipFile(fileobj=stream, mode="rb")
        try:
            head = _read_exact(unzipped, 4096)
        except (OSError, EOFError, zlib.error) as exc:
            raise TraceFormatError(name, 0, f"cannot decompress gzip data: {exc}") from None
        kind = _kind_of(head, name, "")
        if kind != "din":
            raise TraceFormatError(name, 0, f"gzip-compressed {kind} data: only din text is read compressed")
        stream = io.BufferedReader(_Prefixed(head, unzipped), 1 << 20)
    if kind == "npy":
        raise TraceFormatError(name, 0, ".npy arrays are read by memory-mapping a file, not from standard "
                               "input: give the file's path (or pipe a memprof trace or din text)")
    return kind, stream


STDIN_NAME = "<stdin>"


def _iter_npy(path: Path, chunk_entries: int) -> Iterator[np.ndarray]:
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise TraceFormatError(path, 0, f"cannot read as .npy: {exc}") from None
    if arr.ndim != 1:
        raise TraceFormatError(path, 0, f".npy trace must be 1-D, got shape {arr.shape}")
    if arr.dtype.kind not in "ui":
        raise TraceFormatError(path, 0, f".npy trace must hold integers, got dtype {arr.dtype}")
    data_offset = getattr(arr, "offset", 0)
    itemsize = arr.dtype.itemsize
    for start in range(0, arr.shape[0], chunk_entries):
        part = np.asarray(arr[start : start + chunk_entries])
        if part.dtype.kind == "i" and part.size and int(part.min()) < 0:
            bad = start + int(np.argmax(part < 0))
            raise TraceFormatError(path, data_offset + bad * itemsize,
                                   f"negative address {int(arr[bad])} at element {bad}")
        if part.dtype == np.dtype("=u8"):
            yield part
        else:
            yield part.astype(np.uint64)


def _din_error(path: Path, line_no: int, offset: int, line: bytes) -> TraceFormatError:
    text = line.rstrip(b"\r\n").decode("utf-8", "replace")
    match = _DIN_LINE.fullmatch(line.rstrip(b"\r\n"))
    if match is None:
        problem = f"expected '<label> <hex address>', got {text!r}"
    elif match.group(1) not in (b"0", b"1", b"2"):
        problem = f"unsupported label {match.group(1).decode()} (0 read, 1 write, 2 fetch)"
    else:
        problem = f"address {match.group(2).decode()} does not fit in 63 bits"
    return TraceFormatError(path, offset, problem, line=line_no)


_HEX_LUT = np.full(256, 255, dtype=np.uint8)
_HEX_LUT[list(b"0123456789")] = np.arange(10)
_HEX_LUT[list(b"abcdef")] = np.arange(10, 16)
_HEX_LUT[list(b"ABCDEF")] = np.arange(10, 16)


@njit(cache=True)
def _parse_hex_kernel(buf, starts, ends, lut, values, ok):
    for i in range(starts.shape[0]):
        lo, hi = starts[i], ends[i]
        if hi - lo <= 0 or hi - lo > 16:
            values[i] = np.uint64(0)
            ok[i] = False
            continue
        acc = np.uint64(0)
        good = True
        for p in range(lo, hi):
            nibble = lut[buf[p]]
            if nibble > 15:
                good = False
                break
            acc = (acc << np.uint64(4)) | np.uint64(nibble)
        values[i] = acc if good else np.uint64(0)
        ok[i] = good


def parse_hex_fields(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parse the hex byte ranges ``buf[starts[i]:ends[i]]`` (no ``0x``, no sign) in one Numba pass.

    Returns ``(values uint64, ok bool)``; ``ok`` is False for an empty field, a field
    of more than 16 digits or one with a non-hex byte (its value is then 0).
    Shared by the din reader and the dataset readers (``traces.readers``).
    """
    buf = np.ascontiguousarray(buf, dtype=np.uint8)
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    ends = np.ascontiguousarray(ends, dtype=np.int64)
    if starts.shape != ends.shape or starts.ndim != 1:
        raise ValueError(f"parse_hex_fields: starts and ends must be 1-D of one length, got {starts.shape} and {ends.shape}")
    if starts.size and (int(starts.min()) < 0 or int(ends.max()) > buf.shape[0]):
        raise ValueError("parse_hex_fields: field bounds fall outside the buffer")
    values = np.empty(starts.shape[0], dtype=np.uint64)
    ok = np.empty(starts.shape[0], dtype=np.bool_)
    _parse_hex_kernel(buf, starts, ends, _HEX_LUT, values, ok)
    return values, ok


_DIN_SPACE = np.zeros(256, dtype=bool)
_DIN_SPACE[list(b" \t\n")] = True


def _parse_din_block(path: Path, block: bytes, line_no: int, offset: int) -> np.ndarray:
    """Parse complete lines (``block`` ends with a newline).

    Fast path, all vectorised: token boundaries, exactly 0 or 2 tokens per line, label
    0/1/2, hex address (optional ``0x``) below 2**63. Anything else goes to the exact
    line-by-line parser, which names the bad line.
    """
    if b"\r" in block:
        block = block.replace(b"\r\n", b"\n")
    buf = np.frombuffer(block, dtype=np.uint8)
    space = _DIN_SPACE[buf]
    token = ~space
    starts = np.flatnonzero(token & np.concatenate(([True], space[:-1])))
    ends = np.flatnonzero(token & np.concatenate((space[1:], [True]))) + 1
    newlines_before = np.cumsum(buf == 10)
    per_line = np.bincount(newlines_before[starts], minlength=int(newlines_before[-1]) + 1)
    if np.any((per_line != 0) & (per_line != 2)):
        return _parse_din_slow(path, block, line_no, offset)
    lab_start, addr_start, addr_end = starts[0::2], starts[1::2], ends[1::2]
    label = buf[lab_start]
    if np.any(ends[0::2] - lab_start != 1) or np.any((label < 48) | (label > 50)):
        return _parse_din_slow(path, block, line_no, offset)
    prefixed = (addr_end - addr_start > 2) & (buf[addr_start] == 48) & ((buf[addr_start + 1] | 32) == ord("x"))
    addrs, ok = parse_hex_fields(buf, addr_start + 2 * prefixed, addr_end)
    if not ok.all() or (addrs.size and int(addrs.max()) >= 1 << 63):
        return _parse_din_slow(path, block, line_no, offset)
    addrs[label == 49] |= WRITE_FLAG
    return addrs


def _parse_din_slow(path: Path, block: bytes, line_no: int, offset: int) -> np.ndarray:
    out: list[int] = []
    for line in block.splitlines(keepends=True):
        body = line.rstrip(b"\r\n")
        if body.strip():
            match = _DIN_LINE.fullmatch(body)
            if match is None or match.group(1) not in (b"0", b"1", b"2"):
                raise _din_error(path, line_no, offset, line)
            addr = int(match.group(2), 16)
            if addr >= 1 << 63:
                raise _din_error(path, line_no, offset, line)
            out.append(addr | (1 << 63) if match.group(1) == b"1" else addr)
        line_no += 1
        offset += len(line)
    return np.array(out, dtype=np.uint64)


def _iter_din_stream(handle, name, chunk_entries: int) -> Iterator[np.ndarray]:
    """din text from a binary stream (a file, gzip, standard input); offsets are of the text."""
    try:
        parsed = (_parse_din_block(name, block, line_no, offset)
                  for block, line_no, offset in iter_line_blocks(handle, _DIN_BLOCK_BYTES))
        yield from rechunk((c for c in parsed if c.size), chunk_entries)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise TraceFormatError(name, None, f"gzip data corrupted or truncated: {exc}") from None


def _iter_din(path: Path, chunk_entries: int, compressed: bool = False) -> Iterator[np.ndarray]:
    with (gzip.open(path, "rb") if compressed else open(path, "rb")) as handle:
        yield from _iter_din_stream(handle, path, chunk_entries)


def _read_exact(handle, nbytes: int) -> bytes:
    """Up to ``nbytes`` bytes (fewer only at the end of the stream; pipes return short reads)."""
    parts, have = [], 0
    while have < nbytes:
        more = handle.read(nbytes - have)
        if not more:
            break
        parts.append(more)
        have += len(more)
    return b"".join(parts)


def _iter_memprof_stream(handle, name, chunk_entries: int) -> Iterator[np.ndarray]:
    """A memprof trace read front to back (standard input): the checks of ``TraceReader``
    (CRCs, counts, end marker), each reported when its bytes arrive, with their byte offset."""

    def fail(offset, problem):
        raise TraceFormatError(name, offset, problem)

    raw = _read_exact(handle, PREAMBLE_BYTES)
    if len(raw) < PREAMBLE_BYTES:
        fail(len(raw), f"stream ends inside the {PREAMBLE_BYTES}-byte preamble")
    (_, version, _flags, json_nbytes, json_crc, total, chunks, writes, _r1, _r2, crc) = _PREAMBLE.unpack(raw)
    if version not in SUPPORTED_VERSIONS:
        fail(8, f"unsupported trace format version {version} (this memprof reads {SUPPORTED_VERSIONS})")
    if zlib.crc32(raw[:60]) != crc:
        fail(60, "preamble CRC32 mismatch (preamble corrupted)")
    json_raw = _read_exact(handle, json_nbytes)
    if len(json_raw) < json_nbytes or zlib.crc32(json_raw) != json_crc:
        fail(PREAMBLE_BYTES, "JSON header truncated or corrupted (CRC32 mismatch)")

    def stored() -> Iterator[np.ndarray]:
        pos = PREAMBLE_BYTES + json_nbytes
        seen = seen_writes = index = 0
        while True:
            tag = _read_exact(handle, 4)
            if tag == FOOTER_MAGIC:
                rest = _read_exact(handle, FOOTER_BYTES - 4)
                if len(rest) < FOOTER_BYTES - 4:
                    fail(pos, f"stream ends inside the {FOOTER_BYTES}-byte end marker")
                _, fcrc, ftotal, fchunks, fwrites = _FOOTER.unpack(tag + rest)
                if zlib.crc32(rest[4:]) != fcrc:
                    fail(pos, "end-marker CRC32 mismatch (footer corrupted)")
                if {(seen, index, seen_writes), (ftotal, fchunks, fwrites)} != {(total, chunks, writes)}:
                    fail(pos, f"count mismatch: preamble says {total} addresses ({writes} writes) in {chunks} "
                         f"chunks, the stream held {seen} ({seen_writes} writes) in {index}")
                return
            if len(tag) < 4:
                fail(pos, "end of stream before the end marker (trace truncated?)")
            if tag != CHUNK_MAGIC:
                fail(pos, f"bad chunk magic {tag!r} (expected {CHUNK_MAGIC!r} or {FOOTER_MAGIC!r})")
            rest = _read_exact(handle, CHUNK_HEADER_BYTES - 4)
            if len(rest) < CHUNK_HEADER_BYTES - 4:
                fail(pos, f"stream ends inside a chunk header (chunk {index})")
            _, ccrc, entries = _CHUNK.unpack(tag + rest)
            payload = _read_exact(handle, 8 * entries)
            if len(payload) < 8 * entries:
                fail(pos, f"stream ends mid-chunk: chunk {index} declares {entries} entries, "
                     f"{len(payload)} of {8 * entries} bytes arrived")
            if zlib.crc32(payload) != ccrc:
                fail(pos, f"chunk {index} payload CRC32 mismatch (data corrupted)")
            chunk = np.frombuffer(payload, dtype="<u8")
            seen += entries
            seen_writes += _count_writes(chunk)
            index += 1
            pos += CHUNK_HEADER_BYTES + 8 * entries
            yield chunk

    yield from rechunk(stored(), chunk_entries)


def _nonempty(chunks: Iterator[np.ndarray], name) -> Iterator[np.ndarray]:
    """``chunks``, or a TraceFormatError naming the file when it holds no access at all."""
    seen = 0
    for chunk in chunks:
        seen += int(chunk.shape[0])
        yield chunk
    if not seen:
        raise TraceFormatError(name, None, "the trace holds no accesses: nothing to simulate")


def iter_trace_file(path: str | os.PathLike, chunk_entries: int = DEFAULT_CHUNK_ENTRIES, *,
                    allow_empty: bool = False) -> Iterator[np.ndarray]:
    """Stream a memprof trace, a raw ``.npy``, DineroIV ``din`` text or gzip din as uint64 chunks
    (auto-detected from the first bytes); ``path`` ``-`` reads standard input, once.

    Chunks hold ``chunk_entries`` addresses (the last may be shorter); bit 63 marks writes.
    Chunks may be read-only views of a memory-mapped file: copy one before modifying it.
    Raises ``TraceFormatError`` naming the file and byte offset (and line, for din), also
    for a trace with no accesses unless ``allow_empty``.
    """
    if int(chunk_entries) <= 0:
        raise ValueError(f"chunk_entries must be positive, got {chunk_entries}")
    n = int(chunk_entries)
    if is_stdin(path):
        name = STDIN_NAME
        kind, stream = _stream_source(sys.stdin.buffer, name)
        chunks = _iter_memprof_stream(stream, name, n) if kind == "memprof" else _iter_din_stream(stream, name, n)
    else:
        name = path = Path(path)
        kind = detect_format(path)
        if kind == "memprof":
            chunks = TraceReader(path).iter_chunks(n)
        elif kind == "npy":
            chunks = _iter_npy(path, n)
        else:
            chunks = _iter_din(path, n, compressed=kind == "din.gz")
    yield from (chunks if allow_empty else _nonempty(chunks, name))


def read_header(path: str | os.PathLike) -> dict:
    """The JSON header of a memprof trace; ``{}`` for ``.npy`` and din files and standard input
    (its bytes can be read only once, by the pass itself)."""
    if is_stdin(path):
        return {}
    return TraceReader(path).header if detect_format(path) == "memprof" else {}


def header_line_bytes(path: str | os.PathLike) -> int | None:
    """The line size a memprof trace was written for (its header's ``line_bytes``), else None."""
    value = read_header(path).get("line_bytes")
    return int(value) if value is not None else None


# ----------------------------------------------------------------------------- info


def _sorted_unique(values: np.ndarray, kind: str | None = None) -> np.ndarray:
    """Sorted distinct values (sort + adjacent compare; numpy 2's hash-based unique is slow on uint64)."""
    ordered = np.sort(values, kind=kind)
    if ordered.size < 2:
        return ordered
    keep = np.empty(ordered.shape[0], dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


class _DistinctCounter:
    """Streaming distinct count of uint64 values: sorted runs merged geometrically (memory ~ distinct)."""

    def __init__(self) -> None:
        self.merged = np.empty(0, dtype=np.uint64)
        self.pending: list[np.ndarray] = []
        self.pending_size = 0

    def add(self, values: np.ndarray) -> None:
        uniq = _sorted_unique(values)
        self.pending.append(uniq)
        self.pending_size += uniq.size
        if self.pending_size > max(self.merged.size, 1 << 22):
            self._merge()

    def _merge(self) -> None:
        if self.pending:
            # concatenated sorted runs: timsort ("stable") merges them in near-linear time
            self.merged = _sorted_unique(np.concatenate([self.merged, *self.pending]), kind="stable")
            self.pending, self.pending_size = [], 0

    def result(self) -> np.ndarray:
        self._merge()
        return self.merged


def _regions(header: dict, path: Path) -> list[dict]:
    regions = header.get("regions") or []
    out = []
    for k, region in enumerate(regions):
        try:
            out.append({"name": str(region["name"]), "base_addr": int(region["base_addr"]),
                        "nbytes": int(region["nbytes"])})
        except (KeyError, TypeError, ValueError):
            raise TraceFormatError(path, None, f"header region {k} must have name, base_addr and nbytes; got {region!r}") from None
    return out


def _region_of(addr: np.ndarray, bases: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Region slot of each address (sorted, non-overlapping regions); ``len(bases)`` = outside all."""
    nreg = bases.shape[0]
    if nreg == 0:
        return np.zeros(addr.shape[0], dtype=np.int64)
    slot = np.searchsorted(bases, addr, side="right").astype(np.int64) - 1
    inside = (slot >= 0) & (addr < ends[np.maximum(slot, 0)])
    return np.where(inside, slot, nreg)


def trace_info(path: str | os.PathLike, line_bytes: int | None = None,
               chunk_entries: int = DEFAULT_CHUNK_ENTRIES) -> dict:
    """Counts, footprint and per-region breakdown of a trace file (one streaming pass).

    Returns ``{path, format, header, line_bytes, accesses, reads, writes, distinct_lines,
    footprint_bytes, regions: [{name, base_addr, nbytes, accesses, reads, writes,
    distinct_lines, footprint_bytes}, ..., {name: "other", ...}]}``. Regions come from the
    header's ``regions`` list; an address inside none of them counts as ``other``. A
    distinct line is attributed to the region holding its first byte (regions in memprof
    traces are page-aligned, so a line never straddles two regions).
    """
    path = Path(path)
    kind = detect_format(path)
    header = read_header(path) if kind == "memprof" else {}
    if line_bytes is None:
        line_bytes = int(header.get("line_bytes", DEFAULT_LINE_BYTES))
    if line_bytes <= 0:
        raise ValueError(f"line_bytes must be positive, got {line_bytes}")
    regions = sorted(_regions(header, path), key=lambda r: r["base_addr"])
    for left, right in zip(regions, regions[1:]):
        if left["base_addr"] + left["nbytes"] > right["base_addr"]:
            raise TraceFormatError(path, None, f"header regions {left['name']!r} and {right['name']!r} overlap")
    bases = np.array([r["base_addr"] for r in regions], dtype=np.uint64)
    ends = np.array([r["base_addr"] + r["nbytes"] for r in regions], dtype=np.uint64)
    nreg = len(regions)
    accesses = np.zeros(nreg + 1, dtype=np.int64)
    writes = np.zeros(nreg + 1, dtype=np.int64)
    counter = _DistinctCounter()
    line_div = np.uint64(line_bytes)
    for chunk in iter_trace_file(path, chunk_entries, allow_empty=True):
        addr = chunk & ADDR_MASK
        region = _region_of(addr, bases, ends)
        accesses += np.bincount(region, minlength=nreg + 1)
        writes += np.bincount(region, weights=chunk >= WRITE_FLAG, minlength=nreg + 1).astype(np.int64)
        counter.add(addr // line_div)
    lines = counter.result()
    # a line belongs to the region holding its first byte (exact for line-aligned regions)
    distinct = np.bincount(_region_of(lines * line_div, bases, ends), minlength=nreg + 1)
    rows = []
    for r in range(nreg + 1):
        base = regions[r] if r < nreg else {"name": "other", "base_addr": None, "nbytes": None}
        d = int(distinct[r])
        rows.append({**base, "accesses": int(accesses[r]), "reads": int(accesses[r] - writes[r]),
                     "writes": int(writes[r]), "distinct_lines": d, "footprint_bytes": d * line_bytes})
    total = int(accesses.sum())
    total_writes = int(writes.sum())
    return {
        "path": os.fspath(path), "format": kind, "header": header, "line_bytes": line_bytes,
        "accesses": total, "reads": total - total_writes, "writes": total_writes,
        "distinct_lines": int(lines.size), "footprint_bytes": int(lines.size) * line_bytes,
        "regions": rows,
    }


# ----------------------------------------------------------------------------- export


def count_accesses(path: str | os.PathLike, chunk_entries: int = DEFAULT_CHUNK_ENTRIES, *,
                   scan: bool = True) -> int | None:
    """Accesses in a trace file: from the header (memprof .trace) or the array shape (.npy)
    without reading the data; otherwise (din) by one streaming pass, or None with ``scan=False``
    (when the count is only nice to have, e.g. for a progress ETA). Standard input cannot
    be counted before it is read: None with ``scan=False``, else ValueError."""
    if is_stdin(path):
        if not scan:
            return None
        raise ValueError("--trace -: standard input can be read only once, and this needs its access count "
                         "first (a second pass): give a file")
    path = Path(path)
    kind = detect_format(path)
    if kind == "memprof":
        return int(TraceReader(path).total)
    if kind == "npy":
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
            if arr.ndim == 1:
                return int(arr.shape[0])
        except (ValueError, OSError, EOFError, IndexError):
            pass  # not a readable 1-D array: reading it says why
    if not scan:
        return None
    return sum(int(c.shape[0]) for c in iter_trace_file(path, chunk_entries, allow_empty=True))


DISTINCT_SAMPLE_BITS = 8  # distinct_lines_bound keeps the lines whose hash has 8 leading zero bits (1 in 256)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_GAMMA = np.uint64(0x9E3779B97F4A7C15)


def _mix(lines: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser over an array (bijective, so distinct lines stay distinct)."""
    z = lines + _GAMMA
    z ^= z >> np.uint64(30)
    z *= _MIX1
    z ^= z >> np.uint64(27)
    z *= _MIX2
    return z ^ (z >> np.uint64(31))


def distinct_lines_bound(path: str | os.PathLike, line_bytes: int = DEFAULT_LINE_BYTES,
                         chunk_entries: int = DEFAULT_CHUNK_ENTRIES, *,
                         sample_bits: int = DISTINCT_SAMPLE_BITS) -> tuple[int, int]:
    """(accesses, an upper bound on the distinct lines) of a trace file from one streaming pass.

    Why: exact stack distances need memory per distinct line, and a trace's accesses or its
    model's footprint can overstate the distinct lines a hundredfold. How: spatial sampling
    (as in SHARDS): a line is kept when its hash falls in the lowest 2**-sample_bits of the
    range, the kept lines are counted exactly (memory ~ distinct / 2**sample_bits), and the
    count n is scaled back up with a margin of four standard deviations of a binomial count:
    (n + 4 sqrt(n) + 16) * 2**sample_bits, at most the accesses. Standard input cannot be
    read twice: ValueError.
    """
    if is_stdin(path):
        raise ValueError("--trace -: standard input can be read only once; counting its distinct lines first "
                         "would need a second pass: give a file")
    if int(line_bytes) <= 0:
        raise ValueError(f"line_bytes must be positive, got {line_bytes}")
    if not 0 <= int(sample_bits) < 64:
        raise ValueError(f"sample_bits must be in [0, 64), got {sample_bits}")
    keep_below = np.uint64(1) << np.uint64(64 - int(sample_bits)) if sample_bits else None
    counter = _DistinctCounter()
    accesses = 0
    line_div = np.uint64(line_bytes)
    for chunk in iter_trace_file(path, chunk_entries, allow_empty=True):
        accesses += int(chunk.shape[0])
        lines = (chunk & ADDR_MASK) // line_div
        counter.add(lines if keep_below is None else lines[_mix(lines) < keep_below])
    kept = int(counter.result().size)
    if not sample_bits:
        return accesses, kept
    bound = int(math.ceil((kept + 4 * math.sqrt(kept) + 16) * (1 << int(sample_bits))))
    return accesses, min(accesses, bound)


def export_trace(path: str | os.PathLike, to: str, out_path: str | os.PathLike,
                 chunk_entries: int = DEFAULT_CHUNK_ENTRIES) -> int:
    """Stream a trace (any readable format) to ``.npy`` or DineroIV ``din`` text; return entries written.

    ``npy``: 1-D little-endian uint64 *byte addresses* with the write flag stripped (what
    other simulators expect; read/write kinds are lost). ``din``: one ``<label> <hex
    address>`` line per access, label 0 read / 1 write, lowercase hex without ``0x``.
    The output is written atomically.
    """
    path = Path(path)
    if to == "npy":
        total = count_accesses(path)
        with atomic_open(out_path, "wb") as handle:
            np.lib.format.write_array_header_1_0(
                handle, {"descr": "<u8", "fortran_order": False, "shape": (total,)})
            written = 0
            for chunk in iter_trace_file(path, chunk_entries):
                clean = chunk & ADDR_MASK
                handle.write(memoryview(np.ascontiguousarray(clean, dtype="<u8")).cast("B"))
                written += int(clean.shape[0])
            if written != total:
                raise TraceFormatError(path, None, f"count mismatch: header says {total} addresses, read {written}")
        return written
    if to == "din":
        written = 0
        with atomic_open(out_path, "w") as handle:
            for chunk in iter_trace_file(path, chunk_entries):
                addr = (chunk & ADDR_MASK).tolist()
                label = (chunk >= WRITE_FLAG).tolist()
                handle.write("".join([f"{1 if w else 0} {a:x}\n" for w, a in zip(label, addr)]))
                written += len(addr)
        return written
    raise ValueError(f"export format must be 'din' or 'npy', not {to!r}")
