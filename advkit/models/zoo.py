"""Built-in architectures: linear, mlp, lenet, cnn. Each builds for any input shape and class count."""

from __future__ import annotations

import math

from torch import nn

from advkit.models.activations import make_activation


class Linear(nn.Module):
    """Softmax regression: one linear layer on the flattened input (no hidden activation)."""

    name = "linear"

    def __init__(self, input_shape, num_classes: int):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(math.prod(input_shape), num_classes)

    def forward(self, x):
        return self.fc(self.flatten(x))


class MLP(nn.Module):
    """Fully connected network; `hidden` lists layer widths joined by '-' (Szegedy's FC100-100-10)."""

    name = "mlp"

    def __init__(self, input_shape, num_classes: int, hidden: str = "100-100", activation: str = "relu"):
        super().__init__()
        widths = _widths(hidden)
        layers: list[nn.Module] = [nn.Flatten()]
        previous = math.prod(input_shape)
        for width in widths:
            layers += [nn.Linear(previous, width), make_activation(activation)]
            previous = width
        layers.append(nn.Linear(previous, num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


class TwoConvNet(nn.Module):
    """Two conv blocks (conv, activation, 2x2 max-pool) and a classifier with one hidden layer: LeNet and CNN."""

    name = ""

    def __init__(self, input_shape, num_classes: int, channels: tuple[int, int], kernel: int, hidden: int,
                 activation: str):
        super().__init__()
        in_channels, height, width = input_shape
        first, second = channels
        self.features = nn.Sequential(*_conv_block(in_channels, first, kernel, activation),
                                      *_conv_block(first, second, kernel, activation))
        flat = second * (height // 4) * (width // 4)
        if flat == 0:
            raise ValueError(f"{self.name} needs inputs of at least 4x4, got {height}x{width}")
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(flat, hidden), make_activation(activation), nn.Linear(hidden, num_classes)
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class LeNet(TwoConvNet):
    """LeNet as in Tanay & Griffin: conv5x5x20, pool, conv5x5x50, pool, fc500, fc (padding 2 keeps small inputs)."""

    name = "lenet"

    def __init__(self, input_shape, num_classes: int, activation: str = "relu"):
        super().__init__(input_shape, num_classes, (20, 50), 5, 500, activation)


class CNN(TwoConvNet):
    """Small fast CNN: two 3x3 conv blocks of `width` and 2*`width` channels, fc 128, fc."""

    name = "cnn"

    def __init__(self, input_shape, num_classes: int, width: int = 32, activation: str = "relu"):
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        super().__init__(input_shape, num_classes, (width, 2 * width), 3, 128, activation)


def _conv_block(in_channels: int, out_channels: int, kernel: int, activation: str) -> list[nn.Module]:
    """conv (padding keeps the size), activation, 2x2 max-pool."""
    return [nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2), make_activation(activation),
            nn.MaxPool2d(2)]


def _widths(hidden) -> list[int]:
    if isinstance(hidden, int):
        return [hidden]
    try:
        widths = [int(w) for w in str(hidden).replace(",", "-").split("-") if w.strip()]
    except ValueError:
        raise ValueError(f"hidden must be widths joined by '-', like 100-100; got {hidden!r}") from None
    if any(w < 1 for w in widths):
        raise ValueError(f"hidden widths must be >= 1, got {hidden!r}")
    return widths


