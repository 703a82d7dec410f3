"""The classes' fast path (signlab.optim._fused) equals the readable rules of signlab.optim.functional.

Each class is stepped with ``foreach=True`` (the fused path: ``torch._foreach_*`` for small tensors,
chunks through a cached scratch buffer for CPU tensors of at least ``_fused.chunk_length()`` elements) and
compared with the pure rule applied tensor by tensor, over several steps, shapes and weight decays.
"""

import pytest
import torch

from signlab.optim import Lion, Muon, MuonWithAdamW, NormalizedSGD, SignSGD, Signum, _fused
from signlab.optim import functional as F

STEPS = 4
SMALL = [(7, 5), (40,), (3, 4, 6), (9, 9)]
LENGTH = _fused.chunk_length()  # CHUNK per torch thread
BIG = [(LENGTH // 512 + 3, 512), (LENGTH + 37,), (2, LENGTH // 3 + 5, 4)]  # chunked, ragged tails

CASES = {
    "signsgd": (SignSGD, {}, F.signsgd, {}),
    "signum": (Signum, {"momentum": 0.8}, F.signum, {"momentum": 0.8}),
    "lion": (Lion, {"betas": (0.8, 0.95)}, F.lion, {"betas": (0.8, 0.95)}),
    "nsgd_tensor": (NormalizedSGD, {"scope": "tensor"}, F.normalized_sgd, {}),
}


def race(name, shapes, seed, weight_decay, dtype=torch.float32, foreach=True):
    """Step the class and the rule side by side; return [(class param, rule param)]."""
    cls, cls_kw, rule, rule_kw = CASES[name]
    gen = torch.Generator().manual_seed(seed)
    params = [torch.randn(s, generator=gen).to(dtype).requires_grad_() for s in shapes]
    xs = [p.detach().clone() for p in params]
    states = [None] * len(xs)
    opt = cls(params, lr=0.01, weight_decay=weight_decay, foreach=foreach, **cls_kw)
    for step in range(STEPS):
        for i, p in enumerate(params):
            if step == 1 and i == 0:
                p.grad = None  # a parameter without a gradient is skipped
                continue
            keep = torch.rand(p.shape, generator=gen) > 0.2  # exact zeros: sign(0) = 0
            p.grad = (torch.randn(p.shape, generator=gen) * keep).to(dtype)
            xs[i], states[i] = rule(
                xs[i], p.grad, states[i], lr=0.01, weight_decay=weight_decay, **rule_kw
            )
        opt.step()
    return [(p.detach(), x) for p, x in zip(params, xs, strict=True)]


def assert_same(pairs, exact):
    for got, want in pairs:
        if exact:  # the same ops in the same order: equal to the last bit
            torch.testing.assert_close(got, want, rtol=0, atol=0)
        else:
            torch.testing.assert_close(got, want)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("shapes", [SMALL, BIG, SMALL + BIG], ids=["small", "big", "mixed"])
@pytest.mark.parametrize("name", CASES)
def test_fused_path_equals_the_rule(name, shapes, weight_decay, seed):
    if shapes is not SMALL:
        assert any(torch.Size(s).numel() >= LENGTH for s in shapes)  # the chunked path runs
    assert_same(race(name, shapes, seed, weight_decay), exact=name != "nsgd_tensor")


@pytest.mark.parametrize("name", CASES)
def test_ragged_chunks_equal_the_rule(name, monkeypatch):
    monkeypatch.setattr(_fused, "CHUNK", 8)  # every SMALL tensor is chunked, most with a tail
    assert_same(race(name, SMALL, 7, 0.1), exact=name != "nsgd_tensor")


@pytest.mark.parametrize("name", CASES)
def test_reference_path_is_the_rule(name):
    assert_same(race(name, SMALL, 3, 0.1, foreach=False), exact=True)


@pytest.mark.parametrize("name", ["signsgd", "signum", "lion"])
def test_bfloat16_parameters_chunked_and_not(name, monkeypatch):
    for chunk in (16, 1 << 30):
        monkeypatch.setattr(_fused, "CHUNK", chunk)
        pairs = race(name, [(64,), (5, 13)], 5, 0.1, dtype=torch.bfloat16)
        assert all(got.dtype == torch.bfloat16 for got, _ in pairs)
        assert_same(pairs, exact=True)


def test_non_contiguous_parameters_take_the_foreach_path():
    n = int(LENGTH**0.5) + 1
    base = torch.randn(n, n, generator=torch.Generator().manual_seed(2))
    p = base.t().requires_grad_()  # a transposed view: big but not contiguous
    assert p.numel() >= LENGTH and not p.is_contiguous()
    x = p.detach().clone()
    p.grad = torch.randn(n, n, generator=torch.Generator().manual_seed(3)).t()
    SignSGD([p], lr=0.5).step()
    torch.testing.assert_close(p.detach(), F.signsgd(x, p.grad, lr=0.5)[0], rtol=0, atol=0)


@pytest.mark.parametrize("foreach", [True, False])
def test_normalized_sgd_group_scope_normalises_the_concatenation(foreach):
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(s, generator=gen).requires_grad_() for s in SMALL + BIG]
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    opt = NormalizedSGD(params, lr=0.1, foreach=foreach)
    for _ in range(STEPS):
        for p in params:
            p.grad = torch.randn(p.shape, generator=gen)
        g = torch.cat([p.grad.reshape(-1) for p in params])
        flat = flat - 0.1 * g / torch.sqrt((g.double() ** 2).sum()).float()
        opt.step()
    torch.testing.assert_close(torch.cat([p.detach().reshape(-1) for p in params]), flat)


def test_normalized_sgd_falls_back_to_the_rule_when_a_norm_overflows():
    p = torch.zeros(3, requires_grad=True)
    p.grad = torch.full((3,), 3e38)  # finite, but ‖g‖₂ overflows float32
    NormalizedSGD([p], lr=1.0).step()
    torch.testing.assert_close(p.detach(), torch.full((3,), -(3**-0.5)))


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_fused_adamw_groups_equal_the_rule(weight_decay):
    gen = torch.Generator().manual_seed(4)
    shapes = [(6, 4), (9,), (300, 300)]
    params = [torch.randn(s, generator=gen).requires_grad_() for s in shapes]
    xs, states = [p.detach().clone() for p in params], [None] * len(shapes)
    opt = MuonWithAdamW([], params, adamw_lr=0.01, adamw_weight_decay=weight_decay)
    for _ in range(STEPS):
        for i, p in enumerate(params):
            p.grad = torch.randn(p.shape, generator=gen)
            xs[i], states[i] = F.adamw(
                xs[i], p.grad, states[i], lr=0.01, betas=(0.9, 0.95), weight_decay=weight_decay
            )
        opt.step()
    for p, x, s in zip(params, xs, states, strict=True):
        torch.testing.assert_close(p.detach(), x)
        assert float(opt.state[p]["step"]) == float(s["step"]) == STEPS


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("dtype", [None, torch.bfloat16])
def test_fused_muon_equals_the_rule(weight_decay, nesterov, dtype):
    gen = torch.Generator().manual_seed(8)
    shapes = [(6, 8), (8, 6), (5, 5), (64, 300)]
    params = [torch.randn(s, generator=gen).requires_grad_() for s in shapes]
    xs, states = [p.detach().clone() for p in params], [None] * len(shapes)
    kw = dict(lr=0.02, weight_decay=weight_decay, nesterov=nesterov, dtype=dtype)
    opt = Muon(params, foreach=True, **kw)
    for _ in range(STEPS):
        for i, p in enumerate(params):
            p.grad = torch.randn(p.shape, generator=gen)
            xs[i], states[i] = F.muon(xs[i], p.grad, states[i], **kw)
        opt.step()
    for p, x in zip(params, xs, strict=True):
        torch.testing.assert_close(p.detach(), x, rtol=0, atol=0)
