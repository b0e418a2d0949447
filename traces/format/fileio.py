"""Atomic output: write to a temporary file beside the target, then rename.

A reader never sees a half-written file, and an interrupted run leaves the old file
(or nothing) in place.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file next to ``path``; rename it onto ``path`` only on success."""
    if mode not in ("wb", "w", "w+b"):
        raise ValueError(f"atomic_open: mode must be 'wb', 'w+b' or 'w', not {mode!r}")
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8", "newline": ""} if mode == "w" else {})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_open(path, "w") as handle:
        handle.write(text)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def iter_line_blocks(handle, block_bytes: int = 1 << 22):
    """Yield ``(block, first_line_number, byte_offset)``: blocks of whole lines read from a
    binary ``handle``, each ending with ``\n`` (a missing final newline is added), with the
    1-based number of its first line and its byte offset in the stream, for error messages."""
    line_no, offset, rest = 1, 0, b""
    while True:
        data = handle.read(block_bytes)
        if not data:
            if rest:
                yield rest + b"\n", line_no, offset
            return
        data = rest + data
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        block, rest = data[: cut + 1], data[cut + 1 :]
        yield block, line_no, offset
        line_no += block.count(b"\n")
        offset += len(block)
