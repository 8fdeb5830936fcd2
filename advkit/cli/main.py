"""The `advkit` command line: a thin click group over the API, plus plugin commands.

Errors become one line on stderr and an exit code (2 usage, 1 runtime, 130 interrupted);
`ADVKIT_DEBUG=1` shows the traceback instead.

Plugins are loaded lazily: `advkit --help`, `--version` and the built-in commands' `--help` import none,
and a built-in command name always means the built-in command. Commands added by plugins
(`register_commands`) are looked up only when a name that is not built-in is invoked (and listed by
`advkit plugins`). While a built-in command runs, `sys.stdout` is stderr: whatever a library or plugin
prints lands there, and only the command's own output (`advkit.cli.options.out`) reaches stdout.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import warnings

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


class AdvkitGroup(click.Group):
    """Built-in commands first; a name that is not built-in loads the plugins and their commands."""

    def get_command(self, ctx, cmd_name):
        if cmd_name in _BUILTIN:  # a snapshot: a plugin that edits `cli.commands` still cannot replace one
            return _BUILTIN[cmd_name]
        if cmd_name in self.commands:  # added in Python (`cli.add_command`) by the program embedding advkit
            return self.commands[cmd_name]
        from advkit.plugins.registry import registry

        return registry().commands().get(cmd_name)

    def list_commands(self, ctx):
        return sorted(set(_BUILTIN) | set(self.commands))


_BUILTIN: dict[str, click.Command] = {}


@click.group(cls=AdvkitGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog="Commands added by plugins run as `advkit NAME`; `advkit plugins` lists them.")
@click.version_option(__version__, "--version", prog_name="advkit")
def cli():
    """advkit: how robust is this model, and does this defense really help?

    Attacks, defenses and analyses are plugins (`advkit plugins`, `advkit list attacks`).
    Start with `advkit attack --plugin pgd`: digits and a small CNN, no downloads.
    """


def _guard_stdout(command: click.Command) -> click.Command:
    """Run `command`'s callback with sys.stdout sent to stderr (its own output goes through `options.out`)."""
    from advkit.cli.options import stdout_to_stderr

    callback = command.callback
    if callback is None or getattr(callback, "_stdout_guarded", False):
        return command

    def guarded(*args, **kwargs):
        with stdout_to_stderr():
            return callback(*args, **kwargs)

    guarded._stdout_guarded = True
    command.callback = functools.update_wrapper(guarded, callback)
    return command


for _command in COMMANDS:
    cli.add_command(_guard_stdout(_command))
    _BUILTIN[_command.name] = _command


def interrupted_message(argv) -> str:
    """What Ctrl-C prints: `--resume` is named only for a command that has it (train, defend, evaluate)."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    name = next((str(a) for a in args if not str(a).startswith("-")), None)
    command = cli.commands.get(name) if name else None
    if command is not None and any(p.name == "resume" for p in command.params):
        return f"interrupted (rerun the same `advkit {name}` with --resume to continue from its last saved state)"
    return "interrupted"


def debug() -> bool:
    return os.environ.get("ADVKIT_DEBUG", "") not in ("", "0")


# Modules whose deprecation and user warnings are theirs to fix, not the user's: kept off stderr.
LIBRARIES = r"(torch|torchvision|timm|robustbench|art|torchattacks|pyautoattack|pkg_resources)(\.|$)"


@contextlib.contextmanager
def quiet_libraries():
    """Warnings the libraries raise stay off stderr, which carries one clear line per problem;
    ADVKIT_DEBUG=1, `python -W` or PYTHONWARNINGS show them."""
    with warnings.catch_warnings():
        if not debug() and not sys.warnoptions:
            warnings.filterwarnings("ignore", module=LIBRARIES)
        yield


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `advkit` console script."""
    from advkit import distributed

    try:
        with quiet_libraries(), distributed.session():  # under torchrun: the process group; else nothing
            code = cli.main(args=argv, prog_name="advkit", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        if debug():
            raise
        message = " ".join(exc.format_message().split())  # click lists choices one per line
        click.echo(f"error: {distributed.label()}{message}", err=True)
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:
        if isinstance(exc.__context__, EOFError) and not isinstance(exc, KeyboardInterrupt):
            # click turns an EOFError (a truncated file, not Ctrl-C) into Abort
            if debug():
                raise
            click.echo(f"error: {distributed.label()}unexpected end of input: {one_line(exc.__context__) or 'EOFError'} "
                       "(set ADVKIT_DEBUG=1 for the traceback)", err=True)
            return 1
        click.echo(interrupted_message(argv), err=True)
        return 130
    except AdvkitError as exc:
        if debug():
            raise
        click.echo(f"error: {distributed.label()}{one_line(exc)}", err=True)
        return exc.exit_code
    except Exception as exc:  # unexpected: still one line, the traceback on request
        if debug():
            raise
        if "TorchScript" in str(exc):
            click.echo(f"error: {distributed.label()}the TorchScript model failed: {one_line(exc)} "
                       "(set ADVKIT_DEBUG=1 for the TorchScript traceback)", err=True)
            return 1
        click.echo(f"error: {distributed.label()}unexpected {type(exc).__name__}: {one_line(exc)} (set ADVKIT_DEBUG=1 for the traceback)",
                   err=True)
        return 1


def one_line(exc: BaseException) -> str:
    """An exception's message on one line: a TorchScript traceback gives its last line (the error
    raised inside the model), any other multi-line message its first."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if len(lines) <= 1:
        return lines[0] if lines else ""
    if "TorchScript" in str(exc):  # "PREFIX: The following operation failed in the TorchScript interpreter. ..."
        return lines[0].split("The following operation failed")[0] + lines[-1]
    return lines[0]


def run() -> None:
    sys.exit(main())
