"""The `advkit` command line: a thin click group over the API, plus plugin commands.

Errors become one line on stderr and an exit code (2 usage, 1 runtime, 130 interrupted);
`ADVKIT_DEBUG=1` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys

import click

from advkit import __version__
from advkit.cli.commands.analyze import analyze_command
from advkit.cli.commands.attack import attack_command
from advkit.cli.commands.defend import defend_command
from advkit.cli.commands.download import download_command
from advkit.cli.commands.evaluate import evaluate_command
from advkit.cli.commands.listing import list_command
from advkit.cli.commands.plugins import plugins_command
from advkit.cli.commands.reproduce import reproduce_command
from advkit.cli.commands.train import train_command
from advkit.errors import AdvkitError

COMMANDS = [attack_command, train_command, list_command, plugins_command, download_command, analyze_command,
            defend_command, evaluate_command, reproduce_command]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="advkit")
def cli():
    """advkit: how robust is this model, and does this defense really help?

    Attacks, defenses and analyses are plugins (`advkit plugins`, `advkit list attacks`).
    Start with `advkit attack --plugin pgd`: digits and a small CNN, no downloads.
    """


for _command in COMMANDS:
    cli.add_command(_command)


def _add_plugin_commands() -> None:
    from advkit.plugins.registry import registry, strict

    reg = registry()
    for impl in reg.pm.hook.register_commands.get_hookimpls():
        try:
            impl.function(**{arg: cli for arg in impl.argnames})
        except Exception as exc:
            if strict():
                raise
            reg.infos[impl.plugin_name].errors.append(f"register_commands failed: {type(exc).__name__}: {exc}")


def debug() -> bool:
    return os.environ.get("ADVKIT_DEBUG", "") not in ("", "0")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `advkit` console script."""
    try:
        _add_plugin_commands()
        code = cli.main(args=argv, prog_name="advkit", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        if debug():
            raise
        click.echo(f"error: {exc.format_message()}", err=True)
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("interrupted (runs with checkpoints continue with --resume)", err=True)
        return 130
    except AdvkitError as exc:
        if debug():
            raise
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except Exception as exc:  # unexpected: still one line, the traceback on request
        if debug():
            raise
        click.echo(f"error: unexpected {type(exc).__name__}: {exc} (set ADVKIT_DEBUG=1 for the traceback)",
                   err=True)
        return 1


def run() -> None:
    sys.exit(main())
