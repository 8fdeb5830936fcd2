"""timm models: `timm:resnet18.a1_in1k` (pretrained, from the Hugging Face cache), `timm:NAME:checkpoint=FILE`."""

from __future__ import annotations

from pathlib import Path

import advkit
from advkit_zoos.common import ZooNet, head_width, load_into, read_weights, require

_FILES = ("model.safetensors", "pytorch_model.bin")  # what timm's Hugging Face repositories hold


class Timm(ZooNet):
    """timm model; pretrained weights from the Hugging Face cache ($HF_HOME/hub) or a file, offline.

    The cache is $HF_HUB_CACHE, else $HF_HOME/hub (default ~/.cache/huggingface/hub); weights are never
    downloaded. Needs `pip install "advkit[vision]"`.

    Args:
        arch: timm model name; with a pretrained tag (resnet18.a1_in1k) its weights are loaded and the
            pretrained config's mean/std folded into the model; a bare name (resnet18) has random weights.
        checkpoint: a .safetensors/.pth state-dict file to load instead (classes from its last layer;
            the mean/std of the name's pretrained config).
        size: side the network sees (inputs of another size are resized inside the model): -1 for the
            pretrained config's input size when weights are loaded (none for random weights), 0 for none.
    """

    name = "timm"

    def __init__(self, input_shape, num_classes: int, arch: str, checkpoint: str = "", size: int = -1):
        timm = require("timm", "vision", self.name)
        what = f"timm:{arch}"
        if not timm.is_model(arch):
            close = timm.list_models(f"*{arch.split('.')[0]}*")[:5]
            raise advkit.UsageError(f"unknown timm model {arch!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
        tagged = "." in arch
        cfg = timm.models.get_pretrained_cfg(arch) if tagged or checkpoint else None
        path = Path(checkpoint) if checkpoint else (cached_file(cfg, what) if tagged else None)
        state = read_weights(path, what) if path else None
        if state is not None:
            num_classes = head_width(state) or num_classes
        net = timm.create_model(arch, pretrained=False, num_classes=num_classes)
        if state is not None:
            load_into(net, state, what, path)
        mean, std, side = (cfg.mean, cfg.std, cfg.input_size[-1]) if cfg is not None else (None, None, 0)
        super().__init__(net, (side if state is not None else 0) if size == -1 else size, mean, std,
                         str(path) if path else "random weights")


def cached_file(cfg, what: str) -> Path:
    """The pretrained weights of timm config `cfg` in the local Hugging Face cache (no network)."""
    from huggingface_hub import constants, try_to_load_from_cache

    repo = cfg.hf_hub_id
    if not repo:
        raise advkit.ModelError(f"{what}: its pretrained weights are not on the Hugging Face hub; pass checkpoint=FILE")
    for filename in ([cfg.hf_hub_filename] if cfg.hf_hub_filename else []) + list(_FILES):
        found = try_to_load_from_cache(repo, filename)
        if isinstance(found, str):
            return Path(found)
    raise advkit.ModelError(
        f"{what}: pretrained weights are not in the Hugging Face cache: looked for {' or '.join(_FILES)} of {repo} "
        f"in {constants.HF_HUB_CACHE}; fetch them once on a machine with a network (huggingface-cli download {repo}) "
        "and copy the cache, or pass checkpoint=FILE")
