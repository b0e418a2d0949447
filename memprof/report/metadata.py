"""What makes a result reproducible: versions, host CPU, the parameters used."""

from __future__ import annotations

import platform

import numba
import numpy
import pandas

from memprof import __version__
from memprof.hw.host import host_cpu_name


def run_metadata(**parameters) -> dict:
    """Versions and host, plus the given run parameters (JSON-ready)."""
    return {
        "memprof_version": __version__,
        "numpy_version": numpy.__version__,
        "numba_version": numba.__version__,
        "pandas_version": pandas.__version__,
        "python_version": platform.python_version(),
        "host_cpu": host_cpu_name(),
        **parameters,
    }
