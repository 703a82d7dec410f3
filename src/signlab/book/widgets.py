"""Interactive figures that work in Jupyter, in Colab, and on the static website.

Two environments, one call:

- In a live kernel (Jupyter, Colab), :func:`interact` shows ipywidgets controls and redraws a plotly
  ``go.Figure`` inside an ``ipywidgets.Output`` whenever a control moves. (Plotly's ``FigureWidget`` is
  avoided on purpose: it does not render in Colab.)
- In the static site there is no kernel. The book's Sphinx extension sets ``SIGNLAB_STATIC_BUILD=1``
  before executing the notebooks, and :func:`interact` then computes the figure for every point of a
  grid of the controls' values (:func:`control_grid`, or the chapter's own ``grid``) and returns a
  :class:`Steerable`: the figures as JSON, pooled so that a trace shared by many states is stored
  once. The site renders it as the same controls, which redraw the figure in the browser with
  plotly.js alone (``signbook/static/steerable.js``), and says which grid was precomputed: the idea
  of Panel's ``.embed()`` and of distill's precomputed sliders, without a kernel or a server.

For a figure with one parameter, :func:`slider_figure` puts every value's traces into one plotly
figure with plotly's own slider.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

STATIC_ENV = "SIGNLAB_STATIC_BUILD"

STEERABLE_MIME = "application/vnd.signlab.steerable+json"
"""The output type of a precomputed widget; the book's Sphinx extension renders it."""

MAX_STATES = 400
"""The most figures one widget precomputes (the grid's size): the page's weight and the build time."""

AUTO_POINTS = 7
"""Values per control in an automatic grid, before the grid is thinned to :data:`MAX_STATES`."""

SIGNIFICANT_DIGITS = 5
"""Floats of a precomputed figure are stored to this many significant digits (a page's weight)."""


def is_static_build() -> bool:
    """True while the book's static-site build executes the notebook (``SIGNLAB_STATIC_BUILD=1``)."""
    return os.environ.get(STATIC_ENV) == "1"


def _options(widget: Any) -> tuple[tuple[str, ...], tuple[Any, ...]] | None:
    """(labels, values) of a selection widget (Dropdown, ToggleButtons, ...), None for a slider."""
    if not hasattr(widget, "_options_values"):
        return None
    return tuple(map(str, widget._options_labels)), tuple(widget._options_values)


def _slider_values(widget: Any, points: int) -> list[Any]:
    """``points`` values spread over a slider's range (log-spaced on a log slider), snapped to its
    step, with its current value among them."""
    lo, hi, value = widget.min, widget.max, widget.value
    if isinstance(value, bool):
        return [False, True]
    if hasattr(widget, "base"):  # FloatLogSlider: min and max are exponents
        exps = [lo + (hi - lo) * k / (points - 1) for k in range(points)]
        values = [float(f"{float(widget.base) ** e:.2g}") for e in exps]  # 0.22, not 0.215443
    else:
        step = getattr(widget, "step", None) or 0
        values = []
        for k in range(points):
            v = lo + (hi - lo) * k / (points - 1)
            if step:
                v = lo + round((v - lo) / step) * step
            values.append(v)
    if isinstance(value, int):
        values = [int(round(v)) for v in values]
    else:
        values = [float(f"{v:.6g}") for v in values]
    return sorted(set(values) | {value})


def control_grid(widget: Any, points: int = AUTO_POINTS) -> list[Any]:
    """The values of ``widget`` that the static site precomputes when the chapter gives no grid.

    A selection widget (Dropdown, ...): all its options. A checkbox: both states. A slider:
    ``points`` values from its ``min`` to its ``max`` (log-spaced for a ``FloatLogSlider``), snapped
    to its ``step``, plus its current value.
    """
    from signlab import _validate

    points = _validate.integer("points", points, low=2)
    options = _options(widget)
    if options is not None:
        return list(options[1])
    if not hasattr(widget, "min"):
        if isinstance(widget.value, bool):
            return [False, True]
        raise ValueError(
            f"control {getattr(widget, 'description', widget)!r} has no range: give its values in grid"
        )
    return _slider_values(widget, points)


def _label(widget: Any, value: Any) -> str:
    options = _options(widget)
    if options is not None:
        labels, values = options
        for label, v in zip(labels, values, strict=True):
            if v == value:
                return label
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e6:
            return str(int(value))  # 1000, not 1e+03
        return f"{value:.3g}"
    return str(value)


def _given_values(name: str, widget: Any, values: Sequence[Any]) -> list[Any]:
    """A chapter's grid for one control, checked: it holds the control's value and no repeats."""
    vals = list(values)
    if widget.value not in vals:
        raise ValueError(
            f"grid[{name!r}] must contain the control's value {widget.value!r} "
            "(the state the page opens in)"
        )
    if len(vals) != len({json.dumps(v, default=str) for v in vals}):
        raise ValueError(f"grid[{name!r}] repeats a value")
    return vals


def _resolve_grid(controls: Mapping[str, Any], grid: Mapping[str, Sequence[Any]] | None):
    """Each control's precomputed values: the chapter's ``grid`` where given, else automatic; the
    automatic ones are thinned until the grid has at most :data:`MAX_STATES` points."""
    grid = dict(grid or {})
    unknown = set(grid) - set(controls)
    if unknown:
        raise ValueError(f"grid names no control {sorted(unknown)} (controls: {sorted(controls)})")
    values = {name: _given_values(name, controls[name], v) for name, v in grid.items()}
    for points in range(AUTO_POINTS, 1, -1):
        for name, widget in controls.items():
            if name not in grid:
                values[name] = control_grid(widget, points)
        size = math.prod(len(v) for v in values.values())
        if size <= MAX_STATES:
            return {name: values[name] for name in controls}
    raise ValueError(f"grid has {size} points; at most {MAX_STATES} are precomputed")


def _rounded(x: Any) -> Any:
    if isinstance(x, float):
        return float(f"{x:.{SIGNIFICANT_DIGITS}g}") if math.isfinite(x) else None
    if isinstance(x, list):
        return [_rounded(v) for v in x]
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    return x


class _Pool:
    """Distinct JSON values, each stored once; :meth:`add` returns a value's index."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._index: dict[str, int] = {}

    def add(self, value: Any) -> int:
        key = json.dumps(value, sort_keys=True, separators=(",", ":"))
        if key not in self._index:
            self._index[key] = len(self.items)
            self.items.append(value)
        return self._index[key]


class Steerable:
    """A widget's figures for every point of its grid, for a page without a kernel.

    Displayed in a notebook it is one output of type :data:`STEERABLE_MIME` (with a text line for
    other front ends); :attr:`payload` is that JSON: the ``controls`` (name, label, the precomputed
    values and their labels, the index of the value the page opens at), the pooled ``traces``, ``layouts``
    and ``templates``, and ``states``, which maps "i,j,..." (one index per control) to
    [layout, template, [traces]]. :meth:`figure` rebuilds the figure of one state.
    """

    def __init__(self, payload: dict) -> None:
        self.payload = payload

    def figure(self, **values: Any) -> Any:
        """The figure the page shows when the controls are at ``values`` (grid points; defaults
        for the controls not given), rebuilt from the payload as the browser does."""
        import plotly.graph_objects as go

        index = []
        for control in self.payload["controls"]:
            if control["name"] in values:
                value = _jsonable(values[control["name"]])
                if value not in control["values"]:
                    raise ValueError(
                        f"{control['name']} must be one of the precomputed values "
                        f"{control['values']} (got {values[control['name']]!r})"
                    )
                index.append(control["values"].index(value))
            else:
                index.append(control["active"])
        layout, template, traces = self.payload["states"][",".join(map(str, index))]
        full = dict(self.payload["layouts"][layout], template=self.payload["templates"][template])
        return go.Figure(
            data=[self.payload["traces"][t] for t in traces], layout=full, skip_invalid=True
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        sizes = ", ".join(f"{c['label']} × {len(c['labels'])}" for c in self.payload["controls"])
        return {
            STEERABLE_MIME: self.payload,
            "text/plain": f"<precomputed figure: {sizes}>",
        }


def _jsonable(value: Any) -> Any:
    """``value`` as JSON holds it (numbers, strings, booleans, None), else its ``str``."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return str(value)


def precompute(
    make_figure: Callable[..., Any],
    controls: Mapping[str, Any],
    grid: Mapping[str, Sequence[Any]] | None = None,
) -> Steerable:
    """Every figure ``make_figure`` draws on the grid of ``controls``' values, as a :class:`Steerable`.

    ``grid`` maps a control's name to the values to precompute (its current value among them);
    controls it leaves out get :func:`control_grid`'s values.
    """
    import plotly.io as pio

    values = _resolve_grid(controls, grid)
    names = list(controls)
    traces, layouts, templates = _Pool(), _Pool(), _Pool()
    states = {}
    for index in itertools.product(*(range(len(values[n])) for n in names)):
        point = {n: values[n][i] for n, i in zip(names, index, strict=True)}
        fig = json.loads(pio.to_json(make_figure(**point), validate=False))
        layout = fig.get("layout", {})
        template = layout.pop("template", {})
        states[",".join(map(str, index))] = [
            layouts.add(_rounded(layout)),
            templates.add(template),
            [traces.add(_rounded(t)) for t in fig.get("data", [])],
        ]
    described = []
    for name in names:
        widget = controls[name]
        labels = [_label(widget, v) for v in values[name]]
        described.append(
            {
                "name": name,
                "label": str(getattr(widget, "description", "") or name),
                "labels": labels,
                "values": [_jsonable(v) for v in values[name]],
                "active": values[name].index(widget.value),
            }
        )
    return Steerable(
        {
            "controls": described,
            "traces": traces.items,
            "layouts": layouts.items,
            "templates": templates.items,
            "states": states,
        }
    )


def interact(
    make_figure: Callable[..., Any],
    *,
    grid: Mapping[str, Sequence[Any]] | None = None,
    **controls: Any,
) -> Any:
    """Show ``controls`` that redraw ``make_figure(**values)`` when they change.

    ``controls`` maps each keyword of ``make_figure`` to an ipywidgets value widget (``IntSlider``,
    ``FloatLogSlider``, ``Dropdown``, ...); their ``value`` at call time is the default state. Sliders clamp
    to their ``min``/``max``, so a reader cannot enter an invalid setting. Every control that has
    ``continuous_update`` gets it set to False: a figure is redrawn when a slider is released, not at
    every value it passes (a redraw can take seconds, and dragging would queue dozens of them).

    In the static build the figure is precomputed on a grid (:func:`precompute`): ``grid`` gives a
    control's values there (its default among them), the others get :func:`control_grid`'s. Returns
    the widget box, or in the static build the :class:`Steerable`, which the notebook displays as
    the cell's value.
    """
    if not controls:
        raise ValueError("controls must name at least one widget")
    for name, widget in controls.items():
        if not hasattr(widget, "value") or not hasattr(widget, "observe"):
            raise ValueError(
                f"control {name!r} must be an ipywidgets value widget (got {widget!r})"
            )
    if is_static_build():
        return precompute(make_figure, controls, grid)
    if grid is not None:
        _resolve_grid(controls, grid)  # the same errors in Jupyter as in the build

    import ipywidgets as widgets
    from IPython.display import display

    out = widgets.Output()

    def redraw(_change: Any = None) -> None:
        figure = make_figure(**{name: w.value for name, w in controls.items()})
        with out:
            out.clear_output(wait=True)
            display(figure)

    for widget in controls.values():
        if hasattr(widget, "continuous_update"):
            widget.continuous_update = False
        widget.observe(redraw, names="value")
    redraw()
    box = widgets.VBox(
        [widgets.HBox(list(controls.values()), layout={"flex_flow": "row wrap"}), out]
    )
    return box


def slider_figure(
    make_traces: Callable[[Any], Sequence[Any]],
    values: Sequence[Any],
    *,
    label: str,
    active: int = 0,
    layout: dict | None = None,
) -> Any:
    """A plotly figure with a slider over ``values`` that needs no kernel.

    ``make_traces(value)`` returns the list of traces for one value; all of them are computed now and the
    slider toggles their visibility, so the figure is fully explorable on the static site. The slider
    sits below the x-axis title (its label would otherwise be printed over it).
    """
    import plotly.graph_objects as go

    values = list(values)
    if not values:
        raise ValueError("values must contain at least one value")
    if not 0 <= active < len(values):
        raise ValueError(f"active must lie in [0, {len(values) - 1}] (got {active!r})")
    fig = go.Figure()
    owner: list[int] = []
    for k, value in enumerate(values):
        for trace in make_traces(value):
            trace.visible = k == active
            fig.add_trace(trace)
            owner.append(k)
    steps = [
        {
            "method": "update",
            "label": str(value),
            "args": [{"visible": [o == k for o in owner]}],
        }
        for k, value in enumerate(values)
    ]
    fig.update_layout(
        sliders=[
            {
                "active": active,
                "currentvalue": {"prefix": f"{label} = "},
                "steps": steps,
                "pad": {"t": 70},  # below the x-axis title, which the slider's label would cover
            }
        ],
        **(layout or {}),
    )
    return fig
