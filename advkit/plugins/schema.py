"""Parameter schemas from constructor signatures, conversion of CLI strings onto them, and checked instantiation."""

from __future__ import annotations

import difflib
import inspect
import json
import math
import typing
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from advkit.errors import UsageError

_EMPTY = inspect.Parameter.empty
# Constructor arguments supplied by advkit itself, never user parameters.
RESERVED = {"self", "model", "input_shape", "num_classes"}


@dataclass
class Param:
    """One user-settable constructor parameter."""

    name: str
    default: Any = None
    annotation: Any = None
    required: bool = False
    description: str = ""
    default_text: str | None = None  # the default as written in the source (`8/255`) where that differs

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "default": jsonable(self.default),
            "default_text": self.default_text,
            "type": type_name(self.annotation, self.default),
            "required": self.required,
            "description": self.description,
        }


def parameters(cls) -> list[Param]:
    """The parameter schema of a registered class: its constructor signature (or `cls.signature()`).

    Descriptions come from `cls.parameter_docs()` where defined (classes described from source),
    else from the docstrings of the class and its `__init__` along the MRO; defaults as written in
    the source from `cls.default_texts()` where defined.
    """
    sig = cls.signature() if hasattr(cls, "signature") else inspect.signature(cls.__init__)
    docs = cls.parameter_docs() if hasattr(cls, "parameter_docs") else _docstring_params(cls)
    texts = cls.default_texts() if hasattr(cls, "default_texts") else {}
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:
        hints = {}
    out = []
    for p in sig.parameters.values():
        if p.name in RESERVED or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        annotation = hints.get(p.name, None if p.annotation is _EMPTY else p.annotation)
        out.append(Param(p.name, None if p.default is _EMPTY else p.default, annotation, p.default is _EMPTY,
                         docs.get(p.name, ""), texts.get(p.name)))
    return out


def _docstring_params(cls) -> dict[str, str]:
    """Parameter descriptions in the docstrings of `cls` and its bases and of their `__init__`s."""
    from advkit.plugins.source import param_docs

    out: dict[str, str] = {}
    for klass in reversed(getattr(cls, "__mro__", ())):
        init = vars(klass).get("__init__")
        for doc in (vars(klass).get("__doc__"), getattr(init, "__doc__", None)):
            if isinstance(doc, str):
                out.update(param_docs(doc))
    return out


def bind(cls, values: dict[str, Any], *, what: str) -> dict[str, Any]:
    """Check names in `values` against the schema of `cls` and convert strings by type."""
    schema = {p.name: p for p in parameters(cls)}
    out = {}
    for key, value in values.items():
        key = key.replace("-", "_")
        if key not in schema:
            valid = ", ".join(sorted(schema)) or "none"
            close = difflib.get_close_matches(key, list(schema), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(f"{what} has no parameter {key!r}{hint}; valid parameters: {valid}")
        out[key] = convert(value, schema[key], what=what) if isinstance(value, str) else value
    missing = [name for name, p in schema.items() if p.required and name not in out]
    if missing:
        raise UsageError(f"{what} needs parameter(s): {', '.join(missing)} (pass -p NAME=VALUE)")
    return out


def parse_key_values(items, *, what: str = "parameters") -> dict[str, str]:
    """`["k=v", ...]` or `"k=v,k=v"` as a dict of strings (converted later by a schema)."""
    if isinstance(items, str):
        items = items.split(",")
    out = {}
    for item in filter(None, (part.strip() for part in items)):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{what} are written KEY=VALUE, got {item!r}")
        if key.strip() in out:
            raise UsageError(f"{what}: {key.strip()} given twice ({out[key.strip()]!r} and "
                             f"{value.strip()!r}); give it once")
        out[key.strip()] = value.strip()
    return out


def convert(text: str, param: Param, *, what: str = "") -> Any:
    """Convert a CLI string by the parameter's annotation, else by its default's type."""
    kind = type_name(param.annotation, param.default)
    try:
        if text.lower() in ("none", "null") and (param.default is None or "None" in str(param.annotation)):
            return None
        if kind == "bool":
            return parse_bool(text)
        if kind == "int":
            return int(text)
        if kind == "float":
            return parse_number(text)
        if kind == "str":
            return text
        if kind in ("list", "tuple"):
            items = [parse_value(t) for t in text.split(",") if t.strip()]
            return tuple(items) if kind == "tuple" else items
        return parse_value(text)
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"{what} parameter {param.name!r} expects {kind}, got {text!r}") from None


def type_name(annotation, default) -> str:
    """A short type name for a parameter: bool, int, float, str, list, tuple or any."""
    for t in (bool, int, float, str, list, tuple):
        if annotation is t:
            return t.__name__
    if isinstance(annotation, str) and annotation in ("bool", "int", "float", "str"):
        return annotation
    text = str(annotation) if annotation is not None else ""
    if "float" in text and "str" not in text:
        return "float"
    if default is not None and type(default) in (bool, int, float, str, list, tuple):
        return type(default).__name__
    return "any"


def parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on", "y"):
        return True
    if low in ("0", "false", "no", "off", "n"):
        return False
    raise ValueError(text)


def parse_number(text: str) -> float:
    """A float, also written as a fraction (`8/255`) or `inf`."""
    text = text.strip()
    if "/" in text:
        num, den = text.split("/", 1)
        if "/" in den:
            raise ValueError(text)  # 8/255/2 is a typo, not a number
        return float(Fraction(num.strip())) / float(Fraction(den.strip()))
    value = float(text)
    if math.isnan(value):
        raise ValueError(text)
    return value


def parse_value(text: str) -> Any:
    """Best-effort literal: number, fraction, bool, JSON, else the string itself."""
    text = text.strip()
    for parse in (int, parse_number, parse_bool, json.loads):
        try:
            return parse(text)
        except (ValueError, ZeroDivisionError):
            continue
    return text


def jsonable(value: Any) -> Any:
    """A JSON-safe rendering of a default value."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return repr(value)


FLOAT32_MAX = 3.4028234663852886e38
MAX_ITERATIONS = 10_000_000  # more steps or restarts than any published attack uses: a typo, not a budget


def check_common(params: dict, what: str) -> None:
    """Range checks for parameters whose meaning is shared by every attack."""
    for key in ("eps", "alpha", "eps_step", "step_size"):
        value = params.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not 0 <= value < math.inf:
            raise UsageError(f"{what}: {key} must be finite and >= 0, got {value}")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > FLOAT32_MAX:
            raise UsageError(f"{what}: {key} {value:g} is too large (inputs are float32, at most {FLOAT32_MAX:.4g})")
    for key in ("steps", "max_iter", "n_restarts", "restarts"):
        value = params.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and not 1 <= value <= MAX_ITERATIONS:
            raise UsageError(f"{what}: {key} must be from 1 to {MAX_ITERATIONS:,}, got {value}")
