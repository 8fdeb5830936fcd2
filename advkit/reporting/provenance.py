"""Versions and environment recorded in every result file: `envelope` builds the keys they all carry."""

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


def envelope(*, plugins: list[str] | None = None, seed=None, device=None, params: dict | None = None,
             **extra) -> dict:
    """The provenance every result file and `--json` output carries, built in this one place.

    `params` (the effective parameters, when the job has them), then any `extra` keys, then
    `seed`, `device` (as text) and `versions` (advkit, torch, the wrapped libraries and the
    versions of `plugins`; all loaded plugins if None). Merge it into a summary:
    `{**numbers, **envelope(...)}`; keys already in the summary keep their place.
    """
    out = {} if params is None else {"params": params}
    out.update(extra)
    out.update(seed=seed, device=None if device is None else str(device), versions=versions(plugins))
    return out

