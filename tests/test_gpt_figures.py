"""Tests for signlab.gpt.figures: what each figure draws, read from its traces."""

import numpy as np
import pytest

from signlab.book.style import COLORS
from signlab.gpt import figures


def _run(losses, phi=None):
    records = []
    for k, v in enumerate(losses):
        r = {"step": 10 * (k + 1) - 1, "train_loss": v, "val_loss": v}
        if phi is not None:
            r["phi"], r["phi_layers"] = phi[k], {}
        records.append(r)
    return records


RUNS = {
    "sgd": [_run([3.0, 2.8, 2.6]), _run([3.2, 3.0, 2.8])],
    "signsgd": [_run([2.9, 2.6, 2.4]), _run([3.0, 2.8, 2.4])],
    "muon": [_run([2.5, 2.2, 2.0]), _run([2.6, 2.3, 2.0])],
}


def test_gap_figure_draws_the_paired_differences_in_the_book_colours():
    fig = figures.gap_figure(RUNS, "sgd")
    lines = {t.name: t for t in fig.data if t.name}
    assert set(lines) == {"SignSGD", "Muon"}
    assert np.allclose(lines["SignSGD"].y, [-0.15, -0.2, -0.3])
    assert lines["Muon"].line.color == COLORS["muon"]
    bands = [t for t in fig.data if t.fill == "toself"]
    assert len(bands) == 2  # ± se over the two seeds
    one_seed = figures.gap_figure({k: v[:1] for k, v in RUNS.items()}, "sgd")
    assert not [t for t in one_seed.data if t.fill == "toself"]  # one seed: no band


def test_steps_figure_marks_seeds_that_never_reach_the_target():
    fig = figures.steps_figure(RUNS, 2.4, budget=30)
    assert all(t.type == "scatter" for t in fig.data)
    dots = {t.x[0]: t for t in fig.data if not isinstance(t.marker.symbol, str)}
    means = {t.x[0]: t for t in fig.data if t.marker.symbol == "line-ew"}
    assert list(dots["SGD"].y) == [30, 30]  # drawn at the budget, open circles
    assert list(dots["SGD"].marker.symbol) == ["circle-open"] * 2
    assert "SGD" not in means and means["Muon"].y[0] == pytest.approx(20)
    assert list(dots["SignSGD"].y) == [30, 30]


def test_density_figure_averages_seeds():
    curves = {"a": [([1, 2], [0.2, 0.4]), ([1, 2], [0.4, 0.6])]}
    fig = figures.density_figure({**curves, "b": curves["a"]}, dashed=("b",))
    line = next(t for t in fig.data if t.name == "a")
    assert np.allclose(line.y, [0.3, 0.5])
    assert next(t for t in fig.data if t.name == "b").line.dash == "dash"
    assert not {t.line.color for t in fig.data if t.name} & set(COLORS.values())
    runs = [_run([3.0, 2.0], phi=[0.1, 0.2])]
    assert figures.phi_curves(runs) == [([10, 20], [0.1, 0.2])]
