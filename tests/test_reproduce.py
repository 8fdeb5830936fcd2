"""`advkit reproduce`: every --quick reproduction runs, writes its report, and the paper's directions hold."""

from __future__ import annotations

import json

import pytest

NAMES = ("szegedy", "goodfellow", "papernot", "tanay", "xie")


def holds(summary: dict, claim_part: str) -> list[bool]:
    """Whether each direction check whose claim contains `claim_part` holds (at least one must exist)."""
    found = [c["holds"] for c in summary["checks"] if claim_part in c["claim"]]
    assert found, f"no check about {claim_part!r} in {[c['claim'] for c in summary['checks']]}"
    return found


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """Run each quick reproduction once (digits), keeping its JSON summary and output folder."""
    from advkit.cli.main import main

    cache = {}

    def run(name: str, capsys) -> tuple[dict, object]:
        if name not in cache:
            out = tmp_path_factory.mktemp(name)
            capsys.readouterr()
            code = main(["reproduce", name, "--quick", "--json", "--out", str(out)])
            stdout = capsys.readouterr().out
            assert code == 0
            cache[name] = (json.loads(stdout), out)
        return cache[name]

    return run


def test_lists_the_five_reproductions(cli):
    result = cli("list", "reproductions", "--json")
    assert result.code == 0
    assert {e["short_name"] for e in json.loads(result.stdout)["reproductions"]} >= set(NAMES)


def test_tanay_theta_rises_and_d_adv_falls_as_regularisation_weakens(quick, capsys):
    summary, out = quick("tanay", capsys)
    assert all(holds(summary, "theta rises")) and len(holds(summary, "theta rises")) == 3
    assert all(holds(summary, "d_adv falls"))
    assert all(holds(summary, "smaller weights"))
    saved = json.loads((out / "result.json").read_text())
    assert saved["versions"]["plugins"] == {"tilt": saved["versions"]["plugins"]["tilt"]}
    assert saved["seed"] == 0 and saved["device"] and saved["quick"] is True
    assert "| table | setting | quantity | published | measured |" in (out / "report.md").read_text()
    assert len(saved["figures"]) == 3 and all((out / f).stat().st_size > 0 for f in saved["figures"])


def test_goodfellow_adversarial_training_cuts_fgsm_error_and_noise_does_not(quick, capsys):
    summary, _ = quick("goodfellow", capsys)
    assert all(holds(summary, "fools most inputs"))
    assert holds(summary, "MLP 100-100: adversarial training cuts")[0]
    assert holds(summary, "MLP 100-100: noise training does not")[0]
    published = [r for r in summary["rows"] if r["published"] is not None]
    assert published and all(r["setting"] and r["quantity"] for r in published)


def test_papernot_distillation_defeats_fgsm_and_jsma_by_masking_but_not_cw(quick, capsys):
    summary, out = quick("papernot", capsys)
    assert holds(summary, "defeats FGSM")[0]
    assert holds(summary, "defeats JSMA")[0]
    assert holds(summary, "C&W-L2 still succeeds")[0]
    assert holds(summary, "zeroes input gradients")[0]
    assert holds(summary, "flags masking")[0]
    assert (out / "distillation.png").is_file()


def test_szegedy_distortion_rises_with_weight_decay_and_adversarial_examples_transfer(quick, capsys):
    summary, _ = quick("szegedy", capsys)
    assert holds(summary, "distortion rises with weight decay")[0]
    assert holds(summary, "L-BFGS reaches its target")[0]
    assert all(holds(summary, "more than Gaussian noise"))
    assert holds(summary, "exceeds the per-layer")[0]


def test_xie_smooth_activations_do_not_lose_robustness(quick, capsys):
    summary, _ = quick("xie", capsys)
    assert holds(summary, "smooth activations do not lose robustness")[0]
    trials = summary["tables"]["trials"]
    assert len({t["seed"] for t in trials}) >= 2
    assert all(0 <= t["robust"] <= t["clean"] <= 1 for t in trials)


def test_table_output_names_published_and_measured(quick, capsys):
    from advkit.cli.commands.reproduce import render_text

    summary, _ = quick("goodfellow", capsys)
    text = render_text(summary)
    assert "published" in text and "measured" in text and "[holds]" in text and "(approx.)" in text


def test_unknown_reproduction_is_a_usage_error(cli):
    result = cli("reproduce", "szegdy")
    assert result.code == 2
    assert "unknown reproduction 'szegdy'" in result.stderr and "szegedy" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_data_spec_is_one_line_error(cli):
    result = cli("reproduce", "tanay", "--quick", "--data", "nosuchdata")
    assert result.code != 0
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_reproduce_help(cli):
    result = cli("reproduce", "--help")
    assert result.code == 0 and "--quick" in result.stdout and "--out" in result.stdout
