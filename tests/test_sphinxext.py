"""The book's Sphinx extension changes nothing for other Jupyter Books: its plotly renderer is inert
and adds no render priority unless the extension is loaded (this book's build)."""

from types import SimpleNamespace

import pytest

from signbook import sphinxext


def plotly_output():
    return SimpleNamespace(mime_type=sphinxext.PLOTLY_MIME, content={"data": [], "layout": {}})


def test_renderer_is_inert_unless_the_extension_is_set_up(monkeypatch):
    monkeypatch.setattr(sphinxext, "_ENABLED", False)
    assert sphinxext.PlotlyRenderer.handle_mime(None, plotly_output(), False) is None
    assert not hasattr(sphinxext.PlotlyRenderer, "mime_priority_overrides")


def test_setup_enables_the_renderer_and_prefers_plotly_output(monkeypatch):
    from signlab.book.widgets import STATIC_ENV

    monkeypatch.setattr(sphinxext, "_ENABLED", False)
    monkeypatch.setenv(STATIC_ENV, "0")  # setup() sets it; the test restores it afterwards
    hooks = {}
    app = SimpleNamespace(
        connect=lambda event, fn: hooks.setdefault(event, []).append(fn),
        add_css_file=lambda *a, **k: None,
        add_js_file=lambda *a, **k: None,
        registry=SimpleNamespace(js_files=[]),
    )
    try:
        sphinxext.setup(app)
    except AttributeError as err:  # the inline-script patch needs a real Sphinx app
        pytest.skip(f"setup needs a real Sphinx application here: {err}")
    assert sphinxext._ENABLED
    config = SimpleNamespace(nb_mime_priority_overrides=[("latex", "image/png", 2)])
    for hook in hooks["config-inited"]:
        hook(app, config)
    assert config.nb_mime_priority_overrides[0] == ("latex", "image/png", 2)
    assert set(sphinxext.PLOTLY_PRIORITY) <= set(config.nb_mime_priority_overrides)
    rendered = []
    renderer = SimpleNamespace(add_js_file=lambda *a, **k: rendered.append(a))
    nodes = sphinxext.PlotlyRenderer.handle_mime(renderer, plotly_output(), False)
    assert nodes and "plotly" in nodes[0].astext() + " ".join(nodes[0]["classes"])
