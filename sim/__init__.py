"""Cache simulation: configurations, replacement policies, the simulation engine,
miss-ratio curves and the timing model. Imports only numpy and numba."""

from sim.jit import use_user_cache_dir

use_user_cache_dir()
