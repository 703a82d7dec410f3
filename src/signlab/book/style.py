"""One look for every figure in the book: one colour per optimizer, 10^k tick labels on log axes.

A reader who has learned that SignSGD is red in one chapter should find it red in the next. The
palette :data:`COLORS` gives every optimizer (and the book's references: the exact solution, a
bound) one colour for the whole book; :func:`color` finds it from a name as a figure's legend writes
it ("SignSGD", "sign descent (ℓ∞)", "SGD, B = 16"). :func:`use` makes :data:`TEMPLATE` plotly's
default for the chapter: the palette as the colour cycle, and tick labels of log axes written as
powers of ten (10⁻³, not plotly's SI prefixes 1m, 1μ, 1n that read as units).
"""

from __future__ import annotations

import re

__all__ = ["COLORS", "TEMPLATE_NAME", "color", "template", "use"]

COLORS: dict[str, str] = {
    "sgd": "#1f77b4",  # blue
    "signsgd": "#d62728",  # red
    "signum": "#ff7f0e",  # orange
    "lion": "#2ca02c",  # green
    "muon": "#8c564b",  # brown
    "adamw": "#9467bd",  # purple
    "normalized_sgd": "#17becf",  # cyan
    "sign_mvr": "#e377c2",  # pink
    "reference": "#7f7f7f",  # grey: bounds, predictions, exact values
}
"""The book's colour for each optimizer, and grey for references (a bound, a prediction)."""

#: Names a legend may use for an entry of COLORS (lower case, letters and digits only).
_ALIASES = {
    "gd": "sgd",
    "gradientdescent": "sgd",
    "sgdm": "sgd",
    "sgdmomentum": "sgd",
    "signdescent": "signsgd",
    "sign": "signsgd",
    "adam": "adamw",
    "normalizedsgd": "normalized_sgd",
    "nsgd": "normalized_sgd",
    "signmvr": "sign_mvr",
}

TEMPLATE_NAME = "signlab"


def _key(name: str) -> str:
    head = re.split(r"[,(:]", name, maxsplit=1)[0]
    return re.sub(r"[^a-z0-9]", "", head.lower())


def color(name: str) -> str:
    """The book's colour for the optimizer ``name``, as a legend writes it.

    The name is read up to its first comma, colon or parenthesis, without case, spaces, hyphens or
    underscores: "SignSGD", "signsgd", "Sign descent (ℓ∞)" and "SignSGD, B = 16" are all SignSGD.
    """
    if not isinstance(name, str):
        raise ValueError(f"name must be a string (got {name!r})")
    key = _key(name)
    if key in _ALIASES:
        return COLORS[_ALIASES[key]]
    for known in COLORS:
        if key == known.replace("_", ""):
            return COLORS[known]
    raise ValueError(f"name must name one of {', '.join(COLORS)} (got {name!r})")


def template():
    """The book's plotly template: :data:`COLORS` as the colour cycle, powers of ten on log axes.

    ``exponentformat="power"`` writes 10⁻⁶ where plotly would write 1μ; it applies to every x and
    y axis of a figure (a template's ``xaxis`` is the default of ``xaxis2``, ``xaxis3``, ...).
    """
    import plotly.graph_objects as go

    axis = {"exponentformat": "power", "showexponent": "all"}
    return go.layout.Template(
        layout={"colorway": list(COLORS.values()), "xaxis": axis, "yaxis": axis}
    )


def use() -> None:
    """Make the book's template plotly's default (on top of plotly's own): call once per chapter."""
    import plotly.io as pio

    pio.templates[TEMPLATE_NAME] = template()
    pio.templates.default = f"plotly+{TEMPLATE_NAME}"
