"""Running a model: its device, eval mode with every flag restored, batched logits and predictions."""

from __future__ import annotations

import contextlib

from advkit.errors import UsageError


def device_of(module):
    """The device of a module's first parameter (or buffer); CPU for a module without either."""
    import torch

    for t in module.parameters():
        return t.device
    for t in module.buffers():
        return t.device
    return torch.device("cpu")


def resolve_device(name: str | None = "auto"):
    """`auto` picks CUDA when available; `cpu`, `cuda`, `cuda:1` as given."""
    import torch

    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda requested but CUDA is not available on this machine")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise UsageError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type not in ("cpu", "cuda", "mps", "xpu"):
        raise UsageError(f"--device {name!r} cannot run models (use auto, cpu, cuda or cuda:N)")
    backend = getattr(torch, device.type, None) if device.type in ("mps", "xpu") else None
    if backend is not None and not backend.is_available():
        raise UsageError(f"--device {device.type} requested but it is not available on this machine")
    return device


def predict(model, x, batch_size: int = 512):
    """Predicted classes of `x` in eval mode, on the model's device, returned on the CPU."""
    return logits_of(model, x, batch_size).argmax(1)


def logits_of(model, x, batch_size: int = 512):
    """Logits of `x` in eval mode, without gradients; the model's train/eval mode is restored."""
    import torch

    device = device_of(model)
    with eval_mode(model), torch.no_grad():
        out = [model(x[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(out) if out else torch.empty(0)


@contextlib.contextmanager
def eval_mode(model):
    """Run the block with `model` in eval mode; afterwards every module's train/eval flag is as before."""
    modules = list(model.modules())
    modes = [m.training for m in modules]
    if any(modes):
        model.eval()
    try:
        yield model
    finally:
        for m, mode in zip(modules, modes):
            if m.training != mode:
                m.training = mode
