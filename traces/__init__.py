"""Workloads, embedding representations (Numba kernels that also emit their exact
memory-access traces) and the trace file format. Imports only numpy, numba and
sim.access, sim.jit and sim.splitmix (the address convention, the Numba plumbing and the
one SplitMix64 mixer)."""

from sim.jit import use_user_cache_dir

use_user_cache_dir()
