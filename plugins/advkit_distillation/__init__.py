"""advkit_distillation: defensive distillation (Papernot et al. 2016) as an advkit defense (plugin `distillation`)."""

import advkit


@advkit.hookimpl
def register_defenses(register):
    register(advkit.Lazy("advkit_distillation.distillation:Distillation"))


@advkit.hookimpl
def register_reproductions(register):
    register(advkit.Lazy("advkit_distillation.reproduce:Papernot"))
