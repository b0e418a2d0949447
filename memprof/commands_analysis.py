"""memprof CLI commands: analysis."""

COMMANDS: list = []
