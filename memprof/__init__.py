"""memprof: will this recommendation model run from cache, and what does that buy?

The command-line tool and the orchestration layer over ``traces`` (embedding
representations and their access traces) and ``sim`` (cache simulation).
"""

__version__ = "0.1.0"
