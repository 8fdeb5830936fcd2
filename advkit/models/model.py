"""advkit models: a network plus the facts attacks need (input shape, classes, bounds, normalization)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from advkit.errors import ModelError, UsageError
from advkit.models.inference import device_of, eval_mode


class Normalize(nn.Module):
    """(x - mean) / std per channel, folded into the model so attacks work in pixel space."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        if any(s <= 0 for s in std):
            raise UsageError(f"--std must be positive, got {list(std)}")
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


class Model(nn.Module):
    """A classifier `net` taking inputs inside `bounds`, with its input shape and class count.

    `forward` returns logits. Normalization (mean/std) is applied inside, so attacks and
    epsilons always live in input (pixel) space.
    """

    def __init__(
        self,
        net: nn.Module,
        input_shape: Sequence[int],
        num_classes: int | None = None,
        *,
        bounds: tuple[float, float] = (0.0, 1.0),
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        class_names: Sequence[str] | None = None,
        spec: dict | None = None,
    ):
        super().__init__()
        lo, hi = float(bounds[0]), float(bounds[1])
        if not lo < hi:
            raise UsageError(f"--bounds must satisfy low < high, got {bounds}")
        self.net = net
        self.input_shape = tuple(int(s) for s in input_shape)
        self.bounds = (lo, hi)
        self.normalize = None
        if mean is not None or std is not None:
            channels = self.input_shape[0]
            mean = _per_channel(mean if mean is not None else [0.0], channels, "--mean")
            std = _per_channel(std if std is not None else [1.0], channels, "--std")
            self.normalize = Normalize(mean, std)
        self.class_names = list(class_names) if class_names else None
        self.spec = dict(spec or {})
        self.num_classes = int(num_classes) if num_classes else self._infer_classes()

    def forward(self, x):
        if self.normalize is not None:
            x = self.normalize(x)
        return self.net(x)

    @property
    def device(self) -> torch.device:
        return device_of(self)

    @property
    def mean(self):
        return None if self.normalize is None else self.normalize.mean.flatten().tolist()

    @property
    def std(self):
        return None if self.normalize is None else self.normalize.std.flatten().tolist()

    def metadata(self) -> dict:
        """Everything needed to rebuild this model around its weights."""
        return {
            "spec": self.spec,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "bounds": list(self.bounds),
            "mean": self.mean,
            "std": self.std,
            "class_names": self.class_names,
        }

    def _infer_classes(self) -> int:
        try:
            with eval_mode(self), torch.no_grad():
                lo, hi = self.bounds
                dtype = next((p.dtype for p in self.parameters() if p.is_floating_point()), torch.float32)
                probe = torch.full((1, *self.input_shape), (lo + hi) / 2, device=self.device, dtype=dtype)
                out = self(probe)
        except Exception as exc:
            raise ModelError(input_mismatch(self.net, self.input_shape, exc, self.spec.get("architecture"))) from None
        if not isinstance(out, torch.Tensor):
            raise ModelError(f"model returned a {type(out).__name__}, not a tensor of logits (N x classes)")
        if out.ndim != 2:
            raise ModelError(f"model must return logits of shape (N, classes), got {list(out.shape)}")
        return int(out.shape[1])


def input_mismatch(net: nn.Module, input_shape, exc: Exception, name: str | None = None) -> str:
    """One line on why `net` fails on inputs of `input_shape`: its first layer's channels or width when
    they differ from the data's, else the error itself."""
    import math

    shape = " x ".join(map(str, input_shape))
    what = f"model {name!r}" if name else "the model"
    first = next((m for m in net.modules() if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear))), None)
    hint = ""
    if len(input_shape) == 3 and input_shape[-1] in (1, 3, 4) and input_shape[0] > 4:
        hint = "; the data looks channels-last: store it as N x C x H x W (np.transpose(x, (0, 3, 1, 2)))"
    if isinstance(first, nn.modules.conv._ConvNd) and first.in_channels != input_shape[0]:
        return (f"{what} takes {first.in_channels}-channel images (its first layer is {type(first).__name__}"
                f"({first.in_channels}, ...)), the data has {input_shape[0]} channel(s) (inputs of shape {shape}){hint}")
    if isinstance(first, nn.Linear) and first.in_features != math.prod(input_shape):
        return (f"{what} takes {first.in_features} input values (its first layer is Linear({first.in_features}, "
                f"...)), inputs of shape {shape} have {math.prod(input_shape)}{hint}")
    detail = " ".join(str(exc).split())[:240]
    return f"{what} does not accept inputs of shape {shape}: {type(exc).__name__}: {detail}{hint}"


def _per_channel(values, channels: int, option: str) -> list[float]:
    values = [float(v) for v in values]
    if len(values) == 1:
        return values * channels
    if len(values) != channels:
        raise UsageError(f"{option} needs 1 value or one per channel ({channels}), got {len(values)}")
    return values


def as_model(model: nn.Module, input_shape: Sequence[int] | None = None, **kwargs) -> Model:
    """Wrap a plain `nn.Module` (bounds [0, 1] unless given); an advkit `Model` passes through."""
    if isinstance(model, Model):
        return model
    if input_shape is None:
        raise UsageError("a plain nn.Module needs input_shape=(C, H, W) to become an advkit model")
    return Model(model, input_shape, **kwargs)
