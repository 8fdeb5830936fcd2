"""`advkit analyze`: report table, --json, report.json and figures, and clear errors."""

from __future__ import annotations

import json

import pytest

LINEAR = ["--model", "linear", "--seed", "0"]  # fresh softmax regression: linear whatever its weights


def test_writes_report_and_figures(cli, tmp_path):
    result = cli("analyze", "--plugin", "tilt", *LINEAR, "--out", tmp_path)
    assert result.code == 0, result.stderr
    assert "theta" in result.stdout and "identity.gap" in result.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["analysis"] == "tilt.tilt"
    assert report["numbers"]["mode"] == "global"
    assert sorted(report["figures"]) == ["mirror_images.png", "tilting_plane.png"]
    for name in report["figures"]:
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")


def test_json_prints_one_object_with_provenance(cli):
    result = cli("analyze", "--plugin", "tilt", *LINEAR, "-p", "classes=0,1", "--json")
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["params"]["classes"] == [0, 1]
    assert summary["params"]["mode"] == "auto"
    assert summary["seed"] == 0 and summary["device"] == "cpu"
    assert "torch" in summary["versions"] and "tilt" in summary["versions"]["plugins"]
    assert summary["numbers"]["classes"] == [0, 1]
    assert "figures" not in summary


def test_analysis_without_a_model(cli, tmp_path):
    result = cli("analyze", "--plugin", "tilt-sweep", "--split", "all", "-p", "steps=3", "-p", "lambda_max=1e3",
                 "--out", tmp_path, "--json")
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["model"] is None and len(summary["numbers"]["sweep"]) == 3
    assert (tmp_path / "tilt_sweep.png").exists()


def test_default_model_and_notes_are_printed(cli):
    result = cli("analyze", "--plugin", "fooling", "-p", "target=1", "-p", "max_steps=1", "-p", "step_size=1e-4")
    assert result.code == 0, result.stderr
    assert "note:" in result.stdout and "model" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--plugin", "no-such-analysis"], "unknown"),
    (["--plugin", "tilt", *LINEAR, "-p", "classes=3,12"], "out of range"),
    (["--plugin", "tilt", "-p", "mode=global"], "linear"),
    (["--plugin", "tilt", *LINEAR, "-p", "colour=red"], "no parameter"),
    (["--plugin", "tilt", "--model", "linear", "--model", "mlp"], "one model"),
    (["--plugin", "tilt-sweep", "--model", "linear"], "trains its own"),
])
def test_bad_input_is_a_usage_error(cli, args, message):
    result = cli("analyze", *args)
    assert result.code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
