"""signbook.myst: MyST read with myst-parser's own tokenizer, converted to plain Markdown, and numbered
as the website numbers it, checked against a small book that Jupyter Book builds here.

The expected plain Markdown is written out by hand; the numbers are read off the built site
(tests/site_numbers.py), which the real book's build is also checked against (tests/test_editions.py).
"""

import re
import struct
import textwrap
import zlib
from pathlib import Path

import nbformat
import pytest
import yaml
from browser_build import build
from site_numbers import colab_titles, mismatches, read_page

from signbook.edition import EDITIONS, Book, EditionError
from signbook.myst import (
    MYST_EXTENSIONS,
    Bibliography,
    Converter,
    Directive,
    MystError,
    Numbering,
    Target,
    index_document,
    markdown_parser,
    numbered_kind,
    split_blocks,
)
from signbook.project import Project

ROOT = Path(__file__).resolve().parents[1]


def dedent(text):
    return textwrap.dedent(text).strip("\n")


# ---- the tokenizer is myst-parser's ----------------------------------------------------------------
EVERY_CONSTRUCT = dedent(
    """
    ---
    front: matter
    ---
    (sec-a)=
    # Title {cite}`x` and `code`
    % a comment
    +++
    | a | b {math}`y` |
    |---|---|
    | [c](c.md) | ![d](d.png) |

    - item
      ```{note} Arg
      :class: dropdown
      body [^1]
      ```
    > quoted

    :::{prf:lemma}
    colon
    :::

    $$ x = 1 $$ (eq-one)

    ```python
    # code {cite}`z`
    ```

        indented code

    <div>html</div>

    text {{ sub }} $a$ <b>x</b>

    [^1]: a footnote
    """
)


def token_rows(tokens):
    """Everything a token says about the source: kind, lines, info, content, markup, nesting."""
    rows = []
    for t in tokens:
        rows.append((t.type, t.map, t.info, t.content, t.markup, t.level, t.meta.get("name")))
        rows += [("child", *row) for row in token_rows(t.children or [])]
    return rows


def book_texts():
    """The Markdown of every page of the real book."""
    texts = []
    for page in Project(ROOT).chapters():
        if page.path.suffix == ".ipynb":
            nb = nbformat.read(page.path, as_version=4)
            texts += [c.source for c in nb.cells if c.cell_type == "markdown"]
        else:
            texts.append(page.path.read_text())
    return texts


def test_the_tokenizer_is_myst_parsers_own():
    """myst-parser's create_md_parser, for the same extensions, gives the same tokens on every
    construct and on every page of the book (so the editions read what the website reads)."""
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser

    theirs = create_md_parser(MdParserConfig(enable_extensions=set(MYST_EXTENSIONS)), RendererHTML)
    texts = [EVERY_CONSTRUCT, *book_texts()]
    assert len(texts) > 100
    for text in texts:
        assert token_rows(markdown_parser().parse(text)) == token_rows(theirs.parse(text))
    kinds = {row[0] for row in token_rows(markdown_parser().parse(EVERY_CONSTRUCT))}
    assert {"front_matter", "myst_target", "myst_line_comment", "myst_block_break"} <= kinds
    assert {"colon_fence", "math_block_label", "footnote_reference_open", "table_open"} <= kinds


def test_the_extensions_are_the_ones_the_website_is_built_with():
    """Jupyter Book 1's default MyST extensions, which the book's _config.yml does not change;
    linkify is the one left out (see MYST_EXTENSIONS)."""
    from importlib.resources import files

    default = yaml.safe_load((files("jupyter_book") / "default_config.yml").read_text())
    assert set(default["parse"]["myst_enable_extensions"]) == {*MYST_EXTENSIONS, "linkify"}
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "myst_enable_extensions" not in config.get("parse", {})
    assert "myst_enable_extensions" not in config["sphinx"].get("config", {})


# ---- directives and their YAML options -------------------------------------------------------------
def test_directive_options_are_yaml_as_myst_parser_reads_them():
    text = dedent(
        """
        ```{figure} img/a.png
        :name: fig-a
        :width: 400
        :nonumber:
        :class: dropdown wide

        The caption.
        ```
        ````{prf:theorem} Title: with a colon
        ---
        label: thm-a
        alt: |
          two
          lines
        ---
        Body.
        ````
        """
    )
    figure, theorem = split_blocks(text)
    assert figure.options == {
        "name": "fig-a",
        "width": 400,
        "nonumber": None,
        "class": "dropdown wide",
    }
    assert figure.body == "The caption."
    assert (figure.option("width"), figure.option("nonumber"), figure.option("alt")) == (
        "400",
        "",
        "",
    )
    assert (theorem.argument, theorem.options, theorem.body) == (
        "Title: with a colon",
        {"label": "thm-a", "alt": "two\nlines\n"},
        "Body.",
    )
    assert (theorem.start, theorem.end) == (8, 17) and theorem.raw.endswith("Body.\n````")


@pytest.mark.parametrize(
    "options, message",
    [(":alt: a: b", "its options are not YAML"), (":- x", "its options are not a YAML mapping")],
)
def test_options_that_are_not_yaml_fail_naming_the_page_and_the_directive(
    tmp_path, options, message
):
    with pytest.raises(MystError, match=rf"^directive \{{figure\}}: {message}"):
        split_blocks(f"```{{figure}} a.png\n{options}\n```")
    book = small_book(tmp_path, {"first": [md(f"# First\n\n```{{figure}} a.png\n{options}\n```")]})
    with pytest.raises(EditionError, match=rf"^book/first: directive \{{figure\}}: {message}"):
        Book(book)


def test_split_blocks_finds_directives_in_list_items_and_colon_fences_and_gives_the_text_back():
    text = "- item\n\n  ```{note}\n  Inside.\n  ```\n- next\n\n:::{tip}\nColon.\n:::\n"
    pieces = split_blocks(text)
    assert [p.name if isinstance(p, Directive) else p for p in pieces] == [
        "- item\n",
        "note",
        "- next\n",
        "tip",
        "",
    ]
    assert (pieces[1].indent, pieces[1].body, pieces[3].indent) == ("  ", "Inside.", "")
    assert "\n".join(p.raw if isinstance(p, Directive) else p for p in pieces) == text
    assert split_blocks("") == [""] and split_blocks("plain\n") == ["plain\n"]


# ---- conversion ------------------------------------------------------------------------------------
def page_url(docname, anchor=""):
    return f"https://site/{docname}.html" + (f"#{anchor}" if anchor else "")


LABELS = {
    "thm-far": Target("book/other", "thm-far", "Theorem 2.1", "2.1"),
    "doc:book/other": Target("book/other", "", "Other chapter"),
    "fig-a": Target("book/norms", "fig-a", "Fig. 1.1", "1.1", "The {math}`x` caption."),
    "eq-a": Target("book/norms", "equation-eq-a", "(1.2)"),
}


def converter():
    return Converter("book/norms", 1, LABELS, page_url, lambda path: "https://raw/" + path)


def test_code_math_and_html_are_never_converted():
    """A role, target, link or heading inside code, math or HTML is what the website shows: text.
    (This converter has no bibliography: a {cite} it converted would raise.)"""
    text = dedent(
        """
        ```python
        # code {cite}`x` [a](b.md)
        (not-a-target)=
        ```

            indented {cite}`x`

        Inline `` {cite}`x` `` and `[a](b.md)` and $[a](b.md) {cite}`x`$ kept.

        <div>{cite}`x` [a](b.md)</div>
        """
    )
    assert converter().convert(text) == text


def test_links_point_at_the_website_or_the_repository_and_keep_their_titles():
    text = dedent(
        """
        See [the {math}`x` chapter](other.ipynb#sec "Other"), ![A plot](img/a.png),
        [a label](#thm-far), [data](data/a.json), [web](https://x.org/a.md) and [ref][r].

        [r]: other.md
        """
    )
    assert converter().convert(text) == dedent(
        """
        See [the $x$ chapter](https://site/book/other.html#sec "Other"), ![A plot](https://raw/book/img/a.png),
        [a label](https://site/book/other.html#thm-far), [data](https://raw/book/data/a.json), [web](https://x.org/a.md) and [ref][r].

        [r]: other.md
        """
    )


def test_references_show_what_the_website_shows():
    conv = converter()
    assert conv.convert("{numref}`fig-a`, {ref}`fig-a`, {eq}`eq-a`, {prf:ref}`thm-far`.") == (
        "[Fig. 1.1](https://site/book/norms.html#fig-a), "
        "[The $x$ caption.](https://site/book/norms.html#fig-a), "
        "[(1.2)](https://site/book/norms.html#equation-eq-a), "
        "[Theorem 2.1](https://site/book/other.html#thm-far)."
    )
    assert conv.convert("{numref}`Figure %s <fig-a>`") == (
        "[Figure 1.1](https://site/book/norms.html#fig-a)"
    )


def test_hidden_lines_are_dropped_and_indented_and_colon_directives_converted():
    text = "(sec-x)=\n% a comment\n# Title\n+++\n- item\n\n  ```{math}\n  x\n  ```\n\n:::{note}\nN.\n:::"
    assert converter().convert(text) == (
        "# Title\n- item\n\n  $$\n  x\n  $$\n\n"
        '<div class="signbook-note" style="border-left: 4px solid #3b6ea8; '
        'padding: 0.1em 0.9em; margin: 0.8em 0">\n\n**Note**\n\nN.\n\n</div>'
    )
    assert (
        converter().convert("$$ y = 2 $$ (eq-a)\n\n$$\nz\n$$ (eq-b)") == "$$ y = 2 $$\n\n$$\nz\n$$"
    )


LISTED = {
    "prf:theorem": "```{prf:theorem} Sign\n:label: thm-x\nBody.\n```",
    "prf:lemma": "```{prf:lemma}\nBody.\n```",
    "prf:definition": "```{prf:definition} D\n:label: def-x\nBody.\n```",
    "prf:proof": "```{prf:proof}\nBody.\n```",
    "prf:corollary": "```{prf:corollary}\n:nonumber:\nBody.\n```",
    "exercise": "```{exercise} E\n:label: ex-x\nQuestion.\n```",
    "solution": "```{solution} ex-x\n:class: dropdown\nAnswer.\n```",
    "admonition": "```{admonition} A title\n:class: tip\nText.\n```",
    "note": "```{note}\nText.\n```",
    "warning as a dropdown": "```{warning}\n:class: dropdown\nText.\n```",
    "dropdown": "```{dropdown} More\nText.\n```",
    "math": "```{math}\n:label: eq-x\nx = 1\n```",
    "code-block": "```{code-block} python\nx = 1\n```",
    "figure": "```{figure} img/a.png\n:name: fig-x\n:alt: Alt\n\nThe caption.\n```",
    "image": "```{image} img/a.png\n:alt: Alt\n```",
    "(label)=": "(sec-x)=\n## A section",
    "cite": "{cite}`one`",
    "cite:p": "{cite:p}`one`",
    "cite:t": "{cite:t}`one`",
    "prf:ref": "{prf:ref}`thm-far`",
    "ref": "{ref}`fig-a`",
    "numref": "{numref}`fig-a`",
    "eq": "{eq}`eq-a`",
    "doc": "{doc}`other`",
    "math role": "{math}`x^2`",
}
"""One sample of each construct CONTRIBUTING.md says the generator knows."""


@pytest.mark.parametrize("name", LISTED)
def test_every_construct_contributing_lists_has_a_plain_form(tmp_path, name):
    (tmp_path / "refs.bib").write_text(
        "@book{one, title={T}, author={Higham, Nicholas J.}, publisher={SIAM}, year={2008}}"
    )
    conv = Converter(
        "book/norms",
        1,
        LABELS,
        page_url,
        lambda p: "https://raw/" + p,
        Bibliography(tmp_path / "refs.bib"),
    )
    plain = conv.convert(LISTED[name])
    assert plain.strip() and not re.search(r"\{[\w:-]+\}|:\w+:|\)=", plain), plain


@pytest.mark.parametrize(
    "text, construct",
    [
        ("Text[^1].\n\n[^1]: A note.", r"a footnote reference \[\^\.\.\.\]"),
        ("[^1]: A note.", r"a footnote definition \[\^\.\.\.\]:"),
        ("A {{ name }} here.", r"a substitution \{\{ \.\.\. \}\}"),
        ("{{ name }}", r"a substitution \{\{ \.\.\. \}\}"),
        ("---\ntitle: x\n---\n# T", r"front matter"),
        ("> ```{note}\n> x\n> ```", r"directive \{note\} after '>' \(in a block quote"),
        ("- ```{note}\n  x\n  ```", r"directive \{note\} after '-'"),
        (":::{tab-set}\nx\n:::", r"directive \{tab-set\} has no plain-Markdown form"),
        ("{sub}`2`", r"role \{sub\} has no plain-Markdown form"),
    ],
)
def test_constructs_without_a_plain_form_fail_naming_the_page_and_the_construct(text, construct):
    with pytest.raises(MystError, match=rf"^book/norms: {construct}"):
        converter().convert(text)


# ---- numbers ---------------------------------------------------------------------------------------
def directive(text):
    (d,) = split_blocks(dedent(text))
    return d


def test_numbering_one_counter_per_kind_as_chapter_dot_n():
    numbering = Numbering(2)
    assert [numbering.next(k) for k in ("theorem", "lemma", "theorem", "equation")] == [
        "2.1",
        "2.1",
        "2.2",
        "2.1",
    ]
    unnumbered = Numbering(None)
    assert unnumbered.directive(directive("```{prf:lemma}\n```")) == "1"
    assert unnumbered.directive(directive("```{prf:proof}\n```")) == ""
    kinds = {
        "```{prf:corollary}\n```": "corollary",
        "```{prf:remark}\n:nonumber:\n```": None,
        "```{exercise}\n```": "exercise",
        "```{figure} a.png\nA caption.\n```": "figure",
        "```{figure} a.png\n:name: fig-x\n```": None,  # no caption: numfig skips it
        "```{math}\n:label: eq-x\nx\n```": "equation",
        "```{math}\nx\n```": None,
        "```{note}\n```": None,
    }
    assert {text: numbered_kind(directive(text)) for text in kinds} == kinds


def test_index_document_in_reading_order_across_cells():
    texts = [
        "```python\n# not the title\n(not-a-label)=\n```\n# Title\n\n(sec-late)=",
        dedent(
            """
            ## Named by the previous cell's target

            $$ a $$ (eq-a)

            ```{math}
            :label: eq-b
            b
            ```

            $$ c $$ (eq-c)

            ```{figure} a.png
            :name: fig-a

            The caption.
            ```
            ```{code-cell} python
            # a comment, not a heading
            ```
            """
        ),
    ]
    assert index_document("book/x", 4, texts) == {
        "doc:book/x": Target("book/x", "", "Title"),
        "sec-late": Target("book/x", "sec-late", "Named by the previous cell's target"),
        "eq-a": Target("book/x", "equation-eq-a", "(4.1)"),
        "eq-b": Target("book/x", "equation-eq-b", "(4.2)"),
        "eq-c": Target("book/x", "equation-eq-c", "(4.3)"),
        "fig-a": Target("book/x", "fig-a", "Fig. 4.1", "4.1", "The caption."),
    }


# ---- against a built website -----------------------------------------------------------------------
def md(text):
    return nbformat.v4.new_markdown_cell(dedent(text))


def one_pixel_png():
    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def small_book(root, chapters):
    """A book whose root page is unnumbered and whose chapters are the notebooks ``chapters``."""
    (root / "book").mkdir(parents=True)
    (root / "_config.yml").write_text(
        "title: Numbers\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: 'off'\n"
        "repository:\n  url: https://github.com/someone/numbers\n  branch: main\n"
        "sphinx:\n  extra_extensions: [sphinx_proof, sphinx_exercise]\n"
    )
    toc = "format: jb-book\nroot: book/intro\noptions:\n  numbered: true\nchapters:\n"
    (root / "_toc.yml").write_text(toc + "".join(f"  - file: book/{n}\n" for n in chapters))
    (root / "book" / "intro.md").write_text(
        "# Intro\n\n```{prf:lemma}\n:label: lem-intro\nX.\n```\n\n$$ e = 1 $$ (eq-intro)\n"
    )
    (root / "book" / "a.png").write_bytes(one_pixel_png())
    for name, cells in chapters.items():
        nb = nbformat.v4.new_notebook()
        nb.cells = cells
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        nb.metadata["language_info"] = {"name": "python"}
        nbformat.write(nb, root / "book" / f"{name}.ipynb")
    return root


NUMBERED_CHAPTERS = {
    "first": [
        md("```python\n# not the title\n```\n\n# First\n\n(sec-late)="),
        md(
            """
            ## A section named by the previous cell's target

            ```{prf:theorem} T
            :label: thm-1
            A theorem, then equations of both kinds in one cell.
            ```

            $$ a = 1 $$ (eq-1)

            ```{math}
            :label: eq-2
            b = 2
            ```

            $$ c = 3 $$ (eq-3)
            """
        ),
        md(
            """
            ````{note}
            ```{prf:theorem}
            :label: thm-2
            Nested in a note.
            ```
            ````

            ```{prf:theorem}
            Unlabelled.
            ```

            ```{prf:lemma}
            :label: lem-1
            A lemma.
            ```

            ```{prf:remark}
            :label: rem-1
            :nonumber:
            Not numbered.
            ```

            ```{prf:definition}
            ---
            label: def-1
            ---
            Options in a YAML block.
            ```
            """
        ),
        md(
            """
            ```{figure} a.png
            :name: fig-1

            A captioned figure.
            ```

            ```{figure} a.png
            :name: fig-2
            ```

            - An item with a theorem in it:

              ```{prf:theorem}
              :label: thm-3
              In a list.
              ```

            ```{exercise} An exercise
            :label: ex-1
            Question.
            ```
            """
        ),
        nbformat.v4.new_code_cell(
            "answer = ...  # a float", metadata={"tags": ["exercise-answer"]}
        ),
        md("```{solution-start} ex-1\n:class: dropdown\n```\nThe answer."),
        md(
            """
            ```{solution-end}
            ```

            ```{prf:corollary}
            :label: cor-1
            See {prf:ref}`thm-1`, {eq}`eq-2`, {numref}`fig-1`, {ref}`sec-late` and {ref}`ex-1`.
            ```
            """
        ),
    ],
    "second": [
        md(
            """
            # Second

            ```{prf:theorem}
            :label: thm-s1
            A second chapter's own counters.
            ```

            $$ x $$ (eq-s1)

            ```{exercise}
            :label: ex-s1
            Again.
            ```
            """
        ),
        nbformat.v4.new_code_cell(
            "answer = ...  # a string", metadata={"tags": ["exercise-answer"]}
        ),
    ],
}


@pytest.fixture(scope="module")
def built_small_book(tmp_path_factory):
    """The small book and its website (Jupyter Book, -W, no execution): (Book, html folder)."""
    root = small_book(tmp_path_factory.mktemp("numbers"), NUMBERED_CHAPTERS)
    out = tmp_path_factory.mktemp("numbers-site")
    result = build(root, out)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return Book(root, ref="main"), out / "_build" / "html"


def test_the_editions_number_every_block_and_equation_as_the_built_website(built_small_book):
    book, html = built_small_book
    assert mismatches(book, html) == []
    first = read_page(html / "book" / "first.html")
    assert first.numbers == {
        "thm-1": "Theorem 1.1",
        "equation-eq-1": "(1.1)",
        "equation-eq-2": "(1.2)",
        "equation-eq-3": "(1.3)",
        "thm-2": "Theorem 1.2",
        first_unlabelled(first): "Theorem 1.3",
        "lem-1": "Lemma 1.1",
        "rem-1": "Remark",
        "def-1": "Definition 1.1",
        "fig-1": "Fig. 1.1",
        "thm-3": "Theorem 1.4",
        "ex-1": "Exercise 1.1",
        "cor-1": "Corollary 1.1",
    }
    assert book.labels["sec-late"].text == "A section named by the previous cell's target"
    assert read_page(html / "book" / "intro.html").numbers == {
        "lem-intro": "Lemma 1",
        "equation-eq-intro": "(1)",
    }
    second = book.project.notebooks()[1]
    assert colab_titles(book, second) == ["Theorem 2.1", "Exercise 2.1"]


def first_unlabelled(page):
    (anchor,) = [a for a, n in page.numbers.items() if n == "Theorem 1.3"]
    assert not anchor.startswith("thm-")
    return anchor


def test_the_website_comparison_catches_a_wrong_number(built_small_book):
    book, html = built_small_book
    right = book.labels["thm-2"]
    book.labels["thm-2"] = Target(right.docname, right.anchor, "Theorem 1.9", "1.9")
    book.labels["eq-1"] = Target(right.docname, "eq-1", "(1.1)")  # the anchor Sphinx does not write
    try:
        faults = mismatches(book, html)
    finally:
        book.labels = Book(book.root, ref="main").labels
    assert "thm-2: the editions say 'Theorem 1.9', the site 'Theorem 1.2'" in faults
    assert "eq-1: no id 'eq-1' on book/first.html" in faults
    assert any("'equation-eq-1', which the index does not know" in f for f in faults)


def test_each_chapter_notebook_is_read_once_for_every_edition(tmp_path, monkeypatch):
    import signbook.edition

    root = small_book(tmp_path, NUMBERED_CHAPTERS)
    reads = []
    original = nbformat.read
    monkeypatch.setattr(
        signbook.edition.nbformat,
        "read",
        lambda path, **k: reads.append(path) or original(path, **k),
    )
    book = Book(root, ref="main")
    for edition in ("colab", "student-site"):
        for chapter in book.project.notebooks():
            book.notebook(chapter, EDITIONS[edition])
            book.exercises(chapter)
            book.data_files(chapter)
    assert sorted(Path(p).name for p in reads) == ["first.ipynb", "second.ipynb"]
