import math

import numpy as np
import pytest

from signlab.sim.noise import student_t
from signlab.sim.tails import (
    mean_scale,
    sign_flip_probability,
    survival,
    tail_index,
)


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
