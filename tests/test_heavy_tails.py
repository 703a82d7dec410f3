"""The heavy-tail chapter's experiments: the sweep and the tables it prints (its step-size grids
run through the engine's tune, tested in test_engine.py)."""

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from signlab.experiments import (
    HEAVY_LRS,
    Crossing,
    batch_mean_spread,
    first_crossings,
    heavy_tail_problem,
    heavy_tail_race,
    heavy_tail_sweep,
    initial_point,
    running_second_moment,
    sign_flip_table,
    stationary_spread,
    tail_index_table,
    tail_survival,
)
from signlab.sim.engine import METHODS, Trajectory, gradients_to_reach, simulate, tune
from signlab.stats import Estimate


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


def test_tune_counts_the_methods_gradients_per_step():
    problem, _ = heavy_tail_problem(10, None)
    x0 = initial_point(2, 10, 0, dtype=torch.float32)
    twice = replace(METHODS["signsgd"], name="twice", gradients_per_step=2.0)
    one = tune(problem, None, "signsgd", x0, (0.05,), 1.0, steps=300, every=1)
    two = tune(problem, None, twice, x0, (0.05,), 1.0, steps=300, every=1)
    assert two.best == 2 * one.best
    assert np.array_equal(two.used, 2 * one.used)
    run = simulate(problem, None, twice, x0, lr=0.05, steps=7, batch=3)
    assert run.gradients.tolist() == [6.0 * t for t in range(8)]  # 2 per sample, 3 a step


def _trajectory(values, used):
    """A Trajectory holding ``values`` (runs, points) as its ‖∇f‖₁ record at ``used`` gradients."""
    values = np.asarray(values, dtype=float)
    steps = np.arange(values.shape[1])
    return Trajectory("fake", 0.1, steps, np.asarray(used, float), {"grad_l1": values}, None)


def test_first_crossings_takes_the_best_candidate_and_the_first_crossing(rng):
    used = np.arange(50) * 3.0
    runs = []
    for rate in (0.05, 0.1, 0.02):  # three candidates: noisy decays at different rates
        curves = np.exp(-rate * np.arange(50))[None, :] * (1 + 0.1 * rng.random((6, 50)))
        runs.append(_trajectory(curves, used))
    eps = (0.5, 0.2, 1e-9)
    found = first_crossings(runs, eps, labels=(1.0, 2.0, 3.0), scale=2.0, replicates=50)
    # independent computation: mean over runs times the scale, first index <= eps
    for k, e in enumerate(eps):
        hits = []
        for run in runs:
            mean = 2.0 * run["grad_l1"].mean(axis=0)
            below = np.flatnonzero(mean <= e)
            hits.append(used[below[0]] if below.size else math.inf)
        assert found.gradients[k] == min(hits)
        if math.isfinite(min(hits)):
            assert found.choice[k] == 1.0 + int(np.argmin(hits))
        else:
            assert math.isnan(found.choice[k]) and found.reached[k] == 0
    assert found.at(0.2) == Estimate(found.gradients[1], found.se[1], 50)
    with pytest.raises(ValueError, match="eps must be one of"):
        found.at(0.3)


def test_first_crossings_without_spread_has_no_error_and_a_paired_difference():
    used = np.arange(20.0)
    same = np.tile(np.linspace(10, 1, 20), (8, 1))  # every run the same curve: nothing to resample
    a = first_crossings([_trajectory(same, used)], (5.0, 2.0), replicates=20)
    b = first_crossings([_trajectory(same + 1.0, used)], (5.0, 2.0), replicates=20)
    assert np.all(a.se == 0) and np.all(a.reached == 1)
    gap = b.difference(a, 5.0)
    assert gap.value == b.gradients[0] - a.gradients[0] > 0 and gap.se == 0
    twice = b.difference(a, 2.0, times=2.0)
    assert twice.value == b.gradients[1] - 2 * a.gradients[1] and twice.se == 0
    other = first_crossings([_trajectory(same, used)], (5.0, 2.0), replicates=20, seed=1)
    with pytest.raises(ValueError, match="resampled like"):
        a.difference(other, 5.0)


def test_mean_log_ratio_of_a_crossing_twice_as_costly_is_log_two(rng):
    values = np.exp(-0.05 * np.arange(60.0))[None, :] * (1 + 0.2 * rng.random((12, 60)))
    used = np.arange(60.0)
    eps = (0.5, 0.2, 0.1)
    a = first_crossings([_trajectory(values, used)], eps, replicates=30)
    b = first_crossings([_trajectory(values, 2 * used)], eps, replicates=30)  # two per step
    ratio = b.mean_log_ratio(a)
    assert ratio.value == pytest.approx(math.log(2)) and ratio.se == pytest.approx(0, abs=1e-12)
    with pytest.raises(ValueError, match="same targets"):
        b.mean_log_ratio(first_crossings([_trajectory(values, used)], (0.5,), replicates=30))


def test_paired_difference_is_tighter_than_the_combined_errors(rng):
    # two methods on the same runs: b is a plus a common run-to-run offset, so the offsets cancel
    used = np.arange(100.0)
    level = np.exp(rng.normal(0, 0.5, (40, 1)))  # run-to-run spread shared by both
    a = first_crossings([_trajectory(level * np.exp(-0.05 * used), used)], (0.3,), seed=2)
    b = first_crossings([_trajectory(level * np.exp(-0.04 * used), used)], (0.3,), seed=2)
    gap = b.difference(a, 0.3)
    assert gap.value > 0 and gap.se < 0.5 * math.hypot(a.se[0], b.se[0])


def test_first_crossings_rejects_bad_input():
    run = _trajectory(np.ones((3, 4)), np.arange(4.0))
    with pytest.raises(ValueError, match="runs must hold"):
        first_crossings([], (1.0,))
    with pytest.raises(ValueError, match="eps must"):
        first_crossings([run], (0.0,))
    with pytest.raises(ValueError, match="labels must"):
        first_crossings([run], (1.0,), labels=(1.0, 2.0))
    with pytest.raises(ValueError, match="same number of runs"):
        first_crossings([run, _trajectory(np.ones((2, 4)), np.arange(4.0))], (1.0,))


def test_sweep_reproduces_the_chapter_story_at_the_tails():
    sweep = heavy_tail_sweep(
        (1.2, None), methods=("sgd", "signsgd"), seeds=2, steps=500, eps=(20.0, 10.0)
    )
    sgd, sign = sweep["sgd"], sweep["signsgd"]
    assert all(isinstance(c, Crossing) for c in sgd + sign)
    assert np.all(np.isinf(sgd[0].gradients)) and np.all(np.isfinite(sign[0].gradients))
    assert sgd[1].gradients[1] < sign[1].gradients[1]  # Gaussian noise, isotropic: SGD wins
    assert set(sign[0].choice) <= set(HEAVY_LRS)


def test_the_sweep_counts_d_dimensional_runs_as_their_coordinates():
    # the sweep's N(eps) on seeds*d one-dimensional runs equals tune's on the d-dimensional runs
    d, seeds, eps = 10, 2, 4.0
    sweep = heavy_tail_sweep((3.0,), methods=("signsgd",), d=d, seeds=seeds, eps=(eps,))
    problem, noise = heavy_tail_problem(d, 3.0)
    x0 = initial_point(seeds, d, 0, dtype=torch.float32)
    lrs = sweep["signsgd"][0].choice[:1]
    run = simulate(problem, noise, "signsgd", x0, lr=float(lrs[0]), steps=1200, seed=0)
    # the same draws in another arrangement: equal in law, so compare loosely
    direct = gradients_to_reach(run, eps)
    assert sweep["signsgd"][0].gradients[0] == pytest.approx(direct, rel=0.5)


def test_chapter_tables(rng):
    tails = tail_survival((1.5, None), n=200_000, replicates=50)
    assert abs(tails["slope"][1.5] + 1.5) < 0.25 and math.isnan(tails["slope"][None])
    assert 0 < tails["se"][1.5] < 0.1
    moments = running_second_moment((3.0,), n=100_000, every=1000)
    assert moments["mean"][3.0].shape == moments["k"].shape
    spread = batch_mean_spread((1.5,), batches=(1, 64, 256, 1024), n=300, replicates=50)
    assert spread["alpha"][1.5] == 1.5 and spread["median"][1.5][-1] < spread["median"][1.5][0]
    assert 0 < spread["se"][1.5] < 0.1
    index = tail_index_table((3.0, None), n=200_000)
    assert 1.6 < index[3.0].value <= 2.0 and index[None].value > 1.9
    assert 0 < index[3.0].se < 0.1
    flips = sign_flip_table(-0.5, (1.5,), batches=(1, 16), n=20_000)
    assert (flips[1.5] < 0.5).all() and flips[1.5][1] < flips[1.5][0]


def test_tail_slope_error_is_the_spread_over_independent_samples():
    # the bootstrap SE of the fitted slope against the spread over independent seeds
    slopes = [tail_survival((1.5,), n=100_000, seed=s, replicates=100) for s in range(8)]
    spread = np.std([t["slope"][1.5] for t in slopes], ddof=1)
    se = np.mean([t["se"][1.5] for t in slopes])
    assert 0.5 < se / spread < 2.0


def test_heavy_tail_race_records_every_few_steps():
    runs = heavy_tail_race({"sgd": 0.01, "signsgd": 0.03}, nu=1.5, steps=20, seeds=2, every=5)
    assert list(runs["sgd"].steps) == [0, 5, 10, 15, 20]
    assert np.array_equal(runs["sgd"]["grad_l1"][:, 0], runs["signsgd"]["grad_l1"][:, 0])


def test_stationary_spread_of_sgd_under_gaussian_noise_is_the_ar1_law():
    # x <- (1 - lr) x - lr xi is AR(1): stationary variance lr / (2 - lr), so the median |x|
    # scales with sqrt(lr / (2 - lr)) (independent of signlab's EMA formula)
    lrs = (0.2, 0.05)
    out = stationary_spread("sgd", lrs, nu=None, runs=2000, replicates=50)
    expected = math.sqrt((lrs[1] / (2 - lrs[1])) / (lrs[0] / (2 - lrs[0])))
    factor = out["factor"]
    assert abs(factor.value - expected) < 4 * factor.se + 0.01
    assert out["median"][0] == pytest.approx(0.6745 * math.sqrt(lrs[0] / (2 - lrs[0])), rel=0.05)


def test_stationary_spread_of_signsgd_scales_like_the_square_root_of_the_step():
    out = stationary_spread("signsgd", (0.1, 0.01), nu=1.2, runs=800, replicates=20)
    assert out["factor"].value == pytest.approx(10**-0.5, rel=0.1)
    with pytest.raises(ValueError, match="lrs must"):
        stationary_spread("sgd", (0.1,))
