"""The pure update rules of signlab.optim.functional against numpy/torch references written here."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from signlab.optim import functional as F

seeds = st.integers(0, 2**31 - 1)
STEPS = 5


def draws(seed, shape=(3, 7)):
    """STEPS fresh gradients (with some exact zeros) and an initial parameter, float64."""
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal(shape)
    grads = [rng.standard_normal(shape) * (rng.random(shape) > 0.2) for _ in range(STEPS)]
    return x0, grads


def t(a):
    return torch.tensor(a, dtype=torch.float64)


@settings(max_examples=10, deadline=None)
@given(seed=seeds, wd=st.sampled_from([0.0, 0.1]), mu=st.sampled_from([0.0, 0.5, 0.9]))
def test_sgd_heavy_ball_and_nesterov(seed, wd, mu):
    x0, grads = draws(seed)
    lr = 0.05
    for nesterov in [False, True] if mu else [False]:
        p, buf = t(x0), None
        x, b = x0.copy(), None
        for g in grads:
            p, buf = F.sgd(p, t(g), buf, lr=lr, momentum=mu, nesterov=nesterov, weight_decay=wd)
            b = g.copy() if b is None else mu * b + g
            u = (g + mu * b if nesterov else b) if mu else g
            x = x * (1 - lr * wd) - lr * u
        np.testing.assert_allclose(p.numpy(), x, atol=1e-12)


@settings(max_examples=10, deadline=None)
@given(seed=seeds)
def test_sgd_without_decay_is_torch_sgd(seed):
    x0, grads = draws(seed)
    ref = t(x0).requires_grad_()
    opt = torch.optim.SGD([ref], lr=0.1, momentum=0.9, nesterov=True)
    p, buf = t(x0), None
    for g in grads:
        ref.grad = t(g)
        opt.step()
        p, buf = F.sgd(p, t(g), buf, lr=0.1, momentum=0.9, nesterov=True)
    torch.testing.assert_close(p, ref.detach())


@settings(max_examples=10, deadline=None)
@given(seed=seeds, wd=st.sampled_from([0.0, 0.2]))
def test_signsgd(seed, wd):
    x0, grads = draws(seed)
    p, x = t(x0), x0.copy()
    for g in grads:
        p = F.signsgd(p, t(g), lr=0.01, weight_decay=wd)
        x = x * (1 - 0.01 * wd) - 0.01 * np.sign(g)
    np.testing.assert_allclose(p.numpy(), x, atol=1e-12)


def test_sign_of_zero_is_zero_so_signsgd_stays_put():
    p = torch.randn(4, 5)
    assert torch.equal(F.signsgd(p, torch.zeros(4, 5), lr=1.0), p)
    q, m = F.lion(p, torch.zeros(4, 5), None, lr=1.0)
    assert torch.equal(q, p) and torch.equal(m, torch.zeros(4, 5))
    assert torch.equal(F.normalized_sgd(p, torch.zeros(4, 5), lr=1.0, dim=-1), p)


@settings(max_examples=10, deadline=None)
@given(seed=seeds, wd=st.sampled_from([0.0, 0.1]), beta=st.sampled_from([0.0, 0.9]))
def test_signum(seed, wd, beta):
    x0, grads = draws(seed)
    p, buf, x, m = t(x0), None, x0.copy(), np.zeros_like(x0)
    for g in grads:
        p, buf = F.signum(p, t(g), buf, lr=0.03, momentum=beta, weight_decay=wd)
        m = beta * m + (1 - beta) * g
        x = x * (1 - 0.03 * wd) - 0.03 * np.sign(m)
    np.testing.assert_allclose(p.numpy(), x, atol=1e-12)
    np.testing.assert_allclose(buf.numpy(), m, atol=1e-12)


@settings(max_examples=10, deadline=None)
@given(seed=seeds, wd=st.sampled_from([0.0, 0.1]))
def test_lion(seed, wd):
    x0, grads = draws(seed)
    b1, b2, lr = 0.9, 0.99, 0.02
    p, m_t, x, m = t(x0), None, x0.copy(), np.zeros_like(x0)
    for g in grads:
        p, m_t = F.lion(p, t(g), m_t, lr=lr, betas=(b1, b2), weight_decay=wd)
        c = b1 * m + (1 - b1) * g
        x = x * (1 - lr * wd) - lr * np.sign(c)
        m = b2 * m + (1 - b2) * g
    np.testing.assert_allclose(p.numpy(), x, atol=1e-12)
    np.testing.assert_allclose(m_t.numpy(), m, atol=1e-12)


@settings(max_examples=10, deadline=None)
@given(seed=seeds, wd=st.sampled_from([0.0, 0.1]))
def test_normalized_sgd_whole_tensor_and_per_row(seed, wd):
    x0, grads = draws(seed)
    p_all, p_row, x_all, x_row = t(x0), t(x0), x0.copy(), x0.copy()
    for g in grads:
        p_all = F.normalized_sgd(p_all, t(g), lr=0.1, weight_decay=wd)
        p_row = F.normalized_sgd(p_row, t(g), lr=0.1, weight_decay=wd, dim=-1)
        x_all = x_all * (1 - 0.1 * wd) - 0.1 * g / np.sqrt((g**2).sum())
        rows = np.sqrt((g**2).sum(axis=1, keepdims=True))
        x_row = x_row * (1 - 0.1 * wd) - 0.1 * np.divide(g, rows, where=rows > 0, out=0 * g)
    np.testing.assert_allclose(p_all.numpy(), x_all, atol=1e-12)
    np.testing.assert_allclose(p_row.numpy(), x_row, atol=1e-12)


def polar(G):
    U, _, Vt = np.linalg.svd(G, full_matrices=False)
    return U @ Vt


@settings(max_examples=10, deadline=None)
@given(
    seed=seeds,
    shape=st.sampled_from([(4, 6), (6, 4), (2, 3, 5)]),
    nesterov=st.booleans(),
    wd=st.sampled_from([0.0, 0.1]),
)
def test_muon_with_exact_msign(seed, shape, nesterov, wd):
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal(shape)
    mu, lr = 0.95, 0.02
    scale = np.sqrt(max(1.0, shape[-2] / shape[-1]))
    p, buf, x, b = t(x0), None, x0.copy(), np.zeros(shape)
    for _ in range(STEPS):
        g = rng.standard_normal(shape)
        p, buf = F.muon(
            p, t(g), buf, lr=lr, momentum=mu, nesterov=nesterov, weight_decay=wd, method="svd"
        )
        b = mu * b + (1 - mu) * g
        u = (1 - mu) * g + mu * b if nesterov else b
        o = np.stack([polar(m) for m in u.reshape(-1, *shape[-2:])]).reshape(shape)
        x = x * (1 - lr * wd) - lr * scale * o
    np.testing.assert_allclose(p.numpy(), x, atol=1e-10)


@pytest.mark.parametrize("shape", [(8, 12), (12, 8)])
@pytest.mark.parametrize("nesterov", [True, False])
def test_muon_matches_torch_muon_to_bf16_rounding(shape, nesterov):
    gen = torch.Generator().manual_seed(3)
    x0 = torch.randn(shape, generator=gen)
    ref = x0.clone().requires_grad_()
    opt = torch.optim.Muon([ref], lr=0.02, weight_decay=0.1, momentum=0.9, nesterov=nesterov)
    p_bf, p_32, b_bf, b_32 = x0.clone(), x0.clone(), None, None
    kw = dict(lr=0.02, weight_decay=0.1, momentum=0.9, nesterov=nesterov)
    for _ in range(STEPS):
        g = torch.randn(shape, generator=gen)
        ref.grad = g.clone()
        opt.step()
        p_bf, b_bf = F.muon(p_bf, g, b_bf, dtype=torch.bfloat16, **kw)
        p_32, b_32 = F.muon(p_32, g, b_32, **kw)
    # each step moves by lr·O(1) entries; bf16 has 8 bits: relative error 2⁻⁸ per step
    torch.testing.assert_close(p_bf, ref.detach(), atol=0.02 * STEPS * 2**-7, rtol=0)
    torch.testing.assert_close(p_32, ref.detach(), atol=0.02 * STEPS * 2**-5, rtol=0)


def test_muon_lr_scale():
    assert F.muon_lr_scale((8, 2)) == 2.0
    assert F.muon_lr_scale((2, 8)) == 1.0
    assert F.muon_lr_scale((3, 100), "match_rms_adamw") == pytest.approx(2.0)
    assert F.muon_lr_scale((100, 3), "none") == 1.0


@settings(max_examples=10, deadline=None)
@given(seed=seeds, wd=st.sampled_from([0.0, 0.1]))
def test_adamw_is_torch_adamw(seed, wd):
    x0, grads = draws(seed)
    ref = t(x0).requires_grad_()
    opt = torch.optim.AdamW([ref], lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=wd)
    p, m, v = t(x0), None, None
    for step, g in enumerate(grads, start=1):
        ref.grad = t(g)
        opt.step()
        p, m, v = F.adamw(
            p, t(g), m, v, step, lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=wd
        )
    torch.testing.assert_close(p, ref.detach())


def test_batched_rows_are_independent_problems():
    gen = torch.Generator().manual_seed(5)
    P, G, M = (torch.randn(4, 6, 5, generator=gen) for _ in range(3))
    cases = [
        (lambda p, g, m: F.signum(p, g, m, lr=0.1), True),
        (lambda p, g, m: F.lion(p, g, m, lr=0.1), True),
        (lambda p, g, m: F.muon(p, g, m, lr=0.1), True),
        (lambda p, g, m: F.muon(p, g, m, lr=0.1, method="svd"), True),
        (lambda p, g, m: F.sgd(p, g, m, lr=0.1, momentum=0.9), True),
        (lambda p, g, m: F.normalized_sgd(p, g, lr=0.1, dim=(-2, -1)), False),
    ]
    for rule, has_state in cases:
        whole = rule(P, G, M)
        for i in range(4):
            part = rule(P[i], G[i], M[i])
            if has_state:
                torch.testing.assert_close(whole[0][i], part[0])
                torch.testing.assert_close(whole[1][i], part[1])
            else:
                torch.testing.assert_close(whole[i], part)


def test_inputs_are_not_modified():
    gen = torch.Generator().manual_seed(6)
    P, G, M, V = (torch.randn(5, 4, generator=gen) for _ in range(4))
    copies = [x.clone() for x in (P, G, M, V)]
    F.sgd(P, G, M, lr=0.1, momentum=0.9, weight_decay=0.1)
    F.signsgd(P, G, lr=0.1, weight_decay=0.1)
    F.signum(P, G, M, lr=0.1, weight_decay=0.1)
    F.lion(P, G, M, lr=0.1, weight_decay=0.1)
    F.normalized_sgd(P, G, lr=0.1, weight_decay=0.1)
    F.muon(P, G, M, lr=0.1, weight_decay=0.1)
    F.adamw(P, G, M, V.abs(), 3, lr=0.1, weight_decay=0.1)
    for x, c in zip((P, G, M, V), copies, strict=True):
        assert torch.equal(x, c)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda p, g: F.signsgd(p, g, lr=0.0), "lr"),
        (lambda p, g: F.signsgd(p, g, lr=-1.0), "lr"),
        (lambda p, g: F.signsgd(p, g, lr=0.1, weight_decay=-0.1), "weight_decay"),
        (lambda p, g: F.signum(p, g, None, lr=0.1, momentum=1.0), "momentum"),
        (lambda p, g: F.sgd(p, g, lr=0.1, momentum=-0.1), "momentum"),
        (lambda p, g: F.sgd(p, g, lr=0.1, nesterov=True), "nesterov"),
        (lambda p, g: F.lion(p, g, None, lr=0.1, betas=(0.9, 1.0)), r"betas\[1\]"),
        (lambda p, g: F.lion(p, g, None, lr=0.1, betas=0.9), "betas"),
        (lambda p, g: F.muon(p, g, None, lr=0.1, coefficients="septic"), "coefficients"),
        (lambda p, g: F.muon(p, g, None, lr=0.1, adjust_lr="spectral"), "adjust_lr"),
        (lambda p, g: F.muon(p[0], g[0], None, lr=0.1), "grad must have shape"),
        (lambda p, g: F.adamw(p, g, None, None, 0, lr=0.1), "step"),
    ],
)
def test_bad_hyperparameters_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call(torch.randn(3, 4), torch.randn(3, 4))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nonfinite_gradients_raise_unless_the_check_is_skipped(bad):
    g = torch.randn(3, 4)
    g[1, 2] = bad
    p = torch.randn(3, 4)
    for rule in [
        lambda **kw: F.signsgd(p, g, lr=0.1, **kw),
        lambda **kw: F.signum(p, g, None, lr=0.1, **kw)[0],
        lambda **kw: F.lion(p, g, None, lr=0.1, **kw)[0],
        lambda **kw: F.sgd(p, g, lr=0.1, **kw)[0],
        lambda **kw: F.normalized_sgd(p, g, lr=0.1, **kw),
        lambda **kw: F.muon(p, g, None, lr=0.1, method="svd", **kw)[0],
        lambda **kw: F.adamw(p, g, None, None, 1, lr=0.1, **kw)[0],
    ]:
        with pytest.raises(ValueError, match="finite"):
            rule()
    assert not bool(F.sgd(p, g, lr=0.1, check_finite=False)[0].isfinite().all())


def test_l2_direction_is_the_unit_maximiser_and_zero_at_zero():
    g = torch.randn(4, 7, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    g[2] = 0.0
    rows = F.l2_direction(g, dim=-1)
    expected = g.numpy() / np.maximum(np.linalg.norm(g.numpy(), axis=1, keepdims=True), 1e-300)
    np.testing.assert_allclose(rows.numpy(), expected, atol=1e-15)
    whole = F.l2_direction(g)
    assert float((g * whole).sum()) == pytest.approx(float(np.linalg.norm(g.numpy())))
