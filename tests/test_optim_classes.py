"""signlab.optim classes: the torch.optim API, and Muon against torch.optim.Muon.

(That the classes' fast path equals the pure rules is tests/test_optim_fused.py.)
"""

import copy
import inspect
import subprocess
import sys
import typing

import pytest
import torch
from test_ns_schedules import POLAR_EXPRESS_PUBLISHED

from signlab.optim import (
    Lion,
    Muon,
    MuonWithAdamW,
    NormalizedSGD,
    SignSGD,
    Signum,
    muon_param_groups,
)
from signlab.optim import functional as F
from signlab.optim.base import SignlabOptimizer
from signlab.optim.spec import REQUIRED

SHAPES = [(7, 5), (40,), (3, 4, 6), (9, 9)]
STEPS = 4


def params_for(seed, shapes=SHAPES, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=gen, dtype=dtype).requires_grad_() for s in shapes], gen


CLASSES = {
    "signsgd": lambda ps, **kw: SignSGD(ps, lr=0.01, weight_decay=0.1, **kw),
    "signum": lambda ps, **kw: Signum(ps, lr=0.01, momentum=0.8, weight_decay=0.1, **kw),
    "lion": lambda ps, **kw: Lion(ps, lr=0.01, betas=(0.8, 0.95), weight_decay=0.1, **kw),
    "nsgd_tensor": lambda ps, **kw: NormalizedSGD(ps, lr=0.01, scope="tensor", **kw),
    "nsgd_group": lambda ps, **kw: NormalizedSGD(ps, lr=0.01, weight_decay=0.1, **kw),
}
RULE_OF = {
    SignSGD: F.signsgd,
    Signum: F.signum,
    Lion: F.lion,
    NormalizedSGD: F.normalized_sgd,
    Muon: F.muon,
}


def bare(signature):
    """``signature`` without annotations (the spec's signatures carry none)."""
    params = [p.replace(annotation=p.empty) for p in signature.parameters.values()]
    return signature.replace(parameters=params, return_annotation=signature.empty)


def assert_signature_is_the_specs(cls, spec):
    """The class's explicit ``__init__`` takes exactly the spec's class hyperparameters, in the
    spec's order, with the spec's defaults (``lr`` without one where the spec requires it)."""
    ours = bare(inspect.signature(cls.__init__))
    assert ours == spec.class_signature(), (str(ours), str(spec.class_signature()))


@pytest.mark.parametrize("cls", RULE_OF, ids=lambda c: c.__name__)
def test_explicit_signature_agrees_with_the_spec(cls):
    assert "__init__" in vars(cls)  # written out, not generated
    assert_signature_is_the_specs(cls, RULE_OF[cls].spec)
    hints = typing.get_type_hints(cls.__init__)
    assert set(hints) == {*inspect.signature(cls.__init__).parameters, "return"} - {"self"}


def test_muon_with_adamw_signature_agrees_with_both_specs():
    from signlab.optim.muon import ADAMW_DEFAULTS

    ours = bare(inspect.signature(MuonWithAdamW.__init__)).parameters
    muon = F.MUON.class_signature().parameters
    adamw = F.ADAMW.parameters("class", prefix="adamw_", **ADAMW_DEFAULTS)
    options = list(muon.values())[-2:]
    want = [
        *[inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in ("self", "muon_params", "adamw_params")],
        *list(muon.values())[2:-2],
        *adamw,
        *options,
    ]  # fmt: skip
    assert list(ours.values()) == want
    hints = typing.get_type_hints(MuonWithAdamW.__init__)
    assert set(hints) == {*ours, "return"} - {"self"}


@pytest.mark.parametrize("cls", RULE_OF, ids=lambda c: c.__name__)
def test_signature_is_params_lr_then_the_specs_keywords(cls):
    params = inspect.signature(cls).parameters
    assert list(params)[:2] == ["params", "lr"]
    keywords = [n for n, p in params.items() if p.kind is p.KEYWORD_ONLY]
    spec = RULE_OF[cls].spec
    assert keywords == [h.name for h in spec.rows("class")][1:] + ["foreach", "check_finite"]
    for name in keywords[:-2]:
        assert params[name].default == spec.defaults("class")[name]
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        cls([torch.zeros(2, 2, requires_grad=True)], lr=0.1, colour=1)


def test_hyperparameters_after_lr_are_keyword_only():
    p = [torch.zeros(3, 3, requires_grad=True)]
    with pytest.raises(TypeError):
        Muon(p, 0.02, 0.1)  # torch: weight_decay=0.1; the old signlab order: momentum=0.1
    with pytest.raises(TypeError):
        Signum(p, 0.1, 0.9)


def test_muon_signature_is_torch_muons_plus_signlabs_options():
    ours = inspect.signature(Muon).parameters
    theirs = inspect.signature(torch.optim.Muon).parameters
    assert list(ours)[: len(theirs)] == list(theirs)
    assert list(ours)[len(theirs) :] == ["method", "dtype", "foreach", "check_finite"]
    assert all(ours[n].kind is inspect.Parameter.KEYWORD_ONLY for n in list(ours)[2:])
    same = ["momentum", "nesterov", "eps", "ns_steps"]
    assert all(ours[n].default == theirs[n].default for n in same)
    # the documented differences (Muon's docstring): K. Jordan's lr and weight decay, named presets
    assert (ours["lr"].default, ours["weight_decay"].default) == (0.02, 0.0)
    assert F.muon.spec.validate({"lr": 1.0})["ns_coefficients"] == theirs["ns_coefficients"].default
    assert (
        F.muon.spec.validate({"lr": 1.0, "adjust_lr_fn": theirs["adjust_lr_fn"].default})[
            "adjust_lr_fn"
        ]
        == F.muon.spec.validate({"lr": 1.0})["adjust_lr_fn"]
    )


MUON_KWARGS = [
    dict(lr=0.02, weight_decay=0.1, momentum=0.9, nesterov=True),
    dict(lr=0.05, weight_decay=0.0, momentum=0.95, nesterov=False, ns_steps=3),
    dict(lr=0.01, weight_decay=0.2, adjust_lr_fn="match_rms_adamw", eps=1e-5),
    dict(
        lr=0.02, weight_decay=0.0, ns_coefficients=(1.5, -0.5, 0.0), ns_steps=7, adjust_lr_fn=None
    ),
]
"""Keyword arguments for both Muons; lr and weight_decay always given, since their defaults differ."""


def race_torch_muon(kwargs, seed, ours_extra):
    params, gen = params_for(seed, [(16, 24), (24, 16), (12, 12)])
    ref = [p.detach().clone().requires_grad_() for p in params]
    opt = Muon(params, **{**kwargs, **ours_extra})
    opt_ref = torch.optim.Muon(ref, **kwargs)
    for _ in range(STEPS):
        for p, r in zip(params, ref, strict=True):
            p.grad = torch.randn(p.shape, generator=gen)
            r.grad = p.grad.clone()
        opt.step()
        opt_ref.step()
    for p, r in zip(params, ref, strict=True):
        for key in ("momentum_buffer",):
            # both keep the EMA B ← μB + (1 − μ)G (torch: buf.lerp_(grad, 1 - momentum))
            torch.testing.assert_close(opt.state[p][key], opt_ref.state[r][key], rtol=0, atol=0)
    return [(p.detach(), r.detach()) for p, r in zip(params, ref, strict=True)]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("kwargs", MUON_KWARGS)
def test_muon_in_bfloat16_equals_torch_muon_exactly(kwargs, seed):
    """torch.optim.Muon runs Newton–Schulz in bf16; with dtype=bf16 ours does the same ops."""
    for ours, theirs in race_torch_muon(kwargs, seed, dict(dtype=torch.bfloat16)):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=0)


def newton_schulz_float32(grad, ns_coefficients, ns_steps, eps):
    """K. Jordan's Newton–Schulz as torch.optim.Muon writes it, in float32 instead of bf16."""
    a, b, c = ns_coefficients
    X = grad.float()
    tall = X.size(0) > X.size(1)
    if tall:
        X = X.T
    X = X / X.norm().clamp(min=eps)
    for _ in range(ns_steps):
        A = X @ X.T
        X = a * X + (b * A + c * A @ A) @ X
    return X.T if tall else X


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("kwargs", MUON_KWARGS)
def test_muon_in_float32_matches_torch_muon_with_float32_newton_schulz(kwargs, seed, monkeypatch):
    """The same comparison with float32 Newton–Schulz on both sides (torch's made float32 by
    replacing its private NS routine with the float32 one written above)."""
    import torch.optim._muon as torch_muon

    monkeypatch.setattr(torch_muon, "_zeropower_via_newtonschulz", newton_schulz_float32)
    for ours, theirs in race_torch_muon(kwargs, seed, dict(dtype=torch.float32)):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=2e-6)


# Polar Express's published schedule (Amsel et al., ICLR 2026), safety factor 1.01 applied to all
# but the last triple, as written in the authors' code (NoahAmsel/PolarExpress, basic.py).
POLAR_EXPRESS = [
    (a / 1.01, b / 1.01**3, c / 1.01**5) for a, b, c in POLAR_EXPRESS_PUBLISHED[:-1]
] + [POLAR_EXPRESS_PUBLISHED[-1]]


def polar_express_float32(grad, ns_coefficients, ns_steps, eps):
    """Newton–Schulz with Polar Express's triple k at step k (the last one repeated), written out
    in float32; torch.optim.Muon's own triple is ignored."""
    X = grad.float()
    tall = X.size(0) > X.size(1)
    if tall:
        X = X.T
    X = X / X.norm().clamp(min=eps)
    for k in range(ns_steps):
        a, b, c = POLAR_EXPRESS[min(k, len(POLAR_EXPRESS) - 1)]
        A = X @ X.T
        X = a * X + (b * A + c * A @ A) @ X
    return X.T if tall else X


@pytest.mark.parametrize("ns_steps", [5, 10])
def test_muon_with_a_schedule_matches_torch_muon_running_that_schedule(ns_steps, monkeypatch):
    """Per-step coefficients are signlab's extension: torch.optim.Muon with its NS routine replaced
    by the schedule written out above takes the same steps as Muon(ns_coefficients=...)."""
    import torch.optim._muon as torch_muon

    monkeypatch.setattr(torch_muon, "_zeropower_via_newtonschulz", polar_express_float32)
    kwargs = dict(lr=0.02, weight_decay=0.1, ns_steps=ns_steps)
    for name in ("polar_express", POLAR_EXPRESS):
        extra = dict(dtype=torch.float32, ns_coefficients=name)
        for ours, theirs in race_torch_muon(kwargs, 3, extra):
            torch.testing.assert_close(ours, theirs, rtol=0, atol=2e-6)


@pytest.mark.parametrize("foreach", [True, False])
@pytest.mark.parametrize("method", ["newton_schulz", "svd", "newton_schulz_eigh"])
@pytest.mark.parametrize("nesterov", [True, False])
def test_muon_class_equals_the_pure_rule(foreach, method, nesterov):
    shapes = [(6, 8), (6, 8), (10, 4), (5, 5)]
    params, gen = params_for(1, shapes)
    xs, states = [p.detach().clone() for p in params], [None] * len(shapes)
    kw = dict(lr=0.02, weight_decay=0.1, method=method, nesterov=nesterov)
    opt = Muon(params, foreach=foreach, **kw)
    for _ in range(STEPS):
        for i, p in enumerate(params):
            p.grad = torch.randn(p.shape, generator=gen)
            xs[i], states[i] = F.muon(xs[i], p.grad, states[i], **kw)
        opt.step()
    for p, x in zip(params, xs, strict=True):
        torch.testing.assert_close(p.detach(), x, rtol=0, atol=0)


def test_muon_rejects_non_matrix_parameters():
    with pytest.raises(ValueError, match="2-D"):
        Muon([torch.zeros(3, requires_grad=True)])
    with pytest.raises(ValueError, match="2-D"):
        Muon([torch.zeros(2, 3, 4, requires_grad=True)])
    opt = Muon([torch.zeros(3, 3, requires_grad=True)])
    with pytest.raises(ValueError, match="2-D"):
        opt.add_param_group({"params": [torch.zeros(3, requires_grad=True)]})
    assert len(opt.param_groups) == 1  # a rejected group is not added


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
    idx = torch.randint(0, 11, (5,), generator=torch.Generator().manual_seed(1))

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
    assert set(opt.state[adamw[0]]) == set(ref_a.state[t_adamw[0]])  # PyTorch's AdamW keys

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


def test_muon_with_adamw_signature():
    params = inspect.signature(MuonWithAdamW).parameters
    assert list(params)[:3] == ["muon_params", "adamw_params", "lr"]
    assert params["adamw_betas"].default == (0.9, 0.95) and params["adamw_lr"].default == 3e-4
    assert "ns_coefficients" in params and "coefficients" not in params
    with pytest.raises(TypeError, match="adamw_colour"):
        MuonWithAdamW([], [torch.zeros(3, requires_grad=True)], adamw_colour=1)


def continue_after_reload(make, params, grads):
    """Two steps of ``make(params)``, then its state_dict loaded into ``make(twin, foreach=False)``
    (as if saved and loaded); both take the remaining steps. Returns (opt, twin's opt, twin)."""
    twin = [p.detach().clone().requires_grad_() for p in params]
    opt = make(params)
    for g in grads[:2]:
        for p, gp in zip(params, g, strict=True):
            p.grad = gp
        opt.step()
    with torch.no_grad():
        for t, p in zip(twin, params, strict=True):
            t.copy_(p)
    opt2 = make(twin, foreach=False)
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    for g in grads[2:]:
        for p, t, gp in zip(params, twin, g, strict=True):
            p.grad, t.grad = gp, gp.clone()
        opt.step()
        opt2.step()
    return opt, opt2, twin


@pytest.mark.parametrize("name", CLASSES)
def test_state_dict_round_trip(name):
    params, gen = params_for(3)
    grads = [[torch.randn(p.shape, generator=gen) for p in params] for _ in range(4)]
    _, _, twin = continue_after_reload(CLASSES[name], params, grads)
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


def test_every_group_may_carry_its_own_lr_when_the_default_is_omitted():
    a = torch.ones(2, requires_grad=True)
    opt = Signum([{"params": [a], "lr": 0.25}], momentum=0.0)
    a.grad = torch.tensor([1.0, -1.0])
    opt.step()
    torch.testing.assert_close(a.detach(), torch.tensor([0.75, 1.25]))
    with pytest.raises(ValueError, match="lr"):
        Signum([a])  # no lr anywhere: PyTorch's error


@pytest.mark.parametrize("name", CLASSES)
def test_nan_gradient_raises_and_leaves_parameters_unchanged(name):
    make = CLASSES[name]
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
    assert all(not opt.state[p] for p in params)  # nor did any state change
    make(params, check_finite=False).step()  # no check: the step is taken
    assert not torch.equal(params[0].detach(), before[0])


def test_muon_nan_gradient_raises_before_any_change():
    params, _ = params_for(5, [(4, 6), (6, 4)])
    before = [p.detach().clone() for p in params]
    params[0].grad = torch.ones(4, 6)
    params[1].grad = torch.full((6, 4), float("inf"))
    with pytest.raises(ValueError, match=r"\['params'\]\[1\]"):
        Muon(params).step()
    assert all(torch.equal(p.detach(), b) for p, b in zip(params, before, strict=True))


def test_overflowing_but_finite_gradient_is_not_rejected():
    p = torch.zeros(4, requires_grad=True)
    p.grad = torch.full((4,), 3e38)
    SignSGD([p], lr=1.0).step()
    torch.testing.assert_close(p.detach(), -torch.ones(4))


def test_sparse_gradients_are_rejected():
    p = torch.zeros(5, requires_grad=True)
    p.grad = torch.zeros(5).to_sparse()
    with pytest.raises(ValueError, match="sparse"):
        SignSGD([p], lr=0.1).step()


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda ps: SignSGD(ps, lr=0.0), "lr"),
        (lambda ps: Signum(ps, lr=0.1, momentum=1.0), "momentum"),
        (lambda ps: Lion(ps, betas=(-0.1, 0.9)), r"betas\[0\]"),
        (lambda ps: Lion(ps, weight_decay=-1.0), "weight_decay"),
        (lambda ps: NormalizedSGD(ps, lr=0.1, scope="layer"), "scope"),
        (lambda ps: Muon(ps, ns_coefficients="septic"), "ns_coefficients"),
        (lambda ps: Muon(ps, ns_steps=-1), "ns_steps"),
        (lambda ps: Muon(ps, momentum=1.5), "momentum"),
        (lambda ps: Muon(ps, adjust_lr_fn="spectral"), "adjust_lr_fn"),
        (lambda ps: Muon(ps, method="newton_schulz_eigh", dtype=torch.bfloat16), "dtype"),
        (lambda ps: MuonWithAdamW(ps, [], adamw_betas=(0.9, 1.0)), r"betas\[1\]"),
        (lambda ps: MuonWithAdamW([], ps, adamw_lr=-1.0), "lr"),
        (lambda ps: MuonWithAdamW([], []), "must not both be empty"),
        (lambda ps: SignSGD([{"params": ps, "lr": -1.0}], lr=0.1), "lr"),
        (lambda ps: SignSGD(ps, lr=0.1, foreach="yes"), "foreach"),
        (lambda ps: SignSGD(ps, lr=0.1, check_finite=1), "check_finite"),
    ],
)
def test_bad_hyperparameters_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make([torch.zeros(3, 3, requires_grad=True)])


def test_groups_hold_normalised_values():
    p = [torch.zeros(3, 3, requires_grad=True)]
    group = Muon(p, adjust_lr_fn=None, ns_coefficients="cubic").param_groups[0]
    assert group["adjust_lr_fn"] == "original" and group["ns_coefficients"] == (1.5, -0.5, 0.0)
    assert Lion(p, betas=[0.8, 0.9]).param_groups[0]["betas"] == (0.8, 0.9)


SHARED = {"weight_decay": 0.0, "foreach": None, "check_finite": True}
MUON_GROUP = {
    **SHARED,
    **{"lr": 0.02, "momentum": 0.95, "nesterov": True, "eps": 1e-7, "ns_steps": 5},
    **{"ns_coefficients": (3.4445, -4.775, 2.0315), "adjust_lr_fn": "original"},
    **{"method": "newton_schulz", "dtype": None},
}
DEFAULT_GROUPS = [
    (lambda p: SignSGD(p, lr=0.1), [{**SHARED, "lr": 0.1}]),
    (lambda p: Signum(p, lr=0.1), [{**SHARED, "lr": 0.1, "momentum": 0.9}]),
    (lambda p: Lion(p), [{**SHARED, "lr": 1e-4, "betas": (0.9, 0.99)}]),
    (lambda p: NormalizedSGD(p, lr=0.1), [{**SHARED, "lr": 0.1, "scope": "group"}]),
    (lambda p: Muon(p), [MUON_GROUP]),
    (
        lambda p: MuonWithAdamW(p, [torch.zeros(3, requires_grad=True)]),
        [
            {"use_muon": True, **MUON_GROUP},
            {**SHARED, "use_muon": False, "lr": 3e-4, "betas": (0.9, 0.95), "eps": 1e-8},
        ],
    ),
]
"""Every class's param groups when only what is required is given, written out from the sources:
Signum's μ = 0.9 (Bernstein et al., 2018), Lion's η = 1e-4 and β = (0.9, 0.99) (Chen et al., 2023),
Muon's K. Jordan lr 0.02 with torch.optim.Muon's momentum, Nesterov, eps, steps and quintic
coefficients, MuonWithAdamW's AdamW at nanoGPT's lr 3e-4 and β = (0.9, 0.95)."""


@pytest.mark.parametrize(
    "make, expected",
    DEFAULT_GROUPS,
    ids=["signsgd", "signum", "lion", "normalized_sgd", "muon", "muon_with_adamw"],
)
def test_defaults_are_the_documented_ones_and_survive_a_state_dict(make, expected):
    p = [torch.zeros(2, 2, requires_grad=True)]
    opt = make(p)
    assert isinstance(opt, torch.optim.Optimizer)
    groups = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    assert groups == expected
    twin = make([torch.zeros(2, 2, requires_grad=True)])
    twin.load_state_dict(copy.deepcopy(opt.state_dict()))
    assert [{k: v for k, v in g.items() if k != "params"} for g in twin.param_groups] == expected


def test_muon_state_dict_round_trip_continues_identically(generator):
    shapes = [(6, 8), (8, 6), (5, 5)]
    params = [torch.randn(s, generator=generator).requires_grad_() for s in shapes]
    make = lambda ps, **kw: Muon(ps, lr=0.05, weight_decay=0.1, momentum=0.9, **kw)
    grads = [[torch.randn(s, generator=generator) for s in shapes] for _ in range(4)]
    opt, opt2, twin = continue_after_reload(make, params, grads)
    for p, t in zip(params, twin, strict=True):
        assert opt.state[p]["momentum_buffer"].abs().sum() > 0
        torch.testing.assert_close(
            opt.state[p]["momentum_buffer"], opt2.state[t]["momentum_buffer"]
        )
        torch.testing.assert_close(p, t)


def test_a_schedule_travels_in_the_state_dict(generator):
    """A Muon made with Jordan's default continues as Polar Express after loading the state of a
    Polar Express Muon: the per-step triples are part of the param group, as torch's triple is."""
    shapes = [(6, 8), (8, 6)]
    params = [torch.randn(s, generator=generator).requires_grad_() for s in shapes]
    make = lambda ps, **kw: Muon(ps, lr=0.05, weight_decay=0.1, ns_steps=7, **kw)
    grads = [[torch.randn(s, generator=generator) for s in shapes] for _ in range(4)]
    opt, opt2, twin = continue_after_reload(
        lambda ps, **kw: make(ps, **{"ns_coefficients": "polar_express", **kw}), params, grads
    )
    assert opt2.param_groups[0]["ns_coefficients"] == tuple(pytest.approx(t) for t in POLAR_EXPRESS)
    for p, t in zip(params, twin, strict=True):
        torch.testing.assert_close(p, t)
    jordan = make([p.detach().clone().requires_grad_() for p in twin])
    jordan.load_state_dict(copy.deepcopy(opt.state_dict()))
    assert jordan.param_groups[0]["ns_coefficients"] == opt.param_groups[0]["ns_coefficients"]


def test_a_new_rule_becomes_an_optimizer_by_subclassing_the_base(generator):
    """SignlabOptimizer's protocol: a subclass that sets ``rule`` and writes its ``__init__``
    with the spec's defaults gets validation and a step that applies the rule; F.sgd so becomes
    torch.optim.SGD."""

    class RuleSGD(SignlabOptimizer):
        rule = F.sgd

        def __init__(self, params, lr=REQUIRED, *, momentum=0.0, nesterov=False,
                     weight_decay=0.0, foreach=None, check_finite=True):  # fmt: skip
            hyper = dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
            super().__init__(params, hyper, foreach=foreach, check_finite=check_finite)

    assert_signature_is_the_specs(RuleSGD, F.sgd.spec)
    params = inspect.signature(RuleSGD).parameters
    assert list(params) == [
        *["params", "lr", "momentum", "nesterov", "weight_decay", "foreach", "check_finite"]
    ]
    assert params["momentum"].default == 0.0 and params["nesterov"].default is False
    ours = [torch.randn(5, 3, generator=generator).requires_grad_()]
    ref = [ours[0].detach().clone().requires_grad_()]
    opt = RuleSGD(ours, lr=0.05, momentum=0.9, nesterov=True)
    opt_ref = torch.optim.SGD(ref, lr=0.05, momentum=0.9, nesterov=True)
    for _ in range(3):
        ours[0].grad = torch.randn(5, 3, generator=generator)
        ref[0].grad = ours[0].grad.clone()
        opt.step()
        opt_ref.step()
    torch.testing.assert_close(ours[0], ref[0])
    torch.testing.assert_close(
        opt.state[ours[0]]["momentum_buffer"], opt_ref.state[ref[0]]["momentum_buffer"]
    )
    with pytest.raises(ValueError, match="momentum"):
        RuleSGD(ours, lr=0.1, momentum=1.5)
    with pytest.raises(TypeError, match="dampening"):
        RuleSGD(ours, lr=0.1, dampening=0.1)


@pytest.mark.parametrize("native_bf16", [False, True])
def test_muon_working_dtype_on_cpu_follows_the_cpus_bf16_support(native_bf16, monkeypatch):
    """dtype=None: float32 Newton–Schulz on a CPU without native bf16 (bf16 is slower there), bf16
    with it (then the step is torch.optim.Muon's, which always runs Newton–Schulz in bf16)."""
    from signlab.geometry import matrix

    monkeypatch.setattr(matrix, "cpu_has_native_bf16", lambda: native_bf16)
    gen = torch.Generator().manual_seed(6)
    p = torch.randn(8, 12, generator=gen).to(torch.bfloat16).requires_grad_()
    x, ref = p.detach().clone(), p.detach().clone().requires_grad_()
    p.grad = torch.randn(8, 12, generator=gen).to(torch.bfloat16)
    ref.grad = p.grad.clone()
    Muon([p], lr=0.125, momentum=0.0).step()
    torch.optim.Muon([ref], lr=0.125, momentum=0.0, weight_decay=0.0).step()
    assert p.dtype == torch.bfloat16
    if native_bf16:
        torch.testing.assert_close(p, ref, rtol=0, atol=0)
    else:
        o = newton_schulz_float32(p.grad, (3.4445, -4.775, 2.0315), 5, 1e-7).to(torch.bfloat16)
        torch.testing.assert_close(
            p.detach().float(), x.float() - 0.125 * o.float(), atol=2e-2, rtol=0
        )
        assert not torch.equal(p, ref)  # torch's bf16 Newton–Schulz lands elsewhere


def test_import_signlab_optim_pulls_in_no_plotting_or_symbolic_packages():
    code = (
        "import sys, signlab.optim; "
        "print(sorted(m for m in ('plotly', 'sympy', 'ipywidgets') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
