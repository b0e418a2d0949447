"""Integer ids of the replacement policies: the Numba engine dispatches on these
(module-level ints are compile-time constants to Numba)."""

LRU = 0
FIFO = 1
RANDOM = 2
PLRU = 3
SRRIP = 4
BRRIP = 5
DRRIP = 6
