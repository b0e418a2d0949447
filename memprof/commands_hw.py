"""memprof CLI commands: hw."""

COMMANDS: list = []
