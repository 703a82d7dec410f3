import numpy as np
import pytest
import sympy as sp
import torch

from signlab.experiments.geometry import race_summary, rotated_hessian, steepest_race
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
    axis, rotated = race_summary(20.0, 0.0, starts=12), race_summary(20.0, 45.0, starts=12)
    assert axis["sign_wins"] > 0.5 and rotated["sign_wins"] < 0.5


def test_bad_input():
    with pytest.raises(ValueError, match="lam must be"):
        steepest_step(np.ones(2), "l2", 0.0)
    with pytest.raises(ValueError, match="steps must be"):
        steepest_race(steps=-1)
    with pytest.raises(ValueError, match="norm must be one of"):
        steepest_descent(torch.ones(2), torch.ones(2), lr=0.1, norm="l3")
    with pytest.raises(ValueError, match="H must be"):
        Quadratic([[1.0, 2.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="d must be"):
        derive_dual("l2", d=0)
