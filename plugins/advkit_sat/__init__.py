"""advkit_sat: smooth activations and smooth adversarial training (Xie et al. 2020) (plugin `sat`)."""

import advkit

_ACTIVATIONS = ["ParametricSoftplus", "SmoothReLU", "SmoothBackwardReLU"]


@advkit.hookimpl
def register_activations(register):
    for cls in _ACTIVATIONS:
        register(advkit.Lazy(f"advkit_sat.activations:{cls}"))


@advkit.hookimpl
def register_defenses(register):
    register(advkit.Lazy("advkit_sat.sat:SmoothAdversarialTraining"))


@advkit.hookimpl
def register_reproductions(register):
    register(advkit.Lazy("advkit_sat.reproduce:Xie"))
