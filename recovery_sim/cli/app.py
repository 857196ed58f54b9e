"""`recovery-sim`: the command line, mirroring the Python API.

Every command validates its input first; a bad file or argument prints one paragraph naming the file
and field and exits with code 2, without a traceback and without touching output files.
"""

from __future__ import annotations

import sys

import typer

from recovery_sim.cli import emails, experiments, run, sensitivity, stripe
from recovery_sim.cli.common import fail
from recovery_sim.settings.config import ConfigError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


@app.callback()
def _group() -> None:
    """Simulate, compare and preview customer-email policies for subscription revenue recovery."""


for group in (run, experiments, sensitivity, emails, stripe):  # each mounts its commands: `register`
    group.register(app)


def main() -> None:
    """Console entry point."""
    try:
        app()
    except ConfigError as exc:  # anything that escaped a command's own checks
        fail(str(exc))
        sys.exit(2)
