"""The book builds offline from scratch, and renders in a real browser with the network cut off."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
JB = Path(sys.executable).parent / "jupyter-book"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # every host name fails: no network
    "--virtual-time-budget=30000",
]

pytestmark = pytest.mark.slow


def build(source: Path, output: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(JB), "build", str(source), "--path-output", str(output), "-W", "--keep-going", *extra],
        capture_output=True,
        text=True,
        cwd=source,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    result = build(ROOT, out, "--all")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return out / "_build" / "html", out, result


def chapter_pages():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [c["file"] for c in toc["chapters"] if (ROOT / f"{c['file']}.ipynb").exists()]


def test_build_has_no_warnings(site):
    _, _, result = site
    sphinx_warnings = re.findall(r"^.*WARNING: .*$", result.stdout + result.stderr, re.M)
    assert not sphinx_warnings


def test_colab_links_point_to_real_notebooks(site):
    html, _, _ = site
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    prefix = "https://colab.research.google.com/github/" + url.removeprefix("https://github.com/")
    for page in chapter_pages():
        text = (html / f"{page}.html").read_text()
        links = set(re.findall(r'href="(https://colab\.research\.google\.com/[^"]+)"', text))
        assert links, f"{page}: no Colab launch link"
        for link in links:
            assert link.startswith(prefix + "/blob/main/"), link
            path = link.split("/blob/main/", 1)[1]
            assert path.endswith(".ipynb") and (ROOT / path).exists(), link


def test_pages_load_no_remote_scripts_or_styles(site):
    html, _, _ = site
    for page in html.rglob("*.html"):
        text = page.read_text()
        scripts = re.findall(r'<script[^>]+src="(https?://[^"]+)"', text)
        styles = re.findall(r'<link[^>]+rel="stylesheet"[^>]+href="(https?://[^"]+)"', text)
        assert not scripts and not styles, f"{page.name} loads {scripts + styles}"
    vendor = html / "_static" / "vendor"
    for asset in (
        "plotly.min.js",
        "mathjax/tex-mml-chtml.js",
        "require.js",
        "html-manager/embed-amd.js",
    ):
        assert (vendor / asset).is_file(), asset


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def dump_dom(page: Path) -> str:
    exe = chromium()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (make browser installs it)")
        pytest.skip("chromium is not installed")
    result = subprocess.run(
        [exe, *CHROMIUM_FLAGS, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_chapters_render_math_and_figures_in_a_browser_offline(site):
    html, _, _ = site
    pages = ["book/intro", *chapter_pages()]
    for page in pages:
        source = (html / f"{page}.html").read_text()
        dom = dump_dom(html / f"{page}.html")
        if "\\(" in source or "\\[" in source or "$$" in source:
            assert "<mjx-container" in dom, f"{page}: MathJax did not typeset"
            assert "<mjx-merror" not in dom, f"{page}: MathJax error"
        figures = source.count('class="plotly-graph-div"')
        if figures:
            drawn = len(re.findall(r'<div[^>]+class="plotly-graph-div js-plotly-plot"', dom))
            assert drawn == figures, f"{page}: {drawn} of {figures} plotly figures drawn"
            assert dom.count('class="main-svg"') >= figures


def test_rebuild_with_nothing_changed_reexecutes_and_rewrites_nothing(site):
    _, out, _ = site
    result = build(ROOT, out)
    assert result.returncode == 0, result.stdout[-3000:]
    text = result.stdout + result.stderr
    assert "Executing notebook" not in text
    assert re.search(r"(no targets are out of date|0 added, 0 changed, 0 removed)", text), text[
        -2000:
    ]


def test_a_failing_cell_fails_the_build(tmp_path):
    book = tmp_path / "book"
    (book / "book").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", book / "_config.yml")
    (book / "_toc.yml").write_text("format: jb-book\nroot: book/broken\n")
    (book / "node_modules").symlink_to(ROOT / "node_modules")
    (book / "book" / "references.bib").write_text((ROOT / "book" / "references.bib").read_text())
    nb = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Broken"]},
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": ["raise RuntimeError('boom')"],
            },
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (book / "book" / "broken.ipynb").write_text(json.dumps(nb))
    result = build(book, tmp_path / "out")
    assert result.returncode != 0
    assert "mystnb.exec" in result.stdout + result.stderr
