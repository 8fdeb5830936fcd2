"""A fresh network from an architecture spec: a zoo name with parameters, or `file.py:func` / `module:func`."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

from torch import nn

from advkit.errors import ModelError, UsageError


def build_network(spec: str, input_shape: Sequence[int], num_classes: int | None) -> tuple[nn.Module, dict]:
    """A fresh `nn.Module` for a zoo name (with parameters) or a `file.py:func` / `module:func` spec."""
    from advkit.plugins.registry import registry
    from advkit.plugins.schema import bind, jsonable, parameters

    name, sep, rest = spec.partition(":")
    if sep and not rest.strip():
        raise UsageError(f"model {spec!r} ends with ':' and no parameters (write {name!r}, or {name}:key=value)")
    if name not in _zoo_names():
        if sep and rest:
            source = source_record(name, rest)
            return _call_factory(name, rest), {"architecture": spec, "source": source}
        if name.endswith(".py"):
            if not Path(name).is_file():
                raise ModelError(f"model file not found: {name}")
            raise UsageError(python_file_hint(name))
        registry().lookup("models", name)  # raises "unknown model ..., did you mean"
    cls = registry().lookup("models", name).cls
    required = [p.name for p in parameters(cls) if p.required]
    kwargs = bind(cls, dict(_split_kv(rest, spec, required[0] if required else None)), what=f"model {name!r}")
    if num_classes is None:
        raise UsageError(f"model {name!r} needs the number of classes (from --data)")
    try:
        net = cls(input_shape=tuple(input_shape), num_classes=num_classes, **kwargs)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"model {name!r}: {exc}") from None
    effective = {p.name: p.default for p in parameters(cls) if not p.required} | kwargs
    return net, {"architecture": name, "params": {k: jsonable(v) for k, v in effective.items()}}


def names_zoo(spec: str) -> bool:
    """True when `spec` starts with a registered architecture's name (`mlp:...`, `timm:...`)."""
    return spec.partition(":")[0] in _zoo_names()


def _zoo_names() -> set[str]:
    from advkit.plugins.registry import registry

    return {r.name for r in registry().all("models")} | {r.qualified_name for r in registry().all("models")}


def _split_kv(text: str, spec: str, positional: str | None = None):
    """`key=value` items separated by `,` or `:`; with `positional` (a zoo's first required parameter:
    `torchvision:resnet18`), a leading item without `=` is its value."""
    for i, item in enumerate(filter(None, text.replace(":", ",").split(","))):
        key, sep, value = item.partition("=")
        if not sep and i == 0 and positional is not None:
            key, value = positional, item
        elif not sep:
            raise UsageError(f"model parameters are written key=value, got {item!r} in {spec!r}")
        yield key.strip(), value.strip()


def python_file_hint(target: str) -> str:
    """The error for `--model file.py` without `:func`, naming the file's top-level functions."""
    import ast

    try:
        tree = ast.parse(Path(target).read_text())
        funcs = [node.name for node in tree.body if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")]
    except (OSError, SyntaxError, ValueError):
        funcs = []
    found = f" (functions in {target}: {', '.join(funcs[:8])})" if funcs else ""
    example = funcs[0] if funcs else "func"
    return (f"--model {target} names a Python file: add the function that returns the network, "
            f"e.g. --model {target}:{example}{found}")


def source_record(target: str, func: str) -> dict:
    """What a checkpoint records of a `file.py:func` / `module:func` network: where the code is and its sha256."""
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise ModelError(f"model file not found: {target}")
        return {"file": str(path.resolve()), "func": func, "sha256": _sha256(path)}
    origin = _module_origin(target)
    return {"module": target, "func": func, "sha256": _sha256(Path(origin)) if origin else None}


def rebuild_from_source(source: dict, checkpoint: Path, architecture: str) -> tuple[nn.Module, dict]:
    """The network of a checkpoint saved from `file.py:func` / `module:func`, built by the same code.

    The code runs only if it is unchanged (same sha256 as when the checkpoint was written); a file
    is looked for beside the checkpoint (its path relative to it) first, then at its absolute path.
    Returns the network and the source record with the path where the code was found.
    """
    what = f"checkpoint {checkpoint} was saved from --model {architecture}"
    func, digest = source.get("func"), source.get("sha256")
    if not isinstance(func, str) or not func:
        raise ModelError(f"{what}, but records no function to build it")
    if "file" in source:
        candidates = []
        if source.get("relative"):
            candidates.append(Path(checkpoint).resolve().parent / source["relative"])
        candidates.append(Path(source["file"]))
        present = [path for path in candidates if path.is_file()]
        if not present:
            raise ModelError(f"{what}, but {source['file']} is gone: put the file back (or beside the "
                             f"checkpoint as {source.get('relative') or Path(source['file']).name}) to load it")
        matching = [path for path in present if _sha256(path) == digest]
        if not matching:
            raise ModelError(f"{what}, but {present[0]} has changed since (its sha256 differs); advkit builds "
                             "the network only with the code it was saved from: restore the file, or retrain")
        found = matching[0].resolve()
        return _call_factory(str(found), func), {**source, "file": str(found)}
    module = source.get("module")
    if not isinstance(module, str) or not module:
        raise ModelError(f"{what}, but records neither a file nor a module to build it")
    origin = _module_origin(module)
    if origin is None:
        raise ModelError(f"{what}, but module {module!r} is gone (not importable): install it to load the checkpoint")
    if digest is not None and _sha256(Path(origin)) != digest:
        raise ModelError(f"{what}, but module {module!r} ({origin}) has changed since (its sha256 differs); "
                         "advkit builds the network only with the code it was saved from: restore it, or retrain")
    return _call_factory(module, func), dict(source)


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _module_origin(module: str) -> str | None:
    """The source file of importable module `module` without running it (None when not found)."""
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if found is None:
        return None
    origin = found.origin
    return origin if origin and Path(origin).is_file() else None


def _call_factory(target: str, func: str) -> nn.Module:
    """Import `file.py` or `package.module` and call `func()`: this runs code the user named."""
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise ModelError(f"model file not found: {target}")
        mod_name = f"advkit_user_model_{abs(hash(str(path.resolve())))}"
        module_spec = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[mod_name] = module
        try:
            module_spec.loader.exec_module(module)
        except SystemExit as exc:
            raise ModelError(f"importing {target} called sys.exit({exc.code!r}); a model file must not exit") from None
        except Exception as exc:
            raise ModelError(f"importing {target} failed: {type(exc).__name__}: {exc}") from exc
    else:
        try:
            module = importlib.import_module(target)
        except SystemExit as exc:
            raise ModelError(f"importing {target} called sys.exit({exc.code!r}); a model module must not exit") from None
        except Exception as exc:
            raise ModelError(f"cannot import model module {target!r}: {type(exc).__name__}: {exc}") from exc
    factory = getattr(module, func, None)
    if not callable(factory):
        raise ModelError(f"{target} has no callable {func!r}")
    try:
        net = factory()
    except SystemExit as exc:
        raise ModelError(f"{target}:{func}() called sys.exit({exc.code!r}) instead of returning an nn.Module") from None
    except Exception as exc:
        raise ModelError(f"{target}:{func}() failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(net, nn.Module):
        raise ModelError(f"{target}:{func} returned {type(net).__name__}, not an nn.Module")
    return net


def model_source(spec: dict | None) -> dict:
    """Which code built a model with recipe `spec` (`Model.spec`): `name` (the zoo model's qualified name,
    or the architecture as given: `file.py:func`, `torchscript`) and `plugin` (the plugin that registered
    the zoo model; None for the user's own code)."""
    from advkit.plugins.registry import registry

    arch = (spec or {}).get("architecture")
    if not isinstance(arch, str) or not arch:
        return {"name": None, "plugin": None}
    entries = registry().all("models")
    if arch in {r.name for r in entries} | {r.qualified_name for r in entries}:
        entry = registry().lookup("models", arch)
        return {"name": entry.qualified_name, "plugin": entry.plugin}
    return {"name": arch, "plugin": None}
