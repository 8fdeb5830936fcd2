"""The plugin system: hooks documented and exercised, name resolution, start-up without torch."""

import importlib
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pluggy
import pytest

import advkit
from advkit import UsageError
from advkit.plugins import hookspecs
from advkit.plugins.hookspecs import hookimpl
from advkit.plugins.lazy import Lazy
from advkit.plugins.registry import BUILTIN, KINDS, PluginInfo, Registry, registry

HOOKS = [name for name, fn in vars(hookspecs).items() if inspect.isfunction(fn) and name.startswith("register_")]


def _readme_hooks_table() -> list[str]:
    """The first cells of README.md's hooks table (`| hook | registers |`), backticks removed."""
    lines = (Path(__file__).parents[1] / "README.md").read_text().splitlines()
    header = [i for i, line in enumerate(lines) if re.fullmatch(r"\|\s*hook\s*\|\s*registers\s*\|", line.strip())]
    assert len(header) == 1, "README.md needs exactly one `| hook | registers |` table"
    rows = []
    for line in lines[header[0] + 2:]:
        if not line.startswith("|"):
            break
        cell = line.split("|")[1].strip()
        assert re.fullmatch(r"`[^`]+`", cell), f"hooks table: first cell {cell!r} is not one `code` span"
        rows.append(cell.strip("`"))
    return rows


def test_every_hook_is_documented():
    """README.md's hooks table lists every hookspec with its exact argument list, and nothing else."""
    assert set(HOOKS) == {f"register_{k}" for k in KINDS} | {"register_commands"}
    for name in HOOKS:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), f"{name} has no docstring"
    specs = {name: f"{name}{inspect.signature(getattr(hookspecs, name))}" for name in HOOKS}
    documented = _readme_hooks_table()
    assert len(documented) == len(set(documented)), f"hooks table lists a hook twice: {documented}"
    by_name = {}
    for row in documented:
        match = re.fullmatch(r"(\w+)\((.*)\)", row)
        assert match, f"hooks table: {row!r} is not `name(arguments)`"
        assert match[1] in specs, f"README.md documents {row!r}, but hookspecs.py has no hook {match[1]!r}"
        by_name[match[1]] = row
    for name, signature in specs.items():
        assert name in by_name, f"{signature} is missing from README.md's hooks table"
        assert by_name[name] == signature, f"README.md documents {by_name[name]!r}, the hookspec is {signature!r}"


def _first_party_modules() -> dict[str, str]:
    """Plugin name -> module of advkit's own plugins: the builtin one and pyproject's entry points."""
    import tomllib

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    return {BUILTIN: "advkit.plugins.builtin", **project["project"]["entry-points"]["advkit"]}


def _key(target):
    """What identifies a registered target across calls (first-party plugins build new objects each time)."""
    if isinstance(target, Lazy):
        return ("lazy", target.module, target.qualname)
    return ("class", target.__module__, target.__qualname__, target.name)


def test_every_registration_hook_is_exercised():
    """Each first-party plugin's register_<kind> hookimpls, called directly with a recording `register`,
    register exactly what the registry holds for that plugin and kind, under that plugin's name."""
    reg = registry()
    for kind in KINDS:
        reg.all(kind)  # collect everything first, so that a failing hook call shows as its plugin's error
    hooked_kinds = set()
    for plugin, module_name in _first_party_modules().items():
        module = importlib.import_module(module_name)
        assert reg.pm.get_plugin(plugin) is module, f"plugin {plugin!r} is not {module_name}"
        assert reg.infos[plugin].error is None, f"plugin {plugin!r}: {reg.infos[plugin].error}"
        impls = {name: fn for name, fn in vars(module).items() if hasattr(fn, "advkit_impl")}
        assert impls, f"plugin {plugin!r} implements no hook"
        for kind in KINDS:
            expected = []
            if f"register_{kind}" in impls:
                impls[f"register_{kind}"](register=expected.append)
                assert expected, f"{plugin}: register_{kind} registered nothing"
                hooked_kinds.add(kind)
            got = [r for r in reg.all(kind) if r.plugin == plugin]
            assert sorted(_key(r.target) for r in got) == sorted(map(_key, expected)), (
                f"{kind} registered by plugin {plugin!r}: the registry holds {sorted(r.name for r in got)}, "
                f"its hook registers {sorted(t.name for t in expected)}")
            for r in got:
                assert r.kind == kind and r.name == r.target.name and r.qualified_name == f"{plugin}.{r.name}", r
    assert hooked_kinds == set(KINDS), f"no first-party plugin registers {set(KINDS) - hooked_kinds}"
    for kind in KINDS:
        assert reg.all(kind), f"nothing registered through register_{kind}"


def test_a_hookimpl_receives_a_working_register():
    """Two test plugins implementing every register_<kind> hook: each hookimpl is called once with a
    callable `register`, and what it registers lands under its kind and its plugin, and nowhere else."""
    calls = {}

    def probe(plugin):
        classes = {kind: type(f"{plugin}_{kind}", (), {"name": f"{plugin}-{kind}"}) for kind in KINDS}
        hooks = {}
        for kind in KINDS:
            def impl(register, _kind=kind):
                calls.setdefault((plugin, _kind), []).append(register)
                register(classes[_kind])
            hooks[f"register_{kind}"] = staticmethod(hookimpl(impl))
        return type(plugin, (), hooks), classes

    (one, one_classes), (two, two_classes) = probe("one"), probe("two")
    reg = _registry_with(("one", one), ("two", two))
    for kind in KINDS:
        reg.all(kind)
    assert reg.infos["one"].error is None and reg.infos["two"].error is None, reg.infos
    for kind in KINDS:
        entries = sorted(((r.plugin, r.kind, r.name, r.target) for r in reg.all(kind)), key=lambda e: e[0])
        assert entries == [("one", kind, f"one-{kind}", one_classes[kind]),
                           ("two", kind, f"two-{kind}", two_classes[kind])], entries
        assert reg.lookup(kind, f"one.one-{kind}").cls is one_classes[kind]
        for plugin in ("one", "two"):
            received = calls[(plugin, kind)]
            assert len(received) == 1 and callable(received[0]), f"{plugin}.register_{kind} got {received}"


def test_register_commands_adds_a_working_command():
    import click

    from advkit.cli.main import cli

    class Demo:
        @staticmethod
        @hookimpl
        def register_commands(cli):
            @cli.command("demo-command")
            def demo():
                """A command added by a plugin."""
                click.echo("demo ran")

    pm = pluggy.PluginManager("advkit")
    pm.add_hookspecs(hookspecs)
    pm.register(Demo, name="demo")
    pm.hook.register_commands(cli=cli)
    try:
        from click.testing import CliRunner

        assert CliRunner().invoke(cli, ["demo-command"]).output.strip() == "demo ran"
    finally:
        cli.commands.pop("demo-command", None)


def test_registrations_record_their_plugin():
    entry = registry().lookup("attacks", "torchattacks.pgd")
    assert entry.plugin == "torchattacks" and entry.qualified_name == "torchattacks.pgd"
    assert registry().lookup("models", "cnn").plugin == "advkit"


def _registry_with(*plugins):
    pm = pluggy.PluginManager("advkit")
    pm.add_hookspecs(hookspecs)
    infos = {}
    for name, module in plugins:
        pm.register(module, name=name)
        infos[name] = PluginInfo(name, name)
    return Registry(pm, infos)


def _attack_plugin(attack_name):
    cls = type(attack_name.title(), (advkit.Attack,), {"name": attack_name, "perturb": lambda self, x, y: x})

    class Plugin:
        @staticmethod
        @hookimpl
        def register_attacks(register):
            register(cls)

    return Plugin, cls


def test_short_names_ambiguity_and_preference(monkeypatch):
    one, cls_one = _attack_plugin("zap")
    two, cls_two = _attack_plugin("zap")
    reg = _registry_with(("alpha", one), ("beta", two))
    with pytest.raises(UsageError, match="ambiguous.*alpha.zap, beta.zap"):
        reg.lookup("attacks", "zap")
    assert reg.lookup("attacks", "beta.zap").cls is cls_two
    monkeypatch.setenv("ADVKIT_PREFER", "beta")
    assert reg.lookup("attacks", "zap").cls is cls_two
    with pytest.raises(UsageError, match="did you mean 'zap'"):
        reg.lookup("attacks", "zapp")


def test_duplicate_names_in_one_plugin_are_an_error():
    plugin, cls = _attack_plugin("dup")

    class Twice:
        @staticmethod
        @hookimpl
        def register_attacks(register):
            register(cls)
            register(cls)

    pm = pluggy.PluginManager("advkit")
    pm.add_hookspecs(hookspecs)
    pm.register(Twice, name="twice")
    reg = Registry(pm, {"twice": PluginInfo("twice", "twice")})
    assert [r.name for r in reg.all("attacks")] == ["dup"]
    assert "two attacks named 'dup'" in reg.infos["twice"].error


def test_hookimpls_may_take_fewer_arguments():
    class NoArgs:
        @staticmethod
        @hookimpl
        def register_attacks():
            return None

    reg = _registry_with(("noargs", NoArgs))
    assert reg.infos["noargs"].error is None


def _imports(*args):
    code = ("import sys\nfrom advkit.cli.main import main\nmain(%r)\n"
            "heavy = [m for m in ('torch', 'torchattacks', 'art') if m in sys.modules]\n"
            "print('HEAVY', heavy, file=sys.stderr)" % (list(args),))
    env = {**__import__("os").environ, "ADVKIT_LOAD_PLUGINS": ",".join(_first_party())}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    return out.stderr.strip().splitlines()[-1], out.stdout


def _first_party():
    import tomllib

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    return list(project["project"]["entry-points"]["advkit"])


@pytest.mark.parametrize("args", [["--help"], ["plugins"], ["plugins", "--json"], ["list", "attacks"],
                                  ["list", "models", "--json"], ["attack", "--help"], ["--version"]])
def test_listings_do_not_import_torch(args):
    heavy, _ = _imports(*args)
    assert heavy == "HEAVY []"


def test_list_json_shape():
    _, stdout = _imports("list", "attacks", "--json")
    entries = json.loads(stdout)["attacks"]
    pgd = next(e for e in entries if e["name"] == "torchattacks.pgd")
    assert pgd["norm"] == "Linf" and pgd["plugin"] == "torchattacks" and pgd["summary"]
    assert {p["name"] for p in pgd["parameters"]} >= {"eps", "alpha", "steps", "random_start"}


def test_every_command_has_help(cli):
    from advkit.cli.main import cli as group

    for name in group.commands:
        out = cli(name, "--help")
        assert out.code == 0 and "Usage:" in out.stdout, name


def test_first_party_plugins_import_only_the_public_api():
    import ast

    public = set(advkit.__all__)
    allowed_modules = {"advkit", "advkit.testing"}
    for path in (Path(__file__).parents[1] / "plugins").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("advkit"):
                if node.level == 0 and not node.module.startswith("advkit_"):
                    assert node.module in allowed_modules, f"{path}: from {node.module} import ..."
                    if node.module == "advkit":
                        assert {a.name for a in node.names} <= public, f"{path}: non-public import"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    name = alias.name
                    if name.startswith("advkit."):
                        assert name in allowed_modules, f"{path}: import {name}"
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "advkit":
                assert node.attr in public or node.attr == "testing", f"{path}: advkit.{node.attr} is not public"
