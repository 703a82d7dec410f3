"""The pure update rules of signlab.optim.functional against numpy/torch references written here."""

import inspect

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from signlab.optim import functional as F

seeds = st.integers(0, 2**31 - 1)
STEPS = 5
replayable = settings(max_examples=10, deadline=None, derandomize=True)


def draws(seed, shape=(3, 7)):
    """STEPS fresh gradients (with some exact zeros) and an initial parameter, float64."""
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal(shape)
    grads = [rng.standard_normal(shape) * (rng.random(shape) > 0.2) for _ in range(STEPS)]
    return x0, grads


def t(a):
    return torch.tensor(a, dtype=torch.float64)


def run(rule, x0, grads, **hyper):
    """The rule for len(grads) steps from x0 (numpy), returning (param, last state)."""
    p, state = t(x0), None
    for g in grads:
        p, state = rule(p, t(g), state, **hyper)
    return p, state


@replayable
@given(seed=seeds, wd=st.sampled_from([0.0, 0.1]), mu=st.sampled_from([0.0, 0.5, 0.9]))
def test_sgd_heavy_ball_and_nesterov(seed, wd, mu):
    x0, grads = draws(seed)
    lr = 0.05
    for nesterov in [False, True] if mu else [False]:
        x, b = x0.copy(), None
        for g in grads:
            b = g.copy() if b is None else mu * b + g
            u = (g + mu * b if nesterov else b) if mu else g
            x = x * (1 - lr * wd) - lr * u
        p, state = run(F.sgd, x0, grads, lr=lr, momentum=mu, nesterov=nesterov, weight_decay=wd)
        np.testing.assert_allclose(p.numpy(), x, atol=1e-12)
        if mu:
            np.testing.assert_allclose(state["momentum_buffer"].numpy(), b, atol=1e-12)
        else:
            assert state == {}


@replayable
@given(seed=seeds)
def test_sgd_without_decay_is_torch_sgd(seed):
    x0, grads = draws(seed)
    ref = t(x0).requires_grad_()
    opt = torch.optim.SGD([ref], lr=0.1, momentum=0.9, nesterov=True)
    for g in grads:
        ref.grad = t(g)
        opt.step()
    p, state = run(F.sgd, x0, grads, lr=0.1, momentum=0.9, nesterov=True)
    torch.testing.assert_close(p, ref.detach())
    torch.testing.assert_close(state["momentum_buffer"], opt.state[ref]["momentum_buffer"])


@replayable
@given(seed=seeds, wd=st.sampled_from([0.0, 0.2]))
def test_signsgd(seed, wd):
    x0, grads = draws(seed)
    x = x0.copy()
    for g in grads:
        x = x * (1 - 0.01 * wd) - 0.01 * np.sign(g)
    p, state = run(F.signsgd, x0, grads, lr=0.01, weight_decay=wd)
    np.testing.assert_allclose(p.numpy(), x, atol=1e-12)
    assert state == {}


def test_sign_of_zero_is_zero_so_sign_rules_stay_put():
    p = torch.randn(4, 5, generator=torch.Generator().manual_seed(0))
    zero = torch.zeros(4, 5)
    assert torch.equal(F.signsgd(p, zero, lr=1.0)[0], p)
    q, state = F.lion(p, zero, lr=1.0)
    assert torch.equal(q, p) and torch.equal(state["exp_avg"], zero)
    assert torch.equal(F.signum(p, zero, lr=1.0)[0], p)
    assert torch.equal(F.normalized_sgd(p, zero, lr=1.0, dim=-1)[0], p)


@replayable
@given(seed=seeds, wd=st.sampled_from([0.0, 0.1]), beta=st.sampled_from([0.0, 0.9]))
def test_signum(seed, wd, beta):
    x0, grads = draws(seed)
    x, m = x0.copy(), np.zeros_like(x0)
    for g in grads:
        m = beta * m + (1 - beta) * g
        x = x * (1 - 0.03 * wd) - 0.03 * np.sign(m)
    p, state = run(F.signum, x0, grads, lr=0.03, momentum=beta, weight_decay=wd)
    np.testing.assert_allclose(p.numpy(), x, atol=1e-12)
    np.testing.assert_allclose(state["momentum_buffer"].numpy(), m, atol=1e-12)


@replayable
@given(seed=seeds, wd=st.sampled_from([0.0, 0.1]))
def test_lion(seed, wd):
    x0, grads = draws(seed)
    b1, b2, lr = 0.9, 0.99, 0.02
    x, m = x0.copy(), np.zeros_like(x0)
    for g in grads:
        c = b1 * m + (1 - b1) * g
        x = x * (1 - lr * wd) - lr * np.sign(c)
        m = b2 * m + (1 - b2) * g
    p, state = run(F.lion, x0, grads, lr=lr, betas=(b1, b2), weight_decay=wd)
    np.testing.assert_allclose(p.numpy(), x, atol=1e-12)
    np.testing.assert_allclose(state["exp_avg"].numpy(), m, atol=1e-12)


@replayable
@given(seed=seeds, wd=st.sampled_from([0.0, 0.1]))
def test_normalized_sgd_whole_tensor_and_per_row(seed, wd):
    x0, grads = draws(seed)
    x_all, x_row = x0.copy(), x0.copy()
    for g in grads:
        x_all = x_all * (1 - 0.1 * wd) - 0.1 * g / np.sqrt((g**2).sum())
        rows = np.sqrt((g**2).sum(axis=1, keepdims=True))
        x_row = x_row * (1 - 0.1 * wd) - 0.1 * np.divide(g, rows, where=rows > 0, out=0 * g)
    p_all, _ = run(F.normalized_sgd, x0, grads, lr=0.1, weight_decay=wd)
    p_row, _ = run(F.normalized_sgd, x0, grads, lr=0.1, weight_decay=wd, dim=-1)
    np.testing.assert_allclose(p_all.numpy(), x_all, atol=1e-12)
    np.testing.assert_allclose(p_row.numpy(), x_row, atol=1e-12)


def test_normalized_sgd_survives_gradients_whose_square_overflows():
    g = torch.full((2, 3), 1e30)  # ‖g‖₂² = 6e60 overflows float32
    p, _ = F.normalized_sgd(torch.zeros(2, 3), g, lr=1.0)
    torch.testing.assert_close(p, torch.full((2, 3), -(6**-0.5)))


def polar(G):
    U, _, Vt = np.linalg.svd(G, full_matrices=False)
    return U @ Vt


@replayable
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
    p, state, x, b = t(x0), None, x0.copy(), np.zeros(shape)
    for _ in range(STEPS):
        g = rng.standard_normal(shape)
        p, state = F.muon(
            p, t(g), state, lr=lr, momentum=mu, nesterov=nesterov, weight_decay=wd, method="svd"
        )
        b = mu * b + (1 - mu) * g
        u = (1 - mu) * g + mu * b if nesterov else b
        o = np.stack([polar(m) for m in u.reshape(-1, *shape[-2:])]).reshape(shape)
        x = x * (1 - lr * wd) - lr * scale * o
    np.testing.assert_allclose(p.numpy(), x, atol=1e-10)
    np.testing.assert_allclose(state["momentum_buffer"].numpy(), b, atol=1e-12)


def torch_muon_steps(x0, grads, **kw):
    ref = x0.clone().requires_grad_()
    opt = torch.optim.Muon([ref], **kw)
    for g in grads:
        ref.grad = g.clone()
        opt.step()
    return ref.detach()


@pytest.mark.parametrize("seed", [3, 4])
@pytest.mark.parametrize("shape", [(8, 12), (12, 8)])
@pytest.mark.parametrize("nesterov", [True, False])
def test_muon_in_bfloat16_is_torch_muon_bit_for_bit(seed, shape, nesterov):
    """torch.optim.Muon always runs Newton–Schulz in bf16; with dtype=bf16 the arithmetic is the
    same op for op, so the iterates agree exactly (not just to rounding)."""
    gen = torch.Generator().manual_seed(seed)
    x0 = torch.randn(shape, generator=gen)
    grads = [torch.randn(shape, generator=gen) for _ in range(STEPS)]
    kw = dict(lr=0.02, weight_decay=0.1, momentum=0.9, nesterov=nesterov)
    p, state = x0, None
    for g in grads:
        p, state = F.muon(p, g, state, dtype=torch.bfloat16, **kw)
    torch.testing.assert_close(p, torch_muon_steps(x0, grads, **kw), rtol=0, atol=0)


def test_muon_lr_scale():
    assert F.muon_lr_scale((8, 2)) == 2.0
    assert F.muon_lr_scale((8, 2), None) == 2.0  # None means "original", as in torch
    assert F.muon_lr_scale((2, 8)) == 1.0
    assert F.muon_lr_scale((3, 100), "match_rms_adamw") == pytest.approx(2.0)
    assert F.muon_lr_scale((100, 3), "none") == 1.0
    with pytest.raises(ValueError, match="adjust_lr_fn"):
        F.muon_lr_scale((3, 3), "spectral")


@replayable
@given(seed=seeds, wd=st.sampled_from([0.0, 0.1]))
def test_adamw_is_torch_adamw(seed, wd):
    x0, grads = draws(seed)
    ref = t(x0).requires_grad_()
    opt = torch.optim.AdamW([ref], lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=wd)
    for g in grads:
        ref.grad = t(g)
        opt.step()
    p, state = run(F.adamw, x0, grads, lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=wd)
    torch.testing.assert_close(p, ref.detach())
    assert float(state["step"]) == STEPS
    torch.testing.assert_close(state["exp_avg_sq"], opt.state[ref]["exp_avg_sq"])


ALL_RULES = [F.sgd, F.signsgd, F.signum, F.lion, F.normalized_sgd, F.muon, F.adamw]
STATE_KEYS = {
    "sgd": set(),  # momentum 0 by default: no buffer
    "signsgd": set(),
    "signum": {"momentum_buffer"},
    "lion": {"exp_avg"},
    "normalized_sgd": set(),
    "muon": {"momentum_buffer"},
    "adamw": {"exp_avg", "exp_avg_sq", "step"},
}


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.__name__)
def test_one_result_shape_for_every_rule(rule):
    gen = torch.Generator().manual_seed(11)
    p, g = torch.randn(4, 6, generator=gen), torch.randn(4, 6, generator=gen)
    new, state = rule(p, g, lr=0.1)
    assert isinstance(new, torch.Tensor) and new.shape == p.shape and not torch.equal(new, p)
    assert isinstance(state, dict) and set(state) == STATE_KEYS[rule.__name__]
    again, state2 = rule(new, g, state, lr=0.1)
    assert again.shape == p.shape and set(state2) == set(state)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.__name__)
def test_spec_generates_signature_defaults_and_validation(rule):
    params = inspect.signature(rule).parameters
    assert list(params)[:3] == ["param", "grad", "state"] and params["state"].default is None
    keywords = [n for n, p in params.items() if p.kind is p.KEYWORD_ONLY]
    assert keywords == [*rule.spec.names, "check_finite"]
    assert params["lr"].default is inspect.Parameter.empty  # lr is required
    defaults = {n: params[n].default for n in rule.spec.names if n != "lr"}
    assert rule.spec.defaults() == defaults
    normalised = rule.spec.validate({"lr": 0.5})
    assert set(normalised) == set(rule.spec.names) and normalised["lr"] == 0.5
    with pytest.raises(ValueError, match="lr is required"):
        rule.spec.validate({})
    with pytest.raises(ValueError, match="no hyperparameter colour"):
        rule.spec.validate({"lr": 0.1, "colour": 1})


def test_muon_uses_torch_names_and_normalises_them(generator):
    h = F.muon.spec.validate({"lr": 0.1, "adjust_lr_fn": None, "ns_coefficients": [1, 2, 3]})
    assert h["adjust_lr_fn"] == "original" and h["ns_coefficients"] == (1.0, 2.0, 3.0)
    assert F.muon.spec.validate({"lr": 0.1})["ns_coefficients"] == (3.4445, -4.775, 2.0315)
    with pytest.raises(ValueError, match="no hyperparameter coefficients"):
        p, g = torch.randn(2, 3, 3, generator=generator)
        F.muon(p, g, lr=0.1, coefficients="quintic")


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.__name__)
def test_unchecked_is_the_same_update_without_the_checks(rule, seed):
    gen = torch.Generator().manual_seed(seed)
    p, g1, g2 = (torch.randn(3, 4, 5, generator=gen) for _ in range(3))
    hyper = dict(lr=0.05, weight_decay=0.1)
    a, sa = rule(p, g1, None, **hyper)
    a, sa = rule(a, g2, sa, **hyper)
    full = rule.spec.validate(hyper)
    b, sb = rule.unchecked(p, g1, None, **full)
    b, sb = rule.unchecked(b, g2, sb, **full)
    assert torch.equal(a, b)
    assert set(sa) == set(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_rules_compose_geometry_dualize(monkeypatch, generator):
    """The book's thesis in code: each sign rule's direction is dualize(average, norm)."""
    calls = []
    real = F.dualize

    def spy(g, kind, *args, **kwargs):
        calls.append(kind)
        return real(g, kind, *args, **kwargs)

    monkeypatch.setattr(F, "dualize", spy)
    p, g = torch.randn(2, 4, 5, generator=generator)
    for rule, kind in [
        (F.signsgd, "linf"),
        (F.signum, "linf"),
        (F.lion, "linf"),
        (F.normalized_sgd, "l2"),
        (F.muon, "spectral"),
    ]:
        calls.clear()
        rule(p, g, lr=0.1)
        assert calls == [kind], rule.__name__


def test_batched_rows_are_independent_problems():
    gen = torch.Generator().manual_seed(5)
    P, G, M = (torch.randn(4, 6, 5, generator=gen) for _ in range(3))
    cases = [
        (F.signum, {}, "momentum_buffer"),
        (F.lion, {}, "exp_avg"),
        (F.muon, {}, "momentum_buffer"),
        (F.muon, {"method": "svd"}, "momentum_buffer"),
        (F.muon, {"method": "newton_schulz_eigh"}, "momentum_buffer"),
        (F.sgd, {"momentum": 0.9}, "momentum_buffer"),
        (F.normalized_sgd, {"dim": (-2, -1)}, None),
    ]
    for rule, hyper, key in cases:
        state = {key: M} if key else None
        whole, whole_state = rule(P, G, state, lr=0.1, **hyper)
        for i in range(4):
            part, part_state = rule(P[i], G[i], {key: M[i]} if key else None, lr=0.1, **hyper)
            torch.testing.assert_close(whole[i], part)
            if key:
                torch.testing.assert_close(whole_state[key][i], part_state[key])


def test_inputs_are_not_modified():
    gen = torch.Generator().manual_seed(6)
    P, G, M, V = (torch.randn(5, 4, generator=gen) for _ in range(4))
    copies = [x.clone() for x in (P, G, M, V)]
    F.sgd(P, G, {"momentum_buffer": M}, lr=0.1, momentum=0.9, weight_decay=0.1)
    F.signsgd(P, G, lr=0.1, weight_decay=0.1)
    F.signum(P, G, {"momentum_buffer": M}, lr=0.1, weight_decay=0.1)
    F.lion(P, G, {"exp_avg": M}, lr=0.1, weight_decay=0.1)
    F.normalized_sgd(P, G, lr=0.1, weight_decay=0.1)
    F.muon(P, G, {"momentum_buffer": M}, lr=0.1, weight_decay=0.1)
    F.adamw(P, G, {"exp_avg": M, "exp_avg_sq": V.abs(), "step": torch.tensor(3.0)}, lr=0.1)
    for x, c in zip((P, G, M, V), copies, strict=True):
        assert torch.equal(x, c)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda p, g: F.signsgd(p, g, lr=0.0), "lr"),
        (lambda p, g: F.signsgd(p, g, lr=-1.0), "lr"),
        (lambda p, g: F.signsgd(p, g), "lr is required"),
        (lambda p, g: F.signsgd(p, g, lr=0.1, weight_decay=-0.1), "weight_decay"),
        (lambda p, g: F.signum(p, g, lr=0.1, momentum=1.0), "momentum"),
        (lambda p, g: F.sgd(p, g, lr=0.1, momentum=-0.1), "momentum"),
        (lambda p, g: F.sgd(p, g, lr=0.1, nesterov=True), "nesterov"),
        (lambda p, g: F.sgd(p, g, lr=0.1, nesterov=1), "nesterov must be True or False"),
        (lambda p, g: F.lion(p, g, lr=0.1, betas=(0.9, 1.0)), r"betas\[1\]"),
        (lambda p, g: F.lion(p, g, lr=0.1, betas=0.9), "betas"),
        (lambda p, g: F.normalized_sgd(p, g, lr=0.1, dim=1.5), "dim"),
        (lambda p, g: F.muon(p, g, lr=0.1, ns_coefficients="septic"), "ns_coefficients"),
        (lambda p, g: F.muon(p, g, lr=0.1, adjust_lr_fn="spectral"), "adjust_lr_fn"),
        (lambda p, g: F.muon(p, g, lr=0.1, ns_steps=100), "ns_steps"),
        (lambda p, g: F.muon(p, g, lr=0.1, eps=0.0), "eps"),
        (lambda p, g: F.muon(p, g, lr=0.1, method="qr"), "method"),
        (lambda p, g: F.muon(p, g, lr=0.1, dtype=torch.int8), "dtype"),
        (
            lambda p, g: F.muon(p, g, lr=0.1, method="newton_schulz_eigh", dtype=torch.bfloat16),
            "dtype",
        ),
        (lambda p, g: F.muon(p[0], g[0], lr=0.1), "grad must have shape"),
        (lambda p, g: F.adamw(p, g, lr=0.1, eps=-1.0), "eps"),
        (lambda p, g: F.signsgd(p, g[0], lr=0.1), "param's shape"),
        (lambda p, g: F.signum(p, g, g, lr=0.1), "state must be None or the dict"),
        (lambda p, g: F.signsgd(p, g, lr=0.1, check_finite="no"), "check_finite"),
    ],
)
def test_bad_hyperparameters_raise(call, match, generator):
    p, g = torch.randn(2, 3, 4, generator=generator)
    with pytest.raises(ValueError, match=match):
        call(p, g)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.__name__)
def test_nonfinite_gradients_raise_unless_the_check_is_skipped(rule, bad, generator):
    p, g = torch.randn(2, 3, 4, generator=generator)
    g[1, 2] = bad
    with pytest.raises(ValueError, match="finite"):
        rule(p, g, lr=0.1)
    if rule is F.sgd:
        assert not bool(F.sgd(p, g, lr=0.1, check_finite=False)[0].isfinite().all())
