"""The command line: click only. ``main`` is the group (memprof.cli.main), one module per area."""
