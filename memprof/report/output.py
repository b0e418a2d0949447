"""Where results go: checking output paths before the work, inferring formats from suffixes,
and keeping the results when the final write fails anyway.

A long run must not lose its results to a bad path: commands check every output path
(``check_writable``, ``check_writable_dir``) before any work starts, and write through
``write_or_keep`` / ``write_files_or_keep``, which, when the write still fails (disk
full, permissions changed meanwhile), put the bytes into a temporary file in the system
temp directory and raise ``OutputKept`` (an OSError) whose one-line message names it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from traces.format.fileio import atomic_write_bytes, check_output, is_stdout, resolve_target

# -o suffix -> --format (anything else, and stdout, is a table)
FORMAT_SUFFIXES = {".csv": "csv", ".json": "json", ".md": "markdown", ".markdown": "markdown"}
# --plot suffix -> matplotlib format
PLOT_SUFFIXES = {".png": "png", ".pdf": "pdf", ".svg": "svg"}


class OutputKept(OSError):
    """A final write failed; the data was saved to ``kept`` instead (named in the message)."""

    def __init__(self, message: str, kept: str):
        super().__init__(message)
        self.kept = kept

    def __str__(self) -> str:
        return self.args[0]


def infer_format(path) -> str:
    """The --format an output path implies: .csv, .json, .md/.markdown, else (and stdout) table."""
    if path is None or is_stdout(path):
        return "table"
    return FORMAT_SUFFIXES.get(Path(os.fspath(path)).suffix.lower(), "table")


def plot_format(path) -> str:
    """matplotlib's format for a plot path (.png, .pdf, .svg); ValueError for another suffix."""
    suffix = Path(os.fspath(path)).suffix.lower()
    if suffix not in PLOT_SUFFIXES:
        raise ValueError(f"plot {os.fspath(path)}: unknown suffix {suffix or '(none)'!r}; "
                         f"use one of {', '.join(PLOT_SUFFIXES)}")
    return PLOT_SUFFIXES[suffix]


def _probe(directory: Path, what: str, given: str) -> None:
    """Create and remove a file in ``directory``: the only test that also holds for root and
    for read-only or virtual file systems (/proc), where os.access says yes."""
    try:
        fd, name = tempfile.mkstemp(prefix=".memprof-probe.", dir=directory)
    except OSError as exc:
        raise ValueError(f"{what} {given}: cannot create files in {directory} ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(name)


def check_writable(path, what: str = "output") -> None:
    """ValueError (one line naming the path) unless ``path`` (a file, or '-' for stdout) can be
    written; devices and FIFOs are accepted as they are."""
    check_output(path, what)
    if is_stdout(path):
        return
    target = resolve_target(path)
    if target.exists() and not target.is_file():
        return  # a device or FIFO: written directly
    _probe(target.parent, what, os.fspath(path))


def check_writable_dir(path, what: str = "output directory") -> None:
    """ValueError unless ``path`` is a writable directory or can be created (its nearest existing
    ancestor is a writable directory). Creates nothing."""
    given = os.fspath(path)
    target = resolve_target(path)
    if target.exists():
        if not target.is_dir():
            raise ValueError(f"{what} {given}: exists and is not a directory")
        _probe(target, what, given)
        return
    ancestor = target.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValueError(f"{what} {given}: {ancestor} is not a directory")
    _probe(ancestor, what, given)


def _reason(exc: OSError, path) -> str:
    """``PATH: why`` for a failed write (atomic_open's errors already start with the path)."""
    text = exc.strerror or str(exc)
    given = os.fspath(path)
    return text if given in text else f"{given}: {text}"


def _keep(name: str, data: bytes) -> str:
    """Write ``data`` into a new file in the system temp directory; its path."""
    stem, suffix = os.path.splitext(os.path.basename(name) or "output")
    fd, kept = tempfile.mkstemp(prefix=f"memprof-{stem}-", suffix=suffix)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return kept


def write_or_keep(path, data: bytes | str, what: str = "output") -> None:
    """Write ``data`` to ``path`` atomically; when that fails, save it to a temporary file and
    raise OutputKept naming both."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        atomic_write_bytes(path, raw)
    except OSError as exc:
        kept = _keep(os.fspath(path), raw)
        raise OutputKept(f"cannot write {what} {_reason(exc, path)}; "
                         f"the results are kept in {kept}", kept) from None


def write_files_or_keep(directory, files: dict[str, bytes | str], what: str = "output directory") -> None:
    """Create ``directory`` (with parents) and write each ``name -> data`` into it atomically; when
    something fails, every file not yet written goes into a new temporary directory and
    OutputKept names it."""
    directory = Path(directory)
    items = [(name, data.encode("utf-8") if isinstance(data, str) else data) for name, data in files.items()]
    done = 0
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, raw in items:
            atomic_write_bytes(directory / name, raw)
            done += 1
    except OSError as exc:
        kept = tempfile.mkdtemp(prefix="memprof-results-")
        for name, raw in items[done:]:
            with contextlib.suppress(OSError):
                (Path(kept) / name).write_bytes(raw)
        raise OutputKept(f"cannot write {what} {_reason(exc, directory)}; "
                         f"{', '.join(n for n, _ in items[done:])} kept in {kept}", kept) from None
