"""Read classes from source without importing them: docstring, class attributes, signature.

This keeps `advkit --help`, `advkit plugins` and `advkit list` free of torch, torchattacks and ART:
first-party plugins register heavy classes as `"module:Class"` strings (see `advkit.plugins.Lazy`)
and wrapped libraries are described from their own source.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import math
import operator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

_EMPTY = inspect.Parameter.empty


@dataclass(frozen=True)
class SourceClass:
    """What the source of one class says about it."""

    doc: str
    attributes: dict
    signature: inspect.Signature
    bases: tuple


_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.Pow: operator.pow}
_NAMES = {"True": True, "False": False, "None": None, "inf": math.inf}


def literal(node: ast.AST) -> Any:
    """Evaluate a default-value expression from source without running code.

    Handles constants, containers, arithmetic (`8 / 255`), `np.inf`, `float("inf")`;
    anything else raises ValueError.
    """
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.Tuple, ast.List)):
        items = [literal(e) for e in node.elts]
        return tuple(items) if isinstance(node, ast.Tuple) else items
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = literal(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _BINOPS[type(node.op)](literal(node.left), literal(node.right))
    if isinstance(node, ast.Name) and node.id in _NAMES:
        return _NAMES[node.id]
    if isinstance(node, ast.Attribute) and node.attr == "inf":
        return math.inf
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float"
            and len(node.args) == 1 and isinstance(node.args[0], ast.Constant)):
        return float(node.args[0].value)
    raise ValueError(ast.dump(node))


def module_path(module: str) -> Path:
    """The source file of `module`, found without importing it or its package."""
    top, *rest = module.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None:
        raise ImportError(f"module {top!r} is not installed")
    if not spec.submodule_search_locations:
        if rest:
            raise ImportError(f"{top!r} is a module, not a package")
        return Path(spec.origin)
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*rest)
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


@lru_cache(maxsize=None)
def source_class(module: str, qualname: str) -> SourceClass:
    """Docstring, literal class attributes and `__init__` signature of `module.qualname`, from source.

    Defaults that are not plain literals are kept as their source text. A class without its own
    `__init__` gets the signature `(self, *args, **kwargs)`.
    """
    tree = ast.parse(module_path(module).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == qualname:
            attributes, signature = {}, inspect.Signature([
                inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL),
                inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)])
            for item in node.body:
                if isinstance(item, ast.Assign) and len(item.targets) == 1 and isinstance(item.targets[0], ast.Name):
                    try:
                        attributes[item.targets[0].id] = literal(item.value)
                    except ValueError:
                        pass
                elif isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    signature = _signature_of(item)
            bases = tuple(ast.unparse(b) for b in node.bases)
            return SourceClass(ast.get_docstring(node) or "", attributes, signature, bases)
    raise LookupError(f"{module} defines no class {qualname}")


def _signature_of(fn: ast.FunctionDef) -> inspect.Signature:
    args = fn.args
    params = []
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    pairs = list(zip(positional, defaults)) + list(zip(args.kwonlyargs, args.kw_defaults))
    for i, (arg, default) in enumerate(pairs):
        kind = inspect.Parameter.KEYWORD_ONLY if i >= len(positional) else inspect.Parameter.POSITIONAL_OR_KEYWORD
        if default is None:
            value = _EMPTY
        else:
            try:
                value = literal(default)
            except ValueError:
                value = ast.unparse(default)
        annotation = ast.unparse(arg.annotation) if arg.annotation is not None else _EMPTY
        params.append(inspect.Parameter(arg.arg, kind, default=value, annotation=annotation))
    return inspect.Signature(params)
