"""advkit_advtrain: adversarial training with any registered attack (plugin `advtrain`)."""

import advkit


@advkit.hookimpl
def register_defenses(register):
    for cls in ("AdversarialTraining", "PGDTraining"):
        register(advkit.Lazy(f"advkit_advtrain.advtrain:{cls}"))


@advkit.hookimpl
def register_reproductions(register):
    register(advkit.Lazy("advkit_advtrain.reproduce:Goodfellow"))
