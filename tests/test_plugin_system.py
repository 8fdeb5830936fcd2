"""The plugin system: hooks documented and exercised, name resolution, start-up without torch."""

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pluggy
import pytest

import advkit
from advkit import UsageError
from advkit.plugins import hookspecs
from advkit.plugins.registry import KINDS, Registry, registry
from advkit.plugins.hookspecs import hookimpl

HOOKS = [name for name, fn in vars(hookspecs).items() if inspect.isfunction(fn) and name.startswith("register_")]


def test_every_hook_is_documented():
    assert set(HOOKS) == {f"register_{k}" for k in KINDS} | {"register_commands"}
    for name in HOOKS:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), f"{name} has no docstring"
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for name in HOOKS:
        assert name in readme, f"{name} is not documented in README.md"


def test_every_registration_hook_is_exercised():
    """Installed plugins register something through every register_<kind> hook."""
    for kind in KINDS:
        assert registry().all(kind), f"nothing registered through register_{kind}"


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
    from advkit.plugins.registry import PluginInfo

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

    from advkit.plugins.registry import PluginInfo

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
    entries = json.loads(stdout)
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
