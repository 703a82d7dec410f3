"""The GPT-2 chapter's figures, drawn from run logs alone, so the CPU runs, the GPU recipe's runs
and committed logs all give the same pictures.

``runs`` is always ``{optimizer: [log records of each seed]}`` (one seed for a GPU run). Colours
are the book's (:func:`signlab.book.style.color`); a band is ± one standard error over seeds.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from signlab.book.style import color
from signlab.gpt.compare import density_curve, paired_gap, steps_estimates

NAMES = {
    "sgd": "SGD",
    "signsgd": "SignSGD",
    "signum": "Signum",
    "lion": "Lion",
    "adamw": "AdamW",
    "muon": "Muon",
}
"""How the figures name each optimizer."""

LEGEND_BELOW = dict(orientation="h", yanchor="top", y=-0.22, x=0)

OTHER_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")
"""Colours for curves that are not optimizers (networks, schedules): none of them is an
optimizer's colour in :data:`signlab.book.style.COLORS`."""


def _band(x, mean, se, name: str, hex_color: str, group: str) -> list[go.Scatter]:
    """A line with a ± se band around it (no band where se is all zero)."""
    mean, se = np.asarray(mean, float), np.asarray(se, float)
    line = go.Scatter(x=x, y=mean, mode="lines", name=name, line_color=hex_color, legendgroup=group)
    if not se.any():
        return [line]
    rgb = tuple(int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    band = go.Scatter(
        x=[*x, *x[::-1]],
        y=[*(mean + se), *(mean - se)[::-1]],
        fill="toself",
        fillcolor=f"rgba{(*rgb, 0.18)}",
        line_width=0,
        hoverinfo="skip",
        showlegend=False,
        legendgroup=group,
    )
    return [band, line]


def gap_figure(runs: dict, reference: str = "sgd", subtitle: str = "", y_range=None) -> go.Figure:
    """Validation loss minus the ``reference``'s at the same step and seed: below zero means
    ahead of it. Mean over seeds with a ± standard-error band; ``y_range`` zooms the y-axis."""
    gaps = paired_gap(runs, reference)
    traces = []
    for name, g in gaps.items():
        if name == reference:
            continue
        label = NAMES.get(name, name)
        traces += _band(g["steps"], g["mean"], g["se"], label, color(label), name)
    fig = go.Figure(traces)
    ref = NAMES.get(reference, reference)
    fig.add_hline(y=0, line_color=color(ref), annotation_text=f"{ref}")
    fig.update_layout(
        title=f"Validation loss minus {ref}'s<br><sup>{subtitle}</sup>",
        xaxis_title="optimizer step",
        yaxis_title=f"loss − {ref}'s loss (nats)",
        yaxis_range=y_range,
        autosize=True,
        height=460,
        legend=LEGEND_BELOW,
        margin=dict(r=20),
    )
    return fig


def steps_figure(runs: dict, target: float, budget: int, subtitle: str = "") -> go.Figure:
    """Steps each optimizer needs to reach validation loss ``target``: one dot per seed, a wide
    dash at the mean; a seed that did not reach it within ``budget`` steps is drawn at the budget
    as an open circle. (Markers only: plotly tags bar elements with ``data-index``, the attribute
    the website's precomputed controls use.)"""
    found = steps_estimates(runs, target)
    traces = []
    for name, f in found.items():
        label = NAMES.get(name, name)
        reached = [s for s in f["seeds"] if s is not None]
        missed = sum(s is None for s in f["seeds"])
        if reached and not missed:  # the mean as a wide dash (not a bar: see the docstring)
            traces.append(
                go.Scatter(
                    x=[label],
                    y=[float(np.mean(reached))],
                    mode="markers",
                    marker=dict(symbol="line-ew", size=34, line=dict(width=3, color=color(label))),
                    showlegend=False,
                    hovertemplate="mean %{y:.0f} steps<extra></extra>",
                )
            )
        traces.append(
            go.Scatter(
                x=[label] * len(reached) + [label] * missed,
                y=reached + [budget] * missed,
                mode="markers",
                marker=dict(
                    color=color(label),
                    size=9,
                    symbol=["circle"] * len(reached) + ["circle-open"] * missed,
                ),
                showlegend=False,
                hovertemplate="%{y} steps<extra></extra>",
            )
        )
    fig = go.Figure(traces)
    fig.add_hline(y=budget, line_dash="dot", annotation_text="end of the run")
    fig.update_layout(
        title=f"Steps to validation loss {target:g}<br><sup>{subtitle}</sup>",
        yaxis_title="steps",
        yaxis_range=[0, budget * 1.08],
        autosize=True,
        height=420,
        margin=dict(r=20),
    )
    return fig


def density_figure(
    curves: dict, subtitle: str = "", x_title: str = "optimizer step", dashed=()
) -> go.Figure:
    """φ along training: ``curves`` maps a label to a list of (x, φ) pairs, one per seed (same
    x); mean over seeds with a ± standard-error band, and the isotropic value φ = 1. Labels in
    ``dashed`` are drawn dashed (a variant of the curve before it)."""
    traces = []
    for k, (label, seeds) in enumerate(curves.items()):
        x = list(seeds[0][0])
        phi = np.array([s[1] for s in seeds], float)
        se = phi.std(axis=0, ddof=1) / np.sqrt(len(phi)) if len(phi) > 1 else 0 * phi[0]
        hue = OTHER_COLORS[k % len(OTHER_COLORS)]
        drawn = _band(x, phi.mean(axis=0), se, label, hue, label)
        if label in dashed:
            drawn[-1].line.dash = "dash"
        traces += drawn
    fig = go.Figure(traces)
    fig.add_hline(y=1.0, line_dash="dot", annotation_text="isotropic noise: φ = 1")
    fig.update_layout(
        title=f"Noise density φ<br><sup>{subtitle}</sup>",
        xaxis_title=x_title,
        yaxis_title="φ",
        yaxis_range=[0, 1.05],
        autosize=True,
        height=440,
        legend=LEGEND_BELOW,
        margin=dict(r=20),
    )
    return fig


def phi_curves(runs: list[list[dict]], n: int | None = None) -> list[tuple[list, list]]:
    """The (steps, φ) curve of each seed's run (``n``: φ from the first n draws), for
    :func:`density_figure`."""
    return [density_curve(r, n=n) for r in runs]
