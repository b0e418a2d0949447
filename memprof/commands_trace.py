"""memprof CLI commands: trace."""

COMMANDS: list = []
