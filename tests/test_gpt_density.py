"""Tests for signlab.gpt.density: microbatch gradients and the noise density φ of a GPT."""

import numpy as np
import pytest
import torch

from signlab.gpt.data import byte_corpus
from signlab.gpt.density import coordinate_subsets, gradient_density, microbatch_gradients
from signlab.gpt.model import GPT, GPTConfig

CFG = GPTConfig(vocab_size=256, block_size=16, n_layer=1, n_head=2, n_embd=16)


pytestmark = pytest.mark.usefixtures("one_thread")


def test_rows_are_the_gradients_of_fresh_microbatches():
    tokens = byte_corpus()[:5000]
    model = GPT(CFG, seed=3)
    stacks = microbatch_gradients(model, tokens, n_samples=3, batch_size=4, seed=7)
    gen = torch.Generator().manual_seed(7)
    for k in range(3):
        starts = torch.randint(len(tokens) - 16, (4,), generator=gen).numpy()
        chunk = torch.tensor(np.stack([tokens[s : s + 17] for s in starts]), dtype=torch.int64)
        model.zero_grad()
        model(chunk[:, :-1], chunk[:, 1:])[1].backward()
        for name, p in model.named_parameters():
            torch.testing.assert_close(stacks[name][k], p.grad.flatten())
    model.zero_grad(set_to_none=True)
    microbatch_gradients(model, tokens, n_samples=2, batch_size=2, seed=1)
    assert all(p.grad is None for p in model.parameters()) and model.training


def test_density_matches_explicit_formula():
    rng = np.random.default_rng(4)
    stacks = {
        "a": torch.tensor(rng.normal(size=(20, 30)) * rng.uniform(0.1, 3, size=30)),
        "b": torch.tensor(rng.standard_t(3, size=(20, 7))),
    }

    def phi(samples):
        sigma = samples.std(axis=0, ddof=1)
        return np.abs(sigma).sum() ** 2 / (sigma.size * (sigma**2).sum())

    overall, per = gradient_density(stacks)
    both = np.concatenate([stacks["a"].numpy(), stacks["b"].numpy()], axis=1)
    assert np.isclose(overall, phi(both))
    assert np.isclose(per["a"], phi(stacks["a"].numpy()))
    assert np.isclose(per["b"], phi(stacks["b"].numpy()))
    assert 1 / 37 <= overall <= 1


def test_subsets_keep_the_same_fraction_of_each_tensor():
    shapes = {"w": torch.Size([100, 50]), "b": torch.Size([50]), "e": torch.Size([1000, 10])}
    gen = torch.Generator().manual_seed(0)
    assert coordinate_subsets(shapes, 20_000, gen) == dict.fromkeys(shapes)
    subsets = coordinate_subsets(shapes, 1505, gen)
    assert [len(subsets[k]) for k in ("w", "b", "e")] == [500, 5, 1000]
    for k, idx in subsets.items():
        assert len(set(idx.tolist())) == len(idx) and int(idx.max()) < np.prod(shapes[k])
        assert torch.equal(idx, idx.sort().values)


def test_subsampled_stacks_pick_the_listed_coordinates():
    tokens = byte_corpus()[:3000]
    model = GPT(CFG, seed=5)
    small = microbatch_gradients(model, tokens, n_samples=2, batch_size=2, seed=9, max_coords=500)
    assert 400 <= sum(s.shape[1] for s in small.values()) <= 560
    gen = torch.Generator().manual_seed(9)
    subsets = coordinate_subsets({n: p.shape for n, p in model.named_parameters()}, 500, gen)
    for k in range(2):
        starts = torch.randint(len(tokens) - 16, (2,), generator=gen).numpy()
        chunk = torch.tensor(np.stack([tokens[s : s + 17] for s in starts]), dtype=torch.int64)
        model.zero_grad()
        model(chunk[:, :-1], chunk[:, 1:])[1].backward()
        for name, p in model.named_parameters():
            torch.testing.assert_close(small[name][k], p.grad.flatten()[subsets[name]])
