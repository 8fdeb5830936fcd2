"""`python -m advkit` is the `advkit` command."""

from .cli import run

run()
