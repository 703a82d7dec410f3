"""The Muon chapter's experiment helpers: the embedding identity over random instances, the tiny
language model and its training loop (signlab.experiments.muon)."""

import copy
import math

import pytest
import torch

from signlab.experiments.muon import TinyLM, msign_embedding_error, train_tiny_lm
from signlab.optim import MuonWithAdamW, muon_param_groups


def test_embedding_identity_holds_to_rounding(seed):
    worst = msign_embedding_error(50, seed=seed)
    assert 0.0 <= worst < 1e-10, f"seed {seed}: {worst}"


def test_embedding_error_is_reproducible():
    assert msign_embedding_error(20, seed=3) == msign_embedding_error(20, seed=3)


@pytest.mark.parametrize(
    ("kwargs", "name"), [({"trials": 0}, "trials"), ({"max_m": 0}, "max_m"), ({"seed": -1}, "seed")]
)
def test_embedding_error_rejects_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        msign_embedding_error(**kwargs)


def test_tiny_lm_is_tied_seeded_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    model = TinyLM(seed=0)
    assert torch.equal(torch.rand(3), expected)  # global state untouched
    assert model.lm_head.weight is model.embed.weight
    again, other = TinyLM(seed=0), TinyLM(seed=1)
    assert torch.equal(model.embed.weight, again.embed.weight)
    assert not torch.equal(model.embed.weight, other.embed.weight)
    logits = model(torch.tensor([1, 2, 3]))
    assert logits.shape == (3, 50)


def test_muon_param_groups_split_tiny_lm():
    hidden, other = muon_param_groups(TinyLM(vocab=20, width=8))
    assert sorted(tuple(p.shape) for p in hidden) == [(8, 32), (32, 8)]
    # embedding (tied head), two MLP biases, LayerNorm gain and bias
    assert sorted(tuple(p.shape) for p in other) == [(8,), (8,), (8,), (20, 8), (32,)]


def test_train_tiny_lm_records_the_loss_before_each_step():
    model = TinyLM(vocab=20, width=8, seed=2)
    # independent: the same sequence, the loss of the untrained model
    idx = torch.randint(0, 20, (16,), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        initial = float(torch.nn.functional.cross_entropy(model(idx[:-1]), idx[1:]))
    trained = copy.deepcopy(model)
    sgd = torch.optim.SGD(trained.parameters(), lr=0.5)
    losses = train_tiny_lm(trained, sgd, steps=3, length=16, seed=5)
    assert losses[0] == pytest.approx(initial, rel=1e-6)  # before the first step
    assert losses[1] != pytest.approx(initial, rel=1e-6)  # after it
    frozen = torch.optim.SGD(model.parameters(), lr=0.0)
    assert train_tiny_lm(model, frozen, steps=3, length=16, seed=5) == pytest.approx(
        [initial] * 3, rel=1e-6
    )
    assert math.isfinite(losses[-1])


def test_muon_with_adamw_lowers_the_tiny_lm_loss():
    model = TinyLM(seed=0)
    hidden, other = muon_param_groups(model)
    opt = MuonWithAdamW(hidden, other, lr=0.02, adamw_lr=3e-3)
    losses = train_tiny_lm(model, opt, steps=30, seed=0)
    assert len(losses) == 30 and losses[-1] < 0.9 * losses[0]


@pytest.mark.parametrize(("kwargs", "name"), [({"steps": 0}, "steps"), ({"length": 1}, "length")])
def test_train_tiny_lm_rejects_bad_input(kwargs, name):
    model = TinyLM()
    with pytest.raises(ValueError, match=name):
        train_tiny_lm(model, torch.optim.SGD(model.parameters(), lr=0.1), **kwargs)
