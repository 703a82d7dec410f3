"""Tests of signlab.theory.bounds.mechanism (where Theorem 3's 1/φ comes from) and of the upper-bounds
chapter's measurement of the wells' noise floor, against independent computations."""

import math

import numpy as np
import pytest
import torch

from signlab.experiments.upper_bounds import wells_noise_floor
from signlab.theory.bounds import mechanism
from signlab.theory.lowerbound import sgd_noise_instance


def test_the_half_share_is_the_lower_bound_chapters_instance():
    for d, k, eps in ((50, 3, 0.2), (1000, 10, 0.1)):
        a = mechanism.allocated_instance(d, k, eps, Delta=0.5)
        b = sgd_noise_instance(d, k, eps, Delta=0.5)
        for name in ("L", "kink", "multiplicity", "sigma", "x0"):
            torch.testing.assert_close(getattr(a, name), getattr(b, name))


@pytest.mark.parametrize("share", [0.01, 0.3, 0.5, 0.9])
def test_allocated_instance_has_the_stated_constants(share, rng):
    d, k, eps = int(rng.integers(20, 200)), int(rng.integers(1, 10)), 0.1
    inst = mechanism.allocated_instance(d, k, eps, wells_share=share, noise_l1=2.0, Delta=0.7)
    L_w = share / k
    assert inst.linf_smoothness == pytest.approx(1.0)  # ‖L‖₁ = L∞
    assert inst.gap == pytest.approx(0.7)  # f(x₀) = Δ
    assert inst.noise_l1 == pytest.approx(2.0)
    assert float(inst.L[0]) == pytest.approx(L_w)
    assert inst.alignment == pytest.approx(4.0 * L_w)  # (Σσ√L)² = ‖σ‖₁²L_w
    # the flat slopes add up to 2ε on their linear part, where they start
    flat = inst.expanded()
    g = flat.gradient(flat.start(1))[0]
    assert float(g[k:].abs().sum()) == pytest.approx(2 * eps)
    assert float(g[:k].abs().sum()) == 0.0
    iso = mechanism.allocated_instance(d, k, eps, wells_share=k / d)
    torch.testing.assert_close(iso.L, torch.full_like(iso.L, 1 / d))


def test_the_maximiser_share_is_no_instance():
    eps, Delta = 0.1, 1.0
    top = mechanism.largest_share(eps, Delta=Delta)
    assert top == pytest.approx(1 - 2 * eps**2 / Delta)
    mechanism.allocated_instance(100, 1, eps, wells_share=top - 1e-6)
    for bad in (1.0, top, 0.0):
        with pytest.raises(ValueError, match="wells_share"):
            mechanism.allocated_instance(100, 1, eps, wells_share=bad)


def test_noise_floor_is_the_stationary_mean_of_the_ar1_wells(rng):
    """Stationary variance of x ← (1 − u)x − ησξ by its geometric series, E|N(0, v)| = √(2v/π)."""
    L_w, sigma_l1, k = 0.2, 3.0, 4
    for eta in (0.01, 0.5, 4.0):
        u = eta * L_w
        var = sum((1 - u) ** (2 * s) for s in range(200_000)) * (eta * sigma_l1 / k) ** 2
        expected = k * L_w * math.sqrt(2 * var / math.pi)
        assert mechanism.noise_floor(eta, L_w, sigma_l1) == pytest.approx(expected, rel=1e-9)
    assert mechanism.noise_floor(2.0 / L_w, L_w) == math.inf
    eps = 0.05
    cap = mechanism.step_cap(eps, L_w, sigma_l1)
    assert mechanism.noise_floor(cap, L_w, sigma_l1) == pytest.approx(eps, rel=1e-12)
    assert cap == pytest.approx(math.pi * eps**2 / (sigma_l1**2 * L_w), rel=0.01)
    assert mechanism.step_cap(eps, L_w, 0.0) == 2.0 / L_w


def test_steps_estimate_is_the_proven_count_and_scales_with_one_over_phi():
    d, eps = 1000, 0.1
    for k in (1, 10, 100):
        for share in (0.5, k / d):
            est = mechanism.steps_estimate(d, k, eps, wells_share=share)
            proven = mechanism.allocated_instance(d, k, eps, wells_share=share).sgd_steps_lower()
            assert est == pytest.approx(proven, rel=1e-6)
            closed = (d - k) * (share / k) / (4 * math.pi * eps**4)  # (d−k)L_w‖σ‖₁²Δ/(4πε⁴)
            assert est == pytest.approx(closed, rel=0.02)
    ratio = mechanism.steps_estimate(d, 1, eps) / mechanism.steps_estimate(d, 100, eps)
    assert ratio == pytest.approx((d - 1) / 1 / ((d - 100) / 100), rel=1e-9)
    iso = [mechanism.steps_estimate(d, k, eps, wells_share=k / d) for k in (1, 100)]
    assert iso[0] / iso[1] == pytest.approx((d - 1) / (d - 100), rel=1e-9)


def test_wells_noise_floor_measures_the_prediction(seed):
    L_w = 0.1
    etas = np.array([0.3, 3.0])
    run = wells_noise_floor(etas, k=5, L_w=L_w, noise_l1=2.0, seeds=32, seed=seed, settle=4)
    assert run["steps"] == 2 * math.ceil(4 / (0.3 * L_w))
    for eta, m in zip(etas, run["measured"], strict=True):
        u = eta * L_w
        expected = 2.0 * math.sqrt(2 * u / (math.pi * (2 - u)))  # independent of noise_floor
        assert abs(m.value - expected) < 5 * m.se, (eta, m, expected)
        assert m.se < 0.05 * expected
    # without settling the wells start at 0 and the second half still rises: measurably low
    early = wells_noise_floor([0.3], k=5, L_w=L_w, noise_l1=2.0, seeds=32, seed=seed, settle=0.05)
    u = 0.3 * L_w
    assert early["measured"][0].value < 0.8 * 2.0 * math.sqrt(2 * u / (math.pi * (2 - u)))


def test_bad_input():
    with pytest.raises(ValueError, match="k must be"):
        mechanism.allocated_instance(10, 10, 0.1)
    with pytest.raises(ValueError, match="eta must"):
        mechanism.noise_floor(0.0, 1.0)
    with pytest.raises(ValueError, match="etas must be < 2/L_w"):
        wells_noise_floor([30.0], L_w=0.1)
    with pytest.raises(ValueError, match="etas must hold"):
        wells_noise_floor([])
