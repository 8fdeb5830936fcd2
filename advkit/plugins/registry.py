"""Plugin manager: entry points loaded in isolation, registrations by kind, name lookup.

Each entry point of the `advkit` group is imported in its own try/except; a plugin that fails
keeps its error (shown by `advkit plugins`) and everything else keeps working.
`ADVKIT_STRICT_PLUGINS=1` re-raises; `ADVKIT_LOAD_PLUGINS=a,b` loads only those (empty: none).
Short names shared by several plugins resolve in the order of `ADVKIT_PREFER`
(default: torchattacks, art, then the other first-party plugins)."""

from __future__ import annotations

import difflib
import importlib.metadata
import os
from dataclasses import dataclass, field

import pluggy

from advkit.errors import PluginError, UsageError
from advkit.plugins import hookspecs
from advkit.plugins.lazy import Lazy

KINDS = ("attacks", "defenses", "analyses", "models", "datasets", "activations", "reproductions")


SINGULAR = {"attacks": "attack", "defenses": "defense", "analyses": "analysis", "models": "model",
            "datasets": "dataset", "activations": "activation", "reproductions": "reproduction"}


DEFAULT_PREFERENCE = ("torchattacks", "art", "szegedy", "tilt", "distillation", "sat", "advkit")


BUILTIN = "advkit"


@dataclass
class Registration:
    """One registered class and the plugin that registered it."""

    kind: str
    name: str
    target: type | Lazy
    plugin: str

    @property
    def qualified_name(self) -> str:
        return f"{self.plugin}.{self.name}"

    @property
    def cls(self) -> type:
        return self.target.load() if isinstance(self.target, Lazy) else self.target

    def describe(self) -> dict:
        """Name, plugin, norm, summary (first sentence), description (first docstring paragraph) and
        parameters (with descriptions), without importing a Lazy class."""
        from advkit.plugins.schema import parameters
        from advkit.plugins.source import first_paragraph, first_sentence

        if isinstance(self.target, Lazy):
            src = self.target.source
            doc, attrs, params = src.doc, src.attributes, parameters(_SignatureOnly(src))
        else:
            doc, attrs, params = self.target.__doc__ or "", vars_of(self.target), parameters(self.target)
        info = {
            "name": self.qualified_name,
            "short_name": self.name,
            "plugin": self.plugin,
            "summary": first_sentence(first_paragraph(doc)),
            "description": first_paragraph(doc),
            "parameters": [p.to_json() for p in params],
        }
        for key in ("norm", "black_box", "targeted"):
            if key in attrs:
                info[key] = attrs[key]
        return info


class _SignatureOnly:
    """Adapter so `parameters()` can read a signature (and parameter docs) taken from source."""

    def __init__(self, source):
        self._source = source

    def signature(self):
        return self._source.signature

    def parameter_docs(self):
        return self._source.param_docs

    def default_texts(self):
        return self._source.default_texts


def vars_of(cls: type) -> dict:
    """Class attributes along the MRO (subclass wins)."""
    out: dict = {}
    for klass in reversed(cls.__mro__):
        out.update({k: v for k, v in vars(klass).items() if not k.startswith("_")})
    return out


@dataclass
class PluginInfo:
    """What `advkit plugins` shows for one plugin."""

    name: str
    module: str
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        return "; ".join(self.errors) or None


class Registry:
    """Loaded plugins and their registrations, by kind."""

    def __init__(self, pm: pluggy.PluginManager, infos: dict[str, PluginInfo]):
        self.pm = pm
        self.infos = infos
        self._entries: dict[str, list[Registration]] = {}

    def entries(self, kind: str) -> list[Registration]:
        """Registrations of `kind`, collected from the plugins on first use (so `--help` collects none)."""
        if kind not in self._entries:
            self._entries[kind] = []
            try:
                self._collect(kind)
            except BaseException:
                del self._entries[kind]  # strict mode raised: raise again next time
                raise
        return self._entries[kind]

    def _collect(self, kind: str) -> None:
        hook = getattr(self.pm.hook, f"register_{kind}")
        for impl in reversed(hook.get_hookimpls()):
            plugin = impl.plugin_name

            def register(cls, _plugin=plugin, _kind=kind):
                self._add(_kind, cls, _plugin)

            try:
                impl.function(**{arg: register for arg in impl.argnames})
            except Exception as exc:  # a broken plugin must not break the others
                if strict():
                    raise
                self.infos[plugin].errors.append(f"register_{kind} failed: {type(exc).__name__}: {exc}")

    def _add(self, kind: str, cls: type | Lazy, plugin: str) -> None:
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {plugin!r} registered {cls!r} without a `name` attribute")
        if any(r.name == name and r.plugin == plugin for r in self.entries(kind)):
            raise PluginError(f"plugin {plugin!r} registered two {kind} named {name!r}")
        self.entries(kind).append(Registration(kind, name, cls, plugin))

    def all(self, kind: str) -> list[Registration]:
        return list(self.entries(kind))

    def lookup(self, kind: str, name: str) -> Registration:
        """Resolve `plugin.name` or an unambiguous/preferred short name; clear errors otherwise."""
        entries = self.entries(kind)
        exact = [r for r in entries if r.qualified_name == name]
        if exact:
            return exact[0]
        matches = [r for r in entries if r.name == name]
        if len(matches) == 1:
            return matches[0]
        if matches:
            for plugin in preference():
                for r in matches:
                    if r.plugin == plugin:
                        return r
            candidates = ", ".join(sorted(r.qualified_name for r in matches))
            raise UsageError(f"{SINGULAR[kind]} name {name!r} is ambiguous; use one of: {candidates}")
        known = sorted({r.name for r in entries} | {r.qualified_name for r in entries})
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        see = f" (see `advkit list {kind}`)"
        raise UsageError(f"unknown {SINGULAR[kind]} {name!r}{hint}{see}")

    def names(self, kind: str) -> list[str]:
        return sorted(r.qualified_name for r in self.entries(kind))

    def registered_by(self, plugin: str) -> dict[str, list[str]]:
        return {
            kind: sorted(r.name for r in self.entries(kind) if r.plugin == plugin)
            for kind in KINDS
            if any(r.plugin == plugin for r in self.entries(kind))
        }


def strict() -> bool:
    return os.environ.get("ADVKIT_STRICT_PLUGINS", "") not in ("", "0")


def preference() -> list[str]:
    env = os.environ.get("ADVKIT_PREFER")
    if env:
        return [p.strip() for p in env.split(",") if p.strip()] + list(DEFAULT_PREFERENCE)
    return list(DEFAULT_PREFERENCE)


def _allowed() -> set[str] | None:
    env = os.environ.get("ADVKIT_LOAD_PLUGINS")
    if env is None:
        return None
    return {p.strip() for p in env.split(",") if p.strip()}


def _load() -> Registry:
    from advkit.plugins import builtin

    pm = pluggy.PluginManager("advkit")
    pm.add_hookspecs(hookspecs)
    pm.register(builtin, name=BUILTIN)
    infos = {BUILTIN: PluginInfo(BUILTIN, builtin.__name__, _version("advkit"))}
    allowed = _allowed()
    for ep in importlib.metadata.entry_points(group="advkit"):
        if allowed is not None and ep.name not in allowed:
            continue
        if ep.name in infos:
            infos[ep.name].errors.append(f"a second entry point named {ep.name!r} ({ep.value}) was ignored")
            continue
        dist = ep.dist.name if ep.dist else None
        info = infos[ep.name] = PluginInfo(ep.name, ep.value, _version(dist) if dist else None)
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as exc:
            if strict():
                raise
            info.errors.append(f"{type(exc).__name__}: {exc}")
    for name, info in infos.items():
        plugin = pm.get_plugin(name)
        if plugin is not None:
            info.hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
    return Registry(pm, infos)


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


_registry: Registry | None = None


def registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    global _registry
    if _registry is None:
        _registry = _load()
    return _registry


def reload() -> Registry:
    """Forget loaded plugins and load them again (tests, after changing the environment)."""
    global _registry
    _registry = None
    return registry()


def plugin_version(plugin: str) -> str | None:
    info = registry().infos.get(plugin)
    return info.version if info else None


def plugin_of(cls: type) -> str:
    """The plugin that registered attack class `cls` (or its module when unregistered)."""
    for entry in registry().all("attacks"):
        target = entry.target
        if target is cls or getattr(target, "_cls", None) is cls:
            return entry.plugin
    return cls.__module__.split(".")[0]


def instantiate(kind: str, name: str, *args, seed: int | None = None, **params):
    """Build the `kind` plugin class registered as `name` with checked parameters.

    Returns (instance, qualified name, effective parameters including defaults). String values
    are converted by the constructor's annotations (as the CLI does); `seed` is passed on when
    the class takes one; negative `eps`, `steps < 1` and the like are refused; errors the
    constructor raises (ValueError, TypeError) become a one-line UsageError.
    """
    from advkit.plugins.schema import bind, check_common, parameters

    entry = registry().lookup(kind, name)
    cls = entry.cls
    what = f"{SINGULAR[kind]} {entry.qualified_name!r}"
    schema = parameters(cls)
    if seed is not None and "seed" in {p.name for p in schema} and "seed" not in params:
        params["seed"] = seed
    bound = bind(cls, params, what=what)
    check_common(bound, what=what)
    try:
        instance = cls(*args, **bound)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{what}: {exc}") from None
    effective = {p.name: p.default for p in schema if not p.required}
    return instance, entry.qualified_name, {**effective, **bound}
