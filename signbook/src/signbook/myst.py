"""MyST Markdown → plain Jupyter Markdown, for notebooks opened outside the website (Colab, Jupyter).

Colab renders Markdown and a little HTML, not MyST: a ``{prf:theorem}`` fence shows as a code block and
``{cite}`` as literal text. :class:`Converter` rewrites one Markdown cell at a time:

- directives (theorems, definitions, proofs, exercises, admonitions) become titled blocks
  (``<div>`` with a coloured left border, Markdown inside), numbered as the website numbers them;
  dropdowns and solutions become ``<details>``, which Colab and Jupyter show collapsed;
- ``{cite}`` becomes author–year text, and the cited works are listed by :meth:`Converter.references`;
- ``{prf:ref}``, ``{ref}``, ``{numref}``, ``{doc}``, ``{eq}`` and links to other chapters become links
  into the website (the page and anchor that Sphinx gives the label);
- ``(label)=`` targets, ``%`` comments and ``+++`` breaks, which the website does not show, are dropped;
- anything it does not know raises :class:`MystError` naming the page and the construct, so an
  unconverted directive never reaches a reader as raw text.

The text is read by myst-parser's own tokenizer (:func:`markdown_parser`: markdown-it-py with the
mdit-py-plugins that myst-parser loads for the book's MyST extensions), so a fence, a code span, a
role or a target is what the website takes it for: a ``{cite}`` inside a code block stays code, a
directive nested in a directive or in a list item is found, and a directive's options are YAML
(``yaml.safe_load``, as myst-parser reads them). markdown-it gives block tokens their source lines and
the conversion rewrites only the lines and spans it must, so everything else is copied as written.
:class:`Numbering` numbers the blocks as Sphinx does (the tests compare it with a built site).
"""

from __future__ import annotations

import functools
import re
import textwrap
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

PROOF_KINDS = {
    "theorem": "Theorem",
    "lemma": "Lemma",
    "definition": "Definition",
    "corollary": "Corollary",
    "proposition": "Proposition",
    "remark": "Remark",
    "example": "Example",
    "axiom": "Axiom",
    "conjecture": "Conjecture",
    "criterion": "Criterion",
    "algorithm": "Algorithm",
    "assumption": "Assumption",
    "notation": "Notation",
    "observation": "Observation",
    "property": "Property",
}
ADMONITIONS = {
    "note": "Note",
    "tip": "Tip",
    "hint": "Hint",
    "important": "Important",
    "warning": "Warning",
    "caution": "Caution",
    "attention": "Attention",
    "danger": "Danger",
    "error": "Error",
    "seealso": "See also",
    "admonition": "",
    "margin": "",
    "sidebar": "",
    "topic": "",
    "epigraph": "",
}
COLOURS = {
    "definition": "#2e8b57",
    "proof": "#888888",
    "exercise": "#d9822b",
    "warning": "#c0392b",
    "danger": "#c0392b",
    "error": "#c0392b",
    "caution": "#c0392b",
}
DEFAULT_COLOUR = "#3b6ea8"
CAPTIONS = {**PROOF_KINDS, "exercise": "Exercise", "figure": "Fig."}
"""The word before a block's number on the website ("Theorem 2.1", "Exercise 2.1", "Fig. 2.1")."""

MYST_EXTENSIONS = ("colon_fence", "dollarmath", "substitution", "tasklist")
"""The MyST syntax extensions the website parses the book with: Jupyter Book 1's defaults (the book's
``_config.yml`` changes none), less ``linkify``, which only turns bare URLs into links (the conversion
leaves those as written) and needs linkify-it-py."""

_DIRECTIVE_INFO = re.compile(r"^\{(?P<name>[\w:-]+)\}\s*(?P<arg>.*)$")
_OPTION_BLOCK_END = re.compile(r"^-{3,}", re.M)
_LITERAL_DIRECTIVES = {"code-cell", "code-block", "code", "sourcecode", "math", "raw"}
"""Directives whose body is code or TeX, not Markdown (no labels or numbered blocks inside)."""
_UNSUPPORTED = {
    "front_matter": "front matter (a --- block)",
    "footnote_reference_open": "a footnote definition [^...]:",
    "substitution_block": "a substitution {{ ... }}",
}
_UNSUPPORTED_INLINE = {
    "footnote_ref": "a footnote reference [^...]",
    "substitution_inline": "a substitution {{ ... }}",
}


class MystError(ValueError):
    """A MyST construct that has no plain-Markdown form (yet), or a reference to nothing."""


# ---- the tokenizer -----------------------------------------------------------------------------------
@functools.cache
def markdown_parser():
    """myst-parser's Markdown tokenizer for :data:`MYST_EXTENSIONS`, built as its
    ``myst_parser.parsers.mdit.create_md_parser`` builds it (markdown-it-py, CommonMark, tables, and the
    mdit-py-plugins for MyST blocks, roles, footnotes, front matter and the extensions), without
    importing myst-parser (and Sphinx with it) where only the editions are written."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.colon_fence import colon_fence_plugin
    from mdit_py_plugins.dollarmath import dollarmath_plugin
    from mdit_py_plugins.footnote import footnote_plugin
    from mdit_py_plugins.front_matter import front_matter_plugin
    from mdit_py_plugins.myst_blocks import myst_block_plugin
    from mdit_py_plugins.myst_role import myst_role_plugin
    from mdit_py_plugins.substitution import substitution_plugin
    from mdit_py_plugins.tasklists import tasklists_plugin

    md = (
        MarkdownIt("commonmark")
        .enable("table")
        .use(front_matter_plugin)
        .use(myst_block_plugin)
        .use(myst_role_plugin)
        .use(footnote_plugin)
        .disable("footnote_inline")
        .disable("footnote_tail")
    )
    md.use(dollarmath_plugin, allow_labels=True, allow_space=True, allow_digits=True)
    md.use(colon_fence_plugin).use(tasklists_plugin).use(substitution_plugin, "{", "}")
    return md


@dataclass(frozen=True)
class _Block:
    """Lines ``start`` to ``end`` (excluded) of a text, which the conversion copies as they are:
    code, HTML, display math without a label, a thematic break."""

    start: int
    end: int


@dataclass(frozen=True)
class _Prose(_Block):
    """Lines of inline Markdown (a paragraph, a table row): their roles and links are converted."""


@dataclass(frozen=True)
class _Heading(_Prose):
    """A heading: its ``level`` (1 for ``#``) and its ``title`` as written."""

    level: int
    title: str


@dataclass(frozen=True)
class _Labelled(_Block):
    """Lines that define ``label``."""

    label: str


class _Anchor(_Labelled):
    """A ``(label)=`` target line."""


class _Equation(_Labelled):
    """A ``$$ ... $$ (label)`` display equation."""


class _Hidden(_Block):
    """Lines the website does not show: ``%`` comments, ``+++`` block breaks."""


@dataclass(frozen=True)
class _Unsupported(_Block):
    """A construct without a plain form (:data:`_UNSUPPORTED` says ``what``)."""

    what: str


@dataclass(frozen=True)
class Directive(_Block):
    """A fenced directive: ``name``, its argument, options and body, what stands before its fence on
    the first line (``indent``), and its source lines (``raw``, lines ``start`` to ``end`` of the text).

    ``options`` are the directive's option block read as YAML, as myst-parser reads it: the
    ``:key: value`` lines (or a ``---`` block) at the top of the body."""

    name: str
    argument: str
    options: dict[str, Any]
    body: str
    indent: str
    raw: str

    def option(self, key: str) -> str:
        """The option ``key`` as text: "" when absent or empty (a flag such as ``:nonumber:``)."""
        value = self.options.get(key)
        return "" if value is None else str(value)


_VERBATIM = ("fence", "colon_fence", "code_block", "html_block", "math_block", "hr")


def _leaf(token, start: int, end: int) -> _Block | None:
    """The block that a markdown-it token of lines ``start``..``end`` is (None for a container,
    a list or a block quote, whose blocks come as tokens of their own)."""
    if token.type == "myst_target":
        return _Anchor(start, end, token.content)
    if token.type == "math_block_label":
        return _Equation(start, end, token.info)
    if token.type in ("myst_line_comment", "myst_block_break"):
        return _Hidden(start, end)
    if token.type in _UNSUPPORTED:
        return _Unsupported(start, end, _UNSUPPORTED[token.type])
    return _Block(start, end) if token.type in _VERBATIM else None


def _blocks(text: str, where: str = "") -> tuple[list[_Block], dict]:
    """The blocks of ``text`` in reading order, and the parser's environment (its link references).

    A directive is one block: its body is read when the directive is (it is only text to the
    Markdown around it). Lines that no block claims (blank lines, list markers) are not listed.
    """
    env: dict = {}
    tokens = markdown_parser().parse(text, env)
    lines = text.split("\n")
    blocks: list[_Block] = []
    for k, token in enumerate(tokens):
        if token.map is None:
            continue
        start, end = token.map
        if token.type in ("fence", "colon_fence") and _DIRECTIVE_INFO.match(token.info.strip()):
            blocks.append(_directive(token, lines, where))
        elif token.type == "heading_open":
            blocks.append(_Heading(start, end, int(token.tag[1:]), tokens[k + 1].content))
        elif token.type == "inline":  # a paragraph's or a table row's cell's (headings: above)
            if not blocks or (blocks[-1].start, blocks[-1].end) != (start, end):
                blocks.append(_Prose(start, end))
        elif (leaf := _leaf(token, start, end)) is not None:
            blocks.append(leaf)
    return blocks, env


def _directive(token, lines: list[str], where: str) -> Directive:
    start, end = token.map
    first = lines[start]
    at = first.index(token.markup)
    info = _DIRECTIVE_INFO.match(first[at + len(token.markup) :].strip()) or _DIRECTIVE_INFO.match(
        token.info.strip()
    )
    assert info is not None  # _blocks took the token for a directive by its info
    name = info["name"]
    options, body = _options(token.content, f"{where}: " * bool(where) + f"directive {{{name}}}")
    return Directive(
        start,
        end,
        name,
        info["arg"].strip(),
        options,
        body,
        first[:at],
        "\n".join(lines[start:end]),
    )


def _options(content: str, what: str) -> tuple[dict[str, Any], str]:
    """A directive's options (its YAML option block) and its body, as myst-parser splits them."""
    import yaml

    lines = content.split("\n")
    if content.startswith("---"):
        rest = "\n".join(lines[1:])
        stop = _OPTION_BLOCK_END.search(rest)
        block = rest[: stop.start()] if stop else rest
        lines = rest[stop.end() + 1 :].split("\n") if stop else []
    elif content.lstrip().startswith(":"):
        keys = []
        while lines and lines[0].lstrip().startswith(":"):
            keys.append(lines.pop(0).lstrip()[1:])
        block = "\n".join(keys)
    else:
        return {}, content.strip("\n")
    try:
        options = yaml.safe_load(textwrap.dedent(block)) or {}
    except yaml.YAMLError as err:
        raise MystError(f"{what}: its options are not YAML ({err})") from None
    if not isinstance(options, dict):
        raise MystError(f"{what}: its options are not a YAML mapping of keys to values")
    return options, "\n".join(lines).strip("\n")


def split_blocks(text: str) -> list[str | Directive]:
    """Split ``text`` into pieces: runs of other lines (str) and :class:`Directive` s, in order.

    Joined with newlines, the pieces give ``text`` back. A directive inside another one is part of
    that one's body; code fences stay inside the text pieces, untouched.
    """
    lines = text.split("\n")
    pieces: list[str | Directive] = []
    done = 0
    for block in _blocks(text)[0]:
        if isinstance(block, Directive):
            if block.start > done:
                pieces.append("\n".join(lines[done : block.start]))
            pieces.append(block)
            done = block.end
    if done < len(lines) or not pieces:
        pieces.append("\n".join(lines[done:]))
    return pieces


def _walk(text: str, where: str) -> Iterator[_Block]:
    """Every block of ``text`` in reading order, those in directives' bodies after their directive."""
    for block in _blocks(text, where)[0]:
        yield block
        if isinstance(block, Directive) and block.name not in _LITERAL_DIRECTIVES:
            yield from _walk(block.body, where)


# ---- numbers and labels ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """Where a label points on the website, and the text a reference to it shows (``caption``: a
    figure's, which ``{ref}`` shows where ``{numref}`` shows "Fig. 2.1")."""

    docname: str
    anchor: str
    text: str
    number: str = ""
    caption: str = ""


@dataclass
class Numbering:
    """The numbers the website gives one page's blocks, in reading order.

    sphinx-proof and sphinx-exercise keep a counter per kind of block (theorem, lemma, exercise...),
    Sphinx's numfig one for captioned figures and one for labelled equations (``$$ ... $$ (label)``
    and ``{math}`` with ``:label:``); in chapter ``c`` of a numbered book the n-th is ``c.n``, on an
    unnumbered page ``n``. A ``:nonumber:`` block gets no number. ``tests/test_editions.py`` checks
    these numbers against a built site.
    """

    chapter: int | None
    counts: Counter[str] = field(default_factory=Counter)

    def next(self, kind: str) -> str:
        """Advance ``kind``'s counter: the number of its next block (``2.3``)."""
        self.counts[kind] += 1
        n = self.counts[kind]
        return f"{self.chapter}.{n}" if self.chapter is not None else str(n)

    def directive(self, d: Directive) -> str:
        """The number of directive ``d`` ("" if the website does not number it), counted."""
        kind = numbered_kind(d)
        return self.next(kind) if kind else ""


def numbered_kind(d: Directive) -> str | None:
    """The counter a directive advances on the website (``theorem``, ``exercise``, ``figure``,
    ``equation``), or None."""
    if "nonumber" in d.options:
        return None
    if d.name.startswith("prf:") and d.name[4:] in PROOF_KINDS:
        return d.name[4:]
    if d.name == "exercise":
        return "exercise"
    if d.name == "figure" and d.body.strip():
        return "figure"  # numfig numbers captioned figures only
    if d.name == "math" and d.option("label"):
        return "equation"
    return None


def index_document(docname: str, chapter: int | None, texts: list[str]) -> dict[str, Target]:
    """The labels that one page (its Markdown ``texts`` in order) defines, numbered as the website
    numbers them (:class:`Numbering`), with the page's title under ``doc:<docname>``."""
    found: dict[str, Target] = {}
    numbering = Numbering(chapter)
    waiting: list[str] = []  # (label)= targets: they name the block that follows
    for text in texts:
        for block in _walk(text, docname):
            if isinstance(block, _Anchor):
                waiting.append(block.label)
                continue
            title = block.title if isinstance(block, _Heading) else ""
            found.update({label: Target(docname, label, title or label) for label in waiting})
            waiting = []
            if isinstance(block, _Heading) and block.level == 1:
                found.setdefault(f"doc:{docname}", Target(docname, "", block.title))
            if isinstance(block, _Equation):
                number = numbering.next("equation")
                found[block.label] = Target(docname, f"equation-{block.label}", f"({number})")
            if isinstance(block, Directive):
                found.update(_directive_target(docname, block, numbering.directive(block)))
    found.update({label: Target(docname, label, label) for label in waiting})
    return found


def _directive_target(docname: str, d: Directive, number: str) -> dict[str, Target]:
    """``{label: Target}`` for a labelled directive (``:label:``, or a figure's ``:name:``)."""
    label = d.option("label") or d.option("name")
    if not label:
        return {}
    kind = numbered_kind(d)
    if kind == "equation":
        return {label: Target(docname, f"equation-{label}", f"({number})")}
    word = CAPTIONS.get(kind or "", d.name.split(":")[-1].capitalize())
    caption = d.body.strip().split("\n\n")[0] if d.name == "figure" else ""
    return {label: Target(docname, label, f"{word} {number}".strip(), number, caption)}


# ---- conversion --------------------------------------------------------------------------------------
@dataclass
class Converter:
    """Converts the Markdown cells of one page (``docname``) in reading order.

    ``labels`` is the index of the whole book (:func:`index_document` over every page), ``page_url``
    maps ``(docname, anchor)`` to a website URL, ``raw_url`` a repository path to a downloadable URL,
    and ``bibliography`` is a :class:`Bibliography` (or None when the book cites nothing).
    """

    docname: str
    chapter: int | None
    labels: dict[str, Target]
    page_url: Callable[..., str]
    raw_url: Callable[[str], str]
    bibliography: Bibliography | None = None
    cited: list[str] = field(default_factory=list)
    numbering: Numbering = field(init=False)

    def __post_init__(self) -> None:
        self.numbering = Numbering(self.chapter)

    def where(self, what: str) -> MystError:
        """The error for ``what``, naming this page."""
        return MystError(f"{self.docname}: {what}")

    # ---- blocks ----------------------------------------------------------------------------------
    def convert(self, text: str) -> str:
        """``text`` (one Markdown cell, or a directive's body) as plain Jupyter Markdown."""
        blocks, env = _blocks(text, self.docname)
        lines = text.split("\n")
        out: list[str] = []
        done = 0
        for block in blocks:
            if block.start < done:
                continue  # inside a block already written (a footnote's paragraph)
            out += lines[done : block.start]
            written = self._block(block, "\n".join(lines[block.start : block.end]), env)
            if written is not None:
                out.append(written)
            done = block.end
        return "\n".join(out + lines[done:])

    def _block(self, block: _Block, source: str, env: dict) -> str | None:
        """One block's plain form (None: the block is dropped)."""
        if isinstance(block, Directive):
            return self.directive(block)
        if isinstance(block, _Prose):
            return self._inline(source, env)
        if isinstance(block, (_Anchor, _Hidden)):
            return None
        if isinstance(block, _Equation):
            return re.sub(rf"\$\$\s*\({re.escape(block.label)}\)", "$$", source)
        if isinstance(block, _Unsupported):
            raise self.where(f"{block.what} has no plain-Markdown form; add one to signbook.myst")
        return source

    def directive(self, d: Directive) -> str:
        """One directive as plain Markdown/HTML, numbered as the website numbers it."""
        number = self.numbering.directive(d)
        if d.indent.strip():
            raise self.where(
                f"directive {{{d.name}}} after {d.indent.strip()!r} (in a block quote or "
                "opening a list item) has no plain-Markdown form; indent it instead"
            )
        return self._form_of(d.name)(d, number)

    def _form_of(self, name: str):
        """The method that writes directive ``name``: ``method(directive, number) -> str``."""
        if name.startswith("prf:"):
            return self._proof_kind
        if name in ADMONITIONS or name == "dropdown":
            return self._admonition
        forms = {
            "exercise": self._exercise,
            "solution": self._solution,
            "solution-start": self._spans_cells,
            "solution-end": self._spans_cells,
            "math": self._math,
            "code-block": self._code,
            "code": self._code,
            "sourcecode": self._code,
            "figure": self._figure,
            "image": self._figure,
            "bibliography": self._bibliography,
        }
        if name not in forms:
            raise self.where(
                f"directive {{{name}}} has no plain-Markdown form; add one to signbook.myst"
            )
        return forms[name]

    def _proof_kind(self, d: Directive, number: str) -> str:
        what = d.name[4:]
        if what == "proof":
            body = self.convert(d.body)
            return self.block("proof", "Proof.", body + '\n\n<p align="right">∎</p>', d)
        if what not in PROOF_KINDS:
            raise self.where(f"directive {{{d.name}}} has no plain-Markdown form")
        title = f"{PROOF_KINDS[what]} {number}".strip()
        return self.block(what, self._titled(title, d.argument), self.convert(d.body), d)

    def _exercise(self, d: Directive, number: str) -> str:
        title = f"Exercise {number}".strip()
        return self.block("exercise", self._titled(title, d.argument), self.convert(d.body), d)

    def _solution(self, d: Directive, number: str) -> str:
        return self.details(self.solution_title(d.argument), self.convert(d.body), d)

    def _spans_cells(self, d: Directive, number: str) -> str:
        raise self.where(
            f"{{{d.name}}} must be handled by the edition (it spans cells), not converted"
        )

    def _admonition(self, d: Directive, number: str) -> str:
        named = d.name in ("admonition", "dropdown")
        title = (d.argument if named else ADMONITIONS[d.name]) or d.argument
        body = self.convert(d.body)
        if d.name == "dropdown" or "dropdown" in d.option("class").split():
            return self.details(title or "Details", body, d)
        return self.block(d.name, self.inline(title), body, d)

    def _math(self, d: Directive, number: str) -> str:
        return self._indent(f"$$\n{d.body.strip()}\n$$", d)

    def _code(self, d: Directive, number: str) -> str:
        return self._indent(f"```{d.argument}\n{d.body}\n```", d)

    def _figure(self, d: Directive, number: str) -> str:
        alt = d.option("alt")
        image = f"![{alt}]({self.raw_url(self._relative(d.argument))})"
        caption = self.convert(d.body) if d.name == "figure" and d.body.strip() else ""
        return self._indent(image + (f"\n\n*{caption.strip()}*" if caption else ""), d)

    def _bibliography(self, d: Directive, number: str) -> str:
        if self.bibliography is None:
            raise self.where("{bibliography} without a bibliography file")
        return self._indent(self.bibliography.listing(self.bibliography.keys()), d)

    def solution_title(self, label: str) -> str:
        """The summary line of a solution: "Solution to Exercise 2.3" (plain "Solution" if unknown)."""
        target = self.labels.get(label)
        return f"Solution to {target.text}" if target else "Solution"

    def _titled(self, title: str, argument: str) -> str:
        return f"{title} ({self.inline(argument)})" if argument else title

    def _relative(self, path: str) -> str:
        if re.match(r"^[a-z]+://", path):
            return path
        base = PurePosixPath(self.docname).parent
        return str(PurePosixPath(*(base / path).parts))

    def block(self, kind: str, title: str, body: str, d: Directive) -> str:
        """A titled ``<div>`` with a left border coloured by ``kind`` (the directive's name)."""
        colour = COLOURS.get(kind, DEFAULT_COLOUR)
        html = (
            f'<div class="signbook-{kind}" style="border-left: 4px solid {colour}; '
            f'padding: 0.1em 0.9em; margin: 0.8em 0">\n\n'
            f"**{title}**\n\n{body.strip()}\n\n</div>"
        )
        return self._indent(html, d)

    def details(self, title: str, body: str, d: Directive | None = None) -> str:
        """A collapsed ``<details>`` block (Colab and Jupyter show only ``title`` until clicked)."""
        html = (
            f'<details class="signbook-solution">\n<summary><b>{title}</b></summary>\n\n'
            f"{body.strip()}\n\n</details>"
        )
        return self._indent(html, d) if d else html

    def _indent(self, text: str, d: Directive) -> str:
        if not d.indent:
            return text
        return "\n".join(d.indent + ln if ln else ln for ln in text.split("\n"))

    # ---- inline ----------------------------------------------------------------------------------
    def inline(self, text: str) -> str:
        """Roles and links of ``text`` (inline Markdown: a title, a paragraph) in their plain forms;
        code spans, math and everything else are kept as written."""
        return self._inline(text, {})

    def _inline(self, text: str, env: dict) -> str:
        out: list[str] = []
        done = 0
        for token, start, end in _inline_spans(text, env):
            written = self._span(token, text, start, end, env)
            if written is not None:
                out += [text[done:start], written]
                done = end
        return "".join(out) + text[done:]

    def _span(self, token, text: str, start: int, end: int, env: dict) -> str | None:
        """The plain form of the inline construct ``text[start:end]`` (None: kept as written)."""
        if token.type == "myst_role":
            name = token.meta["name"]
            quoted = text[start + len(name) + 2 : end]  # `content`, in one or more backticks
            ticks = len(quoted) - len(quoted.lstrip("`"))
            return self._role(name, quoted[ticks:-ticks])
        if token.type in _UNSUPPORTED_INLINE:
            raise self.where(
                f"{_UNSUPPORTED_INLINE[token.type]} has no plain-Markdown form; "
                "add one to signbook.myst"
            )
        if token.type == "image" or (token.type == "link_open" and token.markup != "autolink"):
            return self._link(text, start, end, token.type == "image", env)
        return None

    def _role(self, role: str, content: str) -> str:
        if role == "cite" or role.startswith("cite:"):
            return self.cite(role, content)
        if role in ("prf:ref", "ref", "numref", "eq", "doc"):
            return self.reference(role, content)
        if role == "math":
            return f"${content}$"
        if role in ("code", "kbd", "file", "samp", "command"):
            return f"`{content}`"
        if role == "abbr":
            return content.split("(")[0].strip()
        raise self.where(f"role {{{role}}} has no plain-Markdown form; add one to signbook.myst")

    def cite(self, role: str, content: str) -> str:
        """A ``{cite}`` role as author–year text; ``{cite:t}`` gives "Tao et al. (2026)"."""
        if self.bibliography is None:
            raise self.where(f"{{{role}}}`{content}` but the book has no bibliography")
        keys = [k.strip() for k in content.split(",") if k.strip()]
        for key in keys:
            if key not in self.bibliography.entries:
                raise self.where(f"{{{role}}} cites {key!r}, which is not in the bibliography")
            if key not in self.cited:
                self.cited.append(key)
        style = role.partition(":")[2] or "p"
        authors = [self.bibliography.authors(k) for k in keys]
        years = [self.bibliography.year(k) for k in keys]
        if style in ("t", "ts"):
            return "; ".join(f"{a} ({y})" for a, y in zip(authors, years))
        if style == "author":
            return "; ".join(authors)
        if style == "year":
            return "; ".join(years)
        return "(" + "; ".join(f"{a}, {y}" for a, y in zip(authors, years)) + ")"

    def reference(self, role: str, content: str) -> str:
        """A cross-reference role as a link to the label's page and anchor on the website."""
        explicit = re.match(r"^(?P<text>.*?)\s*<(?P<label>[^<>]+)>$", content, re.S)
        text, label = (explicit["text"], explicit["label"]) if explicit else (None, content)
        if role == "doc":
            doc = self._relative(label).removesuffix(".md").removesuffix(".ipynb")
            target = self.labels.get(f"doc:{doc}")
            if target is None:
                raise self.where(f"{{doc}}`{content}` points to no page of the book")
            return f"[{text or target.text}]({self.page_url(doc, '')})"
        target = self.labels.get(label)
        if target is None:
            raise self.where(f"{{{role}}}`{content}` points to no label of the book")
        if text and role == "numref":
            text = text.replace("%s", target.number).replace("{number}", target.number)
        shown = text or (target.caption if role == "ref" and target.caption else target.text)
        return f"[{self.inline(shown)}]({self.page_url(target.docname, target.anchor)})"

    def _link(self, text: str, start: int, end: int, image: bool, env: dict) -> str | None:
        """A Markdown link or image whose destination is in the book, pointed at the website (a
        page, a label) or at the repository's copy of the file; its text converted."""
        label, destination = _link_parts(text, start, end, image, env)
        if destination is None:
            return None  # a reference link: kept as written
        new = self._destination(text[destination[0] : destination[1]], image)
        head = text[start : label[0]]
        tail = text[label[1] : destination[0]]
        target = new if new is not None else text[destination[0] : destination[1]]
        return (
            head
            + self._inline(text[label[0] : label[1]], env)
            + tail
            + target
            + text[destination[1] : end]
        )

    def _destination(self, target: str, image: bool) -> str | None:
        """Where a link to ``target`` goes for a reader outside the website (None: unchanged)."""
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            return None
        if image:
            return self.raw_url(self._relative(target))
        path, _, anchor = target.partition("#")
        if not path:
            hit = self.labels.get(anchor)
            return None if hit is None else self.page_url(hit.docname, hit.anchor)
        if path.endswith((".ipynb", ".md")):
            return self.page_url(self._relative(path).rsplit(".", 1)[0], anchor)
        hit = self.labels.get(path)
        if hit is not None:
            return self.page_url(hit.docname, hit.anchor)
        return self.raw_url(self._relative(path))

    def references(self) -> str:
        """A "References" section listing what this page cited, in order of first citation."""
        if not self.cited or self.bibliography is None:
            return ""
        return "## References\n\n" + self.bibliography.listing(self.cited)


def _inline_spans(text: str, env: dict) -> Iterator[tuple[Any, int, int]]:
    """``(token, start, end)`` for each inline construct of ``text`` (a role, a code span, a link,
    math...): markdown-it's inline rules run as its own tokenizer runs them, noting where each
    construct starts and ends in ``text`` (markdown-it's inline tokens carry no positions)."""
    from markdown_it.rules_inline import StateInline

    md = markdown_parser()
    state = StateInline(text, md, env, [])
    rules = md.inline.ruler.getRules("")
    while state.pos < state.posMax:
        start, count = state.pos, len(state.tokens)
        if not any(rule(state, False) for rule in rules):
            state.pending += text[state.pos]
            state.pos += 1
            continue
        pushed = [t for t in state.tokens[count:] if t.type != "text"]  # not the text flushed
        if pushed:
            yield pushed[0], start, state.pos


def _link_parts(
    text: str, start: int, end: int, image: bool, env: dict
) -> tuple[tuple[int, int], tuple[int, int] | None]:
    """Where the text and the destination of the link ``text[start:end]`` are (the destination
    without its ``<>``; None for a reference link ``[text][ref]``)."""
    from markdown_it.rules_inline import StateInline

    state = StateInline(text, markdown_parser(), env, [])
    opening = start + 1 if image else start
    label_end = state.md.helpers.parseLinkLabel(state, opening, not image)
    pos = label_end + 1
    if pos >= end or text[pos] != "(":
        return (opening + 1, label_end), None
    pos += 1
    while pos < end and text[pos] in " \t\n":
        pos += 1
    found = state.md.helpers.parseLinkDestination(text, pos, end)
    first, last = pos, found.pos
    if text[first : first + 1] == "<":
        first, last = first + 1, last - 1
    return (opening + 1, label_end), (first, last)


class Bibliography:
    """The book's BibTeX file, read with pybtex (which sphinxcontrib-bibtex uses for the website).

    ``entries`` maps each key to its pybtex entry; :meth:`authors` and :meth:`year` give the two
    halves of the author–year citation that the website prints for it.
    """

    def __init__(self, path: Path):
        from pybtex.database import parse_file

        self.path = path
        self.entries = parse_file(str(path)).entries
        self._authors: dict[str, str] = {}

    def keys(self) -> list[str]:
        """Every entry's key, in the file's order."""
        return list(self.entries)

    def authors(self, key: str) -> str:
        """Author-year name part: "Tao", "Bernstein and Newhouse", "Tao et al." (:func:`author_names`)."""
        if key not in self._authors:
            self._authors[key] = author_names(self.entries[key])
        return self._authors[key]

    def year(self, key: str) -> str:
        """The entry's year ("n.d." when it has none, as the website prints it)."""
        return self.entries[key].fields.get("year", "n.d.")

    def listing(self, keys: list[str]) -> str:
        """Formatted entries (pybtex's ``unsrt`` style, as plain text), one bullet each."""
        style = _pybtex_plugin("pybtex.style.formatting", "unsrt")()
        formatted = style.format_entries([self.entries[k] for k in keys])
        lines = []
        for key, entry in zip(keys, formatted):
            text = re.sub(r"\s+", " ", entry.text.render(_text_backend())).strip()
            lines.append(f"- **{self.authors(key)}, {self.year(key)}.** {text}")
        return "\n".join(lines)


def author_names(entry) -> str:
    """The name part of an author–year citation of the pybtex ``entry``.

    One author: "Higham"; two: "Bernstein and Newhouse"; three or more, or "and others": "Tao et al."
    (sphinxcontrib-bibtex's ``author_year`` style). Surnames keep their particles ("Le Roux") and are
    rendered from LaTeX (``{\\c{S}}im{\\c{s}}ekli`` is "Şimşekli"); an entry without authors or editors
    is named by its title up to a colon. The website's bibliography labels
    (:mod:`signbook.sphinxext`) and the Colab edition's citations both come from here, so a reader
    sees one name for a work in both.
    """
    from pybtex.richtext import Text

    def text(latex: str) -> str:
        return Text.from_latex(latex).render(_text_backend())

    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [text(" ".join(p.prelast_names + p.last_names)) for p in people]
    if not names:
        return text(entry.fields.get("title", entry.key)).split(":")[0]
    if len(names) >= 3 or "others" in names:
        return f"{names[0]} et al."
    return " and ".join(names)


@functools.cache
def _pybtex_plugin(group: str, name: str):
    """pybtex's ``find_plugin``, once per plugin (it scans every installed entry point each time)."""
    from pybtex.plugin import find_plugin

    return find_plugin(group, name)


def _text_backend():
    """pybtex's plain-text backend, which ``Text.render_as("text")`` renders with."""
    return _pybtex_plugin("pybtex.backends", "text")()
