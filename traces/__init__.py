"""Workloads, embedding representations (Numba kernels that also emit their exact
memory-access traces) and the trace file format. Imports only numpy, numba and sim."""
