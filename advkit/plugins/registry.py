"""Plugin manager: entry points loaded in isolation, registrations by kind, name lookup.

Each entry point of the `advkit` group is imported in its own try/except; a plugin that fails
keeps its error (shown by `advkit plugins`) and everything else keeps working.
`ADVKIT_STRICT_PLUGINS=1` raises a PluginError naming the plugin instead; `ADVKIT_LOAD_PLUGINS=a,b`
loads only those (empty: none). Short names shared by several plugins resolve in the order of
`ADVKIT_PREFER`, then the name's measured stronger backend (`PREFERRED`: `deepfool` -> art), then
torchattacks, art and the other first-party plugins.

Trust: a third-party entry point (one whose distribution is not advkit) named like a first-party
plugin (`FIRST_PARTY`), or whose `register_commands` adds a command named like a built-in one
(`BUILTIN_COMMANDS`), is refused: not registered, listed with the reason by `advkit plugins`, and
named once per run in a warning on stderr. An import, or a hook call, that raises anything, SystemExit
and KeyboardInterrupt included, is that plugin's error; the user's own Ctrl-C (a SIGINT arriving
while advkit waits) still stops the run. Each import runs in a worker thread and is given
`ADVKIT_PLUGIN_TIMEOUT` seconds (default 10); a slower one is reported and skipped, its import time
is shown by `advkit plugins`."""

from __future__ import annotations

import contextlib
import difflib
import importlib.metadata
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

import pluggy

from advkit.errors import PluginError, UsageError
from advkit.plugins import hookspecs
from advkit.plugins.lazy import Lazy

KINDS = ("attacks", "defenses", "analyses", "models", "datasets", "activations", "reproductions")


SINGULAR = {"attacks": "attack", "defenses": "defense", "analyses": "analysis", "models": "model",
            "datasets": "dataset", "activations": "activation", "reproductions": "reproduction"}


DEFAULT_PREFERENCE = ("torchattacks", "art", "szegedy", "tilt", "distillation", "sat", "advkit")

# Short names whose stronger backend is not the first in DEFAULT_PREFERENCE (measured on the digits
# CNN, 359 samples, each backend's defaults: ART's DeepFool fools 98.9% in 4.6 s, torchattacks' 70.1% in 9.6 s).
PREFERRED = {("attacks", "deepfool"): "art"}


BUILTIN = "advkit"


# The entry points advkit itself ships (pyproject.toml's [project.entry-points.advkit]), plus the built-in
# plugin: a third-party distribution may not take these names.
FIRST_PARTY = frozenset({BUILTIN, "torchattacks", "art", "distillation", "sat", "szegedy", "tilt", "advtrain",
                         "fooling", "zoos", "autoattack", "minnorm"})


# The commands of `advkit` itself (advkit.cli.main.COMMANDS; a test keeps both in step): no plugin may replace one.
BUILTIN_COMMANDS = frozenset({"attack", "train", "list", "plugins", "download", "analyze", "defend", "evaluate",
                              "reproduce"})


DEFAULT_TIMEOUT = 10.0


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
    distribution: str | None = None
    import_seconds: float | None = None
    refused: str | None = None  # why the plugin was not registered (name squatting, command hijack)
    commands: dict = field(default_factory=dict)  # name -> click command, from its register_commands

    @property
    def error(self) -> str | None:
        return "; ".join(self.errors) or None


class Registry:
    """Loaded plugins and their registrations, by kind."""

    def __init__(self, pm: pluggy.PluginManager, infos: dict[str, PluginInfo],
                 refused: list[PluginInfo] | None = None):
        self.pm = pm
        self.infos = infos
        self.refused = list(refused or [])  # entry points not registered, each with its `refused` reason
        self._entries: dict[str, list[Registration]] = {}

    def commands(self) -> dict:
        """The commands plugins added (name -> click command), none replacing a built-in one."""
        out: dict = {}
        for info in self.infos.values():
            for name, command in info.commands.items():
                out.setdefault(name, command)
        return out

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
                with plugin_code():
                    impl.function(**{arg: register for arg in impl.argnames})
            except BaseException as exc:  # a broken plugin must not break the others (plugin_code: not Ctrl-C)
                if strict():
                    raise PluginError(f"plugin {plugin!r}: register_{kind} failed: {_describe(exc)}") from exc
                self.infos[plugin].errors.append(f"register_{kind} failed: {_describe(exc)}")

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
            for plugin in preference(kind, name):
                for r in matches:
                    if r.plugin == plugin:
                        return r
            candidates = ", ".join(sorted(r.qualified_name for r in matches))
            raise UsageError(f"{SINGULAR[kind]} name {name!r} is ambiguous; use one of: {candidates}")
        known = sorted({r.name for r in entries} | {r.qualified_name for r in entries})
        lowered = {}
        for k in known:  # suggestions ignore case: PGD -> pgd
            lowered.setdefault(k.lower(), k)
        close = [lowered[c] for c in difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)]
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


def preference(kind: str = "", name: str = "") -> list[str]:
    """Plugins in the order a short name is resolved: `ADVKIT_PREFER`, then the name's measured
    stronger backend (`PREFERRED`), then `DEFAULT_PREFERENCE`."""
    env = [p.strip() for p in os.environ.get("ADVKIT_PREFER", "").split(",") if p.strip()]
    preferred = [PREFERRED[(kind, name)]] if (kind, name) in PREFERRED else []
    return env + preferred + list(DEFAULT_PREFERENCE)


def _allowed() -> set[str] | None:
    env = os.environ.get("ADVKIT_LOAD_PLUGINS")
    if env is None:
        return None
    return {p.strip() for p in env.split(",") if p.strip()}


def timeout() -> float:
    """Seconds one plugin import may take (`ADVKIT_PLUGIN_TIMEOUT`, default 10)."""
    env = os.environ.get("ADVKIT_PLUGIN_TIMEOUT", "").strip()
    if not env:
        return DEFAULT_TIMEOUT
    try:
        value = float(env)
    except ValueError:
        raise UsageError(f"ADVKIT_PLUGIN_TIMEOUT must be a number of seconds, got {env!r}") from None
    if not value > 0:
        raise UsageError(f"ADVKIT_PLUGIN_TIMEOUT must be positive, got {env!r}")
    return value


class _UserInterrupt(threading.local):
    pressed = False


_user_interrupt = _UserInterrupt()


@contextlib.contextmanager
def plugin_code():
    """Run a plugin's code (a hook) so that a KeyboardInterrupt it raises itself can be told from the user's Ctrl-C.

    In the main thread, SIGINT is handled meanwhile by a handler that notes the key press and then does
    what the previous handler did; a KeyboardInterrupt leaving the block after a real SIGINT becomes
    `_UserCtrlC` (never isolated), any other stays a plain KeyboardInterrupt: the plugin's own error.
    Where no handler can be installed (not the main thread, a handler set from C), every
    KeyboardInterrupt counts as the user's."""
    previous = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    if previous is None:
        try:
            yield
        except _UserCtrlC:
            raise
        except KeyboardInterrupt:
            raise _UserCtrlC from None
        return

    def handler(signum, frame):
        _user_interrupt.pressed = True
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            raise KeyboardInterrupt

    outer, _user_interrupt.pressed = _user_interrupt.pressed, False
    signal.signal(signal.SIGINT, handler)
    try:
        yield
    except _UserCtrlC:
        raise
    except KeyboardInterrupt:
        if _user_interrupt.pressed:
            raise _UserCtrlC from None
        raise
    finally:
        signal.signal(signal.SIGINT, previous)
        _user_interrupt.pressed = outer


class _UserCtrlC(KeyboardInterrupt):
    """The user's Ctrl-C, raised out of plugin code: never isolated as the plugin's error."""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, _UserCtrlC):
        raise exc
    if isinstance(exc, SystemExit):
        return f"SystemExit({exc.code!r}) (the plugin tried to exit advkit)"
    if isinstance(exc, KeyboardInterrupt):
        return "KeyboardInterrupt raised by the plugin itself"
    return f"{type(exc).__name__}: {exc}"


def _import(ep, limit: float):
    """Import entry point `ep` in a worker thread; returns (object, seconds) or raises what the import
    raised (SystemExit and KeyboardInterrupt included), or TimeoutError after `limit` seconds. Waiting
    here is interruptible: the user's Ctrl-C stops the run (the worker is a daemon thread)."""
    box: dict = {}

    def work():
        try:
            box["value"] = ep.load()
        except BaseException as exc:  # noqa: BLE001 (SystemExit, KeyboardInterrupt: the plugin's, its error)
            box["error"] = exc

    started = time.perf_counter()
    worker = threading.Thread(target=work, name=f"advkit-plugin-{ep.name}", daemon=True)
    worker.start()
    try:
        worker.join(limit)
    except KeyboardInterrupt:  # arrives in this (the main) thread: the user's Ctrl-C, never the plugin's
        raise _UserCtrlC from None
    seconds = time.perf_counter() - started
    if worker.is_alive():
        raise TimeoutError(f"import did not finish within {limit:g} s (ADVKIT_PLUGIN_TIMEOUT); skipped")
    if "error" in box:
        raise box["error"]
    return box["value"], seconds


def _is_first_party(ep) -> bool:
    dist = ep.dist.name if ep.dist else None
    return dist is not None and dist.lower().replace("_", "-").replace(".", "-") == "advkit"


def _load() -> Registry:
    from advkit.plugins import builtin

    pm = pluggy.PluginManager("advkit")
    pm.add_hookspecs(hookspecs)
    pm.register(builtin, name=BUILTIN)
    infos = {BUILTIN: PluginInfo(BUILTIN, builtin.__name__, _version("advkit"), distribution="advkit")}
    refused: list[PluginInfo] = []
    allowed = _allowed()
    limit = timeout()
    # first-party entry points first: wherever a squatter sits on sys.path, the name stays advkit's
    points = sorted(importlib.metadata.entry_points(group="advkit"), key=lambda ep: not _is_first_party(ep))
    for ep in points:
        if allowed is not None and ep.name not in allowed:
            continue
        dist = ep.dist.name if ep.dist else None
        if ep.name in FIRST_PARTY and not _is_first_party(ep):
            refused.append(PluginInfo(ep.name, ep.value, _version(dist) if dist else None, distribution=dist,
                                      refused=f"third-party distribution {dist!r} may not use the name of "
                                              f"first-party plugin {ep.name!r}"))
            continue
        if ep.name in infos:
            infos[ep.name].errors.append(f"a second entry point named {ep.name!r} ({ep.value}) was ignored")
            continue
        info = infos[ep.name] = PluginInfo(ep.name, ep.value, _version(dist) if dist else None, distribution=dist)
        try:
            module, info.import_seconds = _import(ep, limit)
            pm.register(module, name=ep.name)
        except BaseException as exc:
            if isinstance(exc, TimeoutError):
                info.import_seconds = limit
            if strict():
                raise PluginError(f"plugin {ep.name!r} failed to load: {_describe(exc)}") from exc
            info.errors.append(_describe(exc))
    for name in [n for n in infos if n != BUILTIN]:
        _collect_commands(pm, infos, refused, name)
    for name, info in infos.items():
        plugin = pm.get_plugin(name)
        if plugin is not None:
            info.hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
    _warn_refused(refused)
    if refused and strict():
        raise PluginError("; ".join(f"plugin {i.name!r} ({i.module}) refused: {i.refused}" for i in refused))
    return Registry(pm, infos, refused)


def _collect_commands(pm, infos: dict, refused: list, name: str) -> None:
    """Call plugin `name`'s register_commands on a group of its own; a plugin adding a command named like a
    built-in one is refused (unregistered, moved to `refused`)."""
    import click

    impl = next((i for i in pm.hook.register_commands.get_hookimpls() if i.plugin_name == name), None)
    if impl is None:
        return
    group = click.Group("advkit")
    info = infos[name]
    try:
        with plugin_code():
            impl.function(**{arg: group for arg in impl.argnames})
    except BaseException as exc:
        if strict():
            raise PluginError(f"plugin {name!r}: register_commands failed: {_describe(exc)}") from exc
        info.errors.append(f"register_commands failed: {_describe(exc)}")
    hijacked = sorted(set(group.commands) & BUILTIN_COMMANDS)
    if hijacked:
        pm.unregister(name=name)
        del infos[name]
        info.refused = f"its register_commands tried to replace built-in command(s) {', '.join(hijacked)}"
        info.commands = {}
        refused.append(info)
        return
    info.commands = dict(group.commands)


_warned: set = set()


def _warn_refused(refused: list[PluginInfo]) -> None:
    """One loud line per refused entry point and process, on stderr."""
    for info in refused:
        key = (info.name, info.module, info.refused)
        if key in _warned:
            continue
        _warned.add(key)
        print(f"advkit: WARNING: refused plugin {info.name!r} ({info.module}): {info.refused}", file=sys.stderr)


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
