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


def test_stacked_gradients_of_any_model_are_its_minibatch_gradients():
    from signlab.gpt.density import stacked_gradients

    gen_data = torch.Generator().manual_seed(21)
    x, y = torch.randn(50, 3, generator=gen_data), torch.randn(50, generator=gen_data)
    model = torch.nn.Linear(3, 1)

    def loss(gen):
        idx = torch.randint(50, (5,), generator=gen)
        return ((model(x[idx]).squeeze(1) - y[idx]) ** 2).mean()

    stacks = stacked_gradients(model, loss, n_samples=4, seed=8)
    gen = torch.Generator().manual_seed(8)
    w, b = model.weight.detach()[0], model.bias.detach()[0]
    for k in range(4):
        idx = torch.randint(50, (5,), generator=gen)
        r = x[idx] @ w + b - y[idx]  # d/dw mean (r²) = 2 mean(r x), d/db = 2 mean(r)
        torch.testing.assert_close(stacks["weight"][k], 2 * (r[:, None] * x[idx]).mean(0))
        torch.testing.assert_close(stacks["bias"][k], 2 * r.mean().reshape(1))


def test_train_mode_draws_restore_batch_norm_statistics():
    from signlab.gpt.density import stacked_gradients

    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
    data = torch.randn(40, 4, generator=torch.Generator().manual_seed(2))
    before = {n: b.clone() for n, b in model.named_buffers()}
    model.eval()

    def loss(gen):
        assert model.training  # batch statistics, as in a training step
        return model(data[torch.randint(40, (8,), generator=gen)]).pow(2).sum()

    stacked_gradients(model, loss, n_samples=3, seed=0, train_mode=True)
    assert not model.training
    for n, b in model.named_buffers():
        assert torch.equal(b, before[n]), n


def _phi(sigma):
    sigma = np.asarray(sigma, dtype=float).ravel()
    return np.abs(sigma).sum() ** 2 / (sigma.size * (sigma**2).sum())


def test_row_density_is_phi_of_the_selected_rows():
    from signlab.gpt.density import row_density

    rng = np.random.default_rng(5)
    samples = rng.normal(size=(10, 6, 3)) * rng.uniform(0.1, 5, size=(6, 1))
    rows = np.array([True, False, True, True, False, False])
    sigma = samples.std(axis=0, ddof=1)
    assert np.isclose(row_density(torch.tensor(samples), torch.tensor(rows)), _phi(sigma[rows]))
    assert np.isclose(row_density(torch.tensor(samples), [1, 4]), _phi(sigma[[1, 4]]))
    with pytest.raises(ValueError, match="shape"):
        row_density(torch.tensor(samples[:, :, 0]), rows)


def test_embedding_split_separates_bytes_that_occur_from_bytes_that_never_do():
    from signlab.gpt.density import embedding_density_split

    tokens = byte_corpus()[:4000]
    model = GPT(CFG, seed=6)
    split = embedding_density_split(model, tokens, n_samples=4, batch_size=3, seed=12)
    present = np.unique(tokens)
    assert split["n_used"] == len(present) and split["n_rows"] == 256
    stacks = microbatch_gradients(model, tokens, n_samples=4, batch_size=3, seed=12)
    rows = stacks["wte.weight"].numpy().reshape(4, 256, 16)
    sigma = rows.std(axis=0, ddof=1)
    used = np.zeros(256, dtype=bool)
    used[present] = True
    assert np.isclose(split["all"], _phi(sigma))
    assert np.isclose(split["used"], _phi(sigma[used])) and np.isclose(
        split["unused"], _phi(sigma[~used])
    )
    assert np.isclose(split["scale_ratio"], sigma[~used].mean() / sigma[used].mean())
    assert split["scale_ratio"] < 1  # tied head: absent bytes get only the small softmax term


def test_subsample_densities_use_the_first_draws(rng):
    from signlab.gpt.density import subsample_densities

    stacks = {
        "a": torch.from_numpy(rng.standard_normal((8, 5))),
        "b": torch.from_numpy(rng.standard_normal((8, 3)) * 10),
    }
    got = subsample_densities(stacks, (4, 8))
    for n in (4, 8):  # φ of the per-coordinate sample std of the first n rows, written out
        sigma = np.concatenate([s[:n].numpy().std(axis=0, ddof=1) for s in stacks.values()])
        assert got[str(n)] == pytest.approx(sigma.sum() ** 2 / (sigma.size * (sigma**2).sum()))
    with pytest.raises(ValueError, match="n must be at most the number of draws 8"):
        subsample_densities(stacks, (9,))


def test_sparse_example_density_is_biased_low_for_sparse_examples():
    from signlab.gpt.density import sparse_example_density

    dense = sparse_example_density(1.0, n=16, seed=1)
    sparse = sparse_example_density(0.01, n=16, seed=1)
    # Gaussian draws: E[σ̂]²/E[σ̂²] for n = 16 is c₄(16)² ≈ 0.967 (c₄ the unbiasing constant)
    from math import gamma, sqrt

    c4 = sqrt(2 / 15) * gamma(8) / gamma(7.5)
    assert dense == pytest.approx(c4**2, abs=0.005)
    assert sparse < 0.75 < dense
    assert sparse_example_density(0.01, n=128, seed=1) > 0.93
