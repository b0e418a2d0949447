"""Cache simulation: configurations, replacement policies, the simulation engine,
miss-ratio curves and the timing model. Imports only numpy and numba."""
