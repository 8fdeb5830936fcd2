"""advkit_tilt: boundary tilting and L2 regularisation (Tanay & Griffin), plugin `tilt`.

Analyses `tilt` (global tilt of a linear model, local tilt of any other) and `tilt-sweep`
(linear SVMs or logistic regression over regularisation strengths), and the attack
`tilt.confidence` (the paper's high-confidence L2 attack). Registered lazily: listing them
imports no torch.
"""

import advkit


@advkit.hookimpl
def register_analyses(register):
    register(advkit.Lazy("advkit_tilt.tilt:Tilt"))
    register(advkit.Lazy("advkit_tilt.sweep:TiltSweep"))


@advkit.hookimpl
def register_attacks(register):
    register(advkit.Lazy("advkit_tilt.confidence:ConfidenceAttack"))


@advkit.hookimpl
def register_reproductions(register):
    register(advkit.Lazy("advkit_tilt.reproduce:Tanay"))
