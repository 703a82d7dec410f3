"""The one fresh build of the whole book that the book tests share (a pytest plugin).

``tests/test_book.py`` and ``tests/test_browser.py`` both say ``pytest_plugins = ["browser_site"]`` (and
never import this module themselves), so the session-scoped ``site`` fixture builds the book once per
test session (about 5 minutes on 2 cores), whichever of the two modules runs first.
"""

import pytest
from browser_build import ROOT, build


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The book built from scratch (``--all``): (html folder, output folder, build result)."""
    out = tmp_path_factory.mktemp("site")
    result = build(ROOT, out, "--all")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return out / "_build" / "html", out, result
