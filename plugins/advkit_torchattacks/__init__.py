"""advkit_torchattacks: the torchattacks catalogue as advkit attacks (plugin `torchattacks`).

Each attack's parameters and defaults are read from torchattacks' own source, so listing them
imports neither torch nor torchattacks. Models with input bounds other than [0, 1] are handled
by rescaling inputs (torchattacks assumes [0, 1]) and the pixel-unit parameters with them.
"""

import advkit

from .wrapper import CATALOGUE, make_class


@advkit.hookimpl
def register_attacks(register):
    for spec in CATALOGUE:
        register(make_class(spec))
