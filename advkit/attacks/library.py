"""Attack classes generated from another library's classes, described from that library's source.

Both first-party catalogues (torchattacks, ART) build their classes here: the parameter schema is
the wrapped class's own `__init__` signature and defaults, read with `advkit.source_class`, so
listing the catalogue imports neither torch nor the wrapped library.
"""

from __future__ import annotations

import inspect
import re

from advkit.attacks.base import Attack
from advkit.plugins.source import source_class


class LibraryAttack(Attack):
    """Base of generated wrappers: `source` = (module, class) wrapped, `hidden` = arguments advkit supplies."""

    source: tuple[str, str]
    hidden: tuple[str, ...] = ()

    def __init__(self, model, **params):
        super().__init__(model)
        defaults = {p.name: p.default for p in self.signature().parameters.values() if p.default is not p.empty}
        self.params = {**defaults, **params}
        if "eps" in self.params:
            self.eps = self.params["eps"]

    @classmethod
    def signature(cls) -> inspect.Signature:
        """The wrapped class's constructor signature without `self`, `*args`, `**kwargs` and hidden arguments."""
        sig = source_class(*cls.source).signature
        variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        keep = [p for p in sig.parameters.values()
                if p.name != "self" and p.name not in cls.hidden and p.kind not in variadic]
        return sig.replace(parameters=keep)


def library_class(base: type, name: str, source: tuple[str, str], norm: str | None, *, library: str,
                  **attrs) -> type:
    """A subclass of `base` registered as `name`, wrapping `source`; its docstring names the library class."""
    doc = source_class(*source).doc.strip().splitlines()
    summary = doc[0] if doc else source[1]
    namespace = {"name": name, "norm": norm, "source": source, "__module__": base.__module__,
                 "__doc__": f"{library}.{source[1]}: {summary}", **attrs}
    camel = "".join(part.capitalize() for part in re.split(r"[^0-9a-zA-Z]+", f"{library} {name}"))
    return type(camel, (base,), namespace)
