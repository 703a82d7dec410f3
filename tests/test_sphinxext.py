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


def test_a_precomputed_widget_becomes_controls_a_figure_and_its_grid(monkeypatch):
    import ipywidgets as widgets
    import plotly.graph_objects as go

    from signlab.book.widgets import STATIC_ENV, STEERABLE_MIME, interact

    monkeypatch.setenv(STATIC_ENV, "1")
    steer = interact(
        lambda k=1, kind="a": go.Figure(go.Scatter(y=[k, 2], name="</script>" + kind)),
        grid={"k": [1, 2, 5]},
        k=widgets.IntSlider(value=2, min=1, max=5, description="k"),
        kind=widgets.Dropdown(options=["a", "b"], value="b", description="kind"),
    )
    monkeypatch.setattr(sphinxext, "_ENABLED", True)
    added = []
    renderer = SimpleNamespace(add_js_file=lambda *a: added.append(a[0]))
    output = SimpleNamespace(mime_type=STEERABLE_MIME, content=steer.payload)
    html = sphinxext.PlotlyRenderer.handle_mime(renderer, output, False)[0].astext()
    assert added == ["signlab-plotly", "signlab-steerable"]  # plotly.js, then the widget script
    assert 'type="range" min="0" max="2" step="1" value="1"' in html  # k opens at 2 of {1, 2, 5}
    assert '<option value="1" selected>b</option>' in html
    assert "k ∈ {1, 2, 5}; kind ∈ {a, b}" in html
    # the payload survives the page: no "</script>" inside it ends the block early
    data = html.split('class="signbook-steerable-data">', 1)[1].rsplit("</script>", 1)[0]
    assert "</script>" not in data
    import json

    assert json.loads(data)["states"] == steer.payload["states"]
