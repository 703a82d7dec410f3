"""Tests of signlab.theory.bounds against independent numeric computations on seeded random parameters."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from signlab.theory import bounds
from signlab.theory.bounds import symbols as S


def random_setting(rng):
    d = int(rng.integers(2, 50))
    return d, 10 ** rng.uniform(-1, 2), 10 ** rng.uniform(-1, 2), rng.exponential(1.0, d)


def bound_in_budget(B, N, L, Delta, s):
    """The telescoped bound at the optimal step, written out by hand: √(2LΔB/N) + 2s/√B."""
    return np.sqrt(2 * L * Delta * B / N) + 2 * s / np.sqrt(B)


def test_optimal_step_is_the_papers_and_minimises_the_bound(rng):
    r = bounds.upper_bound_results()
    assert sp.simplify(r["eta_opt"] - sp.sqrt(2 * S.Delta / (S.L_inf * S.T))) == 0
    for _ in range(5):
        L, Delta, T = 10 ** rng.uniform(-2, 2, 3)
        etas = np.geomspace(1e-6, 1e6, 200001)
        numeric = etas[np.argmin(Delta / (etas * T) + etas * L / 2)]
        exact = float(r["eta_opt"].subs({S.L_inf: L, S.Delta: Delta, S.T: T}))
        assert exact == pytest.approx(np.sqrt(2 * Delta / (L * T)), rel=1e-12)
        assert numeric == pytest.approx(exact, rel=1e-3)


def test_rate_is_the_minimum_over_batch_sizes(rng):
    for _ in range(10):
        _, L, Delta, sigma = random_setting(rng)
        N = 10 ** rng.uniform(0, 8)
        B = np.geomspace(1, 1e12, 400001)
        numeric = bound_in_budget(B, N, L, Delta, sigma.sum()).min()
        assert bounds.signsgd_rate(N, L, Delta, sigma) == pytest.approx(numeric, rel=1e-6)
        schedule = bounds.signsgd_schedule(N, L, Delta, sigma)
        assert schedule["batch"] * schedule["steps"] == pytest.approx(N)
        assert schedule["lr"] == pytest.approx(np.sqrt(2 * Delta / (L * schedule["steps"])))
        value = bound_in_budget(schedule["batch"], N, L, Delta, sigma.sum())
        assert value == pytest.approx(numeric, rel=1e-6)


def test_rate_envelope_and_large_budget_constant(rng):
    for _ in range(20):
        _, L, Delta, sigma = random_setting(rng)
        s = sigma.sum()
        N = 10 ** rng.uniform(0, 9, 50)
        rate = bounds.signsgd_rate(N, L, Delta, sigma)
        envelope = 2 * np.sqrt(2 * L * Delta / N) + 2**1.75 * (s**2 * L * Delta / N) ** 0.25
        assert np.all(rate <= envelope * (1 + 1e-12))
        large = N >= L * Delta / (2 * s**2)
        np.testing.assert_allclose(rate[large], 2**1.75 * (s**2 * L * Delta / N[large]) ** 0.25)


def test_complexity_inverts_the_rate(rng):
    for _ in range(20):
        _, L, Delta, sigma = random_setting(rng)
        s = sigma.sum()
        eps = s * 10 ** rng.uniform(-3, 1.5)
        N = bounds.signsgd_complexity(eps, L, Delta, sigma)
        B = np.geomspace(1, 1e14, 200001)
        assert bound_in_budget(B, N, L, Delta, s).min() == pytest.approx(eps, rel=1e-5)
        assert bound_in_budget(B, 0.99 * N, L, Delta, s).min() > eps
        assert N <= 8 * L * Delta / eps**2 + 128 * s**2 * L * Delta / eps**4
        order = bounds.signsgd_complexity(eps, L, Delta, sigma, constants="order")
        assert order == pytest.approx(L * Delta / eps**2 + s**2 * L * Delta / eps**4)


def test_noise_scales(rng):
    sigma = rng.exponential(1.0, 9)
    assert bounds.noise_l1(sigma) == pytest.approx(np.abs(sigma).sum())
    A = rng.standard_normal((5, 5))
    assert bounds.noise_nuclear(A @ A.T) == pytest.approx(np.trace(A @ A.T))
    with pytest.raises(ValueError, match="sigma"):
        bounds.noise_l1(np.ones((2, 2)))


def test_noiseless_complexity(rng):
    L, Delta, eps = 10 ** rng.uniform(-1, 1, 3)
    N = bounds.signsgd_complexity(eps, L, Delta, np.zeros(4))
    assert N == pytest.approx(2 * L * Delta / eps**2)
    budgets = 10 ** rng.uniform(0, 8, 20)
    rate = bounds.signsgd_rate(budgets, L, Delta, np.zeros(3))
    np.testing.assert_allclose(rate, np.sqrt(2 * L * Delta / budgets))


def test_sgd_lower_bound_matches_theorem_3(rng):
    for _ in range(10):
        d, L, Delta, sigma = random_setting(rng)
        eps, T = 10 ** rng.uniform(-3, 0), 10 ** rng.uniform(0, 6)
        l2sq = (sigma**2).sum()
        expected = d * L * Delta / eps**2 + d * l2sq * L * Delta / eps**4
        assert bounds.sgd_complexity_lower(eps, L, Delta, sigma) == pytest.approx(expected)
        rate = np.sqrt(d * L * Delta / T) + (d * l2sq * L * Delta / T) ** 0.25
        assert bounds.sgd_rate_lower(T, L, Delta, sigma) == pytest.approx(rate)


def test_ratio_is_d_for_one_noisy_coordinate_when_noise_dominates(rng):
    for _ in range(10):
        d = int(rng.integers(2, 1000))
        sigma = np.zeros(d)
        sigma[rng.integers(d)] = 10 ** rng.uniform(0, 2)
        L, Delta = 10 ** rng.uniform(-1, 1, 2)
        eps = sigma.sum() * 1e-3
        phi = np.abs(sigma).sum() ** 2 / (d * (sigma**2).sum())
        assert phi == pytest.approx(1 / d)
        assert bounds.complexity_ratio(eps, L, Delta, sigma) == pytest.approx(d, rel=1e-6)


def test_ratio_lies_between_d_and_inverse_density(rng):
    for _ in range(20):
        d, L, Delta, sigma = random_setting(rng)
        inv_phi = d * (sigma**2).sum() / sigma.sum() ** 2
        eps = 10 ** rng.uniform(-3, 2)
        ratio = bounds.complexity_ratio(eps, L, Delta, sigma)
        assert min(d, inv_phi) * (1 - 1e-9) <= ratio <= max(d, inv_phi) * (1 + 1e-9)
    r = bounds.comparison_results()
    assert r["gain_noiseless"] == S.d
    assert sp.simplify(r["gain_noise"] - 1 / S.phi) == 0


def test_muon_matches_signsgd_on_rotated_diagonal_noise(rng):
    for _ in range(5):
        m = int(rng.integers(2, 8))
        Q, _ = np.linalg.qr(rng.standard_normal((m, m)))
        sigma = rng.exponential(1.0, m)
        Sigma = Q.T @ np.diag(sigma) @ Q
        assert bounds.noise_nuclear(Sigma) == pytest.approx(
            np.linalg.svd(Sigma, compute_uv=False).sum()
        )
        eps, L, Delta = 10 ** rng.uniform(-2, 0), 10 ** rng.uniform(-1, 1), 10 ** rng.uniform(-1, 1)
        assert bounds.muon_complexity(eps, L, Delta, Sigma) == pytest.approx(
            bounds.signsgd_complexity(eps, L, Delta, sigma)
        )
        assert bounds.muon_rate(1e4, L, Delta, Sigma) == pytest.approx(
            bounds.signsgd_rate(1e4, L, Delta, sigma)
        )
    steps = bounds.upper_bound_derivation("matrix")
    assert r"\|\Sigma\|_*" in steps["complexity"].latex()


def test_one_step_inequality_numerically(rng):
    """The engine of Theorem 1 on a separable quadratic with random gradients and noise."""
    for _ in range(200):
        d = int(rng.integers(1, 30))
        Lvec, x = rng.exponential(1.0, d), rng.standard_normal(d)
        g = Lvec * x + rng.standard_normal(d) * rng.exponential(1.0)
        grad = Lvec * x
        assert grad @ np.sign(g) >= np.abs(grad).sum() - 2 * np.abs(grad - g).sum() - 1e-12
        eta = rng.exponential(0.5)
        f = lambda z, Lvec=Lvec: 0.5 * (Lvec * z**2).sum()
        rhs = f(x) - eta * np.abs(grad).sum() + 2 * eta * np.abs(grad - g).sum()
        assert f(x - eta * np.sign(g)) <= rhs + eta**2 * Lvec.sum() / 2 + 1e-12


def test_minibatch_noise_l1_bound_monte_carlo(rng):
    d, B, R = 20, int(rng.integers(1, 16)), 20000
    sigma = rng.exponential(1.0, d)
    noise = rng.standard_normal((R, B, d)).mean(axis=1) * sigma
    l1 = np.abs(noise).sum(axis=1)
    se = l1.std() / np.sqrt(R)
    assert l1.mean() <= sigma.sum() / np.sqrt(B) + 4 * se


def test_steps_render():
    assert sp.latex(S.Tex(r"\|\nabla f(x_t)\|_1")) == r"\|\nabla f(x_t)\|_1"
    derivation = bounds.upper_bound_derivation()
    assert len(derivation) >= 10
    assert derivation.names()[0] == "one-step descent"
    md = derivation._repr_markdown_()
    assert md.count("$$") == 2 * len(derivation)
    assert "128" in derivation["complexity with explicit constants"].latex()
    assert derivation[0]._repr_latex_().startswith("$")
    with pytest.raises(KeyError):
        derivation["no such step"]
    with pytest.raises(ValueError, match="distinct"):
        bounds.Derivation("x", [derivation[0], derivation[0]])


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: bounds.signsgd_complexity(0.0, 1, 1, [1.0]), "eps"),
        (lambda: bounds.signsgd_complexity(-1.0, 1, 1, [1.0]), "eps"),
        (lambda: bounds.signsgd_complexity(0.1, 0, 1, [1.0]), "L_inf"),
        (lambda: bounds.signsgd_complexity(0.1, 1, -1, [1.0]), "Delta"),
        (lambda: bounds.signsgd_complexity(0.1, 1, 1, [1.0, -0.1]), "sigma"),
        (lambda: bounds.signsgd_complexity(0.1, 1, 1, [1.0], constants="big"), "constants"),
        (lambda: bounds.signsgd_rate(0, 1, 1, [1.0]), "N"),
        (lambda: bounds.sgd_complexity_lower(0.1, 1, 1, [-1.0]), "sigma"),
        (lambda: bounds.sgd_rate_lower(-3, 1, 1, [1.0]), "T"),
        (lambda: bounds.muon_complexity(0.1, 1, 1, -np.eye(2)), "Sigma"),
        (lambda: bounds.muon_complexity(0.1, 1, 1, np.ones((2, 3))), "Sigma"),
        (lambda: bounds.muon_rate(10, 0, 1, np.eye(2)), "L_star"),
        (lambda: bounds.upper_bound_derivation("tensor"), "geometry"),
    ],
)
def test_bad_input_raises(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_noise_allocation_is_the_cauchy_schwarz_maximum(rng):
    from signlab.theory.bounds.comparison import noise_allocation

    for d in (1, 2, 4):
        r = noise_allocation(d)
        assert r["identity"] == 0
        total = sum(x**2 for x in r["sigma"])
        assert sp.simplify(r["maximum"] - S.L_inf * total) == 0
        assert sp.simplify(sum(r["allocation"]) - S.L_inf) == 0
    # numerically: no curvature on the simplex beats L_i ∝ σ_i², and sparse σ gets L_i = 0
    sigma = rng.exponential(size=6) * (rng.random(6) < 0.5)
    sigma[0] = 1.0
    best = (sigma * np.sqrt(sigma**2 / (sigma**2).sum())).sum() ** 2
    assert best == pytest.approx((sigma**2).sum())
    for _ in range(2000):
        L = rng.dirichlet(np.ones(6))
        assert (sigma * np.sqrt(L)).sum() ** 2 <= best * (1 + 1e-12)
    iso = (sigma * np.sqrt(np.full(6, 1 / 6))).sum() ** 2
    assert iso == pytest.approx(sigma.sum() ** 2 / 6)
    # the derivation's allocation: half of L∞ on the noisy coordinates ∝ σ², half on the others
    noisy = sigma > 0
    half = np.where(noisy, 0.5 * sigma**2 / (sigma**2).sum(), 0.5 / max((~noisy).sum(), 1))
    assert half.sum() == pytest.approx(1.0 if (~noisy).any() else 0.5)
    assert (sigma * np.sqrt(half)).sum() ** 2 == pytest.approx((sigma**2).sum() / 2)
    step = bounds.comparison_derivation()["noise allocation"].expr
    assert sp.simplify(step.rhs - S.L_inf * S.sigma_l2**2 / 2) == 0


def test_theorem_3_steps_in_the_theorems_form():
    r = bounds.comparison_results()
    # the noise term at the instance's allocation (half of L∞ on the noisy coordinates)
    assert (
        sp.simplify(
            r["noise_term_phi"] ** 4 - S.sigma_l1**2 * S.L_inf * S.Delta / (2 * S.phi * S.T)
        )
        == 0
    )
    assert (
        sp.simplify(r["isotropic_noise_term"] ** 4 - S.sigma_l1**2 * S.L_inf * S.Delta / S.T) == 0
    )
    steps = bounds.comparison_derivation()
    assert steps.names()[:4] == [
        "SGD lower bound",
        "noiseless allocation",
        "noise allocation",
        "the bound's maximum",
    ]
    text = " ".join(s.description for s in steps)
    assert "reported" not in text and "could be read" not in text
    assert r"\mathbb{E}\big[\min" in steps["SGD lower bound"].latex()
    rate = bounds.upper_bound_derivation("vector")["rate, large budget"].latex()
    assert r"2^{\frac{7}{4}} \sqrt[4]{\frac{" in rate and r"2 \cdot 2^{\frac{3}{4}}" not in rate


def test_a_shown_form_must_equal_the_expression():
    from signlab.theory.bounds.steps import Step, written

    good = sp.Eq(S.B, written(S.sigma_l1, 2 * S.N / S.L_inf, sp.Rational(1, 2)))
    Step("ok", "", sp.Eq(S.B, S.sigma_l1 * sp.sqrt(2 * S.N / S.L_inf)), good)
    with pytest.raises(ValueError, match="shown form"):
        Step("bad", "", sp.Eq(S.B, S.sigma_l1 * sp.sqrt(S.N / S.L_inf)), good)


def test_numerical_checks_of_the_proofs_hold_and_can_fail():
    from signlab.theory.bounds import numerics

    lemma = numerics.separable_to_linf(d=12, pairs=2000, seed=3)
    assert lemma["max"] <= 1 and lemma["tight"] == pytest.approx(1.0)
    assert numerics.one_step_margin(trials=300, seed=4) >= -1e-12
    assert numerics.msign_alignment_margin(trials=30, seed=5) >= -1e-9
    l1 = numerics.noise_l1_means(np.ones(8), (1, 9), samples=4000, seed=6)
    # Gaussian: E|ξ| = √(2/π) < 1, so the measured mean sits below the bound by that factor
    np.testing.assert_allclose(l1["measured"] / l1["bound"], np.sqrt(2 / np.pi), rtol=0.03)
    cs = numerics.alignment_on_simplex(np.array([2.0, 1.0, 0.0]), draws=500, seed=7)
    assert cs["random_max"] <= cs["maximum"] and cs["at_allocation"] == pytest.approx(5.0)
    assert cs["isotropic"] == pytest.approx(9.0 / 3)
