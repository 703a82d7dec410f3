"""The Colab edition and the student release (signbook.edition, signbook.myst, signbook.project).

Fast tests run the generator on a small book written here (every construct the chapters use, with the
expected plain Markdown written out by hand) and on the real chapters. The slow tests open every
Colab-edition notebook in headless Chromium, and execute every one in a fresh venv set up like Colab
(tests/test_colab.py); the slow test here builds the student website from the book's executed build.
"""

import json
import re
import textwrap
from pathlib import Path

import nbformat
import pytest

from signbook.edition import EDITIONS, Book, Edition, EditionError, Markdown, Solution, segments
from signbook.myst import (
    Bibliography,
    Converter,
    Directive,
    MystError,
    Target,
    author_names,
    index_document,
    split_blocks,
)
from signbook.project import Chapter, Project, set_repository

pytest_plugins = ["browser_site"]  # `site` and `student_site`: the shared builds (slow tests)

ROOT = Path(__file__).resolve().parents[1]
RAW_DIRECTIVE = (
    "{prf:",
    "{exercise}",
    "{cite}",
    "{cite:",
    "solution-start",
    "solution-end",
    ":label:",
)


def md(text):
    return nbformat.v4.new_markdown_cell(textwrap.dedent(text).strip("\n"))


def code(text, tags=()):
    cell = nbformat.v4.new_code_cell(textwrap.dedent(text).strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


CONFIG = """\
title: "A small book"
# the one place for the address
repository:
  url: https://github.com/someone/smallbook
  path_to_book: ""
  branch: main
launch_buttons:
  colab_url: https://colab.research.google.com
"""
BIB = """\
@article{tao2026signsgd, title={When and Why {SignSGD} Outperforms {SGD}}, author={Tao, Hongyi and Yu, Dingzhen and Zhang, Lijun}, journal={arXiv}, year={2026}}
@article{bernstein2024old, title={Old Optimizer, New Norm}, author={Bernstein, Jeremy and Newhouse, Laker}, journal={arXiv}, year={2024}}
"""


def first_chapter():
    return [
        code("print('book setup')", tags=["remove-cell", "colab-setup"]),
        md("# Norms\n\nSign descent {cite}`tao2026signsgd` is steepest descent in ℓ∞."),
        code(
            "from signbook.checks import check\nimport json\nrows = json.load(open('data/runs/a.json'))"
        ),
        md(
            """
            (sec-duals)=
            ## Dual norms

            ```{prf:definition} Dual norm
            :label: def-dual
            $\\|g\\|_\\dagger = \\max_{\\|t\\| \\le 1} \\langle g, t\\rangle$.
            ```

            ```{prf:theorem} Hölder
            :label: thm-holder
            $\\langle g, x\\rangle \\le \\|g\\|_\\dagger \\|x\\|$, see {cite:t}`bernstein2024old`.
            ```

            ```{prf:proof}
            By definition of the dual norm.
            ```

            ````{note}
            A nested block:
            ```{prf:lemma}
            :label: lem-inner
            Inner statement.
            ```
            ````

            ```python
            # a literal fence stays code: {not-a-directive}
            ```
            """
        ),
        code("x = 1  # layout only", tags=["hide-input"]),
        md(
            """
            ## Exercises

            ```{exercise} The dual of ℓ∞
            :label: ex-small-1
            Compute $\\max_{\\|t\\|_\\infty \\le 1} \\langle (3, -4), t\\rangle$ (a float).
            ```
            """
        ),
        code(
            'answer = ...  # your answer: a float\ncheck("ex-small-1", answer)', ["exercise-answer"]
        ),
        md(
            """
            ```{solution-start} ex-small-1
            :class: dropdown
            ```
            The maximiser is sign(g), giving SEVEN-IS-THE-SOLUTION.
            """
        ),
        code('check("ex-small-1", 7)  # SOLUTION-CODE-MARKER'),
        md(
            """
            ```{solution-end}
            ```

            ```{exercise}
            :label: ex-small-2
            Name the norm of {prf:ref}`thm-holder` and of {ref}`sec-duals` (a string).
            ```
            """
        ),
        code(
            'answer = ...  # your answer: a string\ncheck("ex-small-2", answer)',
            ["exercise-answer"],
        ),
        md(
            """
            ```{solution-start} ex-small-2
            ```
            SECOND-SOLUTION-TEXT
            ```{solution-end}
            ```
            """
        ),
    ]


def second_chapter():
    return [
        md(
            """
            # Bounds

            By {prf:ref}`thm-holder` and {numref}`Definition %s <def-dual>` (see [the norms](norms.ipynb)),
            and {ref}`ex-small-1`.

            ```{prf:theorem}
            :label: thm-second
            Another theorem {cite}`tao2026signsgd,bernstein2024old`.
            ```
            """
        )
    ]


def write_book(root, chapters=None):
    (root / "book" / "data" / "runs").mkdir(parents=True)
    (root / "book" / "data" / "runs" / "a.json").write_text("[1, 2]")
    (root / "_config.yml").write_text(CONFIG)
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\noptions:\n  numbered: true\nchapters:\n"
        "  - file: book/norms\n  - file: book/bounds\n"
    )
    (root / "book" / "intro.md").write_text("# A small book\n\nWelcome.\n")
    (root / "book" / "references.bib").write_text(BIB)
    chapters = chapters or {"norms": first_chapter(), "bounds": second_chapter()}
    for name, cells in chapters.items():
        nb = nbformat.v4.new_notebook()
        nb.cells = cells
        nbformat.write(nb, root / "book" / f"{name}.ipynb")
    return root


@pytest.fixture
def small(tmp_path):
    return Book(write_book(tmp_path), ref="abc123")


def chapter(book, name):
    return next(c for c in book.project.notebooks() if c.name == name)


def markdown_of(nb):
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_colab_edition_turns_directives_into_titled_blocks(small):
    nb = small.notebook(chapter(small, "norms"), EDITIONS["colab"])
    text = markdown_of(nb)
    for raw in RAW_DIRECTIVE:
        assert raw not in text, raw
    # numbered per kind and per chapter, as the website numbers them (chapter 1 of the toc)
    assert "**Definition 1.1 (Dual norm)**" in text
    assert "**Theorem 1.1 (Hölder)**" in text
    assert "**Lemma 1.1**" in text and "**Note**" in text
    assert "**Proof.**" in text and "**Exercise 1.1 (The dual of ℓ∞)**" in text
    assert "**Exercise 1.2**" in text
    assert '<div class="signbook-theorem"' in text and "</div>" in text
    # the literal code fence is left alone
    assert "# a literal fence stays code: {not-a-directive}" in text
    # targets are not shown
    assert "(sec-duals)=" not in text


def test_citations_become_author_year_with_references_at_the_end(small):
    nb = small.notebook(chapter(small, "norms"), EDITIONS["colab"])
    text = markdown_of(nb)
    assert "Sign descent (Tao et al., 2026) is" in text
    assert "see Bernstein and Newhouse (2024)." in text
    last = nb.cells[-1].source
    assert last.startswith("## References")
    assert last.index("Tao et al., 2026") < last.index("Bernstein and Newhouse, 2024")
    assert "Old Optimizer, New Norm" in last or "Old optimizer, new norm" in last
    other = small.notebook(chapter(small, "bounds"), EDITIONS["colab"])
    assert "(Tao et al., 2026; Bernstein and Newhouse, 2024)" in markdown_of(other)


def test_cross_references_link_into_the_website(small):
    site = "https://someone.github.io/smallbook/"
    nb = small.notebook(chapter(small, "bounds"), EDITIONS["colab"])
    text = markdown_of(nb)
    assert f"[Theorem 1.1]({site}book/norms.html#thm-holder)" in text
    assert f"[Definition 1.1]({site}book/norms.html#def-dual)" in text
    assert f"[the norms]({site}book/norms.html)" in text
    assert f"[Exercise 1.1]({site}book/norms.html#ex-small-1)" in text
    assert "**Theorem 2.1**" in text  # the second chapter's own counter
    norms = markdown_of(small.notebook(chapter(small, "norms"), EDITIONS["colab"]))
    assert f"[Dual norms]({site}book/norms.html#sec-duals)" in norms


def test_solutions_are_collapsed_with_their_code_and_never_executed(small):
    nb = small.notebook(chapter(small, "norms"), EDITIONS["colab"])
    details = [c.source for c in nb.cells if c.source.startswith("<details")]
    assert len(details) == 2
    assert "<summary><b>Solution to Exercise 1.1</b></summary>" in details[0]
    assert "SEVEN-IS-THE-SOLUTION" in details[0]
    assert '```python\ncheck("ex-small-1", 7)  # SOLUTION-CODE-MARKER\n```' in details[0]
    assert details[0].rstrip().endswith("</details>")
    sources = [c.source for c in nb.cells if c.cell_type == "code"]
    assert not any("SOLUTION-CODE-MARKER" in s for s in sources)
    answers = [c for c in nb.cells if "exercise-answer" in c.metadata.get("tags", [])]
    assert [c.source.splitlines()[0] for c in answers] == [
        "answer = ...  # your answer: a float",
        "answer = ...  # your answer: a string",
    ]


def test_setup_cell_first_data_cell_second_and_the_book_setup_dropped(small):
    nb = small.notebook(chapter(small, "norms"), EDITIONS["colab"])
    install, data = nb.cells[0], nb.cells[1]
    assert install.cell_type == "code" and "signbook-setup" in install.metadata.tags
    assert 'SIGNLAB_REPO = "https://github.com/someone/smallbook"' in install.source
    assert 'SIGNLAB_REF = "abc123"' in install.source
    assert '"data/runs/a.json",' in data.source
    assert "https://raw.githubusercontent.com/someone/smallbook/abc123/book/" in data.source
    assert data.metadata["cellView"] == "form"
    assert not any("book setup" in c.source for c in nb.cells)
    # the title cell says what this is and where the website is
    assert "Colab edition of chapter 1" in nb.cells[2].source
    folded = next(c for c in nb.cells if "layout only" in c.source)
    assert folded.source.startswith("# @title") and folded.metadata["cellView"] == "form"
    assert folded.metadata["jupyter"] == {"source_hidden": True}


def test_install_cell_runs_pip_only_when_asked_and_never_upgrades(small, monkeypatch):
    source = small.notebook(chapter(small, "norms"), EDITIONS["colab"]).cells[0].source
    calls = []
    import subprocess

    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a[0]))
    monkeypatch.delenv("SIGNLAB_INSTALL", raising=False)
    exec(compile(source, "install", "exec"), {"__name__": "__main__"})
    assert calls == []  # outside Colab: nothing
    monkeypatch.setenv("SIGNLAB_INSTALL", "1")
    monkeypatch.setenv("SIGNLAB_SOURCE", "/some/checkout")
    exec(compile(source, "install", "exec"), {"__name__": "__main__"})
    (command,) = calls
    assert command[-2:] == [
        "signlab @ file:///some/checkout",
        "signbook @ file:///some/checkout/signbook",
    ]
    assert not {"-U", "--upgrade", "--force-reinstall"} & set(command)
    assert not any(re.match(r"(torch|numpy|ipywidgets)\b", c) for c in command)
    monkeypatch.delenv("SIGNLAB_SOURCE")
    calls.clear()
    exec(compile(source, "install", "exec"), {"__name__": "__main__"})
    assert calls[0][-2:] == [
        "signlab @ git+https://github.com/someone/smallbook@abc123",
        "signbook @ git+https://github.com/someone/smallbook@abc123#subdirectory=signbook",
    ]


def test_student_release_removes_every_solution_cell_and_keeps_the_checks(small):
    nb = small.notebook(chapter(small, "norms"), EDITIONS["student"])
    dumped = json.dumps(nb)
    for secret in ("SEVEN-IS-THE-SOLUTION", "SOLUTION-CODE-MARKER", "SECOND-SOLUTION-TEXT"):
        assert secret not in dumped
    assert "<details" not in dumped and "solution" not in markdown_of(nb).lower()
    answers = [c for c in nb.cells if "exercise-answer" in c.metadata.get("tags", [])]
    assert len(answers) == 2 and all("check(" in c.source for c in answers)
    assert nb.metadata["signbook"]["exercises"] == ["ex-small-1", "ex-small-2"]
    assert "student release of chapter 1" in markdown_of(nb)
    # same code cells as the Colab edition: executing that one executes this one
    colab = small.notebook(chapter(small, "norms"), EDITIONS["colab"])
    assert [c.source for c in nb.cells if c.cell_type == "code"] == [
        c.source for c in colab.cells if c.cell_type == "code"
    ]
    # only tags (and Colab's form view) in the cells' metadata
    for cell in nb.cells:
        assert set(cell.metadata) <= {"tags", "cellView", "jupyter"}


def test_student_site_source_keeps_myst_and_drops_solutions(small, tmp_path):
    out = small.write_student_site_source(tmp_path / "site-src")
    nb = nbformat.read(out / "book" / "norms.ipynb", as_version=4)
    text = markdown_of(nb)
    assert "```{prf:theorem} Hölder" in text and "```{exercise} The dual of ℓ∞" in text
    assert "solution-start" not in text and "SEVEN-IS-THE-SOLUTION" not in json.dumps(nb)
    assert nb.cells[0].metadata.tags == ["signbook-setup", "remove-cell"]
    config = (out / "_config.yml").read_text()
    assert "student edition" in config and "launch_buttons" not in config
    assert (out / "book" / "references.bib").exists() and (out / "book" / "data").is_dir()


STUDENT_INTRO = """\
# A small book

% student-site: replace

Solutions are folded; see the [instructors](instructors.md).

% student-site: with
% Solutions are removed from this edition.
%
% Ask your instructor.
% student-site: end

The end.
"""


def test_student_site_text_swaps_the_marked_region_and_the_book_shows_only_its_own():
    from signbook.edition import student_site_text

    assert student_site_text(STUDENT_INTRO) == (
        "# A small book\n\nSolutions are removed from this edition.\n\nAsk your instructor.\n"
        "\nThe end.\n"
    )
    assert student_site_text("no markers\n") == "no markers\n"
    # the book's own rendering: MyST drops the % lines, so only the book's text is shown
    from markdown_it import MarkdownIt
    from mdit_py_plugins.myst_blocks import myst_block_plugin

    html = MarkdownIt("commonmark").use(myst_block_plugin).render(STUDENT_INTRO)
    html = re.sub(r"<!--.*?-->", "", html, flags=re.S)  # comments: Sphinx writes none
    assert "folded" in html and "removed" not in html and "student-site" not in html


@pytest.mark.parametrize(
    "text, message",
    [
        ("% student-site: with\n", "where '% student-site: replace' belongs"),
        ("% student-site: replace\nx\n", "without '% student-site: end'"),
        (
            "% student-site: replace\nx\n% student-site: with\nshown\n% student-site: end\n",
            "must be commented",
        ),
    ],
)
def test_student_site_markers_out_of_order_are_errors(text, message):
    from signbook.edition import student_site_text

    with pytest.raises(EditionError, match=re.escape(message)):
        student_site_text(text, "book/intro.md")


def test_the_real_intro_tells_students_what_their_edition_is():
    from signbook.edition import student_site_text

    book_text = (ROOT / "book" / "intro.md").read_text()
    student = student_site_text(book_text, "book/intro.md")
    assert "instructors" in book_text and "folded" in book_text
    for wrong in ("instructors", "hidden", "folded", "rocket", "Colab edition", "make book"):
        assert wrong not in student, wrong
    assert "has no solutions" in student and "check(...)" in student
    assert "student-site" not in student


def executed_copy(book_root, target, outputs=True):
    """The small book's notebooks as an executed build would leave them (outputs on every cell)."""
    for name in ("norms", "bounds"):
        nb = nbformat.read(book_root / "book" / f"{name}.ipynb", as_version=4)
        for k, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
            if outputs:
                cell.outputs = [nbformat.v4.new_output("stream", text=f"OUT-{name}-{k}\n")]
        nb.metadata["widgets"] = {"state": name}
        (target / "book").mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target / "book" / f"{name}.ipynb")
    return target


def test_student_site_reuses_the_executed_outputs_and_does_not_execute_again(small, tmp_path):
    (small.root / "book" / "intro.md").write_text(STUDENT_INTRO)
    executed = executed_copy(small.root, tmp_path / "executed")
    out = small.write_student_site_source(tmp_path / "site-src", executed=executed)
    import yaml

    config = yaml.safe_load((out / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"
    nb = nbformat.read(out / "book" / "norms.ipynb", as_version=4)
    shown = [
        c
        for c in nb.cells
        if c.cell_type == "code" and "signbook-setup" not in c.metadata.get("tags", [])
    ]
    texts = [o["text"] for c in shown for o in c.outputs]
    # the book's code cells 0 (its setup) and 4 (a solution's) are gone, with their outputs
    assert texts == ["OUT-norms-1\n", "OUT-norms-2\n", "OUT-norms-3\n", "OUT-norms-5\n"]
    assert "SOLUTION-CODE-MARKER" not in json.dumps(nb)
    assert nb.metadata["widgets"] == {"state": "norms"}
    assert (
        (out / "book" / "intro.md")
        .read_text()
        .startswith("# A small book\n\nSolutions are removed")
    )
    # without `executed` the site executes (the book's own setting)
    plain = small.write_student_site_source(tmp_path / "site-src-2")
    assert "execute" not in yaml.safe_load((plain / "_config.yml").read_text())


def test_copy_outputs_pairs_cells_by_id_and_skips_what_the_edition_dropped():
    from signbook.edition import copy_outputs

    def out(text):
        return [nbformat.v4.new_output("stream", text=text)]

    def twin(cell):
        """A copy of the book's ``cell`` as the edition holds it: same source, same id."""
        copy = code(cell.source)
        copy["id"] = cell["id"]
        return copy

    executed = nbformat.v4.new_notebook()
    executed.cells = [code("x = 1"), code("solution()"), code("x = 1"), code("plot()")]
    for cell, text in zip(executed.cells, ["first", "secret", "second", "figure"], strict=True):
        cell.outputs = out(text)
    first, _, second, plot = executed.cells
    nb = nbformat.v4.new_notebook()
    nb.cells = [code("install()", ["signbook-setup"]), twin(first), md("text"), twin(second)]
    nb.cells.append(twin(plot))
    copy_outputs(nb, executed, "book/x.ipynb")
    assert [[o["text"] for o in c.outputs] for c in nb.cells if c.cell_type == "code"] == [
        [],  # a setup cell of the edition: not in the book
        ["first"],
        ["second"],  # the same source again takes the next twin, after the dropped solution
        ["figure"],
    ]
    nb.cells.append(code("new_cell()"))
    with pytest.raises(EditionError, match="book/x.ipynb: the executed notebook has no cell"):
        copy_outputs(nb, executed, "book/x.ipynb")
    # a cell edited since the build keeps its id but not its source: out of date too
    nb.cells[-1] = twin(plot)
    nb.cells[-1].source = "plot(again=True)"
    with pytest.raises(EditionError, match="has no cell 'plot\\(again=True\\)'"):
        copy_outputs(nb, executed, "book/x.ipynb")


def test_student_site_refuses_an_executed_book_that_is_out_of_date(small, tmp_path):
    executed = executed_copy(small.root, tmp_path / "executed")
    stale = nbformat.read(executed / "book" / "norms.ipynb", as_version=4)
    stale.cells = [c for c in stale.cells if "layout only" not in c.source]
    nbformat.write(stale, executed / "book" / "norms.ipynb")
    with pytest.raises(
        EditionError, match=r"book/norms.ipynb: the executed notebook has no cell 'x = 1"
    ):
        small.write_student_site_source(tmp_path / "site-src", executed=executed)


def test_student_release_refuses_an_exercise_without_an_answer_cell(tmp_path):
    cells = first_chapter()
    del cells[6]  # the first exercise's answer cell
    book = Book(write_book(tmp_path, {"norms": cells, "bounds": second_chapter()}), ref="x")
    with pytest.raises(EditionError, match=r"book/norms.ipynb: exercise ex-small-1 has no answer"):
        book.notebook(chapter(book, "norms"), EDITIONS["student"])
    book.notebook(chapter(book, "norms"), EDITIONS["colab"])  # the Colab edition still works


def test_student_release_refuses_an_answer_cell_that_holds_the_answer(tmp_path):
    cells = first_chapter()
    cells[6] = code('answer = 7\ncheck("ex-small-1", answer)', ["exercise-answer"])
    book = Book(write_book(tmp_path, {"norms": cells, "bounds": second_chapter()}), ref="x")
    with pytest.raises(EditionError, match="must assign the placeholder"):
        book.notebook(chapter(book, "norms"), EDITIONS["student"])


@pytest.mark.parametrize(
    "text, message",
    [
        ("```{tab-set}\nx\n```", r"book/norms: directive \{tab-set\} has no plain-Markdown form"),
        ("{sup}`2`", r"role \{sup\} has no plain-Markdown form"),
        ("{cite}`nobody2020`", "not in the bibliography"),
        ("{prf:ref}`thm-missing`", "points to no label"),
    ],
)
def test_unknown_constructs_are_errors_naming_the_page(tmp_path, text, message):
    cells = [md("# Norms"), md(text)]
    book = Book(write_book(tmp_path, {"norms": cells, "bounds": second_chapter()}), ref="x")
    with pytest.raises(EditionError, match=message):
        book.notebook(chapter(book, "norms"), EDITIONS["colab"])


def test_unbalanced_solutions_are_errors():
    nb = nbformat.v4.new_notebook()
    nb.cells = [md("```{solution-start} ex-a\n```\ntext")]
    with pytest.raises(EditionError, match="has no solution-end"):
        segments(nb, "x.ipynb")
    nb.cells = [md("```{solution-end}\n```")]
    with pytest.raises(EditionError, match="without solution-start"):
        segments(nb, "x.ipynb")


def test_split_blocks_respects_fence_lengths_and_options():
    text = "a\n````{note}\n```{prf:lemma} T\n:label: l\nbody\n```\n````\nb\n```py\n```{x}\n```"
    pieces = split_blocks(text)
    assert pieces[0] == "a" and pieces[2] == "b\n```py\n```{x}\n```"
    note = pieces[1]
    assert isinstance(note, Directive) and note.name == "note"
    assert note.body.startswith("```{prf:lemma} T") and note.indent == ""
    assert note.raw == "````{note}\n```{prf:lemma} T\n:label: l\nbody\n```\n````"
    (lemma,) = split_blocks(note.body)
    assert (lemma.name, lemma.argument, lemma.options, lemma.body) == (
        "prf:lemma",
        "T",
        {"label": "l"},
        "body",
    )


def test_an_indented_directive_keeps_its_indent_and_its_yaml_options():
    (item,) = split_blocks("  ```{note}\n  ---\n  class: dropdown\n  ---\n  Inside.\n  ```")
    assert isinstance(item, Directive)
    assert (item.name, item.indent, item.options, item.body) == (
        "note",
        "  ",
        {"class": "dropdown"},
        "Inside.",
    )


# ---- signbook.myst on its own: expectations written out by hand -------------------------------------
def test_index_document_numbers_each_kind_per_chapter_as_sphinx_does():
    texts = [
        "# Norms\n\n(sec-a)=\n## Dual norms\n\n$$ x = 1 $$ (eq-one)",
        textwrap.dedent(
            """
            ```{prf:theorem} Hölder
            :label: thm-a
            ```
            ```{prf:definition}
            :label: def-a
            ```
            ````{note}
            ```{prf:theorem}
            :label: thm-b
            ```
            ````
            ```{prf:remark}
            :nonumber:
            :label: rem-a
            ```
            ```{exercise}
            :label: ex-a
            ```
            ```{math}
            :label: eq-two
            y = 2
            ```
            """
        ),
        "# A second level-1 heading is not the title",
    ]
    assert index_document("book/norms", 3, texts) == {
        "doc:book/norms": Target("book/norms", "", "Norms"),
        "sec-a": Target("book/norms", "sec-a", "Dual norms"),
        # Sphinx's anchor of an equation is equation-<label> (id="equation-eq-one" on the page)
        "eq-one": Target("book/norms", "equation-eq-one", "(3.1)"),
        "thm-a": Target("book/norms", "thm-a", "Theorem 3.1", "3.1"),
        "def-a": Target("book/norms", "def-a", "Definition 3.1", "3.1"),
        "thm-b": Target("book/norms", "thm-b", "Theorem 3.2", "3.2"),  # nested: still counted
        "rem-a": Target("book/norms", "rem-a", "Remark"),  # :nonumber:
        "ex-a": Target("book/norms", "ex-a", "Exercise 3.1", "3.1"),
        "eq-two": Target("book/norms", "equation-eq-two", "(3.2)"),
    }
    unnumbered = index_document("book/intro", None, ["```{prf:lemma}\n:label: lem-x\n```"])
    assert unnumbered == {"lem-x": Target("book/intro", "lem-x", "Lemma 1", "1")}


def page_url(docname, anchor=""):
    return f"https://site/{docname}.html" + (f"#{anchor}" if anchor else "")


def converter(bibliography=None):
    labels = {
        "thm-far": Target("book/other", "thm-far", "Theorem 2.1", "2.1"),
        "doc:book/other": Target("book/other", "", "Other chapter"),
        "ex-b": Target("book/norms", "ex-b", "Exercise 1.4", "1.4"),
    }
    return Converter(
        "book/norms", 1, labels, page_url, lambda path: "https://raw/" + path, bibliography
    )


def div(kind, colour, title, body):
    return (
        f'<div class="signbook-{kind}" style="border-left: 4px solid {colour}; '
        f'padding: 0.1em 0.9em; margin: 0.8em 0">\n\n**{title}**\n\n{body}\n\n</div>'
    )


def test_converter_writes_blocks_links_and_figures_and_counts_across_cells():
    conv = converter()
    first = conv.convert(
        "```{prf:lemma} Sign\n:label: lem-s\nBy {prf:ref}`thm-far`, {math}`x`.\n```\n\n"
        "```{figure} img/a.png\n:alt: A plot\nThe caption.\n```"
    )
    assert first == (
        div(
            "lemma",
            "#3b6ea8",
            "Lemma 1.1 (Sign)",
            "By [Theorem 2.1](https://site/book/other.html#thm-far), $x$.",
        )
        + "\n\n![A plot](https://raw/book/img/a.png)\n\n*The caption.*"
    )
    second = conv.convert(
        "```{prf:lemma}\nAgain.\n```\n```{exercise}\nSee {doc}`other` and {ref}`the exercise <ex-b>`.\n```"
    )
    assert second == (
        div("lemma", "#3b6ea8", "Lemma 1.2", "Again.")
        + "\n"
        + div(
            "exercise",
            "#d9822b",
            "Exercise 1.1",
            "See [Other chapter](https://site/book/other.html) and "
            "[the exercise](https://site/book/norms.html#ex-b).",
        )
    )
    assert conv.convert("```{warning}\nHot.\n```") == div("warning", "#c0392b", "Warning", "Hot.")
    assert conv.convert("```{dropdown} More\nHidden.\n```") == (
        '<details class="signbook-solution">\n<summary><b>More</b></summary>\n\nHidden.\n\n</details>'
    )
    assert conv.solution_title("ex-b") == "Solution to Exercise 1.4"
    assert conv.solution_title("ex-unknown") == "Solution"


@pytest.mark.parametrize(
    "text, message",
    [
        ("{sup}`2`", r"^book/norms: role \{sup\} has no plain-Markdown form"),
        ("```{tab-set}\nx\n```", r"^book/norms: directive \{tab-set\}"),
        ("```{solution-start} ex-b\n```", "must be handled by the edition"),
        ("{ref}`nowhere`", "points to no label"),
        ("{cite}`tao2026signsgd`", "the book has no bibliography"),
    ],
)
def test_converter_raises_a_myst_error_naming_the_page(text, message):
    with pytest.raises(MystError, match=message) as err:
        converter().convert(text)
    assert isinstance(err.value, ValueError)


AUTHORS_BIB = r"""
@book{one, title={Functions of Matrices}, author={Higham, Nicholas J.}, publisher={SIAM}, year={2008}}
@article{two, title={Old Optimizer}, author={Bernstein, Jeremy and Newhouse, Laker}, journal={arXiv}, year={2024}}
@article{three, title={T}, author={Tao, Hongyi and Yu, Dingzhen and Zhang, Lijun}, journal={arXiv}, year={2026}}
@misc{others, title={Muon}, author={Jordan, Keller and others}, year={2024}}
@inproceedings{tex, title={T}, author={{\c{S}}im{\c{s}}ekli, Umut and Sagun, Levent}, booktitle={ICML}}
@article{particle, title={T}, author={Le Roux, Nicolas and von Neumann, John}, year={2020}}
@misc{nobody, title={{nanoGPT}: the simplest repository}, year={2022}}
"""


def test_author_names_are_the_website_labels_names():
    from pybtex.database import parse_string

    entries = parse_string(AUTHORS_BIB, "bibtex").entries
    assert {key: author_names(entry) for key, entry in entries.items()} == {
        "one": "Higham",
        "two": "Bernstein and Newhouse",
        "three": "Tao et al.",
        "others": "Jordan et al.",
        "tex": "Şimşekli and Sagun",
        "particle": "Le Roux and von Neumann",
        "nobody": "nanoGPT",
    }


def test_bibliography_cites_author_year_and_lists_entries(tmp_path):
    (tmp_path / "refs.bib").write_text(AUTHORS_BIB)
    bib = Bibliography(tmp_path / "refs.bib")
    assert bib.keys() == ["one", "two", "three", "others", "tex", "particle", "nobody"]
    assert (bib.authors("tex"), bib.year("tex"), bib.year("one")) == (
        "Şimşekli and Sagun",
        "n.d.",
        "2008",
    )
    listing = bib.listing(["one", "two"]).split("\n")
    assert listing[0].startswith("- **Higham, 2008.** Nicholas J. Higham. ")
    assert "Functions of Matrices" in listing[0] or "Functions of matrices" in listing[0]
    assert listing[1].startswith("- **Bernstein and Newhouse, 2024.** Jeremy Bernstein and Laker")
    conv = converter(bib)
    assert conv.convert("{cite:t}`two` and {cite}`three,one`") == (
        "Bernstein and Newhouse (2024) and (Tao et al., 2026; Higham, 2008)"
    )
    assert conv.references().startswith("## References\n\n- **Bernstein and Newhouse, 2024.**")


def test_an_edition_is_plain_or_myst_and_collapses_or_removes_solutions():
    assert Edition("preview", "myst", "collapse").markdown == "myst"
    with pytest.raises(ValueError, match=r"markdown must be one of 'plain', 'myst' \(got 'html'\)"):
        Edition("x", "html", "remove")
    with pytest.raises(ValueError, match="solutions must be one of 'collapse', 'remove'"):
        Edition("x", "plain", "hide")


def test_project_chapters_in_toc_order_numbered_as_the_site(tmp_path):
    write_book(tmp_path)
    book = tmp_path / "book"
    assert Project(tmp_path).chapters() == [
        Chapter("book/intro", book / "intro.md", None),
        Chapter("book/norms", book / "norms.ipynb", 1),
        Chapter("book/bounds", book / "bounds.ipynb", 2),
    ]
    assert [c.name for c in Project(tmp_path).notebooks()] == ["norms", "bounds"]
    toc = tmp_path / "_toc.yml"
    toc.write_text(toc.read_text().replace("numbered: true", "numbered: false"))
    assert [c.number for c in Project(tmp_path).chapters()] == [None, None, None]
    toc.write_text(toc.read_text() + "  - file: book/missing\n")
    with pytest.raises(ValueError, match="'book/missing', which is neither .ipynb nor .md"):
        Project(tmp_path).chapters()


def test_the_data_cell_fetches_only_missing_files(small, tmp_path, monkeypatch):
    source = small.notebook(chapter(small, "norms"), EDITIONS["colab"]).cells[1].source
    remote = tmp_path / "remote"
    (remote / "data" / "runs").mkdir(parents=True)
    (remote / "data" / "runs" / "a.json").write_text("[3]")
    reader = tmp_path / "reader"
    reader.mkdir()
    monkeypatch.chdir(reader)
    monkeypatch.setenv("SIGNLAB_DATA_URL", remote.as_uri() + "/")
    monkeypatch.delenv("SIGNLAB_INSTALL", raising=False)
    exec(compile(source, "data", "exec"), {"__name__": "__main__"})
    assert not (reader / "data").exists()  # outside Colab: nothing
    monkeypatch.setenv("SIGNLAB_INSTALL", "1")
    exec(compile(source, "data", "exec"), {"__name__": "__main__"})
    assert (reader / "data" / "runs" / "a.json").read_text() == "[3]"
    (reader / "data" / "runs" / "a.json").write_text("[1, 2]")  # present: kept as it is
    exec(compile(source, "data", "exec"), {"__name__": "__main__"})
    assert (reader / "data" / "runs" / "a.json").read_text() == "[1, 2]"


def test_project_urls_and_set_repository(tmp_path):
    write_book(tmp_path)
    project = Project(tmp_path)
    assert project.site_url == "https://someone.github.io/smallbook/"
    assert project.page_url("book/norms", "thm-holder") == (
        "https://someone.github.io/smallbook/book/norms.html#thm-holder"
    )
    set_repository(tmp_path / "_config.yml", "https://github.com/fork-owner/fork", "colab")
    text = (tmp_path / "_config.yml").read_text()
    assert "url: https://github.com/fork-owner/fork" in text and "branch: colab" in text
    assert "# the one place for the address" in text and "colab_url: https://colab" in text
    assert Project(tmp_path).site_url == "https://fork-owner.github.io/fork/"
    with pytest.raises(ValueError, match="OWNER/NAME"):
        set_repository(tmp_path / "_config.yml", "https://gitlab.com/x/y")


# ---- the real book ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def book():
    return Book(ROOT, ref="main")


def real_chapters():
    return [c for c in Project(ROOT).notebooks()]


@pytest.mark.parametrize("page", real_chapters(), ids=lambda c: c.name)
def test_every_chapter_has_a_colab_edition_without_raw_myst(book, page):
    nb = book.notebook(page, EDITIONS["colab"])
    assert "signbook-setup" in nb.cells[0].metadata.tags
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for raw in RAW_DIRECTIVE:
                assert raw not in cell.source, f"{page.name}: {raw!r} left in {cell.source[:200]!r}"


def commonmark_html(text):
    """``text`` as a CommonMark renderer (Jupyter's Markdown) writes it, code blocks left out."""
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").render(text)
    return re.sub(r"<pre><code.*?</code></pre>|<code>.*?</code>", "", html, flags=re.S)


def html_block_faults(text):
    """Lines where an HTML block would swallow the Markdown next to it: in CommonMark an HTML block
    (``<div>``, ``<details>``) runs to the next blank line, so the Markdown inside is parsed only
    when a blank line follows the opening tag (``<summary>…</summary>`` line) and precedes the
    closing tag."""
    lines = text.split("\n")
    faults = []
    for k, line in enumerate(lines):
        s = line.strip()
        opens = s.startswith("<div") or (s.startswith("<summary>") and s.endswith("</summary>"))
        if opens and k + 1 < len(lines) and lines[k + 1].strip():
            faults.append(f"no blank line after {s[:60]!r}")
        if s in ("</div>", "</details>") and k > 0 and lines[k - 1].strip():
            faults.append(f"no blank line before {s!r} (after {lines[k - 1].strip()[:60]!r})")
    return faults


def test_html_blocks_leave_a_blank_line_so_jupyter_parses_the_markdown_inside(small):
    nb = small.notebook(chapter(small, "norms"), EDITIONS["colab"])
    text = markdown_of(nb)
    assert "<div" in text and "<details" in text
    assert html_block_faults(text) == []
    html = commonmark_html(text)
    assert "<strong>Theorem 1.1 (Hölder)</strong>" in html
    assert "<summary><b>Solution to Exercise 1.1</b></summary>" in html
    assert "**" not in html  # every bold title inside a block was parsed
    # the fault this guards against: without the blank line the Markdown stays literal
    assert "**Theorem" in commonmark_html('<div style="x">\n**Theorem**\n</div>')
    assert html_block_faults('<div style="x">\n**Theorem**\n</div>') != []


@pytest.mark.parametrize("page", real_chapters(), ids=lambda c: c.name)
def test_every_colab_chapter_renders_its_blocks_as_markdown(book, page):
    nb = book.notebook(page, EDITIONS["colab"])
    for cell in nb.cells:
        if cell.cell_type == "markdown" and ("<div" in cell.source or "<details" in cell.source):
            assert html_block_faults(cell.source) == [], (page.name, cell.source[:200])
            html = commonmark_html(cell.source)
            assert "**" not in html, (page.name, html[html.index("**") - 200 :][:400])


def solution_lines(path):
    """The distinctive lines of a chapter's solutions: not in any other part of the chapter."""
    nb = nbformat.read(path, as_version=4)
    inside, outside = set(), set()
    for item in segments(nb, str(path)):
        if isinstance(item, Solution):
            for part in item.parts:
                text = part.text if isinstance(part, Markdown) else part.cell.source
                inside |= {ln.strip() for ln in text.splitlines()}
        else:
            text = item.text if isinstance(item, Markdown) else item.cell.source
            outside |= {ln.strip() for ln in text.splitlines()}
    outside_text = "\n".join(outside)
    return {
        ln
        for ln in inside - outside
        if len(ln) >= 8
        and not re.fullmatch(r"[`:{}\w-]*", ln)
        and ln not in outside_text  # a piece of the question (a call it asks to run) is no answer
    }


@pytest.mark.parametrize("page", real_chapters(), ids=lambda c: c.name)
def test_student_release_contains_none_of_the_solutions_text(book, page):
    lines = solution_lines(page.path)
    nb = book.notebook(page, EDITIONS["student"])  # fails for a chapter not yet converted
    site = book.notebook(page, EDITIONS["student-site"])
    for edition in (nb, site):
        text = json.dumps(edition, ensure_ascii=False)
        shown = {ln.strip() for cell in edition.cells for ln in cell.source.splitlines()}
        for line in lines:
            assert line not in shown, (page.name, line)
            assert json.dumps(line, ensure_ascii=False)[1:-1] not in text, (page.name, line)
    assert nb.metadata["signbook"]["exercises"] == [e.label for e in book.exercises(page)]


@pytest.mark.slow
def test_the_editions_number_as_the_built_website(site, book):
    """Every label's number and anchor in the editions' index, and every chapter's numbered blocks
    in its Colab edition, are the ones the freshly built website shows (tests/site_numbers.py)."""
    from site_numbers import mismatches, read_page

    html, _, _ = site
    assert mismatches(book, html) == []
    numbered = [t for t in book.labels.values() if t.number]
    shown = [read_page(html / f"{t.docname}.html").numbers.get(t.anchor) for t in numbered]
    assert len(numbered) >= 50 and shown == [t.text for t in numbered]


# ---- the student website, built (slow) -------------------------------------------------------------
def page_text(path):
    """The visible text of a built page: tags dropped, entities decoded, whitespace collapsed."""
    import html

    raw = re.sub(r"<(script|style)\b.*?</\1>", " ", path.read_text(), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", raw)).split())


@pytest.mark.slow
def test_student_website_builds_without_solutions_and_keeps_every_output(site, student_site, book):
    """`make student`'s website, built with -W from the book's executed notebooks (no second
    execution): no instructor page, the intro written for students, no solution anywhere, and every
    output of the book's page except the solutions' own."""
    main, _, _ = site
    student, source, seconds = student_site
    print(f"student site: {seconds:.1f} s")
    assert not (student / "book" / "instructors.html").exists()
    intro = page_text(student / "book" / "intro.html")
    assert "has no solutions" in intro and "Answer the exercises" in intro
    for wrong in ("For instructors", "page for instructors", "folded away", "rocket icon"):
        assert wrong not in intro, wrong
    book_intro = page_text(main / "book" / "intro.html")
    assert "page for instructors" in book_intro and "Answer the exercises" not in book_intro
    assert "student-site" not in book_intro
    for page in real_chapters():
        name = f"book/{page.name}.html"
        ours, theirs = (student / name).read_text(), (main / name).read_text()
        solutions = len(book.exercises(page))
        assert 'class="solution' not in ours and "Solution to" not in ours, name
        assert theirs.count("Solution to") >= solutions > 0, name
        # one output per solution (its check) is gone; every other output, figure and widget stays
        assert ours.count('class="cell_output') == theirs.count('class="cell_output') - solutions
        for marker in ("plotly-graph-div", "application/vnd.jupyter.widget-view+json"):
            assert ours.count(marker) == theirs.count(marker), (name, marker)
        assert ours.count("Your turn") == solutions, name
        text = page_text(student / name)
        for line in solution_lines(page.path):
            if len(line) >= 25:  # a short line ("curvature.") may be anyone's words
                assert " ".join(line.split()) not in text, (name, line)
