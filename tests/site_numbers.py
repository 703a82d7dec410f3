"""The numbers a built website shows, read off its HTML, against the Colab edition's (a test helper).

Sphinx writes a numbered block's number in a ``<span class="caption-number">`` ("Theorem 2.1 ") inside
the element that carries the block's label as its ``id`` (a sphinx-proof or sphinx-exercise
admonition, a figure), and an equation's number in ``<span class="eqno">`` with a permalink to
``#equation-<label>``. :func:`mismatches` compares them with the book's index
(:attr:`signbook.edition.Book.labels`) label by label (and each equation the site numbers with the
index), and the numbered titles of each chapter's Colab edition with the page's numbered blocks, in
reading order, labelled or not. It is used on a small book built in
tests/test_myst.py and on the real book's build in tests/test_editions.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bs4 import BeautifulSoup

from signbook.edition import EDITIONS, Book
from signbook.myst import CAPTIONS

_TITLE = re.compile(
    r"^[ \t]*\*\*(?P<title>(?:" + "|".join(map(re.escape, CAPTIONS.values())) + r") [\d.]+)",
    re.M,
)


@dataclass(frozen=True)
class Page:
    """What one built page shows: ``numbers`` maps each element id to the number text it shows
    ("Theorem 2.1", "Fig. 2.1", "(2.1)"), ``blocks`` lists the numbered blocks' numbers in reading
    order (figures and equations left out), ``ids`` every id on the page."""

    numbers: dict[str, str]
    blocks: list[str]
    ids: set[str]


def read_page(path: Path) -> Page:
    """The numbers and ids of the built page at ``path``."""
    soup = BeautifulSoup(path.read_text(), "html.parser")
    numbers: dict[str, str] = {}
    blocks = []
    for span in soup.select("span.caption-number"):
        text = " ".join(span.get_text().split())
        owner = span.find_parent(id=True)
        numbers[owner["id"]] = text
        if owner.name != "figure" and re.search(r"\d", text):  # not a :nonumber: block's
            blocks.append(text)
    for eqno in soup.select("span.eqno"):
        link = eqno.find("a", class_="headerlink")
        numbers[link["href"].removeprefix("#")] = eqno.contents[0].strip()
    ids = {tag["id"] for tag in soup.find_all(id=True)}
    return Page(numbers, blocks, ids)


def colab_titles(book: Book, chapter) -> list[str]:
    """The numbered titles of ``chapter``'s Colab edition in reading order ("Theorem 2.1")."""
    nb = book.notebook(chapter, EDITIONS["colab"])
    text = "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return [m["title"] for m in _TITLE.finditer(text)]


def mismatches(book: Book, html: Path) -> list[str]:
    """Every place where the editions' numbers or anchors differ from the site built at ``html``."""
    faults = []
    pages = {page.docname: read_page(html / f"{page.docname}.html") for page in book.pages}
    for label, target in book.labels.items():
        if label.startswith("doc:"):
            continue
        page = pages[target.docname]
        if target.anchor not in page.ids:
            faults.append(f"{label}: no id {target.anchor!r} on {target.docname}.html")
        shown = page.numbers.get(target.anchor)
        if (target.number or target.text.startswith("(")) and shown != target.text:
            faults.append(f"{label}: the editions say {target.text!r}, the site {shown!r}")
    for docname, page in pages.items():  # every equation is labelled (blocks: in order, below)
        indexed = {t.anchor for t in book.labels.values() if t.docname == docname}
        for anchor in page.numbers:
            if anchor.startswith("equation-") and anchor not in indexed:
                faults.append(f"{docname}.html numbers {anchor!r}, which the index does not know")
    for chapter in book.project.notebooks():
        ours, theirs = colab_titles(book, chapter), pages[chapter.docname].blocks
        if ours != theirs:
            faults.append(f"{chapter.docname}: Colab numbers {ours}, the site {theirs}")
    return faults
