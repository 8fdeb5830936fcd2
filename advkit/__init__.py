"""advkit: a plugin-based adversarial-robustness toolkit for PyTorch.

Every public name is listed once, in `API` below (name -> module, what it is); this docstring's
list is generated from it, and `import advkit` imports a name's module only when the name is first
used, so `import advkit` and the CLI's listings stay free of torch.
"""

from importlib import import_module

from advkit.errors import AdvkitError, AttackContractError, DataError, ModelError, PluginError, UsageError
from advkit.plugins.hookspecs import hookimpl

__version__ = "0.1.0"

API = {
    # writing plugins
    "hookimpl": ("advkit.plugins.hookspecs", "marker for hook implementations"),
    "Attack": ("advkit.attacks.base", "base class of attacks; `__call__` enforces the contract"),
    "Defense": ("advkit.training.defense", "base class of defenses (`apply(model, data) -> model`)"),
    "Analysis": ("advkit.research.analysis", "base class of analyses (`run(model, data) -> Report`)"),
    "Report": ("advkit.research.analysis", "an analysis' numbers and figures"),
    "Reproduction": ("advkit.research.reproduction", "base class of a paper's reproduction"),
    "DataSource": ("advkit.data.dataset", "base class of `--data` sources"),
    "Lazy": ("advkit.plugins.lazy", "a class registered by `module:Class`, imported on first use"),
    "source_class": ("advkit.plugins.source", "a class's docstring, attributes and signature read from source"),
    "LibraryAttack": ("advkit.attacks.library", "base class of attacks wrapping another library's class"),
    "library_class": ("advkit.attacks.library", "an attack class generated from a library's class"),
    "check_common": ("advkit.plugins.schema", "range checks of parameters shared by every attack"),
    "parse_key_values": ("advkit.plugins.schema", "`key=value` strings to a dict"),
    "instantiate": ("advkit.plugins.registry", "a registered class built with checked parameters"),
    # models and data
    "Model": ("advkit.models.model", "a network with input shape, classes, bounds and normalization"),
    "load_model": ("advkit.models.load", "a model from a `--model` spec"),
    "default_model": ("advkit.training.default", "the default CNN on digits, trained and cached on first use"),
    "save_model": ("advkit.models.checkpoints", "save a model as a safe checkpoint"),
    "eval_mode": ("advkit.models.inference", "context manager: eval mode, every module's flag restored"),
    "predict": ("advkit.models.inference", "predicted classes, batched, in eval mode"),
    "logits_of": ("advkit.models.inference", "logits, batched, in eval mode, without gradients"),
    "make_activation": ("advkit.models.activations", "a registered activation module by name"),
    "to_art": ("advkit.models.art", "an ART PyTorchClassifier for a model"),
    "from_art": ("advkit.models.art", "a model from an ART PyTorchClassifier"),
    "Dataset": ("advkit.data.dataset", "images as float tensors with integer labels"),
    "load_data": ("advkit.data.dataset", "a dataset from a `--data` spec"),
    # attacking
    "attack": ("advkit.attacks.runner", "run a registered attack: an AttackResult"),
    "AttackResult": ("advkit.attacks.runner", "adversarial examples and per-sample outcomes"),
    "get_attack": ("advkit.attacks.runner", "the attack class registered under a name"),
    "make_attack": ("advkit.attacks.runner", "an attack instance with checked parameters"),
    "madry_step": ("advkit.attacks.runner", "the default PGD step size, 2.5 * eps / steps"),
    "choose_targets": ("advkit.attacks.targets", "target labels for a targeted attack"),
    "perturbation_size": ("advkit.attacks.norms", "per-sample size of perturbations in a norm (Linf, L2, L1, L0)"),
    # training and defending
    "train": ("advkit.training.loop", "the one training loop"),
    "TrainConfig": ("advkit.training.loop", "epochs, learning rate, batch size, seed of a training run"),
    "AdversarialLoss": ("advkit.training.adversarial_loss", "alpha J(x) + (1 - alpha) J(x_adv)"),
    "defend": ("advkit.training.defend", "apply a defense and measure before and after"),
    "make_defense": ("advkit.training.defend", "a defense instance with checked parameters"),
    "gradient_statistics": ("advkit.training.defend", "logit norms and the share of zero input gradients"),
    # evaluating
    "evaluate": ("advkit.evaluation.cascade", "robust accuracy per attack and eps, and the worst case"),
    # progress
    "progress": ("advkit.reporting.progress", "progress of a long loop in samples: a bar or plain lines on stderr"),
    "progress_mode": ("advkit.reporting.progress", "context manager: the progress mode (auto, bar, plain, none)"),
    # figures
    "pyplot": ("advkit.reporting.figures", "matplotlib.pyplot on the Agg backend"),
    "image": ("advkit.reporting.figures", "show one image on an axis"),
}
_ATTRIBUTE = {"save_model": "save", "perturbation_size": "size"}  # public names that differ from the name in their module
_EAGER = {"hookimpl", "AdvkitError", "AttackContractError", "DataError", "ModelError", "PluginError", "UsageError"}

__all__ = ["__version__", "AdvkitError", "AttackContractError", "DataError", "ModelError", "PluginError",
           "UsageError", *API]
__doc__ += "\nPublic API:\n\n" + "\n".join(f"- `{name}`: {what}" for name, (_, what) in API.items()) + (
    "\n- exceptions: `AdvkitError` and its subclasses `UsageError`, `DataError`, `ModelError`, `PluginError`, "
    "`AttackContractError`\n")


def __getattr__(name):
    if name in API:
        return getattr(import_module(API[name][0]), _ATTRIBUTE.get(name, name))
    raise AttributeError(f"module 'advkit' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
