"""advkit_art: the ART (Adversarial Robustness Toolbox) evasion attacks as advkit attacks (plugin `art`).

Parameters and defaults are read from ART's own source, so listing them imports neither torch nor
ART. Every attack drives ART through `advkit.to_art(model)`: clip_values are the model's bounds and
normalization stays inside the model.
"""

import importlib.util

import advkit

from .catalogue import CATALOGUE
from .wrapper import make_class


@advkit.hookimpl
def register_attacks(register):
    for spec in CATALOGUE:
        if spec.requires is None or importlib.util.find_spec(spec.requires):
            register(make_class(spec))
