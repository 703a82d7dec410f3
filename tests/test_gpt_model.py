"""Tests for signlab.gpt.model: shapes, parameter count, causality, attention, init, loss, FLOPs."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from signlab.gpt.model import GPT, GPTConfig, causal_lm_loss, flops_per_token

pytestmark = pytest.mark.usefixtures("one_thread")


CFG = GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=4, n_embd=32)


def _ids(seed, b=3, t=16, v=50):
    return torch.randint(v, (b, t), generator=torch.Generator().manual_seed(seed))


def test_logits_shape_and_tied_head():
    model = GPT(CFG, seed=1)
    assert model(_ids(0)).shape == (3, 16, 50)
    assert model.lm_head.weight is model.wte.weight


def test_parameter_count_matches_gpt2_formula():
    v, t, n_layer, d = 97, 24, 3, 48
    model = GPT(GPTConfig(vocab_size=v, block_size=t, n_layer=n_layer, n_head=6, n_embd=d))
    per_block = 12 * d * d + 13 * d  # qkv 3d²+3d, proj d²+d, fc 4d²+4d, proj 4d²+d, 2 LNs 4d
    total = v * d + t * d + n_layer * per_block + 2 * d
    assert model.num_params(non_embedding=False) == total
    assert model.num_params() == total - t * d


def test_causal_future_tokens_do_not_change_past_logits():
    model = GPT(CFG, seed=2)
    x = _ids(3)
    y = x.clone()
    y[:, 10:] = (y[:, 10:] + 7) % 50
    a, b = model(x), model(y)
    torch.testing.assert_close(a[:, :10], b[:, :10])
    assert not torch.allclose(a[:, 10:], b[:, 10:])


def test_attention_matches_explicit_masked_softmax():
    model = GPT(CFG, seed=4)
    attn = model.blocks[0].attn
    x = torch.randn(2, 16, 32, generator=torch.Generator().manual_seed(5))
    w, bias = attn.c_attn.weight, attn.c_attn.bias
    q, k, v = (x @ w.T + bias).split(32, dim=2)
    heads = [z.view(2, 16, 4, 8).permute(0, 2, 1, 3) for z in (q, k, v)]
    scores = heads[0] @ heads[1].transpose(-1, -2) / math.sqrt(8)
    scores = scores.masked_fill(torch.triu(torch.ones(16, 16, dtype=torch.bool), 1), -np.inf)
    y = (scores.softmax(-1) @ heads[2]).permute(0, 2, 1, 3).reshape(2, 16, 32)
    expected = y @ attn.c_proj.weight.T + attn.c_proj.bias
    torch.testing.assert_close(attn(x), expected, rtol=1e-5, atol=1e-6)


def test_gpt2_initialisation_scales():
    cfg = GPTConfig(vocab_size=256, block_size=64, n_layer=4, n_head=4, n_embd=256)
    model = GPT(cfg, seed=6)
    fc = model.blocks[1].mlp.c_fc.weight
    proj = model.blocks[1].mlp.c_proj.weight
    assert abs(fc.std().item() - 0.02) < 1e-3
    assert abs(proj.std().item() - 0.02 / math.sqrt(8)) < 1e-3
    assert model.blocks[0].attn.c_attn.bias.abs().max() == 0
    assert torch.equal(GPT(cfg, seed=6).wte.weight, model.wte.weight)
    assert not torch.equal(GPT(cfg, seed=7).wte.weight, model.wte.weight)


def test_initial_loss_is_near_log_vocab():
    model = GPT(CFG, seed=8)
    _, loss = model(_ids(9), _ids(10))
    assert abs(loss.item() - math.log(50)) < 0.05


def test_loss_matches_explicit_log_softmax():
    gen = torch.Generator().manual_seed(11)
    logits = torch.randn(2, 5, 7, generator=gen)
    targets = torch.randint(7, (2, 5), generator=gen)
    logp = logits - logits.exp().sum(-1, keepdim=True).log()
    expected = -logp.gather(-1, targets[..., None]).mean()
    torch.testing.assert_close(causal_lm_loss(logits, targets), expected)


def test_flops_per_token_matches_counted_matmuls():
    from torch.utils.flop_counter import FlopCounterMode

    cfg = GPTConfig(vocab_size=64, block_size=32, n_layer=2, n_head=4, n_embd=128)
    model = GPT(cfg, seed=12)
    x = _ids(13, b=2, t=32, v=64)
    with FlopCounterMode(display=False) as counter:
        _, loss = model(x, x)
        loss.backward()
    matmul_params = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    counted = counter.get_total_flops() / x.numel()
    attention = 12 * cfg.n_layer * cfg.block_size * cfg.n_embd
    # The counter sees only matmuls: 6 per weight per token, plus attention if SDPA is counted.
    assert counted in (
        pytest.approx(6 * matmul_params, rel=1e-6),
        pytest.approx(6 * matmul_params + attention, rel=1e-6),
    )
    n = model.num_params()
    assert flops_per_token(cfg, n) == pytest.approx(6 * n + attention)
    assert abs(n - matmul_params) / n < 0.02  # biases and gains are the only difference


@pytest.mark.parametrize(
    "kwargs",
    [{"n_embd": 30, "n_head": 4}, {"n_layer": 0}, {"vocab_size": -1}, {"dropout": 1.5}],
)
def test_bad_config_raises(kwargs):
    with pytest.raises(ValueError):
        GPTConfig(**kwargs)


def test_sequence_longer_than_context_raises():
    with pytest.raises(ValueError, match="block_size"):
        GPT(CFG)(_ids(0, t=17))


def test_dropout_only_in_training_mode():
    model = GPT(
        GPTConfig(vocab_size=50, block_size=16, n_layer=1, n_head=2, n_embd=16, dropout=0.5)
    )
    x = _ids(14)
    model.eval()
    torch.testing.assert_close(model(x), model(x))
    model.train()
    torch.manual_seed(0)
    assert not torch.allclose(model(x), model(x))
    assert F.softmax(model(x), -1).isfinite().all()


def test_mlp_is_w2_gelu_w1_at_every_position(generator):
    """MLP(x) = W₂ GELU(W₁x + b₁) + b₂ with GELU's tanh form, written out here."""
    from signlab.gpt.model import MLP

    mlp = MLP(GPTConfig(vocab_size=8, block_size=4, n_layer=1, n_head=2, n_embd=6))
    x = torch.randn(2, 4, 6, generator=generator)
    h = x @ mlp.c_fc.weight.T + mlp.c_fc.bias
    assert h.shape == (2, 4, 24)  # hidden width 4d
    gelu = 0.5 * h * (1 + torch.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h**3)))
    torch.testing.assert_close(mlp(x), gelu @ mlp.c_proj.weight.T + mlp.c_proj.bias)
    torch.testing.assert_close(mlp(x[:, 2:3]), mlp(x)[:, 2:3])  # position-wise


def test_attention_and_block_are_causal():
    """Changing the last token changes no output at earlier positions (CausalSelfAttention, Block)."""
    from signlab.gpt.model import Block, CausalSelfAttention

    torch.manual_seed(0)  # the modules' default initialisation draws from torch's global generator
    cfg = GPTConfig(vocab_size=32, block_size=8, n_layer=1, n_head=2, n_embd=16)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 8, 16, generator=gen)
    y = x.clone()
    y[:, -1] += torch.randn(2, 16, generator=gen)
    for module in (CausalSelfAttention(cfg), Block(cfg)):
        module.eval()
        a, b = module(x), module(y)
        assert torch.allclose(a[:, :-1], b[:, :-1], atol=1e-6)
        assert not torch.allclose(a[:, -1], b[:, -1])


def test_config_counts_parameters_in_closed_form():
    for bias in (True, False):
        cfg = GPTConfig(vocab_size=50, block_size=16, n_layer=3, n_head=4, n_embd=32, bias=bias)
        assert GPT(cfg).num_params() == cfg.num_params()
