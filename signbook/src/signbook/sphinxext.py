"""The book's Sphinx extension: plotly figures and offline assets for the static site.

Loaded from ``_config.yml`` (``sphinx.extra_extensions``). It does six things:

1. Sets ``SIGNLAB_STATIC_BUILD=1`` before any notebook runs, so :func:`signlab.book.widgets.interact` shows
   static figures instead of live widgets (kernels inherit the build's environment).
2. Renders plotly's ``application/vnd.plotly.v1+json`` outputs, which myst-nb otherwise skips
   (:class:`PlotlyRenderer`, registered as a ``myst_nb.mime_renderers`` entry point).
3. Serves every browser asset from the site itself, so pages render with no network: plotly.js from the
   plotly Python package, and MathJax 3, RequireJS and the Jupyter widget manager from ``node_modules``
   (installed by the build with ``npm ci``, never committed). They are copied to ``_static/vendor/``.
4. Loads the Jupyter widget manager (RequireJS, ``embed-amd.js``) and the saved widget state only on pages
   that show a widget (:func:`_drop_unused_widget_js`). The static build shows figures, not live
   widgets, but a chapter that merely builds sliders still saves their state in the notebook, and myst-nb
   then loads the manager, whose stylesheet asks for fonts that are not there (404s).
5. Registers the pybtex style ``signbook`` (:func:`author_year_style`): the bibliography lists entries by
   author and year under the labels the citations show ("Arjevani et al., 2023"), not [1], [2], ...
6. Adds the book's stylesheet, ``static/signbook.css`` (phone widths: long inline code breaks, wide
   content scrolls inside its own box), and works around a Sphinx 7.4 fault that writes every inline
   script added after the builder starts twice (:func:`_one_copy_of_inline_scripts`; sphinx-thebe's
   configuration was declared twice on every page: ``SyntaxError: Identifier 'THEBE_JS_URL' has
   already been declared``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

PLOTLY_MIME = "application/vnd.plotly.v1+json"
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


PLOTLY_PRIORITY = (("html", PLOTLY_MIME, 1), ("dirhtml", PLOTLY_MIME, 1))
"""Render plotly's own output first on the HTML builders (added to ``nb_mime_priority_overrides``)."""

_ENABLED = False  # set by setup(): the renderer works only in a build that loads this extension


class PlotlyRenderer:
    """myst-nb mime renderer: a plotly figure becomes a ``<div>`` drawn by the local plotly.js.

    myst-nb finds renderers through an entry point, so any Jupyter Book built where signbook is
    installed would see this class; it stays inert (returns None, and adds no priority override)
    unless this extension's :func:`setup` ran, i.e. in this book's build.
    """

    @staticmethod
    def handle_mime(renderer: Any, data: Any, inline: bool) -> list | None:
        """myst-nb's hook: the figure as raw HTML (plotly.js loaded once per page), else None."""
        if not _ENABLED or inline or data.mime_type != PLOTLY_MIME:
            return None
        import json

        import plotly.io as pio
        from docutils import nodes

        figure = data.content if isinstance(data.content, dict) else json.loads(data.string)
        html = pio.to_html(
            figure,
            include_plotlyjs=False,
            full_html=False,
            validate=False,
            config={"responsive": True, "displaylogo": False},
        )
        renderer.add_js_file("signlab-plotly", f"{VENDOR}/plotly.min.js", {"priority": 1})
        return [nodes.raw(text=html, format="html", classes=["output", "plotly"])]


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
            total, seen = Counter(labels), Counter()
            for label in labels:
                if total[label] > 1:
                    seen[label] += 1
                    label = f"{label}{chr(ord('a') + seen[label] - 1)}"
                yield label

    class AuthorYear(Plain):
        default_label_style = AuthorYearLabels
        default_sorting_style = AuthorYearTitleByLetters

    return AuthorYear


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
    app.connect("builder-inited", _add_static_path)
    app.connect("builder-inited", _check_assets)
    app.connect("doctree-read", _drop_unused_widget_js)
    app.connect("build-finished", _copy_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "0.1"}
