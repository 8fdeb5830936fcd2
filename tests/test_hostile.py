"""Hostile third-party plugins: name squatting, command hijack, sys.exit and Ctrl-C on import, a slow import,
an attack that prints to stdout. Each is installed as a distribution (a dist-info directory with
entry_points.txt) on a temporary sys.path entry: in this process (then the registry is reloaded), or on
PYTHONPATH for a subprocess where the whole command line is what is tested."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import tomllib

from advkit.plugins import registry as registry_module
from advkit.plugins.registry import BUILTIN_COMMANDS, FIRST_PARTY, plugin_code

ROOT = Path(__file__).resolve().parents[1]

DO_NOTHING = '''
import advkit

class Nothing(advkit.Attack):
    """Returns its input: fools nobody."""
    name = "pgd"
    norm = "Linf"

    def __init__(self, model, eps: float = 0.03):
        super().__init__(model)
        self.eps = eps

    def perturb(self, x, y):
        return x.clone()

@advkit.hookimpl
def register_attacks(register):
    register(Nothing)
'''

HIJACK = '''
import click
import advkit

@advkit.hookimpl
def register_attacks(register):
    class Hijacked(advkit.Attack):
        """Never registered: its plugin is refused."""
        name = "hijacked-attack"
        norm = "Linf"
        def perturb(self, x, y):
            return x
    register(Hijacked)

@advkit.hookimpl
def register_commands(cli):
    @cli.command("attack")
    def fake():
        """A fake attack command."""
        click.echo("hijacked")
'''

MONKEYPATCH = '''
import click
import advkit.cli.main

@click.command("attack")
def fake():
    click.echo("hijacked")

advkit.cli.main.cli.commands["attack"] = fake  # behind the hook's back
'''

HELLO = '''
import click
import advkit

@advkit.hookimpl
def register_commands(cli):
    @cli.command("hello")
    def hello():
        """Say hello."""
        click.echo("hello from a plugin")
'''

EXIT_ON_IMPORT = "import sys\nsys.exit(0)\n"
CTRL_C_ON_IMPORT = "raise KeyboardInterrupt\n"
SLOW = "import time\ntime.sleep(30)\n"

EXIT_IN_HOOK = '''
import sys
import advkit

@advkit.hookimpl
def register_attacks(register):
    sys.exit(3)
'''

SHOUTY = '''
import advkit
print("shouty: imported")

class Shouty(advkit.Attack):
    """Prints while it attacks."""
    name = "shouty"
    norm = "Linf"

    def __init__(self, model, eps: float = 0.1):
        super().__init__(model)
        self.eps = eps

    def perturb(self, x, y):
        print("shouty: perturbing", len(x))
        return x

@advkit.hookimpl
def register_attacks(register):
    print("shouty: registering")
    register(Shouty)
'''


def install(site: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]) -> Path:
    """A distribution `dist` with `entry_points` (group advkit, name -> module) and module sources, in `site`."""
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[advkit]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items()))
    for module, source in modules.items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))
    return site


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A sys.path entry for hostile distributions; the registry is reloaded from it and restored after."""
    monkeypatch.delenv("ADVKIT_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("ADVKIT_STRICT_PLUGINS", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    monkeypatch.undo()
    importlib.invalidate_caches()
    registry_module._registry = None


def loaded(site: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]):
    install(site, dist, entry_points, modules)
    importlib.invalidate_caches()
    return registry_module.reload()


def unique(prefix: str, site: Path) -> str:
    return f"{prefix}_{abs(hash(str(site))) % 10**8}"


def advkit(site: Path, *args: str, env: dict | None = None, timeout: float = 60):
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    environ.pop("ADVKIT_LOAD_PLUGINS", None)
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "advkit", *args], capture_output=True, text=True, env=environ,
                          timeout=timeout, check=False)


def test_the_reserved_names_are_the_first_party_entry_points_and_commands():
    from advkit.cli.main import COMMANDS

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert FIRST_PARTY == set(project["entry-points"]["advkit"]) | {"advkit"}
    assert BUILTIN_COMMANDS == {c.name for c in COMMANDS}


def test_name_squatting_is_refused_and_the_real_plugin_kept(site, cli, capsys):
    module = unique("evil_squat", site)
    reg = loaded(site, "evil-squat", {"torchattacks": module, "advkit": module}, {module: DO_NOTHING})
    warnings = capsys.readouterr().err
    assert warnings.count("WARNING: refused plugin 'torchattacks'") == 1
    assert "WARNING: refused plugin 'advkit'" in warnings
    entry = reg.lookup("attacks", "pgd")
    assert entry.qualified_name == "torchattacks.pgd" and entry.cls.__module__.startswith("advkit_torchattacks")
    assert module not in sys.modules  # refused before import: its code never ran
    assert reg.infos["torchattacks"].distribution == "advkit" and reg.infos["torchattacks"].error is None
    listing = cli("plugins", "--json")
    assert listing.code == 0
    refused = [row for row in json.loads(listing.stdout)["plugins"] if row["refused"]]
    assert {row["name"] for row in refused} == {"torchattacks", "advkit"}
    assert all("first-party" in row["refused"] and row["distribution"] == "evil-squat" for row in refused)
    assert "REFUSED" in cli("plugins").stdout
    assert "WARNING" not in listing.stderr  # loud once per run, not once per command


def test_a_command_hijack_is_refused_and_the_builtin_command_kept(site, cli):
    hijack, hello = unique("evil_hijack", site), unique("friendly_hello", site)
    patch = unique("evil_patch", site)
    install(site, "friendly", {"hello": hello}, {hello: HELLO})
    install(site, "evil-patch", {"patch": patch}, {patch: MONKEYPATCH})
    reg = loaded(site, "evil-hijack", {"hijack": hijack}, {hijack: HIJACK})
    assert "hijack" not in reg.infos
    assert [i.name for i in reg.refused] == ["hijack"] and "built-in command(s) attack" in reg.refused[0].refused
    assert "hijacked-attack" not in {r.name for r in reg.all("attacks")}
    out = cli("attack", "--help")
    assert out.code == 0 and "--plugin" in out.stdout and "hijacked" not in out.stdout
    import advkit.cli.main

    advkit.cli.main.cli.commands.update(advkit.cli.main._BUILTIN)  # undo the monkeypatch for later tests
    hello_out = cli("hello")  # a plugin command that replaces nothing still works, loaded lazily
    assert hello_out.code == 0 and "hello from a plugin" in hello_out.stdout
    rows = {row["name"]: row for row in json.loads(cli("plugins", "--json").stdout)["plugins"]}
    assert rows["hello"]["commands"] == ["hello"] and "built-in" in rows["hijack"]["refused"]


def test_sys_exit_and_ctrl_c_on_import_or_in_a_hook_are_that_plugins_error(site, cli):
    bye, ctrl, hook = unique("evil_exit", site), unique("evil_ctrlc", site), unique("evil_hook", site)
    install(site, "evil-ctrlc", {"ctrlc": ctrl}, {ctrl: CTRL_C_ON_IMPORT})
    install(site, "evil-hook", {"exithook": hook}, {hook: EXIT_IN_HOOK})
    reg = loaded(site, "evil-exit", {"bye": bye}, {bye: EXIT_ON_IMPORT})
    assert "SystemExit(0)" in reg.infos["bye"].error
    assert "KeyboardInterrupt raised by the plugin" in reg.infos["ctrlc"].error
    assert "pgd" in {r.name for r in reg.all("attacks")}  # collecting the hooks survives sys.exit(3) in one
    assert "register_attacks failed: SystemExit(3)" in reg.infos["exithook"].error
    out = cli("list", "attacks")
    assert out.code == 0 and "torchattacks.pgd" in out.stdout


def test_strict_mode_names_the_plugin_that_exited(site, cli, monkeypatch):
    bye = unique("evil_exit", site)
    install(site, "evil-exit", {"bye": bye}, {bye: EXIT_ON_IMPORT})
    importlib.invalidate_caches()
    registry_module._registry = None
    monkeypatch.setenv("ADVKIT_STRICT_PLUGINS", "1")
    out = cli("plugins")
    assert out.code == 1 and "plugin 'bye' failed to load: SystemExit(0)" in out.stderr
    assert "Traceback" not in out.stderr


def test_the_users_ctrl_c_inside_plugin_code_still_stops():
    with pytest.raises(KeyboardInterrupt) as caught, plugin_code():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(2)
    assert type(caught.value).__name__ == "_UserCtrlC"
    with pytest.raises(KeyboardInterrupt) as own, plugin_code():  # the plugin's own: plain, the caller isolates it
        raise KeyboardInterrupt
    assert type(own.value) is KeyboardInterrupt
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_slow_import_is_cut_off_and_reported(site, cli, monkeypatch):
    slow = unique("evil_slow", site)
    monkeypatch.setenv("ADVKIT_PLUGIN_TIMEOUT", "0.5")
    started = time.perf_counter()
    reg = loaded(site, "evil-slow", {"slow": slow}, {slow: SLOW})
    assert time.perf_counter() - started < 10
    assert "did not finish within 0.5 s (ADVKIT_PLUGIN_TIMEOUT)" in reg.infos["slow"].error
    rows = {row["name"]: row for row in json.loads(cli("plugins", "--json").stdout)["plugins"]}
    assert rows["slow"]["import_seconds"] == 0.5
    assert rows["torchattacks"]["import_seconds"] is not None and rows["torchattacks"]["error"] is None
    monkeypatch.setenv("ADVKIT_PLUGIN_TIMEOUT", "soon")
    registry_module._registry = None
    bad = cli("plugins")
    assert bad.code == 2 and bad.stderr.strip() == "error: ADVKIT_PLUGIN_TIMEOUT must be a number of seconds, got 'soon'"


def test_help_and_version_import_no_plugin_even_a_hanging_or_exiting_one(tmp_path):
    slow, bye = unique("evil_slow", tmp_path), unique("evil_exit", tmp_path)
    install(tmp_path, "evil-slow", {"slow": slow}, {slow: SLOW})
    install(tmp_path, "evil-exit", {"bye": bye}, {bye: EXIT_ON_IMPORT})
    started = time.perf_counter()
    out = advkit(tmp_path, "--help", timeout=20)
    assert out.returncode == 0 and "attack" in out.stdout and "evaluate" in out.stdout
    assert advkit(tmp_path, "--version", timeout=20).stdout.startswith("advkit")
    assert time.perf_counter() - started < 15
    listing = advkit(tmp_path, "plugins", "--json", env={"ADVKIT_PLUGIN_TIMEOUT": "1"}, timeout=30)
    assert listing.returncode == 0, listing.stderr
    rows = {row["name"]: row for row in json.loads(listing.stdout)["plugins"]}
    assert "SystemExit" in rows["bye"]["error"] and "within 1 s" in rows["slow"]["error"]


def test_what_plugins_print_goes_to_stderr_and_stdout_stays_json(site, cli):
    module = unique("shouty", site)
    loaded(site, "shouty", {"shouty": module}, {module: SHOUTY})
    out = cli("attack", "--plugin", "shouty", "--n", "8", "--json")
    assert out.code == 0, out.stderr
    result = json.loads(out.stdout)  # nothing but the JSON object
    assert "shouty: perturbing" in out.stderr and "shouty: registering" in out.stderr
    assert result["attack"] == "shouty.shouty" and result["plugin"] == "shouty"
    assert result["model_source"] == {"name": "advkit.cnn", "plugin": "advkit"}
    assert result["versions"]["plugins"]["shouty"] == "1.0"
    text = cli("attack", "--plugin", "shouty", "--n", "8")
    assert "default (advkit.cnn, plugin advkit)" in text.stdout and "shouty: perturbing" not in text.stdout


def test_ctrl_c_while_a_plugin_imports_stops_the_run(tmp_path):
    marker, slow = tmp_path / "importing", unique("evil_slow", tmp_path)
    install(tmp_path, "evil-slow", {"slow": slow},
            {slow: f"import pathlib, time\npathlib.Path({str(marker)!r}).touch()\ntime.sleep(60)\n"})
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
               "ADVKIT_PLUGIN_TIMEOUT": "120"}  # the Ctrl-C, not the import time limit, must end the wait
    environ.pop("ADVKIT_LOAD_PLUGINS", None)
    proc = subprocess.Popen([sys.executable, "-m", "advkit", "plugins"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=environ)
    deadline = time.time() + 20
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
