"""Separable problems: values and gradients against independent formulas and autograd."""

import numpy as np
import pytest
import torch

from signlab.sim import problems


@pytest.mark.parametrize("cls", [problems.SeparableQuadratic, problems.SeparableCosine])
def test_value_and_gradient_match_formula_and_autograd(cls, rng):
    shape = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
    L = rng.uniform(0, 10, size=shape)
    x = rng.normal(scale=2, size=(7, *shape))
    problem = cls(torch.tensor(L))
    if cls is problems.SeparableQuadratic:
        want = 0.5 * (L * x**2).sum(axis=(1, 2))
    else:
        want = (L * (1 - np.cos(x))).sum(axis=(1, 2))
    xt = torch.tensor(x, requires_grad=True)
    value = problem.value(xt)
    np.testing.assert_allclose(value.detach().numpy(), want, rtol=1e-12)
    value.sum().backward()
    np.testing.assert_allclose(problem.gradient(xt.detach()).numpy(), xt.grad.numpy(), rtol=1e-12)
    assert problem.linf_smoothness == pytest.approx(L.sum())
    np.testing.assert_allclose(problem.gap(xt.detach()).numpy(), want, rtol=1e-12)


def test_numpy_in_numpy_out(rng):
    L = rng.uniform(0, 3, size=6)
    x = rng.normal(size=(4, 6))
    q = problems.SeparableQuadratic(L)
    value, grad = q.value(x), q.gradient(x)
    assert isinstance(value, np.ndarray) and isinstance(grad, np.ndarray)
    np.testing.assert_allclose(value, 0.5 * (L * x**2).sum(1))
    np.testing.assert_allclose(grad, L * x)


def test_multiplicity_weights_value_and_smoothness(rng):
    L, m = rng.uniform(0.1, 3, size=3), np.array([1.0, 4.0, 2.0])
    x = rng.normal(size=(5, 3))
    weighted = problems.SeparableCosine(L, multiplicity=m)
    full = problems.SeparableCosine(np.repeat(L, m.astype(int)))
    np.testing.assert_allclose(weighted.value(x), full.value(np.repeat(x, m.astype(int), axis=1)))
    assert weighted.linf_smoothness == pytest.approx(full.linf_smoothness)
    assert weighted.dimension == 7


@pytest.mark.parametrize("cls", [problems.SeparableQuadratic, problems.SeparableCosine])
def test_linf_smoothness_inequality_holds_and_is_tight(cls, rng):
    d = 8
    L = rng.uniform(0.1, 5, size=d)
    problem = cls(torch.tensor(L))
    linf = problems.linf_smoothness(L)
    x = torch.tensor(rng.normal(size=(500, d)))
    y = x + torch.tensor(rng.normal(scale=0.5, size=(500, d)))
    gap = problem.value(y) - problem.value(x) - (problem.gradient(x) * (y - x)).sum(-1)
    bound = 0.5 * linf * (y - x).abs().amax(-1) ** 2
    assert torch.all(gap.abs() <= bound + 1e-12)
    if cls is problems.SeparableQuadratic:
        v = torch.tensor(rng.choice([-1.0, 1.0], size=(1, d)))
        tight = problem.value(v)
        assert float(tight) == pytest.approx(0.5 * linf)


def test_cosine_is_nonconvex():
    problem = problems.SeparableCosine(torch.ones(1, dtype=torch.float64))
    x = torch.tensor([[0.0], [np.pi], [2 * np.pi]], dtype=torch.float64)
    f = problem.value(x)
    assert float(f[1]) > 0.5 * float(f[0] + f[2])  # midpoint above the chord


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: problems.SeparableQuadratic(torch.tensor([1.0, -1.0])), "L"),
        (lambda: problems.SeparableCosine(torch.tensor(2.0)), "L"),
        (lambda: problems.SeparableQuadratic(torch.ones(5)).value(torch.zeros(3, 4)), "x"),
        (lambda: problems.SeparableQuadratic(torch.ones(3), multiplicity=[1, 2]), "multiplicity"),
        (lambda: problems.SeparableQuadratic(torch.ones(2), multiplicity=[1, -2]), "multiplicity"),
        (lambda: problems.SeparableQuadratic(torch.ones(4)).gradient(torch.zeros(3, 5)), "x"),
        (lambda: problems.linf_smoothness([1.0, float("nan")]), "L"),
    ],
)
def test_bad_input_raises_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()
