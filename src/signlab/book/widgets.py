"""Interactive figures that work in Jupyter, in Colab, and on the static website.

Two environments, one call:

- In a live kernel (Jupyter, Colab), :func:`interact` shows ipywidgets controls and redraws a plotly
  ``go.Figure`` inside an ``ipywidgets.Output`` whenever a control moves. (Plotly's ``FigureWidget`` is
  avoided on purpose: it does not render in Colab.)
- In the static site there is no kernel to move anything. The book's Sphinx extension sets
  ``SIGNLAB_STATIC_BUILD=1`` before executing the notebooks, and :func:`interact` then shows the figure
  of the controls' default values instead, with a line saying how to get the live version.

For figures that must stay explorable without a kernel, :func:`slider_figure` precomputes one set of
traces per value of a parameter and lets a plotly slider switch between them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

STATIC_ENV = "SIGNLAB_STATIC_BUILD"


def is_static_build() -> bool:
    """True while the book's static-site build executes the notebook (``SIGNLAB_STATIC_BUILD=1``)."""
    return os.environ.get(STATIC_ENV) == "1"


def interact(make_figure: Callable[..., Any], **controls: Any) -> Any:
    """Show ``controls`` that redraw ``make_figure(**values)`` when they change.

    ``controls`` maps each keyword of ``make_figure`` to an ipywidgets value widget (``IntSlider``,
    ``FloatLogSlider``, ``Dropdown``, ...); their ``value`` at call time is the default state. Sliders clamp
    to their ``min``/``max``, so a reader cannot enter an invalid setting. Every control that has
    ``continuous_update`` gets it set to False: a figure is redrawn when a slider is released, not at
    every value it passes (a redraw can take seconds, and dragging would queue dozens of them).
    Returns the widget box (or, in the static build, the default figure, which the notebook displays
    as the cell's value).
    """
    if not controls:
        raise ValueError("controls must name at least one widget")
    for name, widget in controls.items():
        if not hasattr(widget, "value") or not hasattr(widget, "observe"):
            raise ValueError(
                f"control {name!r} must be an ipywidgets value widget (got {widget!r})"
            )
    defaults = {name: widget.value for name, widget in controls.items()}
    if is_static_build():
        from IPython.display import Markdown, display

        display(
            Markdown(
                "*Static view of the default settings. Open this chapter in Colab or Jupyter "
                "to move the controls.*"
            )
        )
        return make_figure(**defaults)

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
