"""A whole step-size grid in one engine run equals one run per step size; its N(ε) and slopes."""

import math

import numpy as np
import pytest
import torch

from signlab.experiments.stepgrid import GridResult, grid_run, loglog_fit
from signlab.sim.engine import gradients_to_reach, simulate
from signlab.sim.noise import Bimodal, Gaussian
from signlab.sim.problems import SeparableQuadratic


def quadratic(rng, d=5):
    L = torch.tensor(rng.uniform(0.2, 2.0, size=d))
    return SeparableQuadratic(L), L.numpy()


@pytest.mark.parametrize("method", ["sgd", "signsgd"])
def test_each_group_is_the_run_of_its_step_size_with_the_same_noise(method, rng, seed):
    problem, _ = quadratic(rng)
    oracle = Gaussian(torch.tensor(rng.uniform(0, 0.5, size=5)))
    x0 = torch.tensor(rng.normal(size=(6, 5)))
    lrs = [0.3, 0.1, 0.03]
    grid = grid_run(problem, oracle, method, x0, lrs, 1e-9, steps=40, first=64, seed=seed)
    assert grid.steps == 40  # one chunk: the noise comes from `seed` itself
    for j, lr in enumerate(lrs):
        run = simulate(problem, oracle, method, x0, lr=lr, steps=40, seed=seed, record=("grad_l1",))
        np.testing.assert_allclose(grid.records[j], run["grad_l1"], rtol=1e-12, atol=1e-14)


def test_noiseless_chunks_continue_the_same_trajectory(rng):
    problem, L = quadratic(rng)
    x0 = torch.tensor(rng.normal(size=(3, 5)))
    eps = 1e-3
    grid = grid_run(problem, None, "sgd", x0, [0.5, 0.05], eps, steps=5000, first=16, until="all")
    for j, lr in enumerate([0.5, 0.05]):
        run = simulate(problem, None, "sgd", x0, lr=lr, steps=grid.steps, record=("grad_l1",))
        mean = run["grad_l1"].mean(axis=0)
        np.testing.assert_allclose(
            grid.curve[j], mean[grid.curve_steps.astype(int)], rtol=1e-10, atol=1e-14
        )
        assert grid.gradients[j] >= gradients_to_reach(run, eps)
        # read off a record taken every few steps: late by less than a quarter of a chunk's points
        assert grid.gradients[j] <= gradients_to_reach(run, eps) * (1 + 1 / 64) + 1


def test_n_eps_against_a_closed_form_on_quadratics(rng):
    """SGD on ½ΣL_i x_i² from x₀: ∂_i f(x_t) = L_i(1 − ηL_i)^t x₀_i exactly."""
    problem, L = quadratic(rng, d=4)
    x0 = rng.normal(size=(5, 4))
    lrs, eps = np.array([0.9, 0.4, 0.1]), 0.02
    grid = grid_run(problem, None, "sgd", torch.tensor(x0), lrs, eps, steps=4000, until="all")
    t = np.arange(4001)
    for j, lr in enumerate(lrs):
        g = np.abs(L * x0)[None] * np.abs(1 - lr * L)[None, None] ** t[:, None, None]
        closed = t[np.argmax(g.sum(axis=2).mean(axis=1) <= eps)]
        assert closed <= grid.gradients[j] <= closed * (1 + 1 / 64) + 1
    assert grid.best == grid.gradients.min() and grid.lr == lrs[np.argmin(grid.gradients)]


def test_best_stops_early_and_diverging_step_sizes_count_as_never(rng):
    problem, L = quadratic(rng)
    x0 = torch.tensor(rng.normal(size=(4, 5)))
    big = 2.5 / L.min()  # unstable for every coordinate
    grid = grid_run(problem, None, "sgd", x0, [big, 0.5, 0.01], 1e-2, steps=100_000)
    assert isinstance(grid, GridResult) and grid.method == "sgd"
    assert math.isinf(grid.gradients[0]) and math.isinf(grid.gradients[2])
    assert np.isfinite(grid.gradients[1]) and grid.steps < 100_000
    with_margin = grid_run(problem, None, "sgd", x0, [0.5], 1e-2, steps=100_000, margin=2.0)
    assert with_margin.steps >= 2 * with_margin.best


def test_resampled_seeds_read_the_same_record(rng):
    problem, _ = quadratic(rng)
    x0 = torch.tensor(rng.normal(size=(8, 5)))
    grid = grid_run(problem, None, "signsgd", x0, [0.05, 0.02], 0.05, steps=5000, margin=1.5)
    identity = np.arange(8)[None]
    assert grid.resampled(identity)[0] == grid.best
    one = grid.resampled(np.full((1, 8), 3))[0]  # the mean over seed 3 alone
    alone = grid_run(problem, None, "signsgd", x0[3:4], [0.05, 0.02], 0.05, steps=5000)
    assert one >= alone.best or math.isinf(one)


def test_bad_input_is_refused(rng):
    problem, _ = quadratic(rng)
    x0 = torch.zeros(2, 5, dtype=torch.float64)
    with pytest.raises(ValueError, match="lrs"):
        grid_run(problem, None, "sgd", x0, [], 0.1, steps=10)
    with pytest.raises(ValueError, match="lrs"):
        grid_run(problem, None, "sgd", x0, [0.1, -1.0], 0.1, steps=10)
    with pytest.raises(ValueError, match="eps"):
        grid_run(problem, None, "sgd", x0, [0.1], 0.0, steps=10)
    with pytest.raises(ValueError, match="method"):
        grid_run(problem, None, "adam", x0, [0.1], 0.1, steps=10)
    with pytest.raises(ValueError, match="margin"):
        grid_run(problem, None, "sgd", x0, [0.1], 0.1, steps=10, margin=0.5)
    with pytest.raises(ValueError, match="additive"):
        grid_run(problem, Bimodal(torch.ones(5)), "sgd", x0, [0.1], 0.1, steps=10)


def test_loglog_fit_slope_and_its_uncertainties(rng):
    x = np.geomspace(1, 1e4, 6)
    p = rng.uniform(-2, 2)
    noise = rng.normal(scale=0.05, size=6)
    y = 3.0 * x**p * np.exp(noise)
    slope, se = loglog_fit(x, y)
    X = np.c_[np.ones(6), np.log(x)]
    beta, res, *_ = np.linalg.lstsq(X, np.log(y), rcond=None)
    cov = res[0] / (6 - 2) * np.linalg.inv(X.T @ X)
    assert slope == pytest.approx(beta[1]) and se == pytest.approx(math.sqrt(cov[1, 1]))
    reps = y[None] * np.exp(rng.normal(scale=0.1, size=(50, 6)))
    reps[3, 2] = np.inf  # a replicate with a missing value is left out
    slope_b, se_b = loglog_fit(x, y, reps)
    good = np.delete(reps, 3, axis=0)
    expected = np.std([np.polyfit(np.log(x), np.log(r), 1)[0] for r in good], ddof=1)
    assert slope_b == pytest.approx(slope) and se_b == pytest.approx(expected)
    with pytest.raises(ValueError, match="two finite"):
        loglog_fit([1, 2], [1, math.inf])
