"""The Numba plumbing shared by sim and traces: where compiled kernels are cached, and how
many threads a parallel kernel runs on.

Cache: a user cache folder, never the installed package.

Numba's default is a ``__pycache__`` beside each source file. For an installed memprof
that is inside site-packages, and those folders outlive an uninstall: a later editable
install of the same packages is then shadowed by the leftover ``traces/`` and ``sim/``
folders (``ImportError ... (unknown location)``). So unless the user chose a folder with
``NUMBA_CACHE_DIR``, kernels are cached under ``$XDG_CACHE_HOME/memprof/numba`` (default
``~/.cache/memprof/numba``). Numba keys each entry by the source file's path and
modification time, so two installs never share stale code.

``use_user_cache_dir`` is called from ``sim/__init__.py`` and ``traces/__init__.py``, before
any ``@njit(cache=True)`` is decorated; the variable is inherited by worker processes.

Threads: ``numba_threads(n)`` runs a block with Numba's thread count set to n and always
restores the previous count, so no call leaves the process's thread count changed.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Iterator

import numpy as np


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/memprof/numba`` (``~/.cache/memprof/numba`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "memprof" / "numba"


def use_user_cache_dir() -> str:
    """Point Numba's cache at the user cache folder unless NUMBA_CACHE_DIR is set; return the folder."""
    chosen = os.environ.get("NUMBA_CACHE_DIR")
    if not chosen:
        chosen = os.fspath(user_cache_dir())
        os.environ["NUMBA_CACHE_DIR"] = chosen
    config = sys.modules.get("numba.core.config")
    if config is not None and getattr(config, "CACHE_DIR", "") != chosen:
        config.CACHE_DIR = chosen  # numba was imported first: its config read the variable already
    return chosen


def max_threads() -> int:
    """Most threads a parallel kernel can use (Numba's pool size, NUMBA_NUM_THREADS)."""
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


def check_threads(threads) -> int:
    """The thread count as an int in [1, max_threads()] (ValueError naming the bound otherwise)."""
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
    if threads > max_threads():
        raise ValueError(f"threads must be <= {max_threads()} (NUMBA_NUM_THREADS on this host), got {threads}")
    return int(threads)


@contextlib.contextmanager
def numba_threads(count: int) -> Iterator[None]:
    """Run the block with Numba's thread count set to ``count`` (``check_threads``); the previous
    count is restored on the way out, whatever happens."""
    import numba

    count = check_threads(count)
    previous = numba.get_num_threads()
    numba.set_num_threads(count)
    try:
        yield
    finally:
        numba.set_num_threads(previous)
