import numpy as np
import pytest
import sympy as sp
import torch

from signlab.experiments.geometry import (
    guarantee_ratio,
    level_curve,
    race_outcomes,
    race_summary,
    rotated_hessian,
    rotation_sweep,
    rounding_floor,
    steepest_race,
    stiff_smoothness,
)
from signlab.geometry import dual_norm, norm, steepest_step
from signlab.geometry.smoothness import quadratic_smoothness
from signlab.geometry.steepest import derive_dual, derive_step_length, gradient_symbols
from signlab.optim.functional import steepest_descent
from signlab.sim.engine import simulate
from signlab.sim.problems import Quadratic


@pytest.mark.parametrize("kind", ["l1", "l2", "linf"])
def test_symbolic_dual_norm_matches_numeric(kind):
    rng = np.random.default_rng(3)
    value, _ = derive_dual(kind, d=3)
    g = gradient_symbols(3)
    for _ in range(5):
        x = rng.standard_normal(3)
        assert float(value.subs(dict(zip(g, x)))) == pytest.approx(dual_norm(x, kind))


def test_symbolic_maximisers():
    g = gradient_symbols(3)
    _, t = derive_dual("linf", 3)
    assert t == [sp.sign(gi) for gi in g]
    _, t = derive_dual("l2", 3)
    n = sp.sqrt(sum(gi**2 for gi in g))
    assert all(sp.simplify(ti - gi / n) == 0 for ti, gi in zip(t, g))


def test_step_length_derivation():
    step = derive_step_length()
    D, lam = sp.symbols("D lambda", positive=True)
    assert sp.simplify(step["c_star"] - D / lam) == 0
    assert sp.simplify(step["decrease"] + D**2 / (2 * lam)) == 0


@pytest.mark.parametrize("kind", ["l1", "l2", "linf"])
def test_steepest_step_minimises_the_local_model(kind, rng):
    g, lam = rng.standard_normal(5), 2.5
    model = lambda D: D @ g + lam / 2 * norm(D, kind) ** 2
    best = steepest_step(g, kind, lam)
    trials = best + 0.2 * rng.standard_normal((5000, 5))
    assert np.all(model(trials) >= model(best) - 1e-12)
    assert model(best) == pytest.approx(-(dual_norm(g, kind) ** 2) / (2 * lam))
    # the optimizer's rule is the same step, on torch tensors, batched
    x = torch.tensor(rng.standard_normal((3, 5)))
    G = torch.tensor(np.vstack([g, -g, 2 * g]))
    new, state = steepest_descent(x, G, lr=1 / lam, norm=kind)
    np.testing.assert_allclose((new - x).numpy(), steepest_step(G.numpy(), kind, lam), atol=1e-12)
    assert state == {}


def test_l2_steepest_descent_is_gradient_descent_and_guaranteed_decrease(rng):
    A = rng.standard_normal((4, 4))
    H = A @ A.T + np.eye(4)
    x0 = torch.tensor(rng.standard_normal((1, 4)))
    f = lambda x: 0.5 * x @ H @ x  # noqa: E731
    for kind in ("l2", "linf"):
        lam = quadratic_smoothness(H, kind)
        run = simulate(
            Quadratic(H),
            None,
            "steepest_descent",
            x0,
            lr=1 / lam,
            steps=20,
            norm=kind,
            record=("iterate",),
        )
        path = run["iterate"][0]
        if kind == "l2":
            np.testing.assert_allclose(path[1], x0[0].numpy() - H @ x0[0].numpy() / lam)
        for a, b in zip(path[:-1], path[1:], strict=True):
            assert f(b) <= f(a) - dual_norm(H @ a, kind) ** 2 / (2 * lam) + 1e-10


def test_race_of_the_geometry_chapter(seed):
    H = rotated_hessian(10.0, 30.0)
    np.testing.assert_allclose(np.linalg.eigvalsh(H), [1.0, 10.0])
    theta = np.radians(30.0)
    np.testing.assert_allclose(
        H @ [np.cos(theta), np.sin(theta)], 10 * np.array([np.cos(theta), np.sin(theta)])
    )
    race = steepest_race(L1=10.0, angle=0.0, steps=1, x0=(1.0, 1.0))
    sign = race["sign descent (ℓ∞)"]
    np.testing.assert_allclose(sign["x"][1], [0.0, 0.0], atol=1e-15)  # the diagonal start: one step
    assert sign["L"] == pytest.approx(11.0) and race["gradient descent (ℓ2)"]["L"] == pytest.approx(
        10.0
    )
    # a population of starts gives each start's single run
    rng = np.random.default_rng(seed)
    starts = rng.standard_normal((4, 2))
    many = steepest_race(7.0, 20.0, 5, starts)
    for i, x0 in enumerate(starts):
        one = steepest_race(7.0, 20.0, 5, x0)
        for name in one:
            np.testing.assert_allclose(many[name]["x"][i], one[name]["x"], rtol=1e-12)
    axis, rotated = race_summary(20.0, 0.0, starts=12), race_summary(20.0, 45.0, starts=12)
    assert axis["wins"] > 6 and rotated["wins"] == 0
    for s in (axis, rotated):
        assert s["wins"] + s["ties"] + s["losses"] == s["starts"] == 12


def test_race_ties_are_the_starts_that_take_the_same_steps():
    """At 45° a start on an eigenvector is a tie: both methods move it by x/L₁ per step (checked
    here in closed form), so the computed values differ only by rounding."""
    L1, steps = 200.0, 12
    r = race_outcomes(L1, 45.0, steps=steps)
    flat = np.isclose(r["theta"], 135.0)  # the eigenvector of eigenvalue 1
    stiff = np.isclose(r["theta"], 45.0)  # of eigenvalue L₁: both land on 0 in one step
    exact = 0.5 * (1 - 1 / L1) ** (2 * steps)  # f = ½‖x₀‖²(1 − 1/L₁)^{2T}
    np.testing.assert_allclose(r["f_gd"][flat], exact, rtol=1e-12)
    np.testing.assert_allclose(r["f_sign"][flat], exact, rtol=1e-12)
    assert r["outcome"][flat] == 0 and r["outcome"][stiff] == 0
    assert r["f_gd"][stiff] <= r["floor"] and r["f_sign"][stiff] <= r["floor"]
    assert np.all(r["outcome"][~(flat | stiff)] == -1)
    # without the tolerance and the floor, rounding decides these two starts
    bare = race_outcomes(L1, 45.0, steps=steps, rtol=1e-30)
    assert bare["outcome"][flat] != 0 or r["relative"][flat] == 0
    # the floor is λ_max(H)·(T·u)²
    u = np.finfo(float).eps / 2
    assert rounding_floor(rotated_hessian(L1, 45.0), steps) == pytest.approx(L1 * (steps * u) ** 2)


def test_race_summary_counts_and_margins_are_the_outcomes():
    r = race_outcomes(20.0, 0.0)
    s = race_summary(20.0, 0.0)
    assert (s["wins"], s["ties"], s["losses"]) == (
        int((r["outcome"] == 1).sum()),
        int((r["outcome"] == 0).sum()),
        int((r["outcome"] == -1).sum()),
    )
    decided = r["outcome"] != 0
    assert s["decided_margin"] == pytest.approx(r["relative"][decided].min() / 1e-9)
    ratio = np.where(decided, r["f_gd"] / np.maximum(r["f_sign"], 1e-300), 1.0)
    assert s["median_ratio"] == pytest.approx(np.median(ratio))
    sweep = rotation_sweep(20.0, [0.0, 45.0])
    assert list(sweep["wins"]) == [s["wins"], race_summary(20.0, 45.0)["wins"]]
    assert sweep["margin"] == min(
        sweep["decided_margin"], sweep["tie_margin"], sweep["floor_margin"]
    )


def test_level_curve_and_constants_of_the_figures(rng):
    A = rng.standard_normal((2, 2))
    H = A @ A.T + 0.1 * np.eye(2)
    pts = level_curve(H, 0.7, 33)
    np.testing.assert_allclose(0.5 * np.einsum("ki,ij,kj->k", pts, H, pts), 0.7, rtol=1e-12)
    for d in (1, 3, 6):
        for L1 in (0.5, 1.0, 40.0):
            H = np.diag([L1] + [1.0] * (d - 1))
            c = stiff_smoothness(L1, d)
            assert float(c["l2"]) == pytest.approx(quadratic_smoothness(H, "l2"))
            assert float(c["linf"]) == pytest.approx(quadratic_smoothness(H, "linf"))
    g = rng.standard_normal((5, 7))
    expected = (np.abs(g).sum(1) ** 2 / 3.0) / ((g**2).sum(1) / 2.0)
    np.testing.assert_allclose(guarantee_ratio(g, 2.0, 3.0), expected)


def test_bad_input():
    with pytest.raises(ValueError, match="lam must be"):
        steepest_step(np.ones(2), "l2", 0.0)
    with pytest.raises(ValueError, match="steps must be"):
        steepest_race(steps=-1)
    with pytest.raises(ValueError, match="positive definite"):
        level_curve(np.diag([1.0, 0.0]), 1.0)
    with pytest.raises(ValueError, match="L1 must be"):
        stiff_smoothness([1.0, -1.0], 3)
    with pytest.raises(ValueError, match="rtol must be"):
        race_outcomes(2.0, 0.0, rtol=0.0)
    with pytest.raises(ValueError, match="angles must"):
        rotation_sweep(2.0, [])
    with pytest.raises(ValueError, match="norm must be one of"):
        steepest_descent(torch.ones(2), torch.ones(2), lr=0.1, norm="l3")
    with pytest.raises(ValueError, match="H must be"):
        Quadratic([[1.0, 2.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="d must be"):
        derive_dual("l2", d=0)
