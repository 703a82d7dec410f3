"""The book builds offline from scratch, and renders in a real browser with the network cut off."""

import json
import re
import shutil

import pytest
import yaml
from browser_build import ROOT, build

pytest_plugins = ["browser_site"]  # the shared `site` fixture: one full build per session

pytestmark = pytest.mark.slow


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
