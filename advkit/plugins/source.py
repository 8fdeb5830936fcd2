"""Read classes from source without importing them: docstring, class attributes, signature.

This keeps `advkit --help`, `advkit plugins` and `advkit list` free of torch, torchattacks and ART:
first-party plugins register heavy classes as `"module:Class"` strings (see `advkit.plugins.Lazy`)
and wrapped libraries are described from their own source. Base classes are followed the same way
(an inherited `__init__`, class attributes and parameter descriptions), as far as their names can be
resolved from the module's imports.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import math
import operator
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

_EMPTY = inspect.Parameter.empty


@dataclass(frozen=True)
class SourceClass:
    """What the source of one class says about it (and what it inherits from the bases found).

    `param_docs`: parameter name -> description from the docstrings of the class and its `__init__`
    (`:param NAME:` lines or an `Args:`/`Arguments:` block). `default_texts`: parameter name -> its
    default as written in the source (`8/255`), for defaults whose value reads differently (`8/255`
    is 0.03137...). `init_owner`: `module.Class` whose `__init__` gave `signature`, None when none did.
    """

    doc: str
    attributes: dict
    signature: inspect.Signature
    bases: tuple
    param_docs: dict = field(default_factory=dict)
    default_texts: dict = field(default_factory=dict)
    init_owner: str | None = None


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


_VARIADIC = inspect.Signature([inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL),
                               inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)])
_ACTIVE: set = set()  # classes being read, so that a cycle of bases ends


@lru_cache(maxsize=None)
def source_class(module: str, qualname: str) -> SourceClass:
    """Docstring, literal class attributes and `__init__` signature of `module.qualname`, from source.

    Defaults that are not plain literals are kept as their source text. A class without its own
    `__init__` gets the one of its first base (in MRO order, depth first) that has one, read from
    source too; with none, the signature `(self, *args, **kwargs)`. Class attributes and parameter
    descriptions are inherited from the bases (the subclass wins). Bases are resolved through the
    module's imports (relative, aliased, star imports, re-exports); those that cannot be (names built
    at run time, modules not installed) are skipped.
    """
    key = (module, qualname)
    if key in _ACTIVE:
        raise LookupError(f"{module}.{qualname} inherits from itself")
    _ACTIVE.add(key)
    try:
        return _read_class(module, qualname)
    finally:
        _ACTIVE.discard(key)


def _read_class(module: str, qualname: str) -> SourceClass:
    path = module_path(module)
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    node = next((n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == qualname), None)
    bindings, stars = _bindings(tree, module, path)
    if node is None:  # a name the module imports from elsewhere
        target = bindings.get(qualname) or _public_api(module, qualname)
        if target is not None and target[0] == "from":
            return source_class(target[1], target[2])
        for star in stars:
            try:
                return source_class(star, qualname)
            except (ImportError, LookupError, OSError, SyntaxError, ValueError):
                continue
        raise LookupError(f"{module} defines no class {qualname}")
    own, init = {}, None
    for item in node.body:
        if isinstance(item, (ast.Assign, ast.AnnAssign)) and item.value is not None:
            targets = item.targets if isinstance(item, ast.Assign) else [item.target]
            if len(targets) == 1 and isinstance(targets[0], ast.Name):
                try:
                    own[targets[0].id] = literal(item.value)
                except ValueError:
                    pass
        elif isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == "__init__":
            init = item
    bases = []
    for expr in node.bases:
        target = _base_of(expr, tree, module, node, bindings, stars)
        if target is not None:
            try:
                bases.append(source_class(*target))
            except (ImportError, LookupError, OSError, SyntaxError, ValueError):
                pass
    attributes, docs = {}, {}
    for base in reversed(bases):
        attributes.update(base.attributes)
        docs.update(base.param_docs)
    attributes.update(own)
    doc = ast.get_docstring(node) or ""
    docs.update(param_docs(doc))
    if init is not None:
        docs.update(param_docs(ast.get_docstring(init) or ""))
        signature, texts = _signature_of(init, text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
        owner = f"{module}.{qualname}"
    else:
        base = next((b for b in bases if b.init_owner is not None), None)
        signature, texts, owner = (_VARIADIC, {}, None) if base is None else (
            base.signature, base.default_texts, base.init_owner)
    return SourceClass(doc, attributes, signature, tuple(ast.unparse(b) for b in node.bases), docs, texts, owner)


def _absolute(module: str, path: Path, level: int, name: str | None) -> str:
    """The absolute module name of `from <level dots><name> import ...` written in `module`."""
    if not level:
        return name or ""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    parts = package.split(".")
    parts = parts[:len(parts) - (level - 1)]
    return ".".join(parts + ([name] if name else []))


def _bindings(tree: ast.Module, module: str, path: Path) -> tuple[dict, list]:
    """Names the module's top-level imports bind, ("module", name) or ("from", module, attribute),
    and the modules it star-imports from."""
    out, stars = {}, []

    def visit(statements):
        for stmt in statements:
            if isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    if alias.asname:
                        out[alias.asname] = ("module", alias.name)
                    else:
                        top = alias.name.split(".")[0]
                        out[top] = ("module", top)
            elif isinstance(stmt, ast.ImportFrom):
                source = _absolute(module, path, stmt.level, stmt.module)
                for alias in stmt.names:
                    if alias.name == "*":
                        stars.append(source)
                    else:
                        out[alias.asname or alias.name] = ("from", source, alias.name)
            elif isinstance(stmt, (ast.If, ast.Try)):
                visit(stmt.body)
                visit(getattr(stmt, "orelse", []))
                for handler in getattr(stmt, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    return out, stars


def _public_api(module: str, name: str):
    """advkit's public names (`advkit.Attack`) are listed in its `API` table, not imported."""
    if module != "advkit":
        return None
    import advkit

    entry = advkit.API.get(name)
    return ("from", entry[0], advkit._ATTRIBUTE.get(name, name)) if entry else None


def _base_of(expr: ast.expr, tree: ast.Module, module: str, node: ast.ClassDef, bindings: dict, stars: list):
    """(module, class) of a base-class expression (`Base`, `mod.Base`, `Base[T]`), or None."""
    if isinstance(expr, ast.Subscript):
        expr = expr.value
    parts = []
    while isinstance(expr, ast.Attribute):
        parts.insert(0, expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    head, *rest = [expr.id, *parts]
    if not rest:
        if any(isinstance(n, ast.ClassDef) and n.name == head and n is not node for n in tree.body):
            return module, head
        binding = bindings.get(head)
        if binding is None and stars:
            return module, head  # looked up in the star imports
        return (binding[1], binding[2]) if binding and binding[0] == "from" else None
    binding = bindings.get(head)
    if binding is None:
        return None
    prefix = binding[1] if binding[0] == "module" else f"{binding[1]}.{binding[2]}"
    return ".".join([prefix, *rest[:-1]]), rest[-1]


def _signature_of(fn: ast.FunctionDef, lines: list[str]) -> tuple[inspect.Signature, dict]:
    """The signature of `fn` and, for defaults that are expressions (`8 / 255`, `np.inf`), their source text."""
    args = fn.args
    params, texts = [], {}
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
            else:
                if not isinstance(default, ast.Constant):
                    written = _written(default, lines)
                    if written != repr(value):
                        texts[arg.arg] = written
        annotation = ast.unparse(arg.annotation) if arg.annotation is not None else _EMPTY
        params.append(inspect.Parameter(arg.arg, kind, default=value, annotation=annotation))
    return inspect.Signature(params), texts


def _written(node: ast.expr, lines: list[str]) -> str:
    """A default as written in the source, on one line; arithmetic on numbers without spaces (`8/255`)."""
    try:
        first, last = node.lineno - 1, node.end_lineno - 1
        if first == last:
            segment = lines[first].encode()[node.col_offset:node.end_col_offset].decode()
        else:
            segment = " ".join([lines[first].encode()[node.col_offset:].decode(), *lines[first + 1:last],
                                lines[last].encode()[:node.end_col_offset].decode()])
    except (IndexError, TypeError, UnicodeDecodeError):
        segment = ast.unparse(node)
    written = " ".join(segment.split())
    numeric = all(isinstance(n, (ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop))
                  or (isinstance(n, ast.Constant) and isinstance(n.value, (int, float))) for n in ast.walk(node))
    return written.replace(" ", "") if numeric else written


# Docstrings: first paragraph, first sentence, parameter descriptions.

_SECTION = re.compile(r"(Args|Arguments|Parameters|Params|Keyword Arguments|Keyword Args|Kwargs)\s*:",
                      re.IGNORECASE)
_ENTRY = re.compile(r"\*{0,2}(\w+)\s*(?:\([^()]*\))?\s*:(?!:)\s*(.*)")
_PARAM = re.compile(r":param\s+(?:[^:]*\s)?\*{0,2}(\w+)\s*:\s*(.*)")
_DEFAULT = re.compile(r"\s*\(\s*Default\s*:\s*(.*)\)\s*\.?\s*$", re.IGNORECASE)


def first_paragraph(doc: str | None) -> str:
    """The first paragraph of a docstring, its lines joined by spaces."""
    lines = inspect.cleandoc(doc or "").splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    paragraph = []
    for line in lines:
        if not line.strip():
            break
        paragraph.append(line.strip())
    return " ".join(paragraph)


def first_sentence(text: str) -> str:
    """`text` up to the end of its first sentence (a `.`, `!` or `?` before a capital letter)."""
    return re.split(r"(?<=[.!?])\s+(?=[A-Z])", text.strip(), maxsplit=1)[0]


def param_docs(doc: str | None) -> dict[str, str]:
    """Parameter name -> description, from `:param NAME: ...` lines and `Args:`/`Arguments:` blocks
    (`NAME (type): ... (Default: X)`, continuation lines indented or at the entry's indent). A
    trailing `(Default: X)` is dropped: the listing shows the default from the signature."""
    out, current, indent, section = {}, None, 0, None
    for line in inspect.cleandoc(doc or "").splitlines():
        stripped = line.strip()
        depth = len(line) - len(line.lstrip())
        if not stripped:
            current = None
            continue
        match = _PARAM.fullmatch(stripped)
        if match:
            current, indent, section = match[1], depth, None
            out[current] = [match[2]]
            continue
        if section is not None and depth <= section:
            section = None
        if _SECTION.fullmatch(stripped):
            section, current = depth, None
            continue
        if section is not None:
            match = _ENTRY.fullmatch(stripped)
            if match and (current is None or depth <= indent):
                current, indent = match[1], depth
                out[current] = [match[2]]
                continue
        if current is not None and (depth > indent or section is not None) and not stripped.startswith(":"):
            out[current].append(stripped)
        else:
            current = None
    return {name: _without_default(" ".join(" ".join(parts).split())) for name, parts in out.items()}


def _without_default(text: str) -> str:
    match = _DEFAULT.search(text)
    if match and (re.fullmatch(r"[^,;]*", match[1]) or re.fullmatch(r"\(.*\)", match[1])):
        return text[:match.start()].rstrip()
    return text
