"""Streaming audit: the headline analysis holds the cache state and one batch, whatever the
number of batches. Peak RSS of a child process running 4N batches stays within a small
margin of N batches, while a child that keeps every batch's addresses (a deliberate leak)
grows by about the 3N extra batches, which shows the check can fail.

The child first runs a 2-batch analysis (imports, Numba compilation or cache loading, whose
peak would hide the run's), then resets the kernel's peak-RSS mark (``/proc/self/clear_refs``,
Linux) and reports how far ``VmHWM`` rose above the RSS at the reset during the measured run.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

MIB = 1 << 20
N = 20
BATCH_ADDRESS_BYTES = 2048 * 8 * 8 * 8  # batch x features x lines per lookup x 8 B = 1 MiB
MARGIN_BYTES = 16 * MIB  # the leak below adds 3N x 1 MiB = 60 MiB

CHILD = """
import ctypes, sys
import numpy as np
from memprof.analysis.experiment import CacheSetup, run_analysis
from sim.engine.simulator import Simulator
from traces.stream import model_trace
from traces.workloads import get_workload

batches, leak = int(sys.argv[1]), sys.argv[2] == "leak"
if leak:
    kept, feed = [], Simulator.feed
    def leaky(self, chunk, **kwargs):
        kept.append(np.array(chunk))
        feed(self, chunk, **kwargs)
    Simulator.feed = leaky
workload = get_workload(",".join(["200000"] * 8), dim=128)
setup = CacheSetup((64 * 1024,), ways=4, private_levels=False, warmup=0.25)

def run(count):
    trace = model_trace("dlrm", workload, batch_size=2048, batches=count, seed=1, alpha=1.05)
    run_analysis([trace], setup, progress=False)

def status_bytes(key):
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return int(status[key].split()[0]) * 1024

run(2)  # imports and compiled kernels: their peak is not the run's
if leak:
    kept.clear()
try:
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand memory freed by the compiler back to the system
except (OSError, AttributeError):
    pass
with open("/proc/self/clear_refs", "w") as handle:
    handle.write("5")  # reset the peak-RSS mark (VmHWM) to the current RSS
start = status_bytes("VmRSS")
run(batches)
print(status_bytes("VmHWM") - start)
"""


def _peak_rss_bytes(batches: int, leak: bool = False) -> int:
    done = subprocess.run([sys.executable, "-c", CHILD, str(batches), "leak" if leak else "clean"],
                          capture_output=True, text=True, timeout=120, check=True)
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc/self/clear_refs")
def test_peak_memory_does_not_grow_with_the_number_of_batches():
    small = _peak_rss_bytes(N)
    large = _peak_rss_bytes(4 * N)
    assert large - small < MARGIN_BYTES, f"{N} batches: {small / MIB:.1f} MiB, {4 * N}: {large / MIB:.1f} MiB"
    leaky = _peak_rss_bytes(4 * N, leak=True)
    assert leaky - small > 3 * N * BATCH_ADDRESS_BYTES * 0.8  # the same check catches a real leak
