"""Safe output: nothing half-written, nothing a user owns destroyed.

- A regular file (or a path that does not exist yet) is written to a temporary file in
  the target's directory and renamed onto it only on success, keeping an existing
  file's permission bits. A reader never sees a half-written file, and a failed or
  interrupted run leaves the old file (or nothing) in place.
- A symbolic link is followed: its target is replaced atomically, the link stays a link.
- Anything that is not a regular file (a device such as /dev/null, a FIFO, a terminal)
  is written directly: renaming over it would replace the device node or starve the
  FIFO's reader. Seekable output ("w+b", e.g. a trace file that rewrites its header)
  goes through an anonymous temporary file first and is then copied.
- ``-`` means standard output.

``check_output(path)`` answers, before any work starts, whether a path can be written.
Errors name the user's path, never an internal temporary file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path
from typing import IO, Iterator

STDOUT = "-"
MODES = ("wb", "w", "w+b")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _text_kwargs(mode: str) -> dict:
    return {"encoding": "utf-8", "newline": ""} if mode == "w" else {}


def resolve_target(path: str | os.PathLike) -> Path:
    """The file a write to ``path`` lands in: symbolic links followed to their target."""
    return Path(os.path.realpath(os.fspath(path)))


def is_stdout(path) -> bool:
    return os.fspath(path) == STDOUT


def _is_special(target: Path) -> bool:
    """True for an existing non-regular, non-directory file (device, FIFO, socket)."""
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def check_output(path: str | os.PathLike, what: str = "output") -> None:
    """Raise ValueError (one line naming the path) unless ``path`` can be written; call it
    before the work starts so a bad path does not lose a long run's results."""
    if is_stdout(path):
        return
    given = os.fspath(path)
    target = resolve_target(path)
    if target.is_dir():
        raise ValueError(f"{what} {given}: is a directory")
    if target.exists():
        if not os.access(target, os.W_OK):
            raise ValueError(f"{what} {given}: not writable")
        if _is_special(target):
            return
    directory = target.parent
    if not directory.is_dir():
        raise ValueError(f"{what} {given}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ValueError(f"{what} {given}: directory {directory} is not writable")


def _named(exc: OSError, given: str) -> OSError:
    """The same error, naming the user's path instead of a temporary file."""
    reason = exc.strerror or str(exc)
    return type(exc)(exc.errno, f"{given}: {reason}") if exc.errno else OSError(f"{given}: {reason}")


@contextlib.contextmanager
def _stdout(mode: str) -> Iterator[IO]:
    stream = sys.stdout.buffer if "b" in mode else sys.stdout
    if mode == "w+b":
        with tempfile.TemporaryFile("w+b") as spool:
            yield spool
            spool.seek(0)
            shutil.copyfileobj(spool, stream)
    else:
        yield stream
    stream.flush()


@contextlib.contextmanager
def _special(target: Path, mode: str) -> Iterator[IO]:
    """Write a device or FIFO directly (seekable modes through a spool file)."""
    if mode == "w+b":
        with tempfile.TemporaryFile("w+b") as spool:
            yield spool
            spool.seek(0)
            with open(target, "wb") as out:
                shutil.copyfileobj(spool, out)
        return
    with open(target, mode, **_text_kwargs(mode)) as out:
        yield out


@contextlib.contextmanager
def _replace(target: Path, mode: str) -> Iterator[IO]:
    """Temporary file beside ``target``, renamed onto it on success; the old mode is kept."""
    try:
        old_mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        old_mode = 0o666 & ~_umask()  # mkstemp makes 0600; give the usual mode of a new file
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, mode, **_text_kwargs(mode)) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, old_mode)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open ``path`` for writing as the module docstring says (``-`` = stdout)."""
    if mode not in MODES:
        raise ValueError(f"atomic_open: mode must be one of {', '.join(MODES)}, not {mode!r}")
    if is_stdout(path):
        with _stdout(mode) as handle:
            yield handle
        return
    given = os.fspath(path)
    target = resolve_target(path)
    opener = _special if _is_special(target) else _replace
    try:
        with opener(target, mode) as handle:
            yield handle
    except OSError as exc:
        raise _named(exc, given) from None


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` safely (UTF-8)."""
    with atomic_open(path, "w") as handle:
        handle.write(text)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` safely."""
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
