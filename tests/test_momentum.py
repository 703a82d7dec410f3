"""The skewed-noise instance, momentum against batch one, sign-MVR, Theorem 1's schedule."""

import math

import numpy as np
import pytest
import torch

from signlab.experiments import (
    BUDGET_EPS,
    RaceInstance,
    budget_race,
    lag_race,
    noiseless_control,
    race_instance,
    sign_agreement,
    sign_mvr,
    skewed_problem,
    skewed_race,
    skewed_start,
    theorem1_run,
)
from signlab.sim.engine import gradients_to_reach, simulate
from signlab.sim.noise import Bimodal, Gaussian, TwoPoint
from signlab.sim.problems import SeparableQuadratic

SIGMA, P = 1.0, 0.1
C = SIGMA * math.sqrt(P / (1 - P))  # where B = 1 SignSGD settles: the median of g is zero there


@pytest.mark.parametrize("batch", [1, 5])
def test_two_point_noise_has_the_mean_and_variance_it_claims(batch, generator):
    sigma = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    noise = TwoPoint(sigma, p=0.2)
    draws = noise.sample(torch.zeros(200_000, 3, dtype=torch.float64), batch, generator)
    se = (sigma / math.sqrt(batch * 200_000)).numpy()
    assert np.all(np.abs(draws.mean(0).numpy()) < 4 * se)
    assert np.allclose(draws.var(0).numpy(), (sigma**2 / batch).numpy(), rtol=0.03)
    if batch == 1:  # two values: +a with probability p, -c otherwise
        a, c = sigma * math.sqrt(0.8 / 0.2), sigma * math.sqrt(0.2 / 0.8)
        assert torch.allclose(noise.jump, a) and torch.allclose(noise.drop, c)
        values = torch.where(draws > 0, draws / a, -draws / c)
        assert torch.allclose(values, torch.ones_like(values))
        assert float((draws > 0).double().mean()) == pytest.approx(0.2, abs=0.005)


def test_expected_sign_is_exact(generator):
    noise = TwoPoint(torch.full((5,), SIGMA, dtype=torch.float64), p=P)
    grads = torch.tensor([-0.5, 0.1, 0.2, 0.4, 4.0], dtype=torch.float64)
    one = noise.expected_sign(grads)
    a = SIGMA * math.sqrt((1 - P) / P)
    closed = [P * np.sign(g + a) + (1 - P) * np.sign(g - C) for g in grads.tolist()]
    assert np.allclose(one.numpy(), closed)
    assert np.allclose(one.numpy()[1:3], 2 * P - 1)  # the wrong sign on (0, c)
    for batch in (1, 8):
        draws = noise.sample(grads.expand(100_000, 5).clone(), batch, generator)
        mc = torch.sign(draws).mean(0)
        assert torch.allclose(mc, noise.expected_sign(grads, batch), atol=0.02)


def test_two_point_rejects_bad_p():
    with pytest.raises(ValueError, match="p must"):
        TwoPoint(torch.ones(2), p=1.0)
    with pytest.raises(ValueError, match="p must"):
        TwoPoint(torch.ones(2), p=0.0)


def test_skewed_problem_is_the_instance_the_chapter_describes():
    problem, noise = skewed_problem()
    assert problem.shape == (10,) and isinstance(noise, TwoPoint) and noise.p == P
    assert torch.allclose(noise.drop, torch.full((10,), C, dtype=torch.float64))
    assert skewed_start(4, seed=1).shape == (4, 10)


def test_signsgd_at_batch_one_stalls_where_momentum_reaches_the_target(seed):
    problem, noise = skewed_problem()
    x0 = skewed_start(16, seed=seed % 10_000)
    eps = 1.0  # the chapter's target; B = 1 SignSGD stalls at d*c = 3.33
    runs = {
        method: simulate(
            problem, noise, method, x0, lr=lr, steps=5000, seed=seed, record=("grad_l1",), every=10
        )
        for method, lr in (("signsgd", 0.003), ("signum", 0.0046), ("lion", 0.00215))
    }
    stall = runs["signsgd"]["grad_l1"][:, -100:].mean()
    assert stall == pytest.approx(10 * C, rel=0.03)
    assert math.isinf(gradients_to_reach(runs["signsgd"], eps))
    assert gradients_to_reach(runs["signum"], eps) < 5000
    assert gradients_to_reach(runs["lion"], eps) < 5000


def test_the_growing_batch_also_converges():
    race = skewed_race(steps=3000, seeds=8)
    assert set(race) == {"signsgd", "signsgd, growing B", "signum", "lion"}
    where = {k: float(r["mean_x"].mean(0)[-1]) for k, r in race.items()}
    assert where["signsgd"] == pytest.approx(C, abs=0.01)
    assert abs(where["signsgd, growing B"]) < 0.03
    assert race["signsgd, growing B"].gradients[-1] > 50 * race["signsgd"].gradients[-1]


def test_sign_agreement_is_wrong_at_batch_one_and_right_after_averaging():
    grads = np.array([-0.5, 0.15, 0.25, 0.6])
    out = sign_agreement(grads, batches=(1, 8), chains=1000)
    assert np.allclose(out["B=1"][1:3], 2 * P - 1) and np.allclose(out["sign"], np.sign(grads))
    for key in ("B=8", "EMA 0.9", "Lion"):
        assert (out[key][1:] > 0).all() and out[key][0] < 0


def test_sign_mvr_error_is_an_ema_of_the_noise_without_lag(generator):
    problem = SeparableQuadratic(torch.tensor([1.0, 4.0], dtype=torch.float64))
    method = sign_mvr(problem, Gaussian(torch.ones(2, dtype=torch.float64)))
    rule, beta, lr = method.rule, 0.8, 0.05
    x, state, ema = torch.tensor([[1.0, -2.0]], dtype=torch.float64), None, None
    for _ in range(30):
        xi = torch.randn(1, 2, generator=generator, dtype=torch.float64)
        grad = problem.gradient(x)
        ema = xi if ema is None else beta * ema + (1 - beta) * xi
        x, state = rule.unchecked(x, grad + xi, state, lr=lr, momentum=beta)
        assert torch.allclose(state["estimate"] - grad, ema)  # e_t = beta e_{t-1} + (1 - beta) xi_t


def test_sign_mvr_with_exact_gradients_is_signsgd():
    problem, _ = skewed_problem()
    x0 = skewed_start(2, seed=3)
    mvr = sign_mvr(problem, Gaussian(torch.ones(10, dtype=torch.float64)))
    a = simulate(problem, None, mvr, x0, lr=0.01, steps=200, record=("grad_l1",))
    b = simulate(problem, None, "signsgd", x0, lr=0.01, steps=200, record=("grad_l1",))
    assert np.allclose(a["grad_l1"], b["grad_l1"])


def test_sign_mvr_needs_an_additive_oracle():
    problem, _ = skewed_problem()
    with pytest.raises(ValueError, match="additive"):
        sign_mvr(problem, Bimodal(torch.ones(10), scale=1.0))


def test_lag_race_separates_lag_from_averaging():
    lag = lag_race(0.01, (0.9, 0.99), steps=1500, seeds=8)
    floor = {k: float(r["grad_l1"].mean(0)[-50:].mean()) for k, r in lag.items()}
    assert floor["sign-MVR 0.99"] < floor["signum 0.99"] / 2
    assert lag["sign-MVR 0.9"].gradients[-1] == 2 * lag["signum 0.9"].gradients[-1]


def test_theorem1_run_uses_the_theorem_schedule():
    problem, noise = skewed_problem()
    x0 = skewed_start(4, seed=0)
    run, schedule = theorem1_run(problem, noise, x0, noise.sigma, 10_000.0)
    delta = float(problem.value(x0).mean())
    batch = 10 * SIGMA * math.sqrt(2 * 10_000 / (10 * delta))  # ‖σ‖₁ √(2N/(L∞Δ)), L∞ = d = 10
    assert schedule["batch"] == round(batch)
    assert schedule["steps"] == round(10_000 / round(batch))
    steps = 10_000 / batch
    assert schedule["lr"] == pytest.approx(math.sqrt(2 * delta / (10 * steps)), rel=1e-6)
    assert run.gradients[-1] == schedule["batch"] * schedule["steps"]


def test_noiseless_control_shows_the_lag_alone():
    out = noiseless_control("student_t", steps=400, eps=(15.0,))
    gap = out["signum"].difference(out["signsgd"], 15.0)
    assert gap.value > 3 * gap.se + 1  # the lag costs gradients even without noise


def test_race_instances_are_coordinates_of_the_chapter_problems():
    skewed = race_instance("skewed", seed=3)
    assert isinstance(skewed, RaceInstance)
    assert skewed.x0.shape == (160, 1) and skewed.d == 10
    assert torch.allclose(skewed.x0.reshape(16, 10), skewed_start(16, 10, 3))
    student = race_instance("student_t")
    assert (
        student.x0.shape == (400, 1) and student.d == 100 and student.eps == BUDGET_EPS["student_t"]
    )
    assert float(student.sigma[0]) ** 2 == pytest.approx(3.0)  # nu = 3: variance 3
    with pytest.raises(ValueError, match="instance must be"):
        race_instance("nope")


def test_theorem1_in_one_dimension_is_the_d_dimensional_schedule():
    # Theorem 1's B and eta are the same for seeds*d 1-D runs and for seeds runs in d dimensions
    problem, noise = skewed_problem()
    x0 = skewed_start(4, seed=0)
    _, full = theorem1_run(problem, noise, x0, noise.sigma, 10_000.0)
    one = race_instance("skewed")
    _, flat = theorem1_run(one.problem, one.oracle, x0.reshape(-1, 1), one.sigma, 10_000.0)
    assert flat["batch"] == full["batch"] and flat["lr"] == pytest.approx(full["lr"], rel=1e-12)


@pytest.mark.slow
def test_budget_race_on_both_instances():
    skewed = budget_race("skewed")
    n = {k: v["crossing"].at(1.0) for k, v in skewed.items()}
    assert math.isinf(n["signsgd B=1"].value)
    assert n["Theorem 1"].value > 3 * n["signum B=1"].value
    student = budget_race("student_t", batches=(2, 4))
    n = {k: v["crossing"].at(15.0) for k, v in student.items()}
    assert all(n["signsgd B=1"].value <= v.value for v in n.values())
    with pytest.raises(ValueError, match="instance must be"):
        budget_race("nope")
