"""The book builds offline from scratch (its pages in a browser: tests/test_browser.py), and the
Sphinx extension's pieces that a build does not show directly."""

import json
import re
import shutil

import pytest
import yaml
from browser_build import ROOT, build

pytest_plugins = ["browser_site"]  # the shared `site` fixture: one full build per session

slow = pytest.mark.slow


def chapter_pages():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [c["file"] for c in toc["chapters"] if (ROOT / f"{c['file']}.ipynb").exists()]


@slow
def test_build_has_no_warnings(site):
    _, _, result = site
    sphinx_warnings = re.findall(r"^.*WARNING: .*$", result.stdout + result.stderr, re.M)
    assert not sphinx_warnings


@slow
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


@slow
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


@slow
def test_each_inline_script_once_and_widget_scripts_only_where_a_widget_shows(site):
    """sphinx-thebe's configuration appeared twice (a SyntaxError on every page), and myst-nb loaded the
    widget manager on pages that build sliders but show none (six font 404s)."""
    html, _, _ = site
    for page in html.rglob("*.html"):
        text = page.read_text()
        scripts = re.findall(r"<script>(.*?)</script>", text, re.S)
        repeated = {s[:60] for s in scripts if scripts.count(s) > 1}
        assert not repeated, f"{page.name}: inline scripts written twice: {repeated}"
        shows_widget = "application/vnd.jupyter.widget-view+json" in text
        for needed_only_by_widgets in ("require.js", "embed-amd.js", "widget-state+json"):
            assert shows_widget or needed_only_by_widgets not in text, (
                f"{page.name} loads {needed_only_by_widgets} but shows no widget"
            )


@slow
def test_rebuild_with_nothing_changed_reexecutes_and_rewrites_nothing(site):
    _, out, _ = site
    result = build(ROOT, out)
    assert result.returncode == 0, result.stdout[-3000:]
    text = result.stdout + result.stderr
    assert "Executing notebook" not in text
    assert re.search(r"(no targets are out of date|0 added, 0 changed, 0 removed)", text), text[
        -2000:
    ]


@slow
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
    for attempt in ("first", "second"):  # Sphinx's pickled environment must not call it up to date
        result = build(book, tmp_path / "out")
        assert result.returncode != 0, f"the {attempt} build passed"
        assert "mystnb.exec" in result.stdout + result.stderr, attempt
    nb["cells"][1]["source"] = ["print('fixed')"]
    (book / "book" / "broken.ipynb").write_text(json.dumps(nb))
    result = build(book, tmp_path / "out")
    assert result.returncode == 0, result.stdout[-3000:]


@slow
def test_a_page_with_a_warning_fails_every_build(tmp_path):
    """Not only failed notebooks: a page that logged a warning (here a reference to no label) is read
    again at the next build, so -W fails again instead of taking the page from the cache."""
    book = tmp_path / "book"
    (book / "book").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", book / "_config.yml")
    (book / "_toc.yml").write_text("format: jb-book\nroot: book/page\n")
    (book / "node_modules").symlink_to(ROOT / "node_modules")
    (book / "book" / "references.bib").write_text((ROOT / "book" / "references.bib").read_text())
    (book / "book" / "page.md").write_text("# Page\n\nSee {ref}`no-such-label`.\n")
    for attempt in ("first", "second"):
        result = build(book, tmp_path / "out")
        assert result.returncode != 0, f"the {attempt} build passed"
        assert "no-such-label" in result.stdout + result.stderr, attempt


def test_bibliography_labels_are_the_author_year_citations():
    """The labels match what `{cite}` prints with bibtex_reference_style author_year; same label, a/b."""
    from pybtex.database import parse_string

    from signbook.sphinxext import author_year_style

    bib = parse_string(
        r"""
        @article{a, title={T}, author={Tao, Hongyi and Yu, Dingzhen and Zhang, Lijun}, year={2026}}
        @article{b, title={T}, author={Bernstein, Jeremy and Newhouse, Laker}, year={2024}}
        @book{c, title={T}, author={Higham, Nicholas J.}, year={2008}}
        @misc{d, title={Muon}, author={Jordan, Keller and others}, year={2024}}
        @misc{e, title={Speedrun}, author={Jordan, Keller and others}, year={2024}}
        @inproceedings{f, title={T}, author={{\c{S}}im{\c{s}}ekli, Umut and Sagun, Levent}, year={2019}}
        @article{g, title={T}, author={Le Roux, Nicolas and Balles, Lukas}, year={2020}}
        """,
        "bibtex",
    )
    style = author_year_style()()
    entries = style.sort(bib.entries.values())
    assert list(zip([e.key for e in entries], style.format_labels(entries))) == [
        ("b", "Bernstein and Newhouse, 2024"),
        ("c", "Higham, 2008"),
        ("d", "Jordan et al., 2024a"),
        ("e", "Jordan et al., 2024b"),
        ("g", "Le Roux and Balles, 2020"),
        ("f", "Şimşekli and Sagun, 2019"),  # under S: sorted by letters, not by raw LaTeX
        ("a", "Tao et al., 2026"),
    ]


def test_bibliography_titles_carry_no_tex_math():
    """The site cannot typeset math in a bibliography entry: `$\\ell_1$` showed as raw TeX."""
    bib = (ROOT / "book" / "references.bib").read_text()
    titles = re.findall(r"^\s*title\s*=\s*\{(.*)\},?\s*$", bib, re.M)
    assert titles and not [t for t in titles if "$" in t or "\\ell" in t]


#: What a chapter must not tell its reader: the story of how the page was made. Provenance lives in one
#: appendix (book/sources.md); a chapter cites and links it.
PROCESS_PHRASES = [
    re.compile(p, re.I)
    for p in (
        r"earlier version of (this|the) (chapter|page|sweep)",
        r"went wrong",
        r"could read (the|two|only)",
        r"\bwe read (the|its|only)\b",
        r"reported to (this book|the book|us)",
        r"no GPU was lent",
        r"while this chapter was written",
        r"\bcommit [0-9a-f]{7,40}\b",
        r"Static view of the default settings",
    )
]
PAGE_LIMIT = 4_000_000  # bytes of HTML per chapter page, its precomputed widgets included


def _reader_text(html: str) -> str:
    """A page's text as a reader sees it: no scripts, styles or tags."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@slow
@pytest.mark.parametrize("page", chapter_pages() + ["book/intro"])
def test_chapters_teach_without_narrating_their_own_making(site, page):
    html, _, _ = site
    text = _reader_text((html / f"{page}.html").read_text())
    found = [m.group(0) for p in PROCESS_PHRASES for m in p.finditer(text)]
    assert not found, f"{page}: {found} (the appendix of sources holds provenance)"


def test_process_phrases_are_found_where_they_are():
    """The check above can fail: a sentence the appendix of sources may hold is caught in a page."""
    text = _reader_text(
        "<p>Of it we <em>could read the abstract only</em>; see commit 0a96314.</p>"
    )
    assert len([p for p in PROCESS_PHRASES if p.search(text)]) == 2


@slow
@pytest.mark.parametrize("page", chapter_pages())
def test_each_chapter_page_stays_under_four_megabytes(site, page):
    html, _, _ = site
    size = (html / f"{page}.html").stat().st_size
    assert size < PAGE_LIMIT, (
        f"{page}.html is {size / 1e6:.1f} MB (precomputed widget grids too large?)"
    )
