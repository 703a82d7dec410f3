"""signlab.optim classes: fast paths equal to the pure rules, and the torch.optim API."""

import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from signlab.geometry.matrix import newton_schulz
from signlab.optim import (
    Lion,
    Muon,
    MuonWithAdamW,
    NormalizedSGD,
    SignSGD,
    Signum,
    _multi,
    muon_param_groups,
)
from signlab.optim import functional as F
from signlab.optim.base import SignlabOptimizer

seeds = st.integers(0, 2**31 - 1)
SHAPES = [(7, 5), (40,), (3, 4, 6), (9, 9)]
STEPS = 4


def params_for(seed, shapes=SHAPES, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=gen, dtype=dtype).requires_grad_() for s in shapes], gen


def reference_signsgd(x, g, st, lr, wd):
    return F.signsgd(x, g, lr=lr, weight_decay=wd), st


def reference_signum(x, g, st, lr, wd):
    return F.signum(x, g, st, lr=lr, momentum=0.8, weight_decay=wd)


def reference_lion(x, g, st, lr, wd):
    return F.lion(x, g, st, lr=lr, betas=(0.8, 0.95), weight_decay=wd)


def reference_nsgd_tensor(x, g, st, lr, wd):
    return F.normalized_sgd(x, g, lr=lr, weight_decay=wd), st


CLASSES = {
    "signsgd": (lambda ps, **kw: SignSGD(ps, lr=0.01, weight_decay=0.1, **kw), reference_signsgd),
    "signum": (
        lambda ps, **kw: Signum(ps, lr=0.01, momentum=0.8, weight_decay=0.1, **kw),
        reference_signum,
    ),
    "lion": (
        lambda ps, **kw: Lion(ps, lr=0.01, betas=(0.8, 0.95), weight_decay=0.1, **kw),
        reference_lion,
    ),
    "nsgd_tensor": (
        lambda ps, **kw: NormalizedSGD(ps, lr=0.01, weight_decay=0.1, scope="tensor", **kw),
        reference_nsgd_tensor,
    ),
}


@pytest.mark.parametrize("name", CLASSES)
@pytest.mark.parametrize("path", ["foreach", "chunked", "reference"])
@settings(max_examples=5, deadline=None)
@given(seed=seeds)
def test_classes_equal_the_pure_rules(name, path, seed):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_multi, "CHUNK", 16 if path == "chunked" else 1 << 30)
        run_against_rule(name, path, seed)


def run_against_rule(name, path, seed):
    make, rule = CLASSES[name]
    params, gen = params_for(seed)
    xs = [p.detach().clone() for p in params]
    states = [None] * len(xs)
    opt = make(params, foreach=path != "reference")
    for step in range(STEPS):
        for i, p in enumerate(params):
            if step == 1 and i == 0:
                p.grad = None  # a parameter without gradient is skipped
                continue
            keep = torch.rand(p.shape, generator=gen) > 0.2  # some exact zeros: sign(0) = 0
            p.grad = torch.randn(p.shape, generator=gen) * keep
            xs[i], states[i] = rule(xs[i], p.grad, states[i], 0.01, 0.1)
        opt.step()
    for p, x in zip(params, xs, strict=True):
        torch.testing.assert_close(p.detach(), x)


@pytest.mark.parametrize("foreach", [True, False])
def test_normalized_sgd_group_scope_normalises_the_concatenation(foreach):
    params, gen = params_for(0)
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    opt = NormalizedSGD(params, lr=0.1, foreach=foreach)
    for _ in range(STEPS):
        for p in params:
            p.grad = torch.randn(p.shape, generator=gen)
        g = torch.cat([p.grad.reshape(-1) for p in params])
        flat = flat - 0.1 * g / torch.sqrt((g**2).sum())
        opt.step()
    torch.testing.assert_close(torch.cat([p.detach().reshape(-1) for p in params]), flat)


@pytest.mark.parametrize("foreach", [True, False])
@pytest.mark.parametrize("method", ["newton_schulz", "svd", "newton_schulz_eigh"])
@pytest.mark.parametrize("nesterov", [True, False])
def test_muon_class_equals_the_pure_rule(foreach, method, nesterov):
    shapes = [(6, 8), (6, 8), (10, 4), (5, 5)]
    params, gen = params_for(1, shapes)
    xs, bufs = [p.detach().clone() for p in params], [None] * len(shapes)
    opt = Muon(params, lr=0.02, weight_decay=0.1, method=method, nesterov=nesterov, foreach=foreach)
    for _ in range(STEPS):
        for i, p in enumerate(params):
            p.grad = torch.randn(p.shape, generator=gen)
            xs[i], bufs[i] = F.muon(
                xs[i], p.grad, bufs[i], lr=0.02, weight_decay=0.1, method=method, nesterov=nesterov
            )
        opt.step()
    for p, x in zip(params, xs, strict=True):
        torch.testing.assert_close(p.detach(), x, atol=1e-5, rtol=1e-5)


def test_muon_class_matches_torch_muon():
    params, gen = params_for(2, [(16, 24), (24, 16)])
    ref = [p.detach().clone().requires_grad_() for p in params]
    opt = Muon(params, lr=0.02, weight_decay=0.1, dtype=torch.bfloat16)
    opt_ref = torch.optim.Muon(ref, lr=0.02, weight_decay=0.1)
    for _ in range(STEPS):
        for p, r in zip(params, ref, strict=True):
            p.grad = torch.randn(p.shape, generator=gen)
            r.grad = p.grad.clone()
        opt.step()
        opt_ref.step()
    for p, r in zip(params, ref, strict=True):
        torch.testing.assert_close(p.detach(), r.detach(), atol=0.02 * STEPS * 2**-7, rtol=0)


def test_muon_rejects_non_matrix_parameters():
    with pytest.raises(ValueError, match="2-D"):
        Muon([torch.zeros(3, requires_grad=True)])
    with pytest.raises(ValueError, match="2-D"):
        Muon([torch.zeros(2, 3, 4, requires_grad=True)])


class TinyLM(torch.nn.Module):
    def __init__(self, tied=True):
        super().__init__()
        self.wte = torch.nn.Embedding(11, 8)
        self.block = torch.nn.Sequential(
            torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.Linear(16, 8, bias=False)
        )
        self.ln = torch.nn.LayerNorm(8)
        self.lm_head = torch.nn.Linear(8, 11, bias=False)
        if tied:
            self.lm_head.weight = self.wte.weight

    def forward(self, idx):
        return self.lm_head(self.ln(self.block(self.wte(idx))))


@pytest.mark.parametrize("tied", [True, False])
def test_muon_param_groups_split(tied):
    model = TinyLM(tied)
    muon, adamw = muon_param_groups(model)
    assert {id(p) for p in muon} == {id(model.block[0].weight), id(model.block[2].weight)}
    expected = {
        id(model.wte.weight),
        id(model.block[0].bias),
        id(model.ln.weight),
        id(model.ln.bias),
        id(model.lm_head.weight),
    }
    assert {id(p) for p in adamw} == expected
    assert len(muon) + len(adamw) == len(list(model.parameters()))


def test_muon_with_adamw_steps_both_and_round_trips():
    torch.manual_seed(0)
    model = TinyLM(tied=False)
    twin = copy.deepcopy(model)
    muon, adamw = muon_param_groups(model)
    opt = MuonWithAdamW(
        muon, adamw, lr=0.02, adamw_lr=1e-2, weight_decay=0.1, adamw_weight_decay=0.05
    )
    t_muon, t_adamw = muon_param_groups(twin)
    ref_m = Muon(t_muon, lr=0.02, weight_decay=0.1)
    ref_a = torch.optim.AdamW(t_adamw, lr=1e-2, betas=(0.9, 0.95), weight_decay=0.05)
    idx = torch.randint(0, 11, (5,))

    def closure(m, opts):
        for o in opts:
            o.zero_grad()
        loss = m(idx).square().mean()
        loss.backward()
        return loss

    for _ in range(3):
        loss = opt.step(lambda: closure(model, [opt]))
        closure(twin, [ref_m, ref_a])
        ref_m.step()
        ref_a.step()
        assert torch.isfinite(loss)
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(p, q)

    clone = copy.deepcopy(model)
    m2, a2 = muon_param_groups(clone)
    opt2 = MuonWithAdamW(m2, a2)
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))  # as if saved and loaded
    assert opt2.param_groups[0]["weight_decay"] == 0.1 and opt2.param_groups[1]["lr"] == 1e-2
    for _ in range(2):
        opt.step(lambda: closure(model, [opt]))
        opt2.step(lambda: closure(clone, [opt2]))
    for p, q in zip(model.parameters(), clone.parameters(), strict=True):
        torch.testing.assert_close(p, q)


@pytest.mark.parametrize("name", CLASSES)
def test_state_dict_round_trip(name):
    make, _ = CLASSES[name]
    params, gen = params_for(3)
    twin = [p.detach().clone().requires_grad_() for p in params]
    opt = make(params)
    grads = [[torch.randn(p.shape, generator=gen) for p in params] for _ in range(4)]
    for k in range(2):
        for p, g in zip(params, grads[k], strict=True):
            p.grad = g
        opt.step()
    with torch.no_grad():
        for t, p in zip(twin, params, strict=True):
            t.copy_(p)
    opt2 = make(twin, foreach=False)
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))  # as if saved and loaded
    for k in range(2, 4):
        for p, t, g in zip(params, twin, grads[k], strict=True):
            p.grad, t.grad = g, g.clone()
        opt.step()
        opt2.step()
    for p, t in zip(params, twin, strict=True):
        torch.testing.assert_close(p, t)


def test_closure_and_param_groups_with_their_own_lr():
    a = torch.ones(3, requires_grad=True)
    b = torch.ones(3, requires_grad=True)
    opt = SignSGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    loss = opt.step(lambda: (a.sum() - b.sum()).backward() or torch.tensor(1.0))
    assert loss == 1.0
    torch.testing.assert_close(a.detach(), torch.full((3,), 0.9))
    torch.testing.assert_close(b.detach(), torch.full((3,), 1.5))


@pytest.mark.parametrize("chunk", [16, 1 << 30])
def test_bfloat16_parameters(chunk, monkeypatch):
    monkeypatch.setattr(_multi, "CHUNK", chunk)
    p = torch.randn(64, dtype=torch.bfloat16, requires_grad=True)
    x = p.detach().clone()
    p.grad = torch.randn(64, dtype=torch.bfloat16)
    Lion([p], lr=0.125).step()
    assert p.dtype == torch.bfloat16
    torch.testing.assert_close(p.detach(), x - 0.125 * torch.sign(p.grad), rtol=0, atol=0)


@pytest.mark.parametrize("name", CLASSES)
def test_nan_gradient_raises_and_leaves_parameters_unchanged(name):
    make, _ = CLASSES[name]
    params, _ = params_for(4)
    before = [p.detach().clone() for p in params]
    for p in params:
        p.grad = torch.ones_like(p)
    params[2].grad[1, 2, 3] = float("nan")
    opt = make(params)
    with pytest.raises(ValueError, match=r"param_groups\[0\]\['params'\]\[2\].*NaN or inf"):
        opt.step()
    for p, b in zip(params, before, strict=True):
        assert torch.equal(p.detach(), b)
    make(params, check_finite=False).step()  # no check: the step is taken
    assert not torch.equal(params[0].detach(), before[0])


def test_overflowing_but_finite_gradient_is_not_rejected():
    p = torch.zeros(4, requires_grad=True)
    p.grad = torch.full((4,), 3e38)
    SignSGD([p], lr=1.0).step()
    torch.testing.assert_close(p.detach(), -torch.ones(4))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda ps: SignSGD(ps, lr=0.0), "lr"),
        (lambda ps: Signum(ps, lr=0.1, momentum=1.0), "momentum"),
        (lambda ps: Lion(ps, betas=(-0.1, 0.9)), r"betas\[0\]"),
        (lambda ps: Lion(ps, weight_decay=-1.0), "weight_decay"),
        (lambda ps: NormalizedSGD(ps, lr=0.1, scope="layer"), "scope"),
        (lambda ps: Muon(ps, coefficients="septic"), "coefficients"),
        (lambda ps: Muon(ps, ns_steps=-1), "ns_steps"),
        (lambda ps: Muon(ps, momentum=1.5), "momentum"),
        (lambda ps: MuonWithAdamW(ps, [], adamw_betas=(0.9, 1.0)), r"betas\[1\]"),
        (lambda ps: MuonWithAdamW([], ps, adamw_lr=-1.0), "lr"),
        (lambda ps: SignSGD([{"params": ps, "lr": -1.0}], lr=0.1), "lr"),
        (lambda ps: SignSGD(ps, lr=0.1, foreach="yes"), "foreach"),
    ],
)
def test_bad_hyperparameters_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make([torch.zeros(3, 3, requires_grad=True)])


def test_every_class_is_a_torch_optimizer_on_the_shared_base():
    p = [torch.zeros(2, 2, requires_grad=True)]
    for opt in [
        SignSGD(p, lr=0.1),
        Signum(p, lr=0.1),
        Lion(p),
        NormalizedSGD(p, lr=0.1),
        Muon(p),
        MuonWithAdamW(p, []),
    ]:
        assert isinstance(opt, SignlabOptimizer) and isinstance(opt, torch.optim.Optimizer)


def test_muon_on_bfloat16_parameters_runs_newton_schulz_in_float32_on_cpu():
    p = torch.randn(8, 12, dtype=torch.bfloat16, requires_grad=True)
    x = p.detach().clone()
    p.grad = torch.randn(8, 12, dtype=torch.bfloat16)
    Muon([p], lr=0.125, momentum=0.0).step()
    assert p.dtype == torch.bfloat16
    expected = x.float() - 0.125 * newton_schulz(p.grad.float()).to(torch.bfloat16).float()
    torch.testing.assert_close(p.detach().float(), expected, atol=2e-2, rtol=0)
