"""memprof CLI commands: sim."""

COMMANDS: list = []
