import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from signlab.geometry import KINDS, density, dual_norm, dualize, norm, unit_circle

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=64)
vectors = st.integers(1, 12).flatmap(lambda d: arrays(np.float64, d, elements=finite))


def brute_norm(x, kind):
    a = np.abs(np.asarray(x, dtype=float))
    return {"l1": sum(a), "l2": np.sqrt(sum(a**2)), "linf": max(a)}[kind]


@pytest.mark.parametrize("kind", KINDS)
@given(g=vectors)
@settings(max_examples=60, deadline=None, derandomize=True)
def test_dualize_attains_the_dual_norm(kind, g):
    t = dualize(g, kind)
    assert np.isclose(g @ t, dual_norm(g, kind), rtol=1e-9, atol=1e-9)
    if np.any(g != 0):
        assert np.isclose(norm(t, kind), 1.0)
    else:
        assert not np.any(t)


@pytest.mark.parametrize("kind", KINDS)
@given(g=vectors, seed=st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None, derandomize=True)
def test_holder_no_unit_vector_beats_dualize(kind, g, seed):
    x = np.random.default_rng(seed).standard_normal((200, g.size))
    x /= norm(x, kind)[:, None]
    assert np.all(x @ g <= dual_norm(g, kind) * (1 + 1e-9) + 1e-9)


@given(g=vectors)
@settings(max_examples=60, deadline=None, derandomize=True)
def test_norm_inequalities(g):
    d = g.size
    l1, l2, linf = (norm(g, k) for k in ("l1", "l2", "linf"))
    tol = 1e-9 * (1 + l1)
    assert linf <= l2 + tol and l2 <= l1 + tol
    assert l1 <= np.sqrt(d) * l2 + tol and l2 <= np.sqrt(d) * linf + tol
    for kind in KINDS:
        assert np.isclose(norm(g, kind), brute_norm(g, kind))


@given(g=vectors)
@settings(max_examples=60, deadline=None, derandomize=True)
def test_density_range_and_identity(g):
    if not np.any(g):
        return
    phi = density(g)
    assert 1 / g.size - 1e-12 <= phi <= 1 + 1e-12
    assert np.isclose(norm(g, "l1"), np.sqrt(phi * g.size) * norm(g, "l2"))


def test_density_of_k_sparse_is_k_over_d():
    rng = np.random.default_rng(1)
    for d, k in [(10, 1), (10, 3), (100, 100), (7, 7)]:
        v = np.zeros(d)
        v[rng.choice(d, k, replace=False)] = rng.choice([-2.5, 2.5], k)
        assert np.isclose(density(v), k / d)


def test_batched_and_torch_agree_with_numpy():
    rng = np.random.default_rng(2)
    g = rng.standard_normal((4, 3, 5))
    for kind in KINDS:
        want = np.array([[brute_norm(row, kind) for row in block] for block in g])
        assert np.allclose(norm(g, kind), want)
        t = torch.tensor(g)
        assert torch.allclose(norm(t, kind), torch.tensor(want))
        assert torch.allclose(dualize(t, kind), torch.tensor(dualize(g, kind)))
        assert torch.allclose(dual_norm(t, kind), torch.tensor(dual_norm(g, kind)))
    assert torch.allclose(density(torch.tensor(g)), torch.tensor(density(g)))
    assert isinstance(dualize(torch.ones(3), "l2"), torch.Tensor)


def test_l1_dualize_is_a_signed_one_hot_at_the_largest_entry():
    assert np.array_equal(dualize(np.array([1.0, -3.0, 2.0]), "l1"), [0.0, -1.0, 0.0])
    assert np.array_equal(dualize(np.array([2.0, -2.0]), "l1"), [1.0, 0.0])


@pytest.mark.parametrize("kind", KINDS)
def test_unit_circle_has_norm_one(kind):
    pts = unit_circle(kind, 101)
    assert pts.shape == (101, 2) and np.allclose(norm(pts, kind), 1.0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: norm([1.0, 2.0], "l3"), "kind must be one of"),
        (lambda: norm([], "l1"), "x must be non-empty"),
        (lambda: dualize([1.0, np.nan], "linf"), "g must contain only finite"),
        (lambda: dual_norm(torch.tensor([np.inf]), "l2"), "g must contain only finite"),
        (lambda: density(np.zeros(3)), "v must be non-zero"),
        (lambda: norm(3.0, "l1"), "x must have at least one dimension"),
        (lambda: unit_circle("l2", 2), "num must be an integer >= 3"),
    ],
)
def test_bad_input_is_a_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_zero_and_tiny_vectors_never_give_nan(dtype):
    g = torch.tensor([[0.0, 0.0], [1e-30, -1e-30]], dtype=dtype)
    for kind in KINDS:
        t = dualize(g, kind)
        assert torch.isfinite(t).all() and not t[0].any()
    assert np.isclose(density(np.array([1e-300, 1e-300])), 1.0)


@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (6, 2), (4, 3, 5)])
def test_spectral_and_nuclear_are_a_dual_pair(shape):
    rng = np.random.default_rng(sum(shape))
    G = rng.standard_normal(shape)
    s = np.linalg.svd(G, compute_uv=False)
    assert np.allclose(norm(G, "spectral"), s[..., 0])
    assert np.allclose(dual_norm(G, "spectral"), s.sum(-1))
    for kind in ("spectral", "nuclear"):
        T = dualize(G, kind)
        inner = np.einsum("...ij,...ij->...", G, T)
        assert np.allclose(inner, dual_norm(G, kind))
        assert np.allclose(norm(T, kind), 1.0)
        X = rng.standard_normal((300, *shape[-2:]))
        X /= norm(X, kind)[:, None, None]
        flat = G.reshape(-1, *shape[-2:])[0]
        assert np.all(np.einsum("kij,ij->k", X, flat) <= dual_norm(flat, kind) + 1e-9)


def test_spectral_dualize_of_a_diagonal_matrix_is_the_sign_of_its_diagonal():
    g = np.array([2.0, -0.5, 0.0, 3.0])
    assert np.allclose(dualize(np.diag(g), "spectral"), np.diag(np.sign(g)))
    t = dualize(torch.tensor(np.diag(g)), "spectral")
    assert isinstance(t, torch.Tensor) and torch.allclose(
        t, torch.diag(torch.sign(torch.tensor(g)))
    )


def test_matrix_kinds_reject_vectors():
    with pytest.raises(ValueError, match="needs a matrix"):
        norm(np.ones(3), "spectral")
    with pytest.raises(ValueError, match="needs a matrix"):
        dualize(np.ones(3), "nuclear")


@pytest.mark.parametrize("scale", [1e-30, 1e-12, 1.0, 1e12, 1e30])
def test_l2_dualize_is_scale_free_in_float32(scale):
    """Both evaluations of g/‖g‖₂ (the plain norm, and the max|g|-rescaled one used when a square
    would overflow or underflow) give the same unit vector at every scale."""
    g = torch.tensor([[3.0, -4.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    want = torch.tensor([[0.6, -0.8, 0.0], [3**-0.5] * 3, [0.0, 0.0, 0.0]])
    torch.testing.assert_close(dualize(g * scale, "l2"), want)
