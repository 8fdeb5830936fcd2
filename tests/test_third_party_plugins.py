"""Third-party plugins installed for real (pip, entry points): the DESIGN.md example and misbehaving ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PLUGINS = Path(__file__).parent / "plugins"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A directory with the example and misbehaving plugin distributions pip-installed into it."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                    str(PLUGINS / "signnoise"), str(PLUGINS / "misbehaving")], check=True)
    return target


def advkit(site, *args, env=None):
    environ = {**os.environ, "PYTHONPATH": str(site)}
    environ.pop("ADVKIT_LOAD_PLUGINS", None)
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "advkit", *args], capture_output=True, text=True, env=environ)


def test_example_plugin_is_listed_with_its_schema(site):
    out = advkit(site, "list", "attacks", "--json")
    assert out.returncode == 0, out.stderr
    entry = next(e for e in json.loads(out.stdout)["attacks"] if e["name"] == "signnoise.sign-noise")
    assert entry["norm"] == "Linf"
    assert {p["name"]: p["default"] for p in entry["parameters"]} == {"eps": 0.3, "seed": 0}


def test_example_plugin_runs_end_to_end(site):
    out = advkit(site, "attack", "--plugin", "sign-noise", "--eps", "0.1", "--n", "64", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["attack"] == "signnoise.sign-noise"
    assert result["plugin"] == "signnoise"
    assert result["versions"]["plugins"]["signnoise"] == "0.1.0"
    assert result["perturbation"]["linf_max"] <= 0.1 + 1e-6
    assert result["robust_accuracy"] <= result["clean_accuracy"] + 1e-9


def test_attack_leaving_its_ball_is_a_contract_error(site):
    out = advkit(site, "attack", "--plugin", "leaky", "--n", "8")
    assert out.returncode == 1
    assert "plugin leaky" in out.stderr and "left its Linf ball" in out.stderr
    assert "Traceback" not in out.stderr


def test_broken_plugins_leave_everything_else_working(site):
    listing = advkit(site, "plugins", "--json")
    assert listing.returncode == 0, listing.stderr
    infos = {p["name"]: p for p in json.loads(listing.stdout)["plugins"]}
    assert "advkit_dependency_that_does_not_exist" in infos["broken"]["error"]
    assert "registration exploded" in infos["badhook"]["error"]
    assert infos["signnoise"]["error"] is None
    assert advkit(site, "--help").returncode == 0
    run = advkit(site, "attack", "--plugin", "fgsm", "--n", "16", "--json")
    assert run.returncode == 0, run.stderr


def test_strict_mode_reraises(site):
    out = advkit(site, "plugins", env={"ADVKIT_STRICT_PLUGINS": "1"})
    assert out.returncode != 0
    assert "advkit_dependency_that_does_not_exist" in out.stderr


def test_load_plugins_restricts_loading(site):
    only = advkit(site, "plugins", "--json", env={"ADVKIT_LOAD_PLUGINS": "signnoise"})
    assert {p["name"] for p in json.loads(only.stdout)["plugins"]} == {"advkit", "signnoise"}
    none = advkit(site, "plugins", "--json", env={"ADVKIT_LOAD_PLUGINS": ""})
    assert {p["name"] for p in json.loads(none.stdout)["plugins"]} == {"advkit"}
