"""Where Numba keeps compiled kernels: a user cache folder, never the installed package.

Numba's default is a ``__pycache__`` beside each source file. For an installed memprof
that is inside site-packages, and those folders outlive an uninstall: a later editable
install of the same packages is then shadowed by the leftover ``traces/`` and ``sim/``
folders (``ImportError ... (unknown location)``). So unless the user chose a folder with
``NUMBA_CACHE_DIR``, kernels are cached under ``$XDG_CACHE_HOME/memprof/numba`` (default
``~/.cache/memprof/numba``). Numba keys each entry by the source file's path and
modification time, so two installs never share stale code.

Called from ``sim/__init__.py`` and ``traces/__init__.py``, before any ``@njit(cache=True)``
is decorated; the variable is inherited by worker processes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


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
