"""Hook specifications, the whole surface plugins implement, and the `hookimpl` marker they use."""

import pluggy

hookspec = pluggy.HookspecMarker("advkit")


@hookspec
def register_attacks(register):
    """Register `advkit.Attack` subclasses: call `register(cls)` for each."""


@hookspec
def register_defenses(register):
    """Register `advkit.Defense` subclasses: call `register(cls)` for each."""


@hookspec
def register_analyses(register):
    """Register `advkit.Analysis` subclasses: call `register(cls)` for each."""


@hookspec
def register_models(register):
    """Register model architectures: `nn.Module` classes with a `name` attribute."""


@hookspec
def register_datasets(register):
    """Register `advkit.DataSource` subclasses that load a `--data` spec."""


@hookspec
def register_activations(register):
    """Register activation `nn.Module` classes by their `name`, for `activation=` parameters."""


@hookspec
def register_reproductions(register):
    """Register `advkit.Reproduction` subclasses (a paper's results re-run by `advkit reproduce NAME`)."""


@hookspec
def register_commands(cli):
    """Add click commands to the `advkit` command group `cli`."""


hookimpl = pluggy.HookimplMarker("advkit")
