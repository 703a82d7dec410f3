"""The heavy-tail chapter's experiments: the sweep and the tables it prints (its step-size grids
run through the engine's tune, tested in test_engine.py)."""

import math

import numpy as np
import pytest
import torch

from signlab.experiments import (
    HEAVY_LRS,
    batch_mean_spread,
    heavy_tail_problem,
    heavy_tail_sweep,
    initial_point,
    running_second_moment,
    sign_flip_table,
    tail_index_table,
    tail_survival,
)
from signlab.sim.engine import gradients_to_reach, simulate, tune


@pytest.mark.parametrize("method", ["sgd", "signsgd", "signum", "lion"])
def test_a_tuned_grid_equals_one_run_per_step_size_without_noise(method):
    problem, _ = heavy_tail_problem(20, None)
    x0 = initial_point(3, 20, 0, dtype=torch.float32)
    lrs = (0.01, 0.03, 0.1)
    tuned = tune(problem, None, method, x0, lrs, 2.0, steps=400, first=400, every=1)
    separate = [
        gradients_to_reach(simulate(problem, None, method, x0, lr=lr, steps=400), 2.0) for lr in lrs
    ]
    assert np.allclose(tuned.gradients, separate)
    assert tuned.best == min(separate) and tuned.lr == lrs[int(np.argmin(separate))]
    assert tuned.run()["grad_l1"].shape[0] == 3  # the best step size's runs only


def test_tune_counts_extra_gradients_per_step():
    problem, _ = heavy_tail_problem(10, None)
    x0 = initial_point(2, 10, 0, dtype=torch.float32)
    one = tune(problem, None, "signsgd", x0, (0.05,), 1.0, steps=300, every=1)
    two = tune(problem, None, "signsgd", x0, (0.05,), 1.0, steps=300, every=1, gradients_per_step=2)
    assert two.best == 2 * one.best


def test_sweep_reproduces_the_chapter_story_at_the_tails():
    sweep = heavy_tail_sweep((1.2, None), methods=("sgd", "signsgd"), steps=600)
    sgd, sign = sweep["sgd"]["gradients"], sweep["signsgd"]["gradients"]
    assert math.isinf(sgd[0]) and np.isfinite(sign[0])  # nu = 1.2: SGD does not get there
    assert sgd[1] < sign[1]  # Gaussian noise, isotropic problem: SGD wins
    assert set(sweep["signsgd"]["lr"]) <= set(HEAVY_LRS)


def test_chapter_tables(rng):
    tails = tail_survival((1.5, None), n=200_000)
    assert abs(tails["slope"][1.5] + 1.5) < 0.25 and math.isnan(tails["slope"][None])
    moments = running_second_moment((3.0,), n=100_000, every=1000)
    assert moments["mean"][3.0].shape == moments["k"].shape
    spread = batch_mean_spread((1.5,), batches=(1, 64, 256, 1024), n=300)
    assert spread["alpha"][1.5] == 1.5 and spread["median"][1.5][-1] < spread["median"][1.5][0]
    index = tail_index_table((3.0, None), n=200_000)
    assert 1.6 < index[3.0] <= 2.0 and index[None] > 1.9
    flips = sign_flip_table(-0.5, (1.5,), batches=(1, 16), n=20_000)
    assert (flips[1.5] < 0.5).all() and flips[1.5][1] < flips[1.5][0]
