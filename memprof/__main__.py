"""``python -m memprof`` runs the command-line tool."""

from memprof.cli.main import main

main()
