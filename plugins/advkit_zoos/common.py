"""What the three zoos share: the wrapper network, optional imports, safe weight files."""

from __future__ import annotations

import difflib
import importlib
import pickle
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

import advkit


class ZooNet(nn.Module):
    """A zoo's network `net`, fed inputs resized to `size` x `size` (bilinear, inside the model) when
    `size` is set and the data's differs; `preprocessing` holds the mean/std its weights expect."""

    def __init__(self, net: nn.Module, size: int = 0, mean=None, std=None, source: str = "random weights"):
        super().__init__()
        self.net = net
        self.size = int(size or 0)
        self.preprocessing = {"mean": list(mean), "std": list(std)} if mean is not None and std is not None else {}
        self.source = source

    def forward(self, x):
        if self.size and tuple(x.shape[-2:]) != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return self.net(x)


def require(module: str, extra: str, zoo: str):
    """Import `module`, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 (a torchvision built for another torch raises RuntimeError)
        detail = " ".join(str(exc).split())[:160]
        raise advkit.UsageError(f"--model {zoo}:... needs {module}, which cannot be imported ({type(exc).__name__}: "
                                f"{detail}): pip install \"advkit[{extra}]\" (with a torch it was built for)") from None


def choose(name: str, known, what: str) -> str:
    """`name` if it is in `known`, else a UsageError with the closest names."""
    known = list(known)
    if name in known:
        return name
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise advkit.UsageError(f"unknown {what} {name!r}{hint}")


def safe_load(path, what: str):
    """The object in a `.safetensors` file or a weights-only torch file; pickled code is refused, never run."""
    path = Path(path)
    if not path.is_file():
        raise advkit.ModelError(f"{what}: weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        raise advkit.ModelError(f"{what}: refused to load {path}: not a weights-only file ({first}); "
                                "advkit never unpickles code") from None
    except Exception as exc:  # noqa: BLE001 (a corrupt file becomes one line)
        raise advkit.ModelError(f"{what}: cannot read {path}: {type(exc).__name__}: {str(exc)[:200]}") from None


def read_weights(path, what: str) -> dict:
    """A state dict from `safe_load(path)`: `{"state_dict": ...}`, `{"model": ...}` and `module.`
    prefixes unwrapped."""
    state = safe_load(path, what)
    for key in ("state_dict", "model", "net"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise advkit.ModelError(f"{what}: {path} holds no state dict of tensors")
    return {k.removeprefix("module."): v for k, v in state.items()}


def head_width(state: dict) -> int | None:
    """Classes of a checkpoint: rows of its last 2-D weight (the classifier, last in a state dict)."""
    heads = [v for k, v in state.items() if k.endswith("weight") and v.ndim == 2]
    return int(heads[-1].shape[0]) if heads else None


def load_into(net: nn.Module, state: dict, what: str, path) -> None:
    """`net.load_state_dict(state)`, strictly, with one clear line when they do not fit."""
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:300]
        raise advkit.ModelError(f"{what}: weights in {path} do not fit the architecture: {detail}") from None
