"""MyST Markdown → plain Jupyter Markdown, for notebooks opened outside the website (Colab, Jupyter).

Colab renders Markdown and a little HTML, not MyST: a ``{prf:theorem}`` fence shows as a code block and
``{cite}`` as literal text. :class:`Converter` rewrites one Markdown cell at a time:

- directives (theorems, definitions, proofs, exercises, admonitions) become titled blocks
  (``<div>`` with a coloured left border, Markdown inside), numbered as the website numbers them;
  dropdowns and solutions become ``<details>``, which Colab and Jupyter show collapsed;
- ``{cite}`` becomes author–year text, and the cited works are listed by :meth:`Converter.references`;
- ``{prf:ref}``, ``{ref}``, ``{numref}``, ``{doc}``, ``{eq}`` and links to other chapters become links
  into the website (the page and anchor that Sphinx gives the label);
- anything it does not know raises :class:`MystError` naming the page and the construct, so an
  unconverted directive never reaches a reader as raw text.

The scanner splits text into top-level fenced blocks (CommonMark's rule: a fence closes at a line of at
least as many of the same character), so nested directives and code fences inside directives work.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

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

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|:{3,})(?P<info>.*)$")
_DIRECTIVE_INFO = re.compile(r"^\{(?P<name>[\w:-]+)\}\s*(?P<arg>.*)$")
_OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*)$")
_TARGET = re.compile(r"^\((?P<label>[^()\s]+)\)=\s*$")
_ROLE_OR_CODE = re.compile(
    r"\{(?P<role>[a-zA-Z][\w:+-]*)\}(?P<ticks>`+)(?P<content>.+?)(?P=ticks)|(?P<code>(`+).+?\5)",
    re.S,
)
_LINK = re.compile(r"(?P<bang>!?)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)\)")
_DOLLAR_LABEL = re.compile(r"\$\$\s*\((?P<label>[\w:-]+)\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


class MystError(ValueError):
    """A MyST construct that has no plain-Markdown form (yet), or a reference to nothing."""


@dataclass
class Directive:
    """A fenced directive: ``name``, its argument, options and body, and the raw source lines."""

    name: str
    argument: str
    options: dict[str, str]
    body: str
    indent: str
    raw: str


def split_blocks(text: str) -> list[str | Directive]:
    """Split ``text`` into top-level pieces: runs of plain lines (str) and :class:`Directive` s.

    Plain code fences stay inside the text pieces, untouched.
    """
    lines = text.split("\n")
    pieces: list[str | Directive] = []
    plain: list[str] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            plain.append(lines[i])
            i += 1
            continue
        fence = match["fence"]
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        end = next((j for j in range(i + 1, len(lines)) if closing.match(lines[j])), len(lines))
        block = lines[i : end + 1]
        info = _DIRECTIVE_INFO.match(match["info"].strip())
        if info is None:  # an ordinary code fence
            plain.extend(block)
        else:
            if plain:
                pieces.append("\n".join(plain))
                plain = []
            pieces.append(_directive(info["name"], info["arg"].strip(), match["indent"], block))
        i = end + 1
    if plain:
        pieces.append("\n".join(plain))
    return pieces


def _directive(name: str, argument: str, indent: str, block: list[str]) -> Directive:
    inner = [ln[len(indent) :] if ln.startswith(indent) else ln.lstrip() for ln in block[1:-1]]
    options: dict[str, str] = {}
    if inner and inner[0].strip() == "---":  # YAML option block
        stop = next((k for k in range(1, len(inner)) if inner[k].strip() == "---"), 0)
        for line in inner[1:stop]:
            key, _, value = line.partition(":")
            options[key.strip()] = value.strip()
        inner = inner[stop + 1 :]
    else:
        while inner and (m := _OPTION.match(inner[0])):
            options[m["key"]] = m["value"].strip()
            inner = inner[1:]
    return Directive(
        name, argument, options, "\n".join(inner).strip("\n"), indent, "\n".join(block)
    )


def _walk(text: str):
    """Every directive in ``text``, nested ones included, in reading order."""
    for piece in split_blocks(text):
        if isinstance(piece, Directive):
            yield piece
            yield from _walk(piece.body)


def _targets(text: str):
    """``(label, heading)`` for every ``(label)=`` target (the heading that follows it, if any)."""
    lines = text.split("\n")
    for k, line in enumerate(lines):
        if m := _TARGET.match(line.strip()):
            after = next((ln for ln in lines[k + 1 :] if ln.strip()), "")
            heading = _HEADING.match(after.strip())
            yield m["label"], heading.group(2) if heading else ""


def _first_heading(text: str) -> str:
    """The text of the first level-1 heading (``# Title``), the page's title; "" if none."""
    for line in text.split("\n"):
        if m := _HEADING.match(line.strip()):
            if len(m.group(1)) == 1:
                return m.group(2)
    return ""


@dataclass(frozen=True)
class Target:
    """Where a label points on the website, and the text a reference to it shows."""

    docname: str
    anchor: str
    text: str
    number: str = ""


def _numbered_kind(d: Directive) -> str | None:
    """The counter a directive advances on the website (``theorem``, ``exercise``...), or None."""
    if "nonumber" in d.options:
        return None
    if d.name.startswith("prf:") and d.name[4:] in PROOF_KINDS:
        return d.name[4:]
    if d.name == "exercise":
        return "exercise"
    return None


def _title_of(kind: str) -> str:
    return "Exercise" if kind == "exercise" else PROOF_KINDS[kind]


def index_document(docname: str, chapter: int | None, texts: list[str]) -> dict[str, Target]:
    """The labels that one page defines, numbered as Sphinx numbers them (a counter per kind)."""
    found: dict[str, Target] = {}
    counts: Counter[str] = Counter()
    equations = 0
    for text in texts:
        title = _first_heading(text)
        if title and f"doc:{docname}" not in found:
            found[f"doc:{docname}"] = Target(docname, "", title)
        for label, heading in _targets(text):
            found[label] = Target(docname, label, heading or label)
        for label in _DOLLAR_LABEL.findall(text):
            equations += 1
            found[label] = Target(docname, label, f"({_number(chapter, equations)})")
        for d in _walk(text):
            kind = _numbered_kind(d)
            number = ""
            if kind:
                counts[kind] += 1
                number = _number(chapter, counts[kind])
            label = d.options.get("label")
            if d.name == "math" and label:
                equations += 1
                found[label] = Target(docname, label, f"({_number(chapter, equations)})")
            elif label:
                name = _title_of(kind) if kind else d.name.split(":")[-1].capitalize()
                found[label] = Target(docname, label, f"{name} {number}".strip(), number)
    return found


def _number(chapter: int | None, n: int) -> str:
    """The n-th item's number: ``2.3`` in chapter 2 of a numbered book, ``3`` elsewhere."""
    return f"{chapter}.{n}" if chapter is not None else str(n)


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
    page_url: object
    raw_url: object
    bibliography: Bibliography | None = None
    cited: list[str] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)

    def where(self, what: str) -> MystError:
        """The error for ``what``, naming this page."""
        return MystError(f"{self.docname}: {what}")

    # ---- blocks ----------------------------------------------------------------------------------
    def convert(self, text: str) -> str:
        """``text`` (one Markdown cell, or a directive's body) as plain Jupyter Markdown."""
        out = []
        for piece in split_blocks(text):
            if isinstance(piece, Directive):
                out.append(self.directive(piece))
            else:
                out.append(self.inline(self._drop_targets(piece)))
        return "\n".join(out)

    def _drop_targets(self, text: str) -> str:
        return "\n".join(ln for ln in text.split("\n") if not _TARGET.match(ln.strip()))

    def directive(self, d: Directive) -> str:
        """One directive as plain Markdown/HTML, numbered as the website numbers it."""
        kind = _numbered_kind(d)
        number = ""
        if kind:
            self.counts[kind] += 1
            number = _number(self.chapter, self.counts[kind])
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
        if d.name == "dropdown" or "dropdown" in d.options.get("class", "").split():
            return self.details(title or "Details", body, d)
        return self.block(d.name, self.inline(title), body, d)

    def _math(self, d: Directive, number: str) -> str:
        return self._indent(f"$$\n{d.body.strip()}\n$$", d)

    def _code(self, d: Directive, number: str) -> str:
        return self._indent(f"```{d.argument}\n{d.body}\n```", d)

    def _figure(self, d: Directive, number: str) -> str:
        alt = d.options.get("alt", "")
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
        """Roles, equation labels and links of ``text`` (no directives) in their plain forms."""
        text = _DOLLAR_LABEL.sub("$$", text)
        text = _ROLE_OR_CODE.sub(self._role, text)
        return _LINK.sub(self._link, text)

    def _role(self, m: re.Match) -> str:
        if m["code"]:
            return m["code"]
        role, content = m["role"], m["content"]
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
        shown = text or target.text
        if role == "eq" and not text:
            shown = target.text
        return f"[{self.inline(shown)}]({self.page_url(target.docname, target.anchor)})"

    def _link(self, m: re.Match) -> str:
        target = m["target"]
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            return m.group(0)
        if m["bang"]:
            return f"![{m['text']}]({self.raw_url(self._relative(target))})"
        path, _, anchor = target.partition("#")
        if not path:
            hit = self.labels.get(anchor)
            if hit is None:
                return m.group(0)
            return f"[{m['text']}]({self.page_url(hit.docname, hit.anchor)})"
        if path.endswith((".ipynb", ".md")):
            doc = self._relative(path).rsplit(".", 1)[0]
            return f"[{m['text']}]({self.page_url(doc, anchor)})"
        hit = self.labels.get(path)
        if hit is not None:
            return f"[{m['text']}]({self.page_url(hit.docname, hit.anchor)})"
        return f"[{m['text']}]({self.raw_url(self._relative(path))})"

    def references(self) -> str:
        """A "References" section listing what this page cited, in order of first citation."""
        if not self.cited or self.bibliography is None:
            return ""
        return "## References\n\n" + self.bibliography.listing(self.cited)


class Bibliography:
    """The book's BibTeX file, read with pybtex (which sphinxcontrib-bibtex uses for the website).

    ``entries`` maps each key to its pybtex entry; :meth:`authors` and :meth:`year` give the two
    halves of the author–year citation that the website prints for it.
    """

    def __init__(self, path: Path):
        from pybtex.database import parse_file

        self.path = path
        self.entries = parse_file(str(path)).entries

    def keys(self) -> list[str]:
        """Every entry's key, in the file's order."""
        return list(self.entries)

    def authors(self, key: str) -> str:
        """Author-year name part: "Tao", "Bernstein and Newhouse", "Tao et al." (:func:`author_names`)."""
        return author_names(self.entries[key])

    def year(self, key: str) -> str:
        """The entry's year ("n.d." when it has none, as the website prints it)."""
        return self.entries[key].fields.get("year", "n.d.")

    def listing(self, keys: list[str]) -> str:
        """Formatted entries (pybtex's ``unsrt`` style, as plain text), one bullet each."""
        from pybtex.plugin import find_plugin

        style = find_plugin("pybtex.style.formatting", "unsrt")()
        backend = find_plugin("pybtex.backends", "text")()
        formatted = style.format_entries([self.entries[k] for k in keys])
        lines = []
        for key, entry in zip(keys, formatted):
            text = re.sub(r"\s+", " ", entry.text.render(backend)).strip()
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
        return Text.from_latex(latex).render_as("text")

    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [text(" ".join(p.prelast_names + p.last_names)) for p in people]
    if not names:
        return text(entry.fields.get("title", entry.key)).split(":")[0]
    if len(names) >= 3 or "others" in names:
        return f"{names[0]} et al."
    return " and ".join(names)
