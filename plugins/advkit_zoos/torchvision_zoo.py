"""torchvision classification models: `torchvision:resnet18`, `torchvision:resnet50:weights=IMAGENET1K_V2`."""

from __future__ import annotations

from pathlib import Path

import advkit
from advkit_zoos.common import ZooNet, choose, head_width, load_into, read_weights, require


class Torchvision(ZooNet):
    """torchvision classifier; weights from $TORCH_HOME/hub/checkpoints (TORCH_HOME: ~/.cache/torch) or a file.

    Weights are never downloaded. Needs `pip install "advkit[vision]"`.

    Args:
        arch: torchvision model name (resnet18, resnet50, vit_b_16, ...).
        weights: none (random weights, classes from the data); a weights name (IMAGENET1K_V2, DEFAULT)
            read from the hub cache under torchvision's own file name, its mean/std folded into the model;
            or a .pth/.safetensors state-dict file (classes from its last layer; pass --mean/--std).
        size: side the network sees (inputs of another size are resized inside the model): -1 for the
            weights' own crop size (none for random weights or a file), 0 for none.
    """

    name = "torchvision"

    def __init__(self, input_shape, num_classes: int, arch: str, weights: str = "", size: int = -1):
        models = require("torchvision.models", "vision", self.name)
        what = f"torchvision:{arch}"
        builder = models.get_model_builder(choose(arch, models.list_models(module=models), "torchvision model"))
        state, path, mean, std, crop = None, None, None, None, 0
        if weights and (Path(weights).suffix in (".pth", ".pt", ".safetensors") or Path(weights).exists()):
            path = Path(weights)
            state = read_weights(path, what)
            num_classes = head_width(state) or num_classes
        elif weights:
            enum = models.get_model_weights(arch)
            chosen = enum.DEFAULT if weights.upper() == "DEFAULT" else enum[choose(weights, enum.__members__, f"{arch} weights")]
            path = hub_file(chosen.url)
            if not path.is_file():
                raise advkit.ModelError(
                    f"{what}: weights {chosen} are not in the torch hub cache: looked for {path}; fetch them once "
                    f"on a machine with a network (python -c \"import torchvision; torchvision.models.{arch}"
                    f"(weights='{chosen.name}')\", or download {chosen.url}) and copy the file there, or set "
                    "TORCH_HOME, or pass weights=FILE")
            state = read_weights(path, what)
            transform = chosen.transforms()
            mean, std, crop = transform.mean, transform.std, transform.crop_size[0]
            num_classes = len(chosen.meta["categories"])
        net = builder(weights=None, num_classes=num_classes)
        if state is not None:
            load_into(net, state, what, path)
        super().__init__(net, crop if size == -1 else size, mean, std, str(path) if path else "random weights")


def hub_file(url: str) -> Path:
    """Where torch.hub keeps the file of `url`: $TORCH_HOME/hub/checkpoints/<its name>."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
