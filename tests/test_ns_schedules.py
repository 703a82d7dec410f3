"""Newton–Schulz schedules (signlab.geometry.ns_schedules) against independent computations: a
linear program for the minimax polynomial, the published coefficient lists, the iteration and the
composition written out here in float64."""

import numpy as np
import pytest
import torch
from scipy.optimize import linprog

from signlab.geometry.matrix import (
    msign,
    newton_schulz,
    newton_schulz_eigh,
    newton_schulz_error,
    newton_schulz_polynomial,
)
from signlab.geometry.ns_schedules import (
    NS_SCHEDULES,
    POLAR_EXPRESS_CUSHION,
    minimax_quintic,
    minimax_schedule,
    ns_coefficients,
    ns_schedule,
)

JORDAN = (3.4445, -4.7750, 2.0315)

# Polar Express for l = 1e-3 before its safety factor, as published (Amsel et al., ICLR 2026;
# NoahAmsel/PolarExpress, polar_express/basic.py, "computed by optimal_composition(l=1e-3, ...)").
POLAR_EXPRESS_PUBLISHED = [
    (8.28721201814563, -23.595886519098837, 17.300387312530933),
    (4.107059111542203, -2.9478499167379106, 0.5448431082926601),
    (3.9486908534822946, -2.908902115962949, 0.5518191394370137),
    (3.3184196573706015, -2.488488024314874, 0.51004894012372),
    (2.300652019954817, -1.6689039845747493, 0.4188073119525673),
    (1.891301407787398, -1.2679958271945868, 0.37680408948524835),
    (1.8750014808534479, -1.2500016453999487, 0.3750001645474248),
    (1.875, -1.25, 0.375),
]
# The same with the safety factor 1.01 applied to all but the last, rounded to 4 decimals, as NVIDIA's
# Emerging-Optimizers publishes it ("polar_express").
POLAR_EXPRESS_SAFE_PUBLISHED = [
    (8.2051, -22.9019, 16.4607),
    (4.0664, -2.8612, 0.5184),
    (3.9096, -2.8234, 0.5250),
    (3.2856, -2.4153, 0.4853),
    (2.2779, -1.6198, 0.3985),
    (1.8726, -1.2307, 0.3585),
    (1.8564, -1.2132, 0.3568),
    (1.8750, -1.2500, 0.3750),
]
# CANS (Grishina, Smirnov & Rakhuba 2025) for [1e-3, 1], the five triples Emerging-Optimizers lists.
CANS_PUBLISHED = [
    (8.4703, -25.1081, 18.6293),
    (4.1828, -3.1087, 0.5806),
    (3.9619, -2.9541, 0.5630),
    (3.2866, -2.4647, 0.5074),
    (2.2737, -1.6447, 0.4162),
]
# Jiacheng You's five-step schedule (modded-nanogpt train_gpt_medium.py).
YOU_PUBLISHED = [
    (4.0848, -6.8946, 2.9270),
    (3.9505, -6.3029, 2.6377),
    (3.7418, -5.5913, 2.3037),
    (2.8769, -3.1427, 1.2046),
    (2.8366, -3.0525, 1.2012),
]


def lp_minimax_quintic(lower, upper, num=4001):
    """min_t over (a, b, c, t) with |1 − p(x_i)| ≤ t on a grid of [lower, upper]: a linear program,
    an independent route to the best odd quintic (exact up to the grid)."""
    x = np.geomspace(lower, upper, num)
    V = np.stack([x, x**3, x**5], axis=1)
    ones = np.ones((num, 1))
    A = np.vstack([np.hstack([V, -ones]), np.hstack([-V, -ones])])
    b = np.concatenate([np.ones(num), -np.ones(num)])
    res = linprog([0, 0, 0, 1], A_ub=A, b_ub=b, bounds=[(None, None)] * 4, method="highs")
    assert res.status == 0
    return res.x


def compose(x, triples, steps):
    x = np.array(x, dtype=float)
    for k in range(steps):
        a, b, c = triples[min(k, len(triples) - 1)]
        x = a * x + b * x**3 + c * x**5
    return x


@pytest.mark.parametrize("lower, upper", [(1e-3, 1.0), (0.02, 1.0), (0.3, 1.7), (0.9, 1.1)])
def test_minimax_quintic_is_the_linear_programs_and_equioscillates(lower, upper):
    a, b, c, E = minimax_quintic(lower, upper)
    la, lb, lc, lt = lp_minimax_quintic(lower, upper)
    assert E == pytest.approx(lt, rel=1e-4, abs=1e-9)
    np.testing.assert_allclose([a, b, c], [la, lb, lc], rtol=2e-3)
    x = np.geomspace(lower, upper, 200001)
    err = 1 - (a * x + b * x**3 + c * x**5)
    assert np.abs(err).max() == pytest.approx(E, rel=1e-9)
    assert err[0] == pytest.approx(E, rel=1e-9) and err[-1] == pytest.approx(-E, rel=1e-9)
    # the interior extremes alternate: a maximum of p (error −E), then a minimum (error +E)
    q, r = np.sort(np.sqrt(np.roots([5 * c, 3 * b, a]).real))  # p'(x) = 0, in x²
    assert lower < q < r < upper
    assert 1 - (a * q + b * q**3 + c * q**5) == pytest.approx(-E, rel=1e-9)
    assert 1 - (a * r + b * r**3 + c * r**5) == pytest.approx(E, rel=1e-9)


def test_minimax_quintic_at_a_point_is_the_flat_quintic():
    a, b, c, E = minimax_quintic(2.0, 2.0)
    assert E == 0
    np.testing.assert_allclose([a, b, c], [15 / 16, -10 / 64, 3 / 256])
    a, b, c, E = minimax_quintic(1 - 1e-8, 1 + 1e-8)
    assert (a, b, c) == (1.875, -1.25, 0.375) and E < 1e-15


def test_polar_express_is_computed_by_the_papers_algorithm():
    raw = minimax_schedule(1e-3, 8, cushion=POLAR_EXPRESS_CUSHION)
    np.testing.assert_allclose(raw, POLAR_EXPRESS_PUBLISHED, rtol=1e-7)
    np.testing.assert_allclose(
        NS_SCHEDULES["polar_express"], POLAR_EXPRESS_SAFE_PUBLISHED, atol=6e-5
    )
    # the safety factor is p(x/1.01) for all but the last triple
    safe = [(a / 1.01, b / 1.01**3, c / 1.01**5) for a, b, c in POLAR_EXPRESS_PUBLISHED[:-1]]
    np.testing.assert_allclose(NS_SCHEDULES["polar_express"][:-1], safe, rtol=1e-7)
    assert NS_SCHEDULES["polar_express"][-1] == (1.875, -1.25, 0.375)  # converged: exactly


def test_cans_and_the_published_presets():
    np.testing.assert_allclose(NS_SCHEDULES["cans"][:5], CANS_PUBLISHED, atol=6e-5)
    assert NS_SCHEDULES["you"] == tuple(YOU_PUBLISHED)
    assert NS_SCHEDULES["jordan"] == NS_SCHEDULES["quintic"] == (JORDAN,)
    assert NS_SCHEDULES["cubic"] == ((1.5, -0.5, 0.0),)


@pytest.mark.parametrize("lower", [1e-3, 1e-2, 0.1, 0.5])
def test_schedules_for_other_intervals_converge_to_the_flat_quintic(lower):
    """Past convergence the interval is a point (rounding may push p(ℓ) a hair above 1) and the
    schedule continues with (15/8, −10/8, 3/8); the error after k steps falls with ℓ's distance."""
    schedule = minimax_schedule(lower, 10)
    np.testing.assert_allclose(schedule[-1], (1.875, -1.25, 0.375), rtol=1e-12)
    x = np.geomspace(lower, 1, 20001)
    assert np.abs(compose(x, schedule, 10) - 1).max() < 1e-12


def test_greedy_intervals_shrink_to_one():
    """Each CANS step is the minimax polynomial of the interval the last one leaves: on [l, 1] with
    error E₁, then on [1 − E₁, 1 + E₁], ... (checked by composing on a grid)."""
    x = np.geomspace(1e-3, 1, 100001)
    schedule = NS_SCHEDULES["cans"]
    low, high = 1e-3, 1.0
    for k, triple in enumerate(schedule[:6]):
        a, b, c, E = minimax_quintic(low, high)
        np.testing.assert_allclose(triple, (a, b, c), rtol=1e-12)
        y = compose(x, schedule, k + 1)
        assert np.abs(y - 1).max() == pytest.approx(E, rel=1e-6)
        low, high = 1 - E, 1 + E


def test_worst_case_errors_quoted_in_the_docs():
    x = np.geomspace(1e-3, 1, 400001)
    safe = [(a / 1.01, b / 1.01**3, c / 1.01**5) for a, b, c in POLAR_EXPRESS_PUBLISHED[:-1]]
    errors = {k: np.abs(compose(x, safe, k) - 1).max() for k in (5, 6, 7)}
    for k, e in errors.items():
        assert newton_schulz_error("polar_express", k) == pytest.approx(e, rel=2e-3)
    assert 0.15 < errors[5] < 0.16 and 5e-3 < errors[6] < 6e-3 and 8e-6 < errors[7] < 1e-5
    jordan = [np.abs(compose(x, [JORDAN], k) - 1).max() for k in range(5, 16)]
    assert 0.52 < jordan[0] < 0.54 and min(jordan) > 0.3
    assert newton_schulz_error("jordan", 5) == pytest.approx(jordan[0], rel=1e-4)


def test_resolving_coefficients():
    assert ns_coefficients("jordan") == JORDAN
    assert ns_coefficients([1, 2, 3]) == (1.0, 2.0, 3.0)
    assert ns_coefficients(np.array([1.0, 2.0, 3.0])) == (1.0, 2.0, 3.0)
    assert ns_coefficients(torch.tensor([1.0, 2.0, 3.0])) == (1.0, 2.0, 3.0)
    assert ns_coefficients([[1, 2, 3]]) == (1.0, 2.0, 3.0)  # a one-triple schedule is a triple
    assert ns_coefficients(np.array(YOU_PUBLISHED)) == tuple(YOU_PUBLISHED)
    assert ns_coefficients("polar_express") == NS_SCHEDULES["polar_express"]
    assert ns_schedule("you", 7) == (*YOU_PUBLISHED, YOU_PUBLISHED[-1], YOU_PUBLISHED[-1])
    assert ns_schedule(JORDAN, 3) == (JORDAN,) * 3
    assert ns_schedule("polar_express", 0) == ()


@pytest.mark.parametrize(
    "value",
    ["septic", (1.0, 2.0), [(1, 2, 3), (1, 2)], [(1, 2, 3), 4], (1.0, float("inf"), 0.0), [], 3.0],
)
def test_bad_coefficients_raise(value):
    with pytest.raises(ValueError, match="coefficients"):
        ns_coefficients(value)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lower=0.0, steps=3), "lower"),
        (dict(lower=1.5, steps=3), "lower"),
        (dict(lower=1e-3, steps=0), "steps"),
        (dict(lower=1e-3, steps=3, cushion=1.0), "cushion"),
        (dict(lower=1e-3, steps=3, safety=0.99), "safety"),
    ],
)
def test_bad_schedule_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        minimax_schedule(**kwargs)
    with pytest.raises(ValueError, match="lower"):
        minimax_quintic(0.5, 0.2)


def ns_numpy(G, triples, steps):
    """Newton–Schulz written out in float64, step k with triples[min(k, last)]."""
    X = G / np.linalg.norm(G)
    for k in range(steps):
        a, b, c = triples[min(k, len(triples) - 1)]
        A = X @ X.T
        X = a * X + b * A @ X + c * A @ A @ X
    return X


@pytest.mark.parametrize("name", ["polar_express", "you", "cans"])
@pytest.mark.parametrize("shape", [(6, 6), (5, 11), (11, 5)])
def test_a_schedule_is_applied_step_by_step(name, shape, rng):
    G = rng.standard_normal(shape)
    triples = NS_SCHEDULES[name]
    for steps in (1, 3, 9):
        wide = G if shape[0] <= shape[1] else G.T
        expected = ns_numpy(wide, triples, steps)
        expected = expected if shape[0] <= shape[1] else expected.T
        out = newton_schulz(torch.tensor(G), steps=steps, coefficients=name).numpy()
        np.testing.assert_allclose(out, expected, atol=1e-10)
        eigh = newton_schulz_eigh(torch.tensor(G), steps=steps, coefficients=list(triples))
        np.testing.assert_allclose(eigh.numpy(), expected, atol=1e-8)
        s = np.linalg.svd(G, compute_uv=False) / np.linalg.norm(G)
        np.testing.assert_allclose(
            newton_schulz_polynomial(s, name, steps), compose(s, triples, steps)
        )


def log_spaced_matrix(n, rng):
    """U diag(σ) Vᵀ with σ log-spaced on [1e-3, 1] and random orthogonal U, V."""
    U, _ = np.linalg.qr(rng.standard_normal((n, n)))
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return U @ np.diag(np.geomspace(1e-3, 1, n)) @ V.T


@pytest.mark.parametrize("n", [64, 128])
def test_ten_polar_express_steps_reach_the_polar_factor_in_float64(n, rng):
    """Issue 24: singular values within 1e-6 of 1 after 10 steps (normalised by ‖G‖_F, as the
    paper's code does, so the smallest starts near 1e-3/‖σ‖₂ < ℓ = 1e-3)."""
    G = log_spaced_matrix(n, rng)
    out = msign(torch.tensor(G), method="newton_schulz", steps=10, coefficients="polar_express")
    assert out.dtype == torch.float64
    s = np.linalg.svd(out.numpy(), compute_uv=False)
    assert np.abs(s - 1).max() < 1e-6
    # Jordan's default stays in its band, far from 1, with the same ten steps
    jordan = np.linalg.svd(
        msign(torch.tensor(G), "newton_schulz", steps=10).numpy(), compute_uv=False
    )
    assert np.abs(jordan - 1).max() > 0.2
