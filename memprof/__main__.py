"""``python -m memprof`` runs the command-line tool."""

from memprof.cli import main

main()
