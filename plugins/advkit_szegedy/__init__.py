"""advkit_szegedy: Szegedy et al. 2014 (plugin `szegedy`): the L-BFGS attack and three analyses.

`szegedy.lbfgs` (box-constrained L-BFGS), `szegedy.lipschitz` (per-layer upper bounds),
`szegedy.transfer` (cross-model error matrix) and `szegedy.units` (units vs random directions).
Classes are registered lazily, so listing them imports no torch.
"""

import advkit


@advkit.hookimpl
def register_attacks(register):
    register(advkit.Lazy("advkit_szegedy.lbfgs:LBFGS"))


@advkit.hookimpl
def register_analyses(register):
    for target in ("lipschitz:Lipschitz", "transfer:Transfer", "units:Units"):
        register(advkit.Lazy(f"advkit_szegedy.{target}"))


@advkit.hookimpl
def register_reproductions(register):
    register(advkit.Lazy("advkit_szegedy.reproduce:Szegedy"))
