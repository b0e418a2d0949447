"""Numba's cache lands in the user cache folder (or NUMBA_CACHE_DIR), never beside the sources."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import sim

SCRIPT = """
import numpy as np
from traces.hashing import splitmix64
print(splitmix64(np.uint64(1)))  # compiles (and caches) one kernel
"""


def _run(env_extra: dict, tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    env.update(env_extra)
    subprocess.run([sys.executable, "-c", SCRIPT], check=True, env=env, cwd=tmp_path, capture_output=True)


def _cache_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.suffix in (".nbi", ".nbc")]


@pytest.mark.slow
def test_kernels_cache_under_xdg_cache_home_not_in_the_package(tmp_path):
    package_dirs = [Path(sim.__file__).parent, Path(sim.__file__).parent.parent / "traces"]
    before = {p for d in package_dirs for p in _cache_files(d)}
    _run({"XDG_CACHE_HOME": str(tmp_path / "xdg")}, tmp_path)
    assert _cache_files(tmp_path / "xdg" / "memprof" / "numba"), "no kernel was cached in the user folder"
    assert {p for d in package_dirs for p in _cache_files(d)} == before


@pytest.mark.slow
def test_numba_cache_dir_is_honoured(tmp_path):
    _run({"NUMBA_CACHE_DIR": str(tmp_path / "chosen"), "XDG_CACHE_HOME": str(tmp_path / "xdg")}, tmp_path)
    assert _cache_files(tmp_path / "chosen")
    assert not (tmp_path / "xdg").exists()


def test_numba_threads_restores_the_count_and_refuses_bad_counts():
    import numba

    from sim.jit import max_threads, numba_threads

    before = numba.get_num_threads()
    with numba_threads(1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
    with pytest.raises(RuntimeError):
        with numba_threads(1):
            raise RuntimeError("inside")
    assert numba.get_num_threads() == before
    for bad in (0, max_threads() + 1, 1.5, True):
        with pytest.raises(ValueError, match="threads"):
            with numba_threads(bad):
                pass
