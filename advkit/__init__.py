"""advkit: a plugin-based adversarial-robustness toolkit for PyTorch.

Public API (imported lazily, so `import advkit` and the CLI's listings stay free of torch):
`hookimpl`, `Attack`, `AttackResult`, `Defense`, `Analysis`, `Report`, `Model`, `Dataset`,
`DataSource`, `attack`, `get_attack`, `load_model`, `load_data`, `save_model`, `train`,
`TrainConfig`, `Lazy` and `source_class` (for plugins that describe classes from source),
`check_common` (shared parameter range checks), `pyplot` and `image` (figures for reports),
`predict` and `choose_targets` (predicted classes, target labels), `to_art` and `from_art` (ART
interoperability), `LibraryAttack` and `library_class` (attacks wrapping a library), and the exceptions `AdvkitError`, `UsageError`, `DataError`, `ModelError`,
`PluginError`, `AttackContractError`.
"""

import sys
import types
from importlib import import_module

from .errors import AdvkitError, AttackContractError, DataError, ModelError, PluginError, UsageError
from .plugins import hookimpl

__version__ = "0.1.0"

_LAZY = {
    "Attack": "advkit.attack",
    "AttackResult": "advkit.attack",
    "Defense": "advkit.defense",
    "Analysis": "advkit.analysis",
    "Report": "advkit.analysis",
    "Model": "advkit.models",
    "load_model": "advkit.models",
    "Dataset": "advkit.data",
    "DataSource": "advkit.data",
    "load_data": "advkit.data",
    "attack": "advkit.api",
    "get_attack": "advkit.api",
    "train": "advkit.training",
    "TrainConfig": "advkit.training",
    "Lazy": "advkit.plugins",
    "source_class": "advkit.introspect",
    "check_common": "advkit.api",
    "parse_key_values": "advkit.params",
    "evaluate": "advkit.evaluate",
    "make_attack": "advkit.api",
    "instantiate": "advkit.api",
    "madry_step": "advkit.api",
    "logits_of": "advkit.attack",
    "make_activation": "advkit.activations",
    "AdversarialLoss": "advkit.adversarial_loss",
    "defend": "advkit.defending",
    "make_defense": "advkit.defending",
    "pyplot": "advkit.report",
    "image": "advkit.report",
    "predict": "advkit.attack",
    "choose_targets": "advkit.targets",
    "to_art": "advkit.interop",
    "from_art": "advkit.interop",
    "LibraryAttack": "advkit.wrapping",
    "library_class": "advkit.wrapping",
    "Reproduction": "advkit.reproduction",
    "gradient_statistics": "advkit.defending",
}
_RENAMED = {"save_model": ("advkit.checkpoints", "save")}

__all__ = ["hookimpl", "__version__", "AdvkitError", "AttackContractError", "DataError", "ModelError",
           "PluginError", "UsageError", *_LAZY, *_RENAMED]


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    if name in _RENAMED:
        module, attr = _RENAMED[name]
        return getattr(import_module(module), attr)
    raise AttributeError(f"module 'advkit' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)


class _Package(types.ModuleType):
    """Keeps `advkit.attack` the function: importing the submodule `advkit.attack` must not replace it."""

    def __setattr__(self, name, value):
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
