"""memprof CLI commands: mrc."""

COMMANDS: list = []
