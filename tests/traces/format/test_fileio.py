"""Safe output (traces.format.fileio): symlinks followed, FIFOs written directly, modes kept,
errors naming the user's path, and bad output paths found before any work."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from traces.format.fileio import atomic_open, atomic_write_text, check_output


def test_symlink_stays_a_link_and_its_target_gets_the_data(tmp_path):
    target = tmp_path / "real.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    atomic_write_text(link, "new\n")
    assert link.is_symlink()
    assert os.readlink(link) == str(target)
    assert target.read_text() == "new\n"


def test_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "later.csv")
    atomic_write_text(link, "x\n")
    assert link.is_symlink() and (tmp_path / "later.csv").read_text() == "x\n"


def test_existing_file_keeps_its_mode(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    os.chmod(target, 0o664)
    atomic_write_text(target, "new\n")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o664
    assert target.read_text() == "new\n"


def test_new_file_gets_the_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "fresh.csv", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "fresh.csv").st_mode) == 0o644


def _read_fifo(path, out: list):
    with open(path, "rb") as handle:
        out.append(handle.read())


@pytest.mark.parametrize("mode", ["wb", "w+b"])
def test_fifo_is_written_directly_and_stays_a_fifo(tmp_path, mode):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list = []
    reader = threading.Thread(target=_read_fifo, args=(fifo, got))
    reader.start()
    with atomic_open(fifo, mode) as handle:
        handle.write(b"header")
        if mode == "w+b":  # seekable writers rewrite their start: the spool file allows it
            handle.seek(0)
            handle.write(b"HEAD")
            handle.seek(0, os.SEEK_END)
        handle.write(b"|tail")
    reader.join(timeout=10)
    assert got == [b"HEADer|tail" if mode == "w+b" else b"header|tail"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_dash_writes_stdout(capsys):
    atomic_write_text("-", "to stdout\n")
    assert capsys.readouterr().out == "to stdout\n"


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_open(target, "w") as handle:
            handle.write("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_error_names_the_users_path_not_a_temporary(tmp_path):
    missing = tmp_path / "nodir" / "x.csv"
    with pytest.raises(OSError) as info:
        atomic_write_text(missing, "x")
    assert str(missing) in str(info.value) and ".tmp" not in str(info.value)


def test_check_output_finds_bad_paths_before_work(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        check_output(tmp_path / "nodir" / "x.csv")
    with pytest.raises(ValueError, match="is a directory"):
        check_output(tmp_path)
    check_output(tmp_path / "new.csv")  # a new file in an existing directory is fine
    check_output("-")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    check_output(fifo)
