"""advkit_zoos: torchvision, timm and RobustBench models as `--model` specs (plugin `zoos`).

`torchvision:resnet50:weights=IMAGENET1K_V2`, `timm:resnet18.a1_in1k`, `robustbench:Wong2020Fast`:
each builds the zoo's own network, loads its weights offline from a local cache or a file, and states
the normalization they expect, which advkit folds into the model (epsilons stay in [0, 1] pixels).
torchvision and timm come with `pip install "advkit[vision]"`, RobustBench with `"advkit[robustbench]"`.
"""

import advkit

_MODELS = ["torchvision_zoo:Torchvision", "timm_zoo:Timm", "robustbench_zoo:RobustBench"]


@advkit.hookimpl
def register_models(register):
    for target in _MODELS:
        register(advkit.Lazy(f"advkit_zoos.{target}"))
