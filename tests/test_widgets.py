import ipywidgets as widgets
import plotly.graph_objects as go
import pytest

from signlab.book import widgets as sw


def make(a=1.0, b=2):
    return go.Figure(go.Scatter(x=[0, 1], y=[a, b]))


def test_static_build_precomputes_every_state_of_the_grid(monkeypatch):
    monkeypatch.setenv(sw.STATIC_ENV, "1")
    calls = []

    def record(a, b):
        calls.append((a, b))
        return make(a, b)

    steer = sw.interact(
        record,
        grid={"a": [1.0, 3.0]},
        a=widgets.FloatSlider(value=3.0, min=0, max=10, description="a"),
        b=widgets.IntSlider(value=5, min=0, max=10, step=5),
    )
    assert isinstance(steer, sw.Steerable)
    assert sorted(calls) == [(a, b) for a in (1.0, 3.0) for b in (0, 5, 10)]
    controls = steer.payload["controls"]
    assert [c["values"] for c in controls] == [[1.0, 3.0], [0, 5, 10]]
    assert [c["active"] for c in controls] == [1, 1]  # the page opens at the defaults
    assert controls[0]["labels"] == ["1", "3"] and controls[0]["label"] == "a"
    # each state's figure is the one make_figure drew there, rebuilt from the pooled JSON
    assert list(steer.figure().data[0].y) == [3.0, 5]
    assert list(steer.figure(a=1.0, b=10).data[0].y) == [1.0, 10]
    # a trace shared by several states is stored once: x = [0, 1] is in every state's one trace,
    # and six states hold six distinct traces
    assert len(steer.payload["states"]) == 6 and len(steer.payload["traces"]) == 6
    assert len(steer.payload["templates"]) == 1
    bundle = steer._repr_mimebundle_()
    assert bundle[sw.STEERABLE_MIME] is steer.payload and "a × 2" in bundle["text/plain"]
    with pytest.raises(ValueError, match="must be one of the precomputed values"):
        steer.figure(a=2.0)


def test_shared_traces_are_pooled(monkeypatch):
    monkeypatch.setenv(sw.STATIC_ENV, "1")

    def two(a=1):
        return go.Figure([go.Scatter(y=[0, 1], name="reference"), go.Scatter(y=[a, a])])

    steer = sw.interact(two, a=widgets.IntSlider(value=1, min=1, max=4))
    assert len(steer.payload["states"]) == 4
    assert len(steer.payload["traces"]) == 5  # the reference once, one line per state


def test_grid_errors_name_the_control(monkeypatch):
    slider = widgets.FloatSlider(value=3.0, min=0, max=10)
    for static in ("1", "0"):  # the same errors in the build and in Jupyter
        monkeypatch.setenv(sw.STATIC_ENV, static)
        with pytest.raises(ValueError, match=r"grid\['a'\] must contain the control's value 3.0"):
            sw.interact(make, grid={"a": [1.0, 2.0]}, a=slider)
        with pytest.raises(ValueError, match="grid names no control"):
            sw.interact(make, grid={"c": [1.0]}, a=slider)
        with pytest.raises(ValueError, match="repeats a value"):
            sw.interact(make, grid={"a": [3.0, 3.0]}, a=slider)


def test_an_automatic_grid_is_thinned_to_the_cap(monkeypatch):
    monkeypatch.setenv(sw.STATIC_ENV, "1")
    monkeypatch.setattr(sw, "MAX_STATES", 30)
    steer = sw.precompute(
        lambda a, b, c: make(a, b),
        {
            "a": widgets.IntSlider(value=3, min=0, max=100),
            "b": widgets.IntSlider(value=0, min=0, max=100),
            "c": widgets.Dropdown(options=["x", "y"], value="y"),
        },
    )
    sizes = [len(c["values"]) for c in steer.payload["controls"]]
    assert sizes[2] == 2 and sizes[0] * sizes[1] * 2 <= 30 and sizes[0] >= 3
    assert steer.payload["controls"][2]["active"] == 1


def test_control_grid_spans_each_kind_of_control():
    assert sw.control_grid(widgets.IntSlider(value=7, min=0, max=100, step=10), 3) == [
        0,
        7,
        50,
        100,
    ]
    log = sw.control_grid(widgets.FloatLogSlider(value=1.0, base=10, min=-2, max=2), 5)
    assert log == [0.01, 0.1, 1.0, 10.0, 100.0]
    options = widgets.Dropdown(options=[("one", 1), ("two", 2)], value=2)
    assert sw.control_grid(options) == [1, 2]
    assert sw.control_grid(widgets.Checkbox(value=False)) == [False, True]
    with pytest.raises(ValueError, match="points must be an integer >= 2"):
        sw.control_grid(widgets.IntSlider(), 1)
    with pytest.raises(ValueError, match="has no range"):
        sw.control_grid(widgets.Text(value="x", description="name"))


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
