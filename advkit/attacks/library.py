"""Attack classes generated from another library's classes, described from that library's source.

Both first-party catalogues (torchattacks, ART) build their classes here: the parameter schema is
the wrapped class's own `__init__` signature and defaults, read with `advkit.source_class`, so
listing the catalogue imports neither torch nor the wrapped library.
"""

from __future__ import annotations

import inspect
import re

from advkit.attacks.base import Attack
from advkit.plugins.source import first_paragraph, source_class


class _ClassSignature:
    """`inspect.signature(cls)` of a generated class: `(model, *, <the wrapped class's parameters>)`,
    computed on access from the library's source (keyword-only: the wrapper takes them as `**params`)."""

    def __get__(self, obj, cls) -> inspect.Signature:
        if obj is not None or "source" not in dir(cls):
            raise AttributeError("__signature__")
        keyword = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in cls.signature().parameters.values()]
        return inspect.Signature([inspect.Parameter("model", inspect.Parameter.POSITIONAL_OR_KEYWORD), *keyword])


class LibraryAttack(Attack):
    """Base of generated wrappers: `source` = (module, class) wrapped, `hidden` = arguments advkit supplies.

    The wrapper declares the capabilities of each class it generates (`targeted`, `budget_param`,
    `step_param`, `iterations_param`, `norm_param`; see `advkit.Attack`) in the library's own names.
    """

    source: tuple[str, str]
    hidden: tuple[str, ...] = ()
    __signature__ = _ClassSignature()

    def __init__(self, model, **params):
        super().__init__(model)
        defaults = {p.name: p.default for p in self.signature().parameters.values() if p.default is not p.empty}
        self.params = {**defaults, **params}
        if self.budget_param in self.params:  # the contract reads the budget under its own name
            setattr(self, self.budget_param, self.params[self.budget_param])

    @classmethod
    def signature(cls) -> inspect.Signature:
        """The wrapped class's constructor signature without `self`, `*args`, `**kwargs` and hidden arguments."""
        sig = source_class(*cls.source).signature
        variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        keep = [p for p in sig.parameters.values()
                if p.name != "self" and p.name not in cls.hidden and p.kind not in variadic]
        return sig.replace(parameters=keep)

    @classmethod
    def parameter_docs(cls) -> dict[str, str]:
        """Descriptions of the wrapped class's parameters, from the library's docstrings."""
        return source_class(*cls.source).param_docs

    @classmethod
    def default_texts(cls) -> dict[str, str]:
        """The wrapped class's defaults as written in the library's source (`8/255`)."""
        return source_class(*cls.source).default_texts


def library_class(base: type, name: str, source: tuple[str, str], norm: str | None, *, library: str,
                  **attrs) -> type:
    """A subclass of `base` registered as `name`, wrapping `source`; its docstring names the library class
    and repeats the first paragraph of the library class's docstring."""
    summary = first_paragraph(source_class(*source).doc) or source[1]
    namespace = {"name": name, "norm": norm, "source": source, "__module__": base.__module__,
                 "__doc__": f"{library}.{source[1]}: {summary}", **attrs}
    camel = "".join(part.capitalize() for part in re.split(r"[^0-9a-zA-Z]+", f"{library} {name}"))
    return type(camel, (base,), namespace)
