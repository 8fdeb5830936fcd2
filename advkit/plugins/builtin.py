"""advkit's own registrations: zoo architectures, activations and data sources (plugin `advkit`)."""

from advkit.plugins.hookspecs import hookimpl
from advkit.plugins.lazy import Lazy

_MODELS = ["Linear", "MLP", "LeNet", "CNN"]
_ACTIVATIONS = ["ReLU", "Tanh", "Sigmoid", "Softplus", "SiLU", "GELU", "ELU"]
_DATASETS = ["digits:Digits", "mnist:MNIST", "npz:NPZ", "imagefolder:ImageFolder", "cifar:CIFAR10",
             "cifar:CIFAR100", "imagenet:ImageNet"]


@hookimpl
def register_models(register):
    for cls in _MODELS:
        register(Lazy(f"advkit.models.zoo:{cls}"))


@hookimpl
def register_activations(register):
    for cls in _ACTIVATIONS:
        register(Lazy(f"advkit.models.activations:{cls}"))


@hookimpl
def register_datasets(register):
    for target in _DATASETS:
        module, cls = target.split(":")
        register(Lazy(f"advkit.data.sources.{module}:{cls}"))
