"""Per-layer Lipschitz upper bounds and the ratios adversarial examples actually reach (Szegedy Table 5)."""

from __future__ import annotations

import torch
from torch import nn

import advkit

from .bounds import layer_bound
from .checks import at_least, known_attack
from .tracing import trace_layers


class Lipschitz(advkit.Analysis):
    """Per-layer Lipschitz upper bounds, their product, and ||phi(x+r) - phi(x)|| / ||r|| on adversarial r.

    Layers are the leaf modules in the order the forward pass calls them (input normalization
    included). Conv2d layers get Szegedy's Fourier bound next to power iteration on the real
    operator (`iterations` steps, on the layer's actual input shape). The empirical ratios use
    `attack` (any registered attack, default szegedy.lbfgs; `NAME:key=value:...` sets its parameters)
    on the first `samples` inputs: per layer ||phi_k(x+r) - phi_k(x)|| / ||phi_{k-1}(x+r) - phi_{k-1}(x)|| and, cumulatively, over ||r||.
    """

    name = "lipschitz"

    def __init__(self, attack: str = "szegedy.lbfgs", samples: int = 100, iterations: int = 100, seed: int = 0):
        at_least("szegedy.lipschitz", 1, samples=samples, iterations=iterations)
        self.attack = attack
        self.attack_name, self.attack_params = known_attack("szegedy.lipschitz", attack)
        self.samples = samples
        self.iterations = iterations
        self.seed = seed

    def run(self, model, data) -> advkit.Report:
        x, y = data.x[:self.samples], data.y[:self.samples]
        result = advkit.attack(self.attack_name, model, x, y, seed=self.seed, **self.attack_params)
        device = next(model.parameters()).device
        clean, adversarial = trace_layers(model, result.x.to(device)), trace_layers(model, result.x_adv.to(device))
        r = _distance(result.x.to(device), result.x_adv.to(device))
        moved = r > 0
        rows, product = [], 1.0
        for before, after in zip(clean, adversarial):
            bound = layer_bound(before.module, tuple(before.inputs.shape[1:]), self.iterations, self.seed)
            upper = bound["upper_bound"]
            product = product * upper if product is not None and upper is not None else None
            d_in, d_out = _distance(before.inputs, after.inputs), _distance(before.outputs, after.outputs)
            rows.append({
                "layer": before.name, "type": type(before.module).__name__,
                "size": _size(before.module), "stride": _stride(before.module),
                "upper_bound": upper, "power_iteration": bound.get("power_iteration"), "fourier": bound.get("fourier"),
                "empirical_max": _max((d_out / d_in)[d_in > 0]),
                "cumulative_bound": product, "cumulative_empirical_max": _max((d_out / r)[moved]),
                "method": bound["method"],
            })
        network = (_distance(clean[-1].outputs, adversarial[-1].outputs) / r)[moved]
        numbers = {
            "table": rows,
            "network": {"upper_bound": product, "empirical_max": _max(network),
                        "empirical_mean": float(network.mean()) if len(network) else None},
            "attack": {"name": result.attack, "samples": result.n, "success_rate": result.success_rate,
                       "rms_mean": result.summary()["perturbation"]["rms_mean"]},
        }
        notes = [] if product is not None else [
            "no upper bound is known for: " + ", ".join(r["type"] for r in rows if r["upper_bound"] is None)
            + "; the network bound is left out"]
        return advkit.Report(self.name, numbers, {"lipschitz": _figure(rows)}, notes)


def _distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).flatten(1).norm(dim=1)


def _max(values: torch.Tensor) -> float | None:
    return float(values.max()) if len(values) else None


def _size(module: nn.Module) -> str:
    """Szegedy's Table 5 notation: k x k x C x D for convolutions, in x out for linear layers."""
    if isinstance(module, nn.Conv2d):
        return "x".join(map(str, (*module.kernel_size, module.in_channels, module.out_channels)))
    if isinstance(module, nn.Linear):
        return f"{module.in_features}x{module.out_features}"
    kernel = getattr(module, "kernel_size", None)
    return "x".join(map(str, kernel if isinstance(kernel, tuple) else (kernel, kernel))) if kernel else ""


def _stride(module: nn.Module) -> str:
    stride = getattr(module, "stride", None)
    if stride is None:
        return ""
    return str(stride[0]) if isinstance(stride, tuple) and len(set(stride)) == 1 else str(stride)


def _figure(rows: list[dict]):
    plt = advkit.pyplot()
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    shown = [r for r in rows if r["upper_bound"] is not None]
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(shown)), 4))
    positions = range(len(shown))
    ax.bar([p - 0.2 for p in positions], [r["upper_bound"] for r in shown], 0.4, label="upper bound")
    ax.bar([p + 0.2 for p in positions], [r["empirical_max"] or 0 for r in shown], 0.4,
           label="largest ratio on adversarial examples")
    ax.set_xticks(list(positions), [f"{r['layer']}\n{r['type']}" for r in shown], rotation=60, fontsize=7)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_ylabel("Lipschitz constant (L2)")
    ax.set_title("Per-layer Lipschitz bounds (Szegedy et al. Table 5)")
    ax.legend(fontsize=8)
    return fig
