"""The evaluation report: files, a self-contained HTML page, and a real headless-browser render."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

import advkit
from advkit.evaluation.report import write_reports

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
SIZE = (1200, 2000)
# Test-only probe appended to a copy of the page: records each image's decoded width in the DOM.
PROBE = ("<script>window.addEventListener('load', () => document.body.setAttribute('data-widths', "
         "[...document.images].map(i => i.naturalWidth).join(',')));</script>")


@pytest.fixture(scope="module")
def report(default_model, digits, tmp_path_factory):
    evaluation = advkit.evaluate(default_model, digits.x[:40], digits.y[:40], "fgsm,pgd", [0.0, 0.1, 0.2], probe=16)
    out = tmp_path_factory.mktemp("report")
    summary = {"model": "default", **evaluation.summary()}
    write_reports(out, evaluation, default_model, summary, digits.class_names)
    return out, evaluation


def test_files_and_every_number_in_result_json(report):
    out, evaluation = report
    assert {"result.json", "report.md", "report.html", "robust_accuracy.png", "perturbation_sizes.png",
            "examples.png"} <= {p.name for p in out.iterdir()}
    saved = json.loads((out / "result.json").read_text())
    assert saved["worst_case"] == {f"{e:g}": a for e, a in evaluation.worst_case.items()}
    assert saved["per_attack"]["pgd"]["0.1"]["robust_accuracy"] == evaluation.per_attack["pgd"][0.1]["robust_accuracy"]
    markdown = (out / "report.md").read_text()
    assert "| eps | fgsm | pgd | worst case |" in markdown and "![examples](examples.png)" in markdown


def test_html_is_self_contained(report):
    page = (report[0] / "report.html").read_text()
    sources = re.findall(r"src='([^']*)'", page)
    assert len(sources) == 3 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http" not in page and "Sanity checks" in page


def test_empty_evaluation_still_renders(default_model, digits, tmp_path):
    evaluation = advkit.evaluate(default_model, digits.x[:10], digits.y[:10], "fgsm", [0.0], checks=False)
    write_reports(tmp_path, evaluation, default_model, evaluation.summary())
    markdown = (tmp_path / "report.md").read_text()
    assert "Sanity checks were not run." in markdown
    assert f"| 0 | {evaluation.clean_accuracy:.1%} | {evaluation.clean_accuracy:.1%} |" in markdown
    assert (tmp_path / "examples.png").stat().st_size > 0


def chromium(page, tmp_path, *args):
    return subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={SIZE[0]},{SIZE[1]}", *args, page.as_uri()],
        capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(BROWSER is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_browser_renders_the_page_and_decodes_every_figure(report, tmp_path):
    import numpy as np
    from PIL import Image

    page = report[0] / "report.html"
    shot = tmp_path / "shot.png"
    chromium(page, tmp_path, f"--screenshot={shot}")
    pixels = np.asarray(Image.open(shot).convert("L"))
    assert pixels.shape == (SIZE[1], SIZE[0])
    assert pixels.std() > 10 and (pixels < 128).mean() > 0.005  # text and figures, not a blank page

    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    dom = chromium(probed, tmp_path, "--dump-dom").stdout
    widths = re.search(r'data-widths="([^"]*)"', dom)
    assert widths, dom[:500]
    assert [int(w) > 100 for w in widths.group(1).split(",")] == [True] * 3
