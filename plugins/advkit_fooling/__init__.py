"""advkit_fooling: fooling images grown from noise (Nguyen et al. 2015), plugin `fooling`.

Registered lazily: listing it imports no torch.
"""

import advkit


@advkit.hookimpl
def register_analyses(register):
    register(advkit.Lazy("advkit_fooling.fooling:Fooling"))
