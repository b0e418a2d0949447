"""Workloads, embedding representations (Numba kernels that also emit their exact
memory-access traces) and the trace file format. Imports only numpy, numba and
sim.access / sim.jit (the address convention and where kernels are cached)."""

from sim.jit import use_user_cache_dir

use_user_cache_dir()
