"""The ``memprof`` command line: a click group whose subcommands live in the
``memprof.cli.*`` modules (one per area), each exporting ``COMMANDS``.

Commands only turn options into config objects, call the library and hand the
results to ``memprof.report``. Data goes to stdout or ``-o FILE``; messages to stderr.
"""

from __future__ import annotations

import click

from memprof import __version__
from memprof.cli import analysis, calibrate, hw, mrc, partitioned, simulate, trace, validate, workload
from memprof.cli import cores as cores_cli

COMMAND_MODULES = (trace, simulate, mrc, hw, analysis, calibrate, partitioned, workload, validate, cores_cli)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="memprof")
def main() -> None:
    """memprof: will this recommendation model run from cache, and what does that buy?

    \b
    Example:
      memprof simulate --llc 56MB
    """


for _module in COMMAND_MODULES:
    for _command in _module.COMMANDS:
        main.add_command(_command)
