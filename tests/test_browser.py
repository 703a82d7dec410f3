"""Every page of the built book, read in headless Chromium offline at 1280 px and 390 px wide.

The checker (``tests/browser_check.py``) reports console errors, failed or blocked requests, content
wider than the article column (desktop) or the viewport (phone), content cut off by its box, raw TeX or
MyST text, table rows that lost cells and norms typeset as |x|. It is tested on a mini book
(``tests/fixtures/faulty_book``) with one seeded fault per kind, each of which it must name (page,
element, widths), and one clean page on which it must find nothing.

Chromium is Debian's ``chromium`` (``make browser``), driven by Playwright from PyPI through
``executable_path``; no browser is ever downloaded. Every request that is not a file is aborted.
Set ``SIGNBOOK_SHOTS=/some/folder`` to keep full-page screenshots of every page at both widths.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from browser_build import ROOT, book_like, build, toc_pages
from browser_check import (
    DESKTOP,
    PHONE,
    WIDTHS,
    check_page,
    chromium_path,
    launch,
    markdown_table_faults,
    source_table_faults,
)

pytest_plugins = ["browser_site"]  # the shared `site` (one full build per session), `student_site`

FIXTURE = Path(__file__).parent / "fixtures" / "faulty_book"
SHOTS = Path(os.environ["SIGNBOOK_SHOTS"]) if os.environ.get("SIGNBOOK_SHOTS") else None


@pytest.fixture(scope="module")
def browser():
    if chromium_path() is None or not _has_playwright():
        if os.environ.get("CI"):
            pytest.fail(
                "chromium and playwright are required in CI (`make browser`, the test extra)"
            )
        pytest.skip("chromium or playwright is not installed (`make browser`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def _has_playwright() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


def _faults(browser, html: Path, page: str, widths=WIDTHS, shots: Path | None = SHOTS):
    faults = []
    for width in widths:
        found, _ = check_page(browser, html / page, page, width, shots)
        faults += found
    return faults


# --- The real book ------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("page", toc_pages())
def test_page_reads_right_in_a_browser(site, browser, page):
    html, _, _ = site
    faults = _faults(browser, html, page)
    assert not faults, f"{len(faults)} faults on {page}:\n" + "\n".join(map(str, faults))


#: The student website's pages that differ from the book's beyond the removed solutions: the intro (its
#: text is rewritten for students) and a chapter with figures and widgets (its outputs are copied from
#: the book's build). The other chapters are the book's pages minus their solutions; reading all of them
#: again costs about 90 s, so the slow test of the editions checks their outputs instead.
STUDENT_PAGES = ["book/intro.html", "book/sparse_noise.html"]


@pytest.mark.slow
@pytest.mark.parametrize("page", STUDENT_PAGES)
def test_student_page_reads_right_in_a_browser(student_site, browser, page):
    html, _, _ = student_site
    faults = _faults(browser, html, page)
    assert not faults, f"{len(faults)} faults on the student {page}:\n" + "\n".join(
        map(str, faults)
    )


BOOK_SOURCES = sorted((ROOT / "book").glob("*.md")) + sorted((ROOT / "book").glob("*.ipynb"))


@pytest.mark.parametrize("path", BOOK_SOURCES, ids=lambda p: p.name)
def test_markdown_tables_keep_their_cells(path):
    """In the browser a row split by an unescaped | silently loses cells, so read the source too."""
    faults = source_table_faults([path], ROOT)
    assert not faults, "\n".join(faults)


# --- The checker finds each seeded fault -----------------------------------------------------------------


@pytest.fixture(scope="module")
def faulty_site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faulty")
    book = book_like(FIXTURE, tmp / "book")
    result = build(book, tmp / "out")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return tmp / "out" / "_build" / "html"


@pytest.fixture(scope="module")
def faulty_faults(faulty_site, browser):
    """Every fault of every page of the mini book, at both widths (one pass through the browser)."""
    return {page: _faults(browser, faulty_site, page, shots=None) for page in toc_pages(FIXTURE)}


@pytest.mark.slow
@pytest.mark.parametrize("page", ["book/clean.html", "book/clean_widget.html"])
def test_checker_passes_the_clean_pages(faulty_faults, page):
    faults = faulty_faults[page]
    assert not faults, "\n".join(map(str, faults))


#: (page, kind, width, words every message of that fault must contain: the element and its numbers)
SEEDED = [
    ("book/table_bar.html", "table-norm", DESKTOP, ["table 1", "'|x|_1'", "\\lVert"]),
    ("book/table_bar.html", "table-norm", PHONE, ["'|x|_1'"]),
    ("book/wide_equation.html", "column", DESKTOP, ["display math", "W_{t+1}", "column 688 px"]),
    ("book/fixed_figure.html", "column", DESKTOP, ["plotly figure", "fixed at 900 px", "900 px"]),
    ("book/fixed_figure.html", "figure-text", DESKTOP, ["'overlapping labels'", "overlap"]),
    ("book/fixed_figure.html", "figure-text", PHONE, ["raw TeX '‖_F'"]),
    ("book/duplicate_script.html", "console", DESKTOP, ["SEEDED_CONFIG", "already been declared"]),
    ("book/duplicate_script.html", "console", PHONE, ["SEEDED_CONFIG"]),
    ("book/missing_asset.html", "request", DESKTOP, ["missing file", "seeded-missing-figure.png"]),
    ("book/raw_directive.html", "raw-text", DESKTOP, ["{cite}arjevani2023lower"]),
    ("book/raw_directive.html", "raw-text", PHONE, ["{cite}"]),
    ("book/raw_tex.html", "raw-text", DESKTOP, ["TeX delimiter $", "-norm lower bounds"]),
    ("book/raw_tex.html", "raw-text", PHONE, ["TeX delimiter $", "-norm lower bounds"]),
    ("book/raw_tex.html", "raw-text", DESKTOP, ["TeX delimiter \\( or \\[", "seeded paragraph"]),
    (
        "book/broken_row.html",
        "table-cells",
        DESKTOP,
        ["row 2", "empty under 'method'", "ℓ∞ | sign descent"],
    ),
    ("book/wide_block.html", "page-width", PHONE, ["600 px", "390 px viewport"]),
    (
        "book/dead_control.html",
        "steer",
        DESKTOP,
        ["widget 1", "'seeded-unused'", "does not change"],
    ),
    ("book/dead_control.html", "steer", PHONE, ["'seeded-unused'"]),
    ("book/dead_control.html", "steer", DESKTOP, ["says 'Static view of the default settings'"]),
    (
        "book/visible_assert.html",
        "visible-assert",
        DESKTOP,
        ["assert total == 6  # seeded-visible"],
    ),
    ("book/visible_assert.html", "visible-assert", DESKTOP, ["assert total > 0  # seeded-folded"]),
    (
        "book/long_inline.html",
        "inline-scroll",
        PHONE,
        ["inline math", "scrolls sideways", "\\Omega"],
    ),
]


@pytest.mark.slow
def test_checker_counts_each_visible_assert_once_and_none_out_of_view(faulty_faults):
    found = [f for f in faulty_faults["book/visible_assert.html"] if f.kind == "visible-assert"]
    assert len(found) == 2 and not [f for f in found if "removed" in str(f)], found


@pytest.mark.slow
def test_checker_moves_every_control_of_a_widget(faulty_faults):
    """The dead control is named, the live one (k) is not: the check moves each control on its own."""
    steer = [f for f in faulty_faults["book/dead_control.html"] if f.kind == "steer"]
    assert steer and not [f for f in steer if "'k'" in str(f)]


@pytest.mark.slow
@pytest.mark.parametrize(("page", "kind", "width", "words"), SEEDED, ids=lambda x: str(x))
def test_checker_finds_the_seeded_fault(faulty_faults, page, kind, width, words):
    found = [f for f in faulty_faults[page] if f.kind == kind and f.width == width]
    everything = "\n".join(map(str, faulty_faults[page]))
    assert found, f"no {kind} fault at {width} px on {page}; found:\n{everything}"
    assert any(all(w in str(f) for w in words) and f.page == page for f in found), (
        f"the {kind} fault on {page} does not name {words}:\n{everything}"
    )


@pytest.mark.slow
def test_seeded_faults_stay_on_their_own_page(faulty_faults):
    """Each seeded page has only its own kind of fault (so a test above cannot pass by accident)."""
    own = {}
    for page, kind, _, _ in SEEDED:
        own.setdefault(page, set()).add(kind)
    for page, kinds in own.items():
        other = [f for f in faulty_faults[page] if f.kind not in kinds]
        assert not other, "\n".join(map(str, other))


@pytest.mark.slow
def test_fixed_width_figure_and_wide_equation_scroll_in_their_own_box_on_a_phone(faulty_faults):
    """At 390 px the over-wide equation and figure are no fault: they scroll inside their own box."""
    for page in ("book/wide_equation.html", "book/fixed_figure.html"):
        kinds = {f.kind for f in faulty_faults[page] if f.width == PHONE}
        assert kinds <= {"figure-text"}, (page, kinds)


# --- The source check of Markdown tables (fast) ----------------------------------------------------------


def test_source_check_finds_a_split_row_and_a_bar_norm():
    text = (
        "| norm | step | method |\n"
        "|---|---|---|\n"
        "| ℓ2 | $-g/\\lambda$ | gradient descent |\n"
        "| ℓ1 | $\\operatorname{sign}(g_j)e_j$, $j=\\arg\\max_i |g_i|$ | $-g_j/\\lambda$ | greedy |\n"
        "| ℓ∞ | $\\|g\\|_1$ | sign descent |\n"
    )
    faults = markdown_table_faults(text, "page.md")
    assert len(faults) == 2, faults
    assert faults[0].startswith("page.md line 4: a table row with 6 cells under a header of 3")
    assert faults[1].startswith("page.md line 5: '\\|' in a table row becomes '|'")


def test_source_check_ignores_code_fences_and_escaped_bars_outside_tables():
    text = "```\n| a | b |\n|---|---|\n| 1 | 2 | 3 |\n```\n\n$\\|x\\|_2$ is a norm.\n"
    assert markdown_table_faults(text, "page.md") == []


def test_source_check_on_the_fixture_names_file_and_line():
    faults = source_table_faults([FIXTURE / "book" / "table_bar.md"], FIXTURE)
    assert faults == [
        "book/table_bar.md line 5: '\\|' in a table row becomes '|' (write \\lVert x \\rVert): "
        "| $\\|x\\|_1$ | the ℓ1 norm |"
    ]
    faults = source_table_faults([FIXTURE / "book" / "broken_row.md"], FIXTURE)
    assert len(faults) == 1 and "line 6: a table row with 2 cells under a header of 3" in faults[0]
