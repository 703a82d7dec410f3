"""The book's Sphinx extension: plotly figures and offline assets for the static site.

Loaded from ``_config.yml`` (``sphinx.extra_extensions``). It does three things:

1. Sets ``SIGNLAB_STATIC_BUILD=1`` before any notebook runs, so :func:`signlab.book.widgets.interact` shows
   static figures instead of live widgets (kernels inherit the build's environment).
2. Renders plotly's ``application/vnd.plotly.v1+json`` outputs, which myst-nb otherwise skips
   (:class:`PlotlyRenderer`, registered as a ``myst_nb.mime_renderers`` entry point).
3. Serves every browser asset from the site itself, so pages render with no network: plotly.js from the
   plotly Python package, and MathJax 3, RequireJS and the Jupyter widget manager from ``node_modules``
   (installed by the build with ``npm ci``, never committed). They are copied to ``_static/vendor/``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

PLOTLY_MIME = "application/vnd.plotly.v1+json"
VENDOR = "vendor"

#: (source inside node_modules, destination inside _static/vendor)
NPM_ASSETS = (
    ("mathjax/es5", "mathjax"),
    ("requirejs/require.js", "require.js"),
    ("@jupyter-widgets/html-manager/dist", "html-manager"),
)


class PlotlyRenderer:
    """myst-nb mime renderer: a plotly figure becomes a ``<div>`` drawn by the local plotly.js."""

    mime_priority_overrides = (("html", PLOTLY_MIME, 1), ("dirhtml", PLOTLY_MIME, 1))

    @staticmethod
    def handle_mime(renderer: Any, data: Any, inline: bool) -> list | None:
        if inline or data.mime_type != PLOTLY_MIME:
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


def setup(app: Any) -> dict[str, Any]:
    """Sphinx entry point."""
    from signlab.book.widgets import STATIC_ENV

    os.environ[STATIC_ENV] = "1"
    app.connect("builder-inited", _check_assets)
    app.connect("build-finished", _copy_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "0.1"}
