"""Exceptions that the CLI turns into one clear line and an exit code."""


class AdvkitError(Exception):
    """A failure the user can act on; the CLI prints it without a traceback (exit 1)."""

    exit_code = 1


class UsageError(AdvkitError):
    """Bad names, parameters or options (exit 2)."""

    exit_code = 2


class DataError(AdvkitError):
    """Unreadable or invalid data: shapes, NaN, out-of-range pixels or labels."""


class ModelError(AdvkitError):
    """A model spec or checkpoint that cannot be loaded safely."""


class PluginError(AdvkitError):
    """A plugin failed to load or broke during registration."""


class AttackContractError(AdvkitError):
    """An attack broke the contract of `advkit.Attack` (e.g. left its epsilon ball)."""
