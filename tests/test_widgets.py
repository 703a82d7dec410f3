import ipywidgets as widgets
import plotly.graph_objects as go
import pytest

from signlab.book import widgets as sw


def make(a=1.0, b=2):
    return go.Figure(go.Scatter(x=[0, 1], y=[a, b]))


def test_static_build_shows_the_default_figure(monkeypatch):
    monkeypatch.setenv(sw.STATIC_ENV, "1")
    fig = sw.interact(make, a=widgets.FloatSlider(value=3.0), b=widgets.IntSlider(value=5))
    assert isinstance(fig, go.Figure)
    assert list(fig.data[0].y) == [3.0, 5]


def test_live_mode_redraws_on_change(monkeypatch):
    monkeypatch.delenv(sw.STATIC_ENV, raising=False)
    calls = []

    def record(a):
        calls.append(a)
        return make(a)

    slider = widgets.FloatSlider(value=1.0, min=0, max=2)
    box = sw.interact(record, a=slider)
    assert isinstance(box, widgets.VBox) and calls == [1.0]
    slider.value = 1.5
    assert calls == [1.0, 1.5]
    slider.value = 7.0  # sliders clamp to their range
    assert calls[-1] == 2.0
    assert slider.continuous_update is False  # redraw on release, not while dragging


def test_interact_rejects_bad_controls():
    with pytest.raises(ValueError, match="controls must name"):
        sw.interact(make)
    with pytest.raises(ValueError, match="control 'a' must be an ipywidgets"):
        sw.interact(make, a=3)


def test_slider_figure_toggles_visibility():
    fig = sw.slider_figure(
        lambda v: [go.Scatter(y=[v]), go.Scatter(y=[2 * v])], [1, 2, 3], label="k", active=1
    )
    assert len(fig.data) == 6
    assert [t.visible for t in fig.data] == [False, False, True, True, False, False]
    assert fig.layout.sliders[0].pad.t >= 60  # clear of the x-axis title
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps] == ["1", "2", "3"]
    assert steps[2].args[0]["visible"] == [False, False, False, False, True, True]
    with pytest.raises(ValueError, match="active must lie"):
        sw.slider_figure(lambda v: [], [1], label="k", active=3)
    with pytest.raises(ValueError, match="values must contain"):
        sw.slider_figure(lambda v: [], [], label="k")


def test_is_static_build_reads_the_environment(monkeypatch):
    monkeypatch.setenv(sw.STATIC_ENV, "1")
    assert sw.is_static_build()
    monkeypatch.setenv(sw.STATIC_ENV, "0")
    assert not sw.is_static_build()
