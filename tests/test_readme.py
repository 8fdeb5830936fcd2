"""README.md runs as written: its Python blocks execute top to bottom, its plugin's pyproject.toml builds,
every `advkit` command line it shows parses, and the quick start's and the CLI section's cheap ones run."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import click
import pytest

from advkit.evaluation.suite import ALPHA_RULE
from advkit.testing import check_attack

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def sections() -> dict[str, str]:
    """README's `## ` sections by title."""
    parts = re.split(r"^## (.+)$", README, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def blocks(text: str, lang: str) -> list[str]:
    """The fenced code blocks of `text` whose fence names `lang` ("" for a plain fence)."""
    out, current, kind = [], None, None
    for line in text.splitlines(keepends=True):
        if line.startswith("```"):
            if current is None:
                current, kind = [], line[3:].strip()
            else:
                if kind == lang:
                    out.append("".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return out


def command_lines(text: str) -> list[list[str]]:
    """Every shell command in the bash and plain blocks of `text`, split on `&&`, as argument lists."""
    out = []
    for block in blocks(text, "bash") + blocks(text, ""):
        for line in block.splitlines():
            if not re.match(r"(advkit|pip|python) ", line.strip()):
                continue  # not a command: a file tree, a comment
            words = shlex.split(line, comments=True)
            while words:
                cut = words.index("&&") if "&&" in words else len(words)
                out.append(words[:cut])
                words = words[cut + 1:]
    return out


def parse(args: list[str]) -> click.Context:
    """Parse `advkit ARGS` with the CLI's own options, without running it (bad options raise)."""
    from advkit.cli.main import cli

    name, *rest = args
    command = cli.get_command(click.Context(cli), name)
    assert command is not None, f"README names an unknown command: advkit {shlex.join(args)}"
    return command.make_context(name, rest)


def test_python_blocks_run_in_order(tmp_path, monkeypatch):
    """The blocks share one namespace, as a reader typing them into one session would."""
    monkeypatch.chdir(tmp_path)
    code = blocks(README, "python")
    assert len(code) >= 4
    namespace: dict = {"__name__": "readme"}
    for block in code:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 (README code, run as written)
    result, evaluation = namespace["result"], namespace["evaluation"]
    assert result.clean_accuracy > 0.9 and result.robust_accuracy < result.clean_accuracy
    assert result.params["alpha"] == pytest.approx(2.5 * 0.1 / 20) and result.derived == {"alpha": ALPHA_RULE}
    assert evaluation.params["torchattacks.square(n_queries=100)"]["n_queries"] == 100
    assert evaluation.worst_case[0.2] < evaluation.worst_case[0.1] < evaluation.worst_case[0.0]
    # the plugin section's attack keeps the contract
    data = namespace["data"]
    check_attack(namespace["SignNoise"], namespace["model"], data.x[:8], data.y[:8], eps=0.3)


def test_plugin_pyproject_builds_a_plugin_advkit_finds(tmp_path):
    """The two plugin files, as shown, build a wheel (setuptools, no pip) whose entry point advkit loads."""
    (module,) = [b for b in blocks(README, "python") if b.startswith("# advkit_signnoise.py")]
    (pyproject,) = blocks(README, "toml")
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    meta = tomllib.loads(pyproject)
    assert meta["build-system"]["build-backend"] == "setuptools.build_meta"
    assert {"name", "version", "dependencies"} <= set(meta["project"])
    project = tmp_path / "project"
    project.mkdir()
    (project / "advkit_signnoise.py").write_text(module)
    (project / "pyproject.toml").write_text(pyproject)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    build = f"from setuptools import build_meta; print(build_meta.build_wheel({str(tmp_path / 'dist')!r}))"
    built = subprocess.run([sys.executable, "-c", build], cwd=project, capture_output=True, text=True, env=env,
                           timeout=120, check=False)
    assert built.returncode == 0, built.stderr[-2000:]
    site = tmp_path / "site"
    with zipfile.ZipFile(tmp_path / "dist" / built.stdout.split()[-1]) as wheel:
        wheel.extractall(site)
    listed = subprocess.run([sys.executable, "-m", "advkit", "plugins", "--json"], capture_output=True, text=True,
                            env={**env, "PYTHONPATH": os.pathsep.join([str(site), *sys.path])}, timeout=120,
                            check=False)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "sign-noise" in json.dumps(json.loads(listed.stdout)) and "signnoise" in listed.stdout


def test_every_advkit_command_line_parses():
    lines = [words[1:] for words in command_lines(README) if words and words[0] == "advkit"]
    assert len(lines) >= 7
    for args in lines:
        parse(args)


def test_quick_start_lines_are_commands_that_exist():
    quick = command_lines(sections()["Quick start"])
    programs = {words[0] for words in quick}
    assert programs <= {"pip", "advkit", "python"}, programs
    assert ["pip", "install", "torch", "--index-url", "https://download.pytorch.org/whl/cpu"] in quick
    assert ["advkit", "attack", "--plugin", "pgd"] in quick


def test_quick_start_and_cli_section_jobs_run(cli, tmp_path, monkeypatch):
    """The main job and the CLI section's attacks on the default (no MNIST) run as written."""
    monkeypatch.chdir(tmp_path)
    assert cli("--help").code == 0
    main = cli("attack", "--plugin", "pgd")
    assert main.code == 0, main.stderr
    assert "robust accuracy" in main.stdout and f"alpha=0.0007843 ({ALPHA_RULE})" in main.stdout
    ran = 0
    for words in command_lines(sections()["The CLI at a glance"]):
        if words[:2] != ["advkit", "attack"] or any("mnist" in w or w.endswith(".safetensors") for w in words):
            continue
        done = cli(*words[1:])
        assert done.code == 0, (words, done.stderr)
        ran += 1
        if "--json" in words:
            summary = json.loads(done.stdout)
            assert summary["derived"] == {"alpha": ALPHA_RULE}
            assert summary["params"]["alpha"] == pytest.approx(2.5 * (8 / 255) / 20)
    assert ran >= 3
    assert sorted(p.name for p in (tmp_path / "runs" / "fgsm").iterdir()) == ["adversarial.npz", "examples.png",
                                                                            "result.json"]
