"""The one fresh build of the whole book that the book tests share (a pytest plugin).

``tests/test_book.py``, ``tests/test_browser.py`` and ``tests/test_editions.py`` say
``pytest_plugins = ["browser_site"]`` (and never import this module themselves), so the session-scoped
``site`` fixture builds the book once per test session (about 5 minutes on 2 cores), whichever module
runs first. ``student_site`` builds the student website from it: the chapters' outputs are taken from
that build's executed notebooks, so the student site costs a Sphinx build (seconds), not a second
execution of every chapter.
"""

import time

import pytest
from browser_build import ROOT, build


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The book built from scratch (``--all``): (html folder, output folder, build result)."""
    out = tmp_path_factory.mktemp("site")
    result = build(ROOT, out, "--all")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return out / "_build" / "html", out, result


@pytest.fixture(scope="session")
def student_site(site, tmp_path_factory):
    """The student website (``make student``'s), built with ``-W`` from the book's executed notebooks:
    (html folder, source folder, seconds the generation and the build took)."""
    from signbook.edition import Book

    _, out, _ = site
    tmp = tmp_path_factory.mktemp("student")
    start = time.perf_counter()
    source = Book(ROOT, ref="main").write_student_site_source(
        tmp / "source", executed=out / "_build" / "jupyter_execute"
    )
    result = build(source, tmp / "out")
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    print(f"student site generated and built in {seconds:.1f} s")
    return tmp / "out" / "_build" / "html", source, seconds
