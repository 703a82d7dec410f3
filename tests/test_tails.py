import math

import numpy as np
import pytest

from signlab.sim.noise import student_t
from signlab.sim.tails import (
    ema_scale,
    ema_scale_limit,
    mean_scale,
    measure_ema_scale,
    sign_flip_probability,
    student_t_tail,
    survival,
    tail_index,
)
from signlab.sim.tails import symmetric_stable as torch_stable


def symmetric_stable(alpha, size, rng):
    """Chambers–Mallows–Stuck sampler of a standard symmetric alpha-stable law (independent of signlab)."""
    u = rng.uniform(-np.pi / 2, np.pi / 2, size)
    w = rng.exponential(size=size)
    if alpha == 1:
        return np.tan(u)
    return (
        np.sin(alpha * u)
        / np.cos(u) ** (1 / alpha)
        * (np.cos((1 - alpha) * u) / w) ** ((1 - alpha) / alpha)
    )


@pytest.mark.parametrize("alpha", [1.1, 1.4, 1.7, 2.0])
def test_tail_index_recovers_alpha_of_stable_samples(alpha, rng):
    x = symmetric_stable(alpha, 400_000, rng)
    assert tail_index(x) == pytest.approx(alpha, abs=0.1)


def test_tail_index_of_gaussian_is_two_and_of_student_t_near_nu(rng):
    assert tail_index(rng.standard_normal(400_000)) == pytest.approx(2.0, abs=0.1)
    est = tail_index(student_t((400_000,), 1.3, int(rng.integers(2**31))).numpy())
    assert 1.1 < est < 1.32  # the estimator reads low at finite block sizes


@pytest.mark.parametrize("alpha", [1.2, 1.6, 2.0])
def test_mean_scale_matches_the_spread_of_batch_means(alpha, rng):
    base = np.median(np.abs(symmetric_stable(alpha, 200_000, rng)))
    for batch in (4, 64):
        means = symmetric_stable(alpha, (20_000, batch), rng).mean(axis=1)
        ratio = np.median(np.abs(means)) / base
        assert ratio == pytest.approx(float(mean_scale(batch, alpha)), rel=0.06)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: tail_index(np.ones(4)), "at least 16"),
        (lambda: tail_index(np.zeros(100)), "all zero"),
        (lambda: tail_index(np.r_[np.ones(99), np.nan]), "finite"),
        (lambda: tail_index(np.ones(100), k1=60), "at least 2 blocks"),
        (lambda: mean_scale(4, 2.5), "alpha must lie"),
        (lambda: mean_scale(0.5, 1.5), "batch must be"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_sign_flip_probability_matches_closed_forms(seed):
    n = 400_000
    tol = 4 * math.sqrt(0.25 / n)
    cauchy = sign_flip_probability(-1.0, 1.0, scale=2.0, n=n, seed=seed)
    assert cauchy == pytest.approx(0.5 - math.atan(1.0 / 2.0) / math.pi, abs=tol)
    gauss = sign_flip_probability(0.5, None, batch=4, n=n, seed=seed)
    assert gauss == pytest.approx(0.5 * math.erfc(0.5 * 2 / math.sqrt(2)), abs=tol)
    with pytest.raises(ValueError, match="grad must be non-zero"):
        sign_flip_probability(0.0, 1.5)


def test_survival_counts_exceedances():
    x = np.array([-4.0, 1.0, 2.0, -3.0])
    assert np.allclose(survival(x, [0.5, 1.0, 2.5, 4.0]), [1.0, 0.75, 0.5, 0.0])


def test_tail_index_of_student_t_with_finite_variance_tends_to_two_not_nu(rng):
    # nu = 3 has a variance: the noise is attracted to the Gaussian (alpha = 2), never to alpha = 3
    est = tail_index(student_t((400_000,), 3.0, int(rng.integers(2**31))).numpy())
    assert 1.6 < est <= 2.0


@pytest.mark.parametrize("alpha", [1.0, 1.3, 1.7, 2.0])
def test_ema_scale_is_the_stable_norm_of_the_ema_weights(alpha):
    beta = np.array([0.0, 0.5, 0.9, 0.99])
    k = np.arange(20_000)
    weights = (1 - beta[:, None]) * beta[:, None] ** k  # the EMA's weights on xi_t, xi_{t-1}, ...
    direct = (np.abs(weights) ** alpha).sum(axis=1) ** (1 / alpha)
    assert np.allclose(ema_scale(alpha, beta), direct, rtol=1e-9)
    limit = alpha ** (-1 / alpha) * (1 - beta) ** (1 - 1 / alpha)
    assert np.allclose(ema_scale_limit(alpha, beta), limit, rtol=1e-12)
    assert abs(ema_scale_limit(alpha, 0.9999) / ema_scale(alpha, 0.9999) - 1) < 1e-3


def test_gaussian_ema_scale_is_the_familiar_variance_ratio():
    beta = np.array([0.3, 0.9])
    assert np.allclose(ema_scale(2.0, beta), np.sqrt((1 - beta) / (1 + beta)))
    assert np.allclose(ema_scale(1.0, beta), 1.0)  # Cauchy: averaging does nothing


def test_symmetric_stable_has_the_closed_form_laws_at_alpha_one_and_two(generator):
    cauchy = torch_stable((200_000,), 1.0, generator)
    assert float(cauchy.abs().median()) == pytest.approx(1.0, abs=0.02)  # median |C| = tan(pi/4)
    gauss = torch_stable((200_000,), 2.0, generator)
    assert float(gauss.std()) == pytest.approx(math.sqrt(2.0), rel=0.01)  # e^{-t^2}: N(0, 2)


@pytest.mark.parametrize("alpha", [1.2, 1.6])
def test_symmetric_stable_matches_an_independent_sampler(alpha, generator, rng):
    ours = np.sort(np.abs(torch_stable((100_000,), alpha, generator).numpy()))
    theirs = np.sort(np.abs(symmetric_stable(alpha, 100_000, rng)))
    for q in (0.25, 0.5, 0.75, 0.9):
        i = int(q * ours.size)
        assert ours[i] == pytest.approx(theirs[i], rel=0.05)


@pytest.mark.parametrize("alpha", [1.2, 1.5, 2.0])
def test_measured_ema_scale_agrees_with_the_formula_within_its_error(alpha, seed):
    betas = (0.5, 0.9, 0.99)
    measured, stderr = measure_ema_scale(alpha, betas, chains=8000, seed=seed)
    exact = np.array([(1 - b) / (1 - b**alpha) ** (1 / alpha) for b in betas])
    assert (stderr > 0).all() and (stderr < 0.05 * exact).all()
    assert (np.abs(measured - exact) < 4 * stderr).all()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: ema_scale(2.5, 0.9), "alpha must lie"),
        (lambda: ema_scale(1.5, 1.0), "beta must lie"),
        (lambda: ema_scale_limit(1.5, -0.1), "beta must lie"),
        (lambda: measure_ema_scale(1.5, []), "non-empty"),
        (lambda: measure_ema_scale(1.5, (0.9,), chains=10, blocks=20), "blocks must be"),
        (lambda: torch_stable((3,), 0.0), "alpha must be"),
    ],
)
def test_ema_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_student_t_tail_matches_the_closed_forms():
    x = np.array([0.0, 0.3, 1.0, 4.0, 30.0, 500.0])
    cauchy = 1 - 2 / np.pi * np.arctan(x)  # nu = 1
    two = 1 - x / np.sqrt(2 + x**2)  # nu = 2
    assert np.allclose(student_t_tail(x, 1.0), cauchy, rtol=1e-8, atol=1e-14)
    assert np.allclose(student_t_tail(x, 2.0), two, rtol=1e-8, atol=1e-14)


def test_student_t_tail_matches_draws(rng):
    draws = student_t((400_000,), 1.5, int(rng.integers(2**31))).numpy()
    x = np.array([0.5, 2.0, 10.0])
    p = student_t_tail(x, 1.5)
    se = np.sqrt(p * (1 - p) / draws.size)
    assert np.all(np.abs(survival(draws, x) - p) < 4 * se)


def test_student_t_tail_rejects_bad_input():
    with pytest.raises(ValueError, match="x must"):
        student_t_tail([-1.0], 2.0)
    with pytest.raises(ValueError, match="points must be odd"):
        student_t_tail([1.0], 2.0, points=10)
