import numpy as np
import pytest

from signlab.geometry.smoothness import quadratic_smoothness


def sampled_constant(H, kind, rng, n=20000):
    """Lower estimate of max |vᵀHv| / ‖v‖² from random directions and random box vertices."""
    d = H.shape[0]
    v = rng.standard_normal((n, d))
    if kind == "linf":
        v = np.vstack([v, rng.choice([-1.0, 1.0], (n, d))])
        scale = np.abs(v).max(axis=1)
    else:
        scale = np.linalg.norm(v, axis=1)
    return np.max(np.abs(np.einsum("ki,ij,kj->k", v, H, v)) / scale**2)


@pytest.mark.parametrize("seed", range(4))
def test_constants_are_the_best_quadratic_bounds(seed):
    rng = np.random.default_rng(seed)
    d = int(rng.integers(2, 7))
    A = rng.standard_normal((d, d))
    H = A @ A.T
    for kind in ("l2", "linf"):
        L = quadratic_smoothness(H, kind)
        est = sampled_constant(H, kind, rng)
        assert est <= L * (1 + 1e-9)
        assert est >= 0.999 * L if kind == "linf" else est >= 0.95 * L
    assert quadratic_smoothness(H, "l2") <= quadratic_smoothness(H, "linf") * (1 + 1e-12)
    assert quadratic_smoothness(H, "linf") <= d * quadratic_smoothness(H, "l2") * (1 + 1e-12)


def test_diagonal_closed_form_is_the_l1_norm_of_L():
    L = np.array([1000.0, 1.0, 3.0, 0.5])
    assert quadratic_smoothness(np.diag(L), "linf") == pytest.approx(L.sum())
    assert quadratic_smoothness(np.diag(L), "l2") == pytest.approx(L.max())
    big = np.diag(np.arange(1.0, 101.0))
    assert quadratic_smoothness(big, "linf") == pytest.approx(5050.0)


@pytest.mark.parametrize(
    ("H", "match"),
    [
        ([[1.0, 2.0], [0.0, 1.0]], "symmetric"),
        ([[1.0, 0.0], [0.0, -1.0]], "positive semidefinite"),
        (np.ones((2, 3)), "square"),
        ([[np.nan]], "finite"),
    ],
)
def test_bad_input(H, match):
    with pytest.raises(ValueError, match=match):
        quadratic_smoothness(H, "l2")
    with pytest.raises(ValueError, match="kind must be one of"):
        quadratic_smoothness(np.eye(2), "l1")
