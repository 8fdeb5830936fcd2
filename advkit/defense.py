"""The `Defense` base class: a plugin that returns a (re)trained or transformed model."""

from __future__ import annotations


class Defense:
    """Base class of every defense. Subclasses set `name` and implement `apply(model, data)`.

    The constructor's signature is the parameter schema, as for attacks. `apply` returns the
    defended model (a new advkit `Model` or the same one changed in place). Defenses that train
    use `advkit.training.train`, the one training loop, and receive its settings in `config`.
    """

    name: str = ""

    def apply(self, model, data):
        """Return the defended version of `model`, using `data` (an `advkit.Dataset`) if needed."""
        raise NotImplementedError(f"{type(self).__name__} must implement apply(model, data)")
