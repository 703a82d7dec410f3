import numpy as np
import pytest
import sympy as sp

from signlab.geometry import dual_norm, norm
from signlab.geometry.smoothness import quadratic_smoothness
from signlab.geometry.steepest import (
    derive_dual,
    derive_step_length,
    gradient_symbols,
    steepest_descent_path,
    steepest_step,
)


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
def test_steepest_step_minimises_the_local_model(kind):
    rng = np.random.default_rng(4)
    g, lam = rng.standard_normal(5), 2.5
    model = lambda D: D @ g + lam / 2 * norm(D, kind) ** 2
    best = steepest_step(g, kind, lam)
    trials = best + 0.2 * rng.standard_normal((5000, 5))
    assert np.all(model(trials) >= model(best) - 1e-12)
    assert model(best) == pytest.approx(-(dual_norm(g, kind) ** 2) / (2 * lam))


def test_l2_steepest_descent_is_gradient_descent_and_guaranteed_decrease():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((4, 4))
    H = A @ A.T + np.eye(4)
    x0 = rng.standard_normal(4)
    L2 = quadratic_smoothness(H, "l2")
    path = steepest_descent_path(lambda x: H @ x, x0, "l2", L2, 3)
    assert np.allclose(path[1], x0 - H @ x0 / L2)
    f = lambda x: 0.5 * x @ H @ x
    for kind in ("l2", "linf"):
        lam = quadratic_smoothness(H, kind)
        path = steepest_descent_path(lambda x: H @ x, x0, kind, lam, 20)
        for a, b in zip(path[:-1], path[1:]):
            assert f(b) <= f(a) - dual_norm(H @ a, kind) ** 2 / (2 * lam) + 1e-10


def test_bad_input():
    with pytest.raises(ValueError, match="lam must be"):
        steepest_step(np.ones(2), "l2", 0.0)
    with pytest.raises(ValueError, match="steps must be"):
        steepest_descent_path(lambda x: x, np.ones(2), "l2", 1.0, -1)
    with pytest.raises(ValueError, match="d must be"):
        derive_dual("l2", d=0)
