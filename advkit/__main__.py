"""`python -m advkit` is the `advkit` command."""

from advkit.cli.main import run

run()
