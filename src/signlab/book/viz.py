"""Plotting helpers shared by the chapters: a seed population as its mean and a percentile band.

A simulation over many seeds gives an array of shape (seeds, steps). :func:`band_traces` turns it
into two plotly traces: the mean over seeds as a line and the 10–90% percentile band as a shaded
area (the paper's way of plotting its stochastic toy), in one colour and one legend entry.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from signlab import _validate
from signlab.book.style import COLORS

__all__ = ["COLORS", "band_traces", "rgba"]


def rgba(color: str, alpha: float) -> str:
    """The ``#rrggbb`` colour ``color`` as a plotly ``rgba(r, g, b, alpha)`` string."""
    if not (isinstance(color, str) and len(color) == 7 and color.startswith("#")):
        raise ValueError(f"color must be a '#rrggbb' string (got {color!r})")
    alpha = _validate.nonnegative("alpha", alpha)
    if alpha > 1:
        raise ValueError(f"alpha must lie in [0, 1] (got {alpha!r})")
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha:g})"


def band_traces(
    x: Any,
    values: Any,
    *,
    name: str,
    color: str,
    quantiles: tuple[float, float] = (0.1, 0.9),
    alpha: float = 0.2,
) -> list[Any]:
    """Traces for ``values`` (seeds, len(x)): the q-low–q-high band over seeds, then the mean line.

    Infinite values (diverged runs) are kept out of the band and the mean by plotting them as gaps.
    """
    import plotly.graph_objects as go

    x = np.asarray(x, dtype=float)
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape[1] != x.shape[0]:
        raise ValueError(f"values must have shape (seeds, {x.shape[0]}) (got {values.shape})")
    lo, hi = quantiles
    if not 0.0 <= lo < hi <= 1.0:
        raise ValueError(f"quantiles must satisfy 0 <= low < high <= 1 (got {quantiles!r})")
    finite = np.isfinite(values).all(axis=0)
    safe = np.where(np.isfinite(values), values, 0.0)
    low = np.where(finite, np.quantile(safe, lo, axis=0), np.nan)
    high = np.where(finite, np.quantile(safe, hi, axis=0), np.nan)
    mean = np.where(finite, safe.mean(axis=0), np.nan)
    group = f"band-{name}"
    return [
        go.Scatter(
            x=np.concatenate([x, x[::-1]]),
            y=np.concatenate([high, low[::-1]]),
            fill="toself",
            fillcolor=rgba(color, alpha),
            line={"width": 0},
            hoverinfo="skip",
            showlegend=False,
            legendgroup=group,
            name=f"{name} {int(100 * lo)}–{int(100 * hi)}%",
        ),
        go.Scatter(x=x, y=mean, mode="lines", line={"color": color}, name=name, legendgroup=group),
    ]
