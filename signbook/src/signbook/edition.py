"""The book's notebooks for readers outside the website: the Colab edition and the student release.

One generator, three outputs (``python -m signbook.edition --help``):

=================  ====================  ===================================================
edition            Markdown              solutions
=================  ====================  ===================================================
``colab``          plain Jupyter         collapsed in ``<details>`` (text and code, not run)
``student``        plain Jupyter         removed, with every cell between ``solution-start``
                                         and ``solution-end``
``student-site``   MyST (for the site)   removed; the source of the student website
=================  ====================  ===================================================

Every notebook edition starts with the install cell (:func:`install_source`): in Colab it installs
signlab and signbook from the repository at the commit the edition was built from. A chapter that reads
committed data (``book/data/...``) gets a second, folded cell that fetches those files from the
repository when they are absent (both: :meth:`Book.setup_cells`). Directives, citations and
cross-references are rewritten by :mod:`signbook.myst`. The book's own setup cell (tag
``colab-setup``) is dropped; cells tagged ``hide-input``/``remove-input``/``remove-cell`` are kept
(they may define what later cells use) but folded (Colab's form view, Jupyter's ``source_hidden``).

The student website is the book's own Markdown pages and the ``student-site`` notebooks: its pages
say what is true of that edition where the book marks text for it (:data:`STUDENT_MARKERS`), and it
can take the outputs of an executed build of the book (``--executed``, :func:`copy_outputs`) instead
of executing every chapter a second time.

The exercise convention (CONTRIBUTING.md): an ``{exercise}`` block, then one code cell tagged
``exercise-answer`` (``answer = ...`` and ``check(label, answer)``), then the solution between
``{solution-start}`` and ``{solution-end}``. The student release requires it: an exercise without an
answer cell, or an answer cell that already holds an answer, is an error that names the chapter.
"""

from __future__ import annotations

import argparse
import itertools
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from signbook.myst import (
    Bibliography,
    Converter,
    Directive,
    MystError,
    index_document,
    split_blocks,
)
from signbook.project import Chapter, Project

SETUP_TAG = "signbook-setup"
BOOK_SETUP_TAG = "colab-setup"
INSTRUCTOR_PAGE = "book/instructors"
"""The instructor page's docname: the student website leaves it out."""
ANSWER_TAG = "exercise-answer"
FOLD_TAGS = ("hide-input", "remove-input", "remove-cell")
MARKDOWN = ("plain", "myst")
SOLUTIONS = ("collapse", "remove")
_DATA = re.compile(r"""["'](?P<path>data/[\w./-]+?)/?["']""")
_PLACEHOLDER = re.compile(r"=\s*\.\.\.(\s|#|$)", re.M)


@dataclass(frozen=True)
class Edition:
    """How one edition writes a chapter (the table above): its ``name`` (in the notebook's metadata),
    its ``markdown`` (``"plain"`` Jupyter Markdown, or ``"myst"`` kept for a Jupyter Book site) and
    what it does with the ``solutions`` (``"collapse"`` into ``<details>``, or ``"remove"``)."""

    name: str
    markdown: str
    solutions: str

    def __post_init__(self) -> None:
        for field_name, allowed in (("markdown", MARKDOWN), ("solutions", SOLUTIONS)):
            value = getattr(self, field_name)
            if value not in allowed:
                raise ValueError(
                    f"{field_name} must be one of {', '.join(map(repr, allowed))} (got {value!r})"
                )


EDITIONS = {
    "colab": Edition("colab", "plain", "collapse"),
    "student": Edition("student", "plain", "remove"),
    "student-site": Edition("student-site", "myst", "remove"),
}


class EditionError(ValueError):
    """The source cannot be turned into an edition; the message names the chapter and the cell."""


@dataclass(frozen=True)
class Markdown:
    """Markdown of the chapter's cell number ``index``: a whole cell, or the part of it before,
    between or after ``solution-start``/``solution-end`` fences."""

    text: str
    index: int


@dataclass(frozen=True)
class Cell:
    """The chapter's code (or raw) cell number ``index``, as the notebook holds it."""

    cell: nbformat.NotebookNode
    index: int


@dataclass
class Solution:
    """The cells between ``{solution-start} label`` and ``{solution-end}``: what the Colab edition
    folds away and the student release removes, in reading order."""

    label: str
    parts: list[Markdown | Cell] = field(default_factory=list)


Segment = Markdown | Cell | Solution
"""One item of a chapter read as the editions read it (:func:`segments`)."""


@dataclass
class Exercise:
    """One exercise as the chapter states it (nothing of its solution)."""

    chapter: str
    label: str
    number: str
    title: str
    question: str
    answer_cell: str | None


def segments(nb: nbformat.NotebookNode, where: str) -> list[Segment]:
    """The notebook as a flat list of :class:`Markdown`, :class:`Cell` and :class:`Solution`.

    Markdown cells are split at ``solution-start``/``solution-end`` fences, since a solution may
    begin in the exercise's cell and end in the next exercise's cell.
    """
    out: list[Segment] = []
    open_solution: Solution | None = None
    for k, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            for piece in _pieces(cell.source, f"{where}, cell {k}"):
                if isinstance(piece, Directive) and piece.name == "solution-start":
                    if open_solution is not None:
                        raise EditionError(f"{where}, cell {k}: solution-start inside a solution")
                    open_solution = Solution(piece.argument)
                elif isinstance(piece, Directive) and piece.name == "solution-end":
                    if open_solution is None:
                        raise EditionError(
                            f"{where}, cell {k}: solution-end without solution-start"
                        )
                    out.append(open_solution)
                    open_solution = None
                else:
                    raw = piece.raw if isinstance(piece, Directive) else piece
                    (open_solution.parts if open_solution else out).append(Markdown(raw, k))
        else:
            (open_solution.parts if open_solution else out).append(Cell(cell, k))
    if open_solution is not None:
        raise EditionError(f"{where}: solution of {open_solution.label} has no solution-end")
    return out


class Book:
    """The book at ``root`` (a checkout), ready to write editions of its chapters.

    ``ref`` is the branch or commit the setup cells install from and fetch data from (default: the
    checkout's commit, else ``repository.branch``).
    """

    def __init__(self, root: Path, ref: str | None = None):
        self.root = Path(root).resolve()
        self.project = Project(self.root)
        self.ref = ref or _git_commit(self.root) or self.project.branch
        self.pages = self.project.chapters()
        bib = self.root / "book" / "references.bib"
        self.bibliography = Bibliography(bib) if bib.exists() else None
        self._notebooks = {
            page.docname: nbformat.read(page.path, as_version=4)
            for page in self.pages
            if page.path.suffix == ".ipynb"
        }  # each chapter read once: every edition and every question below is answered from here
        self._segments: dict[str, list[Segment]] = {}
        self.labels = {}
        for page in self.pages:
            texts = self._markdown_texts(page)
            try:
                self.labels.update(index_document(page.docname, page.number, texts))
            except MystError as err:
                raise EditionError(str(err)) from None

    def _markdown_texts(self, page: Chapter) -> list[str]:
        """The page's Markdown in reading order: a notebook's Markdown cells, or the page."""
        if page.docname in self._notebooks:
            cells = self._notebooks[page.docname].cells
            return [c.source for c in cells if c.cell_type == "markdown"]
        return [page.path.read_text()]

    def _where(self, chapter: Chapter) -> str:
        return str(chapter.path.relative_to(self.root))

    def _segments_of(self, chapter: Chapter) -> list[Segment]:
        """The notebook ``chapter`` as :func:`segments` reads it (once per book)."""
        if chapter.docname not in self._segments:
            nb = self._notebooks[chapter.docname]
            self._segments[chapter.docname] = segments(nb, self._where(chapter))
        return self._segments[chapter.docname]

    # ---- one chapter ---------------------------------------------------------------------------
    def converter(self, chapter: Chapter) -> Converter:
        """A :class:`~signbook.myst.Converter` for ``chapter``: the book's labels, website URLs, raw
        URLs of committed files at :attr:`ref`, and the bibliography."""
        return Converter(
            docname=chapter.docname,
            chapter=chapter.number,
            labels=self.labels,
            page_url=self.project.page_url,
            raw_url=lambda path: self.project.raw_url(self.ref) + path,
            bibliography=self.bibliography,
        )

    def notebook(self, chapter: Chapter, edition: Edition) -> nbformat.NotebookNode:
        """``chapter`` as ``edition``: a new notebook, no outputs, nothing but tags in cell metadata."""
        return _numbered(self._edition(chapter, edition), edition)

    def _edition(self, chapter: Chapter, edition: Edition) -> nbformat.NotebookNode:
        """:meth:`notebook` before its cells are numbered: each cell copied from the chapter still
        has the chapter cell's id (which :func:`copy_outputs` pairs cells by)."""
        conv = self.converter(chapter)
        exercises = self.exercises(chapter)
        if edition.solutions == "remove":
            self._require_convention(self._where(chapter), exercises)
        cells = self._body(self._segments_of(chapter), conv, edition)
        if edition.markdown == "plain":
            self._mark_title(cells, chapter, edition)
            references = conv.references()
            if references:
                cells.append(nbformat.v4.new_markdown_cell(references))
            cells[:0] = self.setup_cells(chapter)
        elif chapter.path.suffix == ".ipynb":
            cells[:0] = self.setup_cells(chapter, book_form=True)
        nb = nbformat.v4.new_notebook()
        nb.cells = cells
        nb.metadata = {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
            "colab": {"provenance": [], "toc_visible": True},
            "signbook": {
                "edition": edition.name,
                "chapter": chapter.name,
                "exercises": [e.label for e in exercises],
                "source": f"{self.project.repository_url}@{self.ref}",
            },
        }
        return nb

    def _body(self, items: list[Segment], conv: Converter, edition: Edition) -> list:
        """The chapter's cells in the edition: Markdown pieces regrouped into their cells (and made
        plain), solutions collapsed or dropped, code cells copied without the book's setup cell."""
        cells: list[nbformat.NotebookNode] = []
        pending: list[Markdown] = []  # not yet written
        for item in items:
            if isinstance(item, Markdown):
                pending.append(item)
                continue
            cells += _markdown_cells(pending, conv, edition)
            pending = []
            if isinstance(item, Solution):
                if edition.solutions == "collapse":
                    cells.append(self._collapsed(item, conv))
            elif (copy := _copy_cell(item.cell, edition)) is not None:
                cells.append(copy)
        return cells + _markdown_cells(pending, conv, edition)

    def _collapsed(self, solution: Solution, conv: Converter):
        """A solution as one collapsed Markdown cell: its text, and its code shown (never run)."""
        body = []
        for part in solution.parts:
            if isinstance(part, Markdown):
                body.append(_plain(conv, part.text))
            elif part.cell.cell_type == "code":
                body.append(f"```python\n{part.cell.source.strip()}\n```")
        text = "\n\n".join(b for b in body if b.strip())
        title = conv.solution_title(solution.label)
        return nbformat.v4.new_markdown_cell(conv.details(title, text))

    def _mark_title(self, cells, chapter: Chapter, edition: Edition) -> None:
        url = self.project.page_url(chapter.docname)
        what = "student release" if edition.name == "student" else "Colab edition"
        number = f"chapter {chapter.number} of " if chapter.number else ""
        note = (
            f"*The {what} of {number}[the signlab book]({self.project.site_url}) "
            f"([this chapter on the website]({url})). Run the first cell to install signlab.*"
        )
        for cell in cells:
            if cell.cell_type == "markdown" and cell.source.lstrip().startswith("# "):
                head, _, rest = cell.source.lstrip().partition("\n")
                cell.source = f"{head}\n\n{note}\n{rest}".rstrip("\n")
                return
        cells.insert(0, nbformat.v4.new_markdown_cell(note))

    def _require_convention(self, where: str, exercises: list[Exercise]) -> None:
        for ex in exercises:
            if ex.answer_cell is None:
                raise EditionError(
                    f"{where}: exercise {ex.label} has no answer cell (a code cell tagged "
                    f"{ANSWER_TAG!r} right after the exercise, see CONTRIBUTING.md); the student "
                    "release needs one per exercise"
                )
            if not _PLACEHOLDER.search(ex.answer_cell):
                raise EditionError(
                    f"{where}: the answer cell of {ex.label} must assign the placeholder `...`, "
                    "not an answer (it ships to students)"
                )

    # ---- exercises -------------------------------------------------------------------------------
    def exercises(self, chapter: Chapter) -> list[Exercise]:
        """The chapter's exercises in order, with their question text and answer cell (no solutions)."""
        if chapter.path.suffix != ".ipynb":
            return []
        where = self._where(chapter)
        found: list[Exercise] = []
        last: Exercise | None = None
        for item in self._segments_of(chapter):
            if isinstance(item, Solution):
                last = None
            elif isinstance(item, Markdown):
                for piece in _pieces(item.text, f"{where}, cell {item.index}"):
                    if isinstance(piece, Directive) and piece.name == "exercise":
                        label = piece.option("label")
                        target = self.labels.get(label)
                        number = target.number if target else ""
                        last = Exercise(
                            chapter.name, label, number, piece.argument, piece.body, None
                        )
                        found.append(last)
                    elif isinstance(piece, str) and piece.strip():
                        last = None
            else:
                tags = item.cell.get("metadata", {}).get("tags", [])
                if last is not None and item.cell.cell_type == "code" and ANSWER_TAG in tags:
                    last.answer_cell = item.cell.source
                last = None
        return found

    # ---- the whole book --------------------------------------------------------------------------
    def data_files(self, chapter: Chapter) -> list[str]:
        """Committed files the chapter's code reads (string literals ``"data/..."``), relative to it."""
        base = chapter.path.parent
        files: set[str] = set()
        for cell in self._notebooks[chapter.docname].cells:
            if cell.cell_type != "code":
                continue
            for m in _DATA.finditer(cell.source):
                path = base / m["path"]
                if path.is_file():
                    files.add(m["path"])
                elif path.is_dir():
                    files |= {
                        str(p.relative_to(base)) for p in sorted(path.rglob("*")) if p.is_file()
                    }
        return sorted(files)

    def setup_cells(self, chapter: Chapter, book_form: bool = False) -> list:
        """The install cell, and (for a chapter that reads committed data) a folded data cell."""
        extra = ["remove-cell"] if book_form else []
        install = nbformat.v4.new_code_cell(install_source(self.project.repository_url, self.ref))
        install.metadata["tags"] = [SETUP_TAG, *extra]
        cells = [install]
        data = self.data_files(chapter) if chapter.path.suffix == ".ipynb" else []
        if data:
            raw = self.project.raw_url(self.ref) + str(Path(chapter.docname).parent) + "/"
            fetch = nbformat.v4.new_code_cell(_data_source(data, raw))
            fetch.metadata["tags"] = [SETUP_TAG, *extra]
            fetch.metadata["cellView"] = "form"
            fetch.metadata["jupyter"] = {"source_hidden": True}
            cells.append(fetch)
        return cells

    def write(self, edition: Edition, out: Path) -> list[Path]:
        """Write every notebook chapter as ``edition`` under ``out``, at its path in the repository."""
        written = []
        for chapter in self.project.notebooks():
            nb = self.notebook(chapter, edition)
            path = Path(out) / chapter.path.relative_to(self.root)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(nbformat.writes(nb, version=4) + "\n")
            written.append(path)
        return written

    def write_student_site_source(self, out: Path, executed: Path | None = None) -> Path:
        """A Jupyter Book source tree for the student website: the book without solutions.

        The instructor page (``book/instructors``) is left out, launch buttons are switched off
        (students get their notebooks from the instructor), and the Markdown pages say what is
        true of this edition (:func:`student_site_text`).

        ``executed``: a folder of the book's executed notebooks at their paths (a build's
        ``_build/jupyter_execute``). Each code cell then gets the outputs of the executed cell with
        the same cell id (:func:`copy_outputs`) and the site builds with execution off, so it is not
        run a second time; without it the student site executes its notebooks when it is built.
        """
        out = Path(out)
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        self._write_student_site_config(out, execute=executed is None)
        for page in self.pages:
            if page.docname != INSTRUCTOR_PAGE:
                self._write_student_site_page(page, out, executed)
        book = self.root / "book"
        for extra in [book / "references.bib", book / "data"]:
            if extra.is_dir():
                shutil.copytree(extra, out / extra.relative_to(self.root))
            elif extra.exists():
                shutil.copy2(extra, out / extra.relative_to(self.root))
        modules = self.root / "node_modules"
        if modules.exists():
            (out / "node_modules").symlink_to(modules)
        return out

    def _write_student_site_config(self, out: Path, *, execute: bool) -> None:
        """The student site's ``_toc.yml`` (no instructor page) and ``_config.yml`` (its title, no
        launch buttons, execution off when the outputs come from an executed build)."""
        import yaml

        toc = yaml.safe_load((self.root / "_toc.yml").read_text())
        toc["chapters"] = [c for c in toc["chapters"] if c["file"] != INSTRUCTOR_PAGE]
        (out / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
        config = yaml.safe_load((self.root / "_config.yml").read_text())
        config["title"] = f"{config.get('title', '')} (student edition)"
        config.pop("launch_buttons", None)
        if not execute:
            config.setdefault("execute", {})["execute_notebooks"] = "off"
        (out / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))

    def _write_student_site_page(self, page, out: Path, executed: Path | None) -> None:
        """One page of the student site: a notebook without solutions (with the executed build's
        outputs when ``executed`` is given), or a Markdown page in its student text."""
        dest = out / page.path.relative_to(self.root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        where = self._where(page)
        if page.path.suffix == ".ipynb":
            edition = EDITIONS["student-site"]
            nb = self._edition(page, edition)
            if executed is not None:
                ran = Path(executed) / Path(page.docname).with_suffix(".ipynb")
                if not ran.exists():
                    raise EditionError(f"{where}: no executed notebook at {ran}")
                copy_outputs(nb, nbformat.read(ran, as_version=4), where)
            dest.write_text(nbformat.writes(_numbered(nb, edition), version=4) + "\n")
            return
        text = student_site_text(page.path.read_text(), where)
        if executed is not None and "{code-cell}" in text:
            raise EditionError(
                f"{where}: a MyST notebook cannot take executed outputs; build the "
                "student site without `executed`"
            )
        dest.write_text(text)


STUDENT_MARKERS = ("% student-site: replace", "% student-site: with", "% student-site: end")
"""The comment lines that mark, in a Markdown page, text the student website says differently.

MyST does not render ``%`` comment lines, so the book shows the text between the first two markers
and the student website (:func:`student_site_text`) shows the commented lines between the last two,
uncommented, in its place::

    % student-site: replace
    - **Teach with it**: ... the page for instructors ...
    % student-site: with
    % - **Exercises**: ... this edition has no solutions ...
    % student-site: end
"""


def student_site_text(text: str, where: str = "page") -> str:
    """``text`` as the student website shows it: each :data:`STUDENT_MARKERS` region replaced by
    its commented student text. A marker out of order is an :class:`EditionError` naming ``where``."""
    start, middle, end = STUDENT_MARKERS
    out: list[str] = []
    state = "book"
    for n, line in enumerate(text.splitlines(keepends=True), start=1):
        marker = line.strip()
        expected = {"book": start, "replace": middle, "with": end}[state]
        if marker in STUDENT_MARKERS:
            if marker != expected:
                raise EditionError(f"{where}, line {n}: {marker!r} where {expected!r} belongs")
            state = {"book": "replace", "replace": "with", "with": "book"}[state]
        elif state == "book":
            out.append(line)
        elif state == "with":
            if not (line.startswith("%") or not line.strip()):
                raise EditionError(
                    f"{where}, line {n}: the student text after {middle!r} must be "
                    "commented with '% ' (the book would show it)"
                )
            out.append(line[2:] if line.startswith("% ") else line.lstrip("%"))
    if state != "book":
        raise EditionError(f"{where}: {start!r} without {end!r}")
    return "".join(out)


def copy_outputs(nb: nbformat.NotebookNode, executed: nbformat.NotebookNode, where: str) -> None:
    """Give ``nb``'s code cells the outputs of the cells of ``executed`` with the same cell id.

    ``nb`` is the book's notebook without its solution cells, its cells still carrying the ids of
    the book's cells they copy (nbformat 4.5 cell ids; ``tools/notebooks.py sync`` writes them), and
    ``executed`` is the book's notebook as the build executed it (same cells, same ids, outputs). So
    every code cell but the setup cells has a twin there, with the same source; a cell without one
    means the executed book is out of date, an :class:`EditionError` (the page would silently lose
    its output). The executed notebook's widget state comes along, for the widget views in the
    outputs.
    """
    ran = {c.get("id"): c for c in executed.cells if c.cell_type == "code" and c.get("id")}
    for cell in nb.cells:
        if cell.cell_type != "code" or SETUP_TAG in cell.metadata.get("tags", []):
            continue
        twin = ran.get(cell.get("id"))
        if twin is None or twin.source != cell.source:
            first = cell.source.strip().splitlines()[0] if cell.source.strip() else "(empty)"
            raise EditionError(
                f"{where}: the executed notebook has no cell {first!r} with this cell's id "
                f"({cell.get('id')!r}) and source: execute the book again"
            )
        cell.outputs = twin.get("outputs", [])
        cell.execution_count = twin.get("execution_count")
    if "widgets" in executed.metadata:
        nb.metadata["widgets"] = executed.metadata["widgets"]


INSTALL_SOURCE = """\
# Setup: run this cell first. In Colab it installs signlab and the book's
# exercise checks (signbook) from the repository; elsewhere it does nothing
# unless SIGNLAB_INSTALL=1. pip keeps every package already installed:
# Colab's torch, numpy and ipywidgets stay as they are. SIGNLAB_SOURCE (a
# local checkout) replaces the repository, for tests.
import os
import subprocess
import sys

SIGNLAB_REPO = "{repository}"
SIGNLAB_REF = "{ref}"
IN_COLAB = "google.colab" in sys.modules
if IN_COLAB or os.environ.get("SIGNLAB_INSTALL") == "1":
    source = os.environ.get(
        "SIGNLAB_SOURCE", f"git+{{SIGNLAB_REPO}}@{{SIGNLAB_REF}}"
    )
    if source.startswith("git+"):
        book = f"{{source}}#subdirectory=signbook"
    else:  # a local checkout
        source = "file://" + os.path.abspath(source)
        book = source + "/signbook"
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run(
        [*pip, f"signlab @ {{source}}", f"signbook @ {{book}}"], check=True
    )"""
"""The install cell, laid out as ``ruff format`` lays out chapter code (76 columns), so the committed
notebooks that carry it stay formatted."""

DATA_SOURCE = """\
# @title Fetch the committed data this chapter plots (in Colab, when it is not already here)
import os
import sys
import urllib.request

SIGNLAB_DATA = [
{files}
]
if "google.colab" in sys.modules or os.environ.get("SIGNLAB_INSTALL") == "1":
    base = os.environ.get("SIGNLAB_DATA_URL", "{raw_base}")
    for path in SIGNLAB_DATA:
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            urllib.request.urlretrieve(base + path, path)"""


def install_source(repository: str, ref: str) -> str:
    """The first cell of every edition notebook: installs signlab and signbook in Colab."""
    return INSTALL_SOURCE.format(repository=repository, ref=ref)


def _data_source(files: list[str], raw_base: str) -> str:
    """A cell that downloads ``files`` (relative to the chapter) from ``raw_base`` when absent."""
    listing = "\n".join(f'    "{path}",' for path in files)
    return DATA_SOURCE.format(files=listing, raw_base=raw_base)


def _pieces(text: str, where: str) -> list[str | Directive]:
    """:func:`~signbook.myst.split_blocks`, its errors (options that are not YAML) naming ``where``."""
    try:
        return split_blocks(text)
    except MystError as err:
        raise EditionError(f"{where}: {err}") from None


def _numbered(nb: nbformat.NotebookNode, edition: Edition) -> nbformat.NotebookNode:
    """``nb`` with its cells' ids ``<edition>-<position>``: the same for every build of a chapter."""
    for k, cell in enumerate(nb.cells):
        cell["id"] = f"{edition.name}-{k}"
    return nb


def _plain(conv: Converter, text: str) -> str:
    """``text`` as plain Jupyter Markdown; a construct without a plain form is an EditionError."""
    try:
        return conv.convert(text).strip("\n")
    except MystError as err:
        raise EditionError(str(err)) from None


def _markdown_cells(pieces: list[Markdown], conv: Converter, edition: Edition) -> list:
    """One Markdown cell per source cell among ``pieces`` (in order)."""
    cells = []
    for _, group in itertools.groupby(pieces, key=lambda piece: piece.index):
        text = "\n".join(piece.text for piece in group).strip("\n")
        if edition.markdown == "plain":
            text = _plain(conv, text)
        if text.strip():
            cells.append(nbformat.v4.new_markdown_cell(text))
    return cells


def _copy_cell(cell: nbformat.NotebookNode, edition: Edition) -> nbformat.NotebookNode | None:
    """A new cell with ``cell``'s source, tags and id (None for the book's own setup cell).

    In a plain edition a cell the website folds (:data:`FOLD_TAGS`) is folded: Colab's form view,
    Jupyter's ``source_hidden``.
    """
    tags = list(cell.get("metadata", {}).get("tags", []))
    if BOOK_SETUP_TAG in tags:
        return None
    if cell.cell_type == "code":
        new = nbformat.v4.new_code_cell(cell.source)
        if edition.markdown == "plain" and any(t in tags for t in FOLD_TAGS):
            new.source = "# @title Layout code (double-click to show)\n" + new.source
            new.metadata["cellView"] = "form"
            new.metadata["jupyter"] = {"source_hidden": True}
    else:
        new = nbformat.v4.new_raw_cell(cell.source)
    if tags:
        new.metadata["tags"] = tags
    if cell.get("id"):
        new["id"] = cell["id"]
    return new


def _git_commit(root: Path) -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def main(argv: list[str] | None = None) -> int:
    """``python -m signbook.edition EDITION --out DIR``: write an edition (or ``set-repository``).

    The Makefile (``make colab``, ``make student``) and the publishing and weekly workflows run it;
    it returns 1, with the chapter and the cell named on stderr, when a chapter cannot be converted.
    """
    parser = argparse.ArgumentParser(
        prog="python -m signbook.edition", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("edition", choices=[*EDITIONS, "set-repository"])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the book's checkout")
    parser.add_argument("--out", type=Path, help="output folder")
    parser.add_argument("--ref", help="branch or commit the setup cells install from")
    parser.add_argument(
        "--executed",
        type=Path,
        help="student-site: the book's executed notebooks (a build's _build/jupyter_execute), "
        "whose outputs the site reuses instead of executing again",
    )
    parser.add_argument("--url", help="set-repository: https://github.com/OWNER/NAME")
    parser.add_argument("--branch", help="set-repository: repository.branch (launch buttons)")
    args = parser.parse_args(argv)
    if args.edition == "set-repository":
        from signbook.project import set_repository

        if not args.url:
            parser.error("set-repository needs --url")
        set_repository(args.root / "_config.yml", args.url, args.branch)
        return 0
    if args.out is None:
        parser.error("--out is required")
    book = Book(args.root, args.ref)
    try:
        if args.edition == "student-site":
            print(book.write_student_site_source(args.out, args.executed))
        else:
            for path in book.write(EDITIONS[args.edition], args.out):
                print(path)
            if args.edition == "student":  # the grader's list of exercises, for the instructor
                from signbook.grading.assignment import write_manifest

                print(write_manifest(book, args.out))
    except EditionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
