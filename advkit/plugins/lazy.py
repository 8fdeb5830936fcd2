"""`Lazy`: a class registered as `"module:Class"`, described from its source and imported on first use."""

from __future__ import annotations


class Lazy:
    """A class named `"module:Class"`, described from its source and imported on first use.

    First-party plugins register their torch-based classes this way so that listing them
    imports no torch. `register(Lazy("pkg.mod:Cls"))` behaves like `register(Cls)`.
    """

    def __init__(self, target: str):
        self.module, _, self.qualname = target.partition(":")
        self._cls = None

    @property
    def source(self):
        from advkit.plugins.source import source_class

        return source_class(self.module, self.qualname)

    @property
    def name(self):
        return self.source.attributes.get("name")

    def load(self) -> type:
        if self._cls is None:
            import importlib

            self._cls = getattr(importlib.import_module(self.module), self.qualname)
        return self._cls
