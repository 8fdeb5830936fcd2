"""Versions and environment recorded in every result file."""

from __future__ import annotations

import importlib.metadata
import platform


def versions(plugins: list[str] | None = None) -> dict:
    """advkit, torch, the wrapped libraries, Python, and the versions of `plugins` (all loaded if None)."""
    from advkit.plugins.registry import registry

    out = {"advkit": _dist("advkit"), "python": platform.python_version()}
    for dist, key in (("torch", "torch"), ("numpy", "numpy"), ("torchattacks", "torchattacks"),
                      ("adversarial-robustness-toolbox", "art")):
        out[key] = _dist(dist)
    infos = registry().infos
    names = plugins if plugins is not None else sorted(infos)
    out["plugins"] = {name: infos[name].version for name in names if name in infos}
    return out


def _dist(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None
