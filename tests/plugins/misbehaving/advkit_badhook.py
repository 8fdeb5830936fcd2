"""A plugin whose registration hook raises."""

import advkit


@advkit.hookimpl
def register_attacks(register):
    raise RuntimeError("registration exploded")


@advkit.hookimpl
def register_commands(cli):
    raise RuntimeError("commands exploded")
