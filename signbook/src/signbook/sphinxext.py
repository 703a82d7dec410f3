"""The book's Sphinx extension: plotly figures and offline assets for the static site.

Loaded from ``_config.yml`` (``sphinx.extra_extensions``). It does seven things:

1. Sets ``SIGNLAB_STATIC_BUILD=1`` before any notebook runs, so :func:`signlab.book.widgets.interact`
   precomputes its figures on a grid instead of showing live widgets (kernels inherit the build's
   environment).
2. Renders plotly's ``application/vnd.plotly.v1+json`` outputs, which myst-nb otherwise skips, and the
   precomputed widgets (:data:`STEERABLE_MIME`) as controls that redraw the figure
   with plotly.js in the browser (``static/steerable.js``) (:class:`PlotlyRenderer`, registered as a
   ``myst_nb.mime_renderers`` entry point).
3. Serves every browser asset from the site itself, so pages render with no network: plotly.js from the
   plotly Python package, and MathJax 3, RequireJS and the Jupyter widget manager from ``node_modules``
   (installed by the build with ``npm ci``, never committed). They are copied to ``_static/vendor/``.
4. Loads the Jupyter widget manager (RequireJS, ``embed-amd.js``) and the saved widget state only on pages
   that show a widget (:func:`_drop_unused_widget_js`). The static build shows figures, not live
   widgets, but a chapter that merely builds sliders still saves their state in the notebook, and myst-nb
   then loads the manager, whose stylesheet asks for fonts that are not there (404s).
5. Registers the pybtex style ``signbook`` (:func:`author_year_style`): the bibliography lists entries by
   author and year under the labels the citations show ("Arjevani et al., 2023"), not [1], [2], ...
7. Makes a page that failed its build fail the next build too (:func:`_failed_docs`): a notebook whose
   execution failed, or a page that logged a warning, is read again instead of being taken from
   Sphinx's pickled environment as up to date, so ``make book`` fails on every run until it is fixed.
6. Adds the book's stylesheet, ``static/signbook.css`` and ``static/overflow.js`` (phone widths: long inline code breaks, wide
   content scrolls inside its own box), and works around a Sphinx 7.4 fault that writes every inline
   script added after the builder starts twice (:func:`_one_copy_of_inline_scripts`; sphinx-thebe's
   configuration was declared twice on every page: ``SyntaxError: Identifier 'THEBE_JS_URL' has
   already been declared``).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

PLOTLY_MIME = "application/vnd.plotly.v1+json"
STEERABLE_MIME = "application/vnd.signlab.steerable+json"  # signlab.book.widgets.STEERABLE_MIME
STEERABLE_JS = "steerable.js"
OVERFLOW_JS = "overflow.js"  # marks boxes that scroll sideways, for signbook.css
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"
VENDOR = "vendor"
STATIC = Path(__file__).parent / "static"
STYLESHEET = "signbook.css"

#: (source inside node_modules, destination inside _static/vendor)
NPM_ASSETS = (
    ("mathjax/es5", "mathjax"),
    ("requirejs/require.js", "require.js"),
    ("@jupyter-widgets/html-manager/dist", "html-manager"),
)


PLOTLY_PRIORITY = tuple(
    (builder, mime, 1) for builder in ("html", "dirhtml") for mime in (STEERABLE_MIME, PLOTLY_MIME)
)
"""Render plotly's and the precomputed widgets' own outputs first on the HTML builders (added to
``nb_mime_priority_overrides``)."""

PLOTLY_CONFIG = {"responsive": True, "displaylogo": False}

_ENABLED = False  # set by setup(): the renderer works only in a build that loads this extension


class PlotlyRenderer:
    """myst-nb mime renderer: a plotly figure becomes a ``<div>`` drawn by the local plotly.js, and a
    precomputed widget its controls and figure (:func:`_steerable_html`).

    myst-nb finds renderers through an entry point, so any Jupyter Book built where signbook is
    installed would see this class; it stays inert (returns None, and adds no priority override)
    unless this extension's :func:`setup` ran, i.e. in this book's build.
    """

    @staticmethod
    def handle_mime(renderer: Any, data: Any, inline: bool) -> list | None:
        """myst-nb's hook: the figure (or widget) as raw HTML, plotly.js loaded once per page; else None."""
        if not _ENABLED or inline or data.mime_type not in (PLOTLY_MIME, STEERABLE_MIME):
            return None
        import json

        import plotly.io as pio
        from docutils import nodes

        content = data.content if isinstance(data.content, dict) else json.loads(data.string)
        renderer.add_js_file("signlab-plotly", f"{VENDOR}/plotly.min.js", {"priority": 1})
        if data.mime_type == STEERABLE_MIME:
            renderer.add_js_file("signlab-steerable", STEERABLE_JS, {"priority": 2})
            html, classes = _steerable_html(content), ["output", "plotly", "steerable"]
        else:
            html = pio.to_html(
                content,
                include_plotlyjs=False,
                full_html=False,
                validate=False,
                config=PLOTLY_CONFIG,
            )
            classes = ["output", "plotly"]
        return [nodes.raw(text=html, format="html", classes=classes)]


def _grid_note(controls: list[dict]) -> str:
    """ "Precomputed at L₁ ∈ {1, 10, 100}; steps ∈ {1, 12}." for the page, under the figure."""
    parts = [f"{c['label']} ∈ {{{', '.join(c['labels'])}}}" for c in controls]
    return (
        "Precomputed when the site was built, at "
        + "; ".join(parts)
        + ". Open the chapter in Colab or Jupyter to set the controls to any value in between."
    )


def _steerable_html(payload: dict) -> str:
    """The HTML of a precomputed widget: one control per slider or dropdown (a range input that steps
    through the precomputed values, or a select), the figure's ``<div>``, a line saying which grid was
    precomputed, and the payload as JSON, which ``static/steerable.js`` draws with plotly.js."""
    import html
    import json

    controls = payload["controls"]
    rows = []
    for k, c in enumerate(controls):
        name = html.escape(c["label"])
        if all(isinstance(v, str) for v in c["values"]):
            options = "".join(
                f'<option value="{i}"{" selected" if i == c["active"] else ""}>'
                f"{html.escape(label)}</option>"
                for i, label in enumerate(c["labels"])
            )
            field = f'<select data-index="{k}" aria-label="{name}">{options}</select>'
        else:
            field = (
                f'<input type="range" min="0" max="{len(c["labels"]) - 1}" step="1" '
                f'value="{c["active"]}" data-index="{k}" aria-label="{name}">'
                f"<output>{html.escape(c['labels'][c['active']])}</output>"
            )
        rows.append(
            f'<label class="signbook-control"><span class="signbook-control-name">{name}</span>'
            f"{field}</label>"
        )
    default = payload["states"][",".join(str(c["active"]) for c in controls)]
    height = payload["layouts"][default[0]].get("height") or 450
    data = json.dumps({**payload, "config": PLOTLY_CONFIG}, separators=(",", ":"))
    data = data.replace("</", "<\\/")  # a "</script>" inside a string must not end the block
    return (
        '<div class="signbook-steerable">'
        f'<form class="signbook-controls" onsubmit="return false">{"".join(rows)}</form>'
        f'<div class="plotly-graph-div signbook-steerable-plot" style="height:{int(height)}px;'
        ' width:100%;"></div>'
        f'<p class="signbook-grid-note">{html.escape(_grid_note(controls))}</p>'
        f'<script type="application/json" class="signbook-steerable-data">{data}</script>'
        "</div>"
    )


def _project_root(app: Any) -> Path:
    return Path(app.confdir)


def _sources(app: Any) -> list[tuple[Path, str]]:
    import plotly

    modules = _project_root(app) / "node_modules"
    missing = [src for src, _ in NPM_ASSETS if not (modules / src).exists()]
    if missing:
        raise RuntimeError(
            f"Local browser assets are missing under {modules}: {', '.join(missing)}. "
            "Run `npm ci` in the project root (`make book` does it)."
        )
    pairs = [(modules / src, dst) for src, dst in NPM_ASSETS]
    pairs.append((Path(plotly.__file__).parent / "package_data" / "plotly.min.js", "plotly.min.js"))
    return pairs


def _copy_assets(app: Any, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / VENDOR
    for source, name in _sources(app):
        dest = target / name
        stamp = dest.parent / f".{name}.stamp"
        key = f"{source}:{source.stat().st_mtime_ns}"
        if dest.exists() and stamp.exists() and stamp.read_text() == key:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, dest, dirs_exist_ok=True)
        else:
            shutil.copy2(source, dest)
        stamp.write_text(key)


def _check_assets(app: Any) -> None:
    if app.builder.format == "html":
        _sources(app)


def _drop_unused_widget_js(app: Any, doctree: Any) -> None:
    """Keep myst-nb's widget scripts only on a page whose output shows a widget.

    myst-nb adds RequireJS, the widget manager and the saved widget state to every notebook page whose
    metadata holds widget state (``render_nb_finalise``), whether or not any output displays a widget.
    A page shows one only through a ``widget-view+json`` output, rendered as a ``<script>`` of that type.
    """
    from docutils import nodes

    try:
        from myst_nb.sphinx_ import NbMetadataCollector
    except ImportError:  # not a myst-nb build
        return
    docname = app.env.docname
    js_files = NbMetadataCollector.get_js_files(app.env, docname)
    widget_keys = [key for key in js_files if key.startswith("ipywidgets_")]
    if not widget_keys:
        return
    shows_widget = any(WIDGET_VIEW_MIME in node.astext() for node in doctree.findall(nodes.raw))
    if not shows_widget:
        for key in widget_keys:
            del js_files[key]


def _one_copy_of_inline_scripts(app: Any) -> None:
    """Make ``app.add_js_file(None, body=...)`` register its inline script once.

    Sphinx 7.4 keeps a script added after the builder is initialised twice: the builder stores it with
    the filename ``None`` and, when writing starts, adds the registry's copy again with the filename
    ``""``; the two compare unequal, so both are written. sphinx-thebe adds its configuration (``const
    THEBE_JS_URL = ...``) that way, and the second copy is a ``SyntaxError`` on every page. Passing
    ``""`` for ``None`` (the same inline script to Sphinx) makes the two copies equal.
    """
    add_js_file = app.add_js_file

    def add_inline_once(filename: str | None, *args: Any, **kwargs: Any) -> None:
        add_js_file("" if filename is None else filename, *args, **kwargs)

    app.add_js_file = add_inline_once


#: The name of the pybtex formatting style for ``{bibliography}`` (``:style: signbook``).
BIB_STYLE = "signbook"


def _author_year_label(entry: Any) -> str:
    """The label of a bibliography entry as the text cites it: "Higham, 2008", "Bernstein and
    Newhouse, 2024", "Arjevani et al., 2023" (sphinxcontrib-bibtex's ``author_year`` citations)."""
    from signbook.myst import author_names

    return f"{author_names(entry)}, {entry.fields.get('year', 'n.d.')}"


def author_year_style() -> type:
    """pybtex's ``plain`` style (entries sorted by author, year, title) with author–year labels.

    Two entries with the same label get the suffixes a, b, ... in sorted order ("Jordan et al., 2024a").
    Names sort by their letters, as a reader looks them up: ``{\\c{S}}im{\\c{s}}ekli`` under S, not
    after Z (pybtex compares the raw LaTeX).
    """
    import unicodedata
    from collections import Counter

    from pybtex.richtext import Text
    from pybtex.style.formatting.plain import Style as Plain
    from pybtex.style.labels import BaseLabelStyle
    from pybtex.style.sorting.author_year_title import SortingStyle

    def letters(latex: str) -> str:
        text = unicodedata.normalize("NFKD", Text.from_latex(latex).render_as("text"))
        return "".join(c for c in text if not unicodedata.combining(c))

    class AuthorYearTitleByLetters(SortingStyle):
        def person_key(self, person: Any) -> str:
            return letters(super().person_key(person))

    class AuthorYearLabels(BaseLabelStyle):
        def format_labels(self, sorted_entries: Any) -> Any:
            labels = [_author_year_label(e) for e in sorted_entries]
            total, seen = Counter(labels), Counter[str]()
            for label in labels:
                if total[label] > 1:
                    seen[label] += 1
                    label = f"{label}{chr(ord('a') + seen[label] - 1)}"
                yield label

    class AuthorYear(Plain):
        default_label_style = AuthorYearLabels
        default_sorting_style = AuthorYearTitleByLetters

    return AuthorYear


WARNED_FILE = "signbook-warned-docs.json"
"""In the doctree folder: the pages that logged a warning in the last build. A file, not the pickled
environment, because Sphinx pickles the environment before it writes the pages, and many warnings
(an undefined reference, say) come while writing."""


class _WarningRecorder(logging.Handler):
    """A logging handler that notes which page each warning of the build is about."""

    def __init__(self, app: Any) -> None:
        super().__init__(level=logging.WARNING)
        self.app = app
        self.docs: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        """Note the page being read, else the page of the warning's location ("path/page.md:12")."""
        env = getattr(self.app, "env", None)
        if env is None:
            return
        docname = env.temp_data.get("docname")
        location = getattr(record, "location", None)
        if not docname and isinstance(location, str) and location:
            docname = env.path2doc(location.rsplit(":", 1)[0] if ":" in location else location)
        if docname:
            self.docs.add(docname)


def _warned_path(app: Any) -> Path:
    return Path(app.doctreedir) / WARNED_FILE


def _previously_warned(app: Any) -> set[str]:
    import json

    path = _warned_path(app)
    try:
        return set(json.loads(path.read_text()))
    except (OSError, ValueError):
        return set()


def _failed_docs(app: Any, env: Any, added: Any, changed: Any, removed: Any) -> list[str]:
    """Pages to read again although their sources did not change: a notebook whose execution failed
    (myst-nb's ``exec_data``), or a page that logged a warning in the last build."""
    failed = _previously_warned(app)
    try:
        from myst_nb.sphinx_ import NbMetadataCollector
    except ImportError:  # not a myst-nb build
        return sorted(failed & set(env.found_docs))
    for docname in env.all_docs:
        data = NbMetadataCollector.get_exec_data(env, docname)
        if data is not None and not data.get("succeeded", True):
            failed.add(docname)
    return sorted(failed & set(env.found_docs))


def _record_warnings(app: Any) -> None:
    recorder = _WarningRecorder(app)
    logging.getLogger("sphinx").addHandler(recorder)
    app.signbook_warnings = recorder


def _save_warnings(app: Any, exception: Exception | None) -> None:
    """After the build: remember the pages that warned now, and those that warned before and were
    not read again (a page is only read again when outdated, and only then can it warn anew)."""
    import json

    recorder = app.signbook_warnings
    logging.getLogger("sphinx").removeHandler(recorder)
    reread = set(getattr(app.env, "signbook_reread", set()))
    kept = (_previously_warned(app) - reread) | recorder.docs
    path = _warned_path(app)
    if kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(sorted(kept)))
    elif path.exists():
        path.unlink()


def _note_reread(app: Any, env: Any, docnames: list[str]) -> None:
    env.signbook_reread = set(docnames)


def _add_static_path(app: Any) -> None:
    if str(STATIC) not in app.config.html_static_path:
        app.config.html_static_path.append(str(STATIC))


def _prefer_plotly(app: Any, config: Any) -> None:
    config.nb_mime_priority_overrides = [*config.nb_mime_priority_overrides, *PLOTLY_PRIORITY]


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point."""
    global _ENABLED
    from signlab.book.widgets import STATIC_ENV

    _ENABLED = True
    os.environ[STATIC_ENV] = "1"
    app.connect("config-inited", _prefer_plotly)
    from pybtex.plugin import register_plugin

    register_plugin("pybtex.style.formatting", BIB_STYLE, author_year_style(), force=True)
    _one_copy_of_inline_scripts(app)
    app.add_css_file(STYLESHEET)
    app.add_js_file(OVERFLOW_JS)
    app.connect("builder-inited", _add_static_path)
    app.connect("builder-inited", _check_assets)
    app.connect("doctree-read", _drop_unused_widget_js)
    app.connect("build-finished", _copy_assets)
    app.connect("builder-inited", _record_warnings)
    app.connect("env-before-read-docs", _note_reread)
    app.connect("env-get-outdated", _failed_docs)
    app.connect("build-finished", _save_warnings)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "0.1"}
