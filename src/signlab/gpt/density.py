"""The noise density φ of a network's stochastic gradient, overall and per parameter tensor.

At fixed weights x, draw n independent microbatch gradients g⁽¹⁾…g⁽ⁿ⁾, estimate the per-coordinate
noise scale σ_i from their spread, and report

    φ(σ) = ‖σ‖₁² / (d ‖σ‖₂²) ∈ [1/d, 1]

(Tao et al., 2026): φ near 1 means the noise is spread evenly over the coordinates, φ near 1/d
that a few coordinates carry it all, which is where SignSGD's bound beats SGD's by up to d.
The paper measures it with 128 minibatch gradients over all parameters along SGD's trajectory.

For large models the n × d stack does not fit in memory, so at most ``max_coords`` coordinates
are kept: the same fraction of every tensor, chosen uniformly at random (a stratified uniform
subsample), so overall and per-tensor φ are estimated from a fair sample of coordinates.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from signlab import _validate
from signlab.gpt.data import batch_starts, windows

if TYPE_CHECKING:
    from signlab.gpt.model import GPT


def coordinate_subsets(
    shapes: dict[str, torch.Size], max_coords: int, generator: torch.Generator
) -> dict[str, torch.Tensor | None]:
    """Per tensor, the kept flat indices (``None``: all); the same fraction max_coords/d of each."""
    max_coords = _validate.integer("max_coords", max_coords)
    d = sum(int(np.prod(s)) for s in shapes.values())
    if d <= max_coords:
        return dict.fromkeys(shapes)
    frac = max_coords / d
    subsets: dict[str, torch.Tensor | None] = {}
    for name, shape in shapes.items():
        d_p = int(np.prod(shape))
        k = max(1, int(round(frac * d_p)))
        subsets[name] = torch.randperm(d_p, generator=generator)[:k].sort().values
    return subsets


def stacked_gradients(
    model: nn.Module,
    microbatch_loss: Callable[[torch.Generator], torch.Tensor],
    n_samples: int,
    seed: int,
    max_coords: int = 1 << 20,
    train_mode: bool = False,
) -> dict[str, torch.Tensor]:
    """Stacks of ``n_samples`` minibatch gradients of any model, one (n, d_p) float32 CPU tensor
    per parameter: row k is ∇ of ``microbatch_loss(gen)``, a loss on a fresh minibatch drawn with
    the private generator ``gen`` (seeded by ``seed``), at the model's current weights.

    This is the one estimator the chapter uses for every network (the GPT and the CNN), so their
    φ values differ only by what they measure. The model is put in eval mode during the draws
    (no dropout) unless ``train_mode`` (batch normalisation then uses each minibatch's own
    statistics, as in the training step; its running averages are restored afterwards), and
    its mode is restored; gradients are cleared before and after.
    """
    n_samples = _validate.integer("n_samples", n_samples, low=2)
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    gen = torch.Generator().manual_seed(_validate.integer("seed", seed, low=0))
    subsets = coordinate_subsets({n: p.shape for n, p in params.items()}, max_coords, gen)
    width = {n: (p.numel() if (s := subsets[n]) is None else len(s)) for n, p in params.items()}
    stacks = {n: torch.empty(n_samples, width[n]) for n in params}
    was_training = model.training
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    model.train(train_mode)
    model.zero_grad(set_to_none=True)
    for k in range(n_samples):
        microbatch_loss(gen).backward()
        for n, p in params.items():
            g = _grad(p, n).detach().flatten()
            kept = subsets[n]
            stacks[n][k] = (g if kept is None else g[kept.to(g.device)]).float().cpu()
        model.zero_grad(set_to_none=True)
    with torch.no_grad():
        for n, b in model.named_buffers():
            b.copy_(buffers[n])
    model.train(was_training)
    return stacks


def _grad(param: torch.Tensor, name: str) -> torch.Tensor:
    if param.grad is None:
        raise ValueError(f"microbatch_loss gave parameter {name} no gradient")
    return param.grad


def microbatch_gradients(
    model: GPT,
    tokens: np.ndarray,
    n_samples: int,
    batch_size: int,
    seed: int,
    max_coords: int = 1 << 20,
    autocast=nullcontext,
    forward: nn.Module | None = None,
) -> dict[str, torch.Tensor]:
    """:func:`stacked_gradients` of a GPT: each microbatch is ``batch_size`` random windows of
    ``tokens``, drawn with the private generator, so the measurement never touches the training
    RNG. ``forward`` is the module to call (a compiled or DDP wrapper of ``model``; default
    ``model``); under DDP the gradient all-reduce is switched off.
    """
    batch_size = _validate.integer("batch_size", batch_size)
    net = model if forward is None else forward
    block = model.config.block_size
    device = next(model.parameters()).device
    sync_off = getattr(net, "no_sync", nullcontext)

    def loss(gen: torch.Generator) -> torch.Tensor:
        x, y = windows(tokens, batch_starts(len(tokens), block, batch_size, gen), block)
        with sync_off(), autocast():
            return net(x.to(device), y.to(device))[1]

    was_training = net.training
    net.eval()
    try:
        return stacked_gradients(model, loss, n_samples, seed, max_coords)
    finally:
        net.train(was_training)


def row_density(samples: torch.Tensor, rows) -> float:
    """φ of the noise scales of some rows of a matrix parameter, from its gradient samples.

    ``samples`` has shape (n, R, C): n gradient samples of an R×C weight; ``rows`` selects rows
    (a boolean mask of length R, or row indices). σ is estimated per coordinate over all rows,
    as :func:`gradient_density` does, then φ(σ) = ‖σ‖₁²/(D‖σ‖₂²) is taken over the D = k·C
    coordinates of the k selected rows. The chapter uses it to split the token embedding into
    the rows of bytes that occur in the text and the rows of bytes that never do.
    """
    from signlab.geometry import density
    from signlab.sim.noise import estimate_sigma

    if samples.dim() != 3:
        raise ValueError(f"samples must have shape (n, R, C) (got {tuple(samples.shape)})")
    sigma = estimate_sigma(samples.double())[torch.as_tensor(rows)]
    return float(density(sigma.reshape(-1)))


def gradient_density(stacks: dict[str, torch.Tensor]) -> tuple[float, dict[str, float]]:
    """(overall φ, {tensor name: φ}) from per-tensor gradient stacks, via ``signlab.sim.noise``.

    Overall φ is the density of the concatenated noise-scale vector σ = (σ_p)_p over all tensors.
    """
    from signlab.sim.noise import estimate_density

    per_tensor = {n: float(estimate_density(s.double())) for n, s in stacks.items()}
    overall = float(estimate_density(torch.cat([s.double() for s in stacks.values()], dim=1)))
    return overall, per_tensor


def subsample_densities(
    stacks: dict[str, torch.Tensor], counts: tuple[int, ...]
) -> dict[str, float]:
    """{str(n): overall φ̂ from only the first n draws of the stacks}, for each n in ``counts``.

    φ̂ is a ratio of sums of estimated scales σ̂_i, and σ̂_i from few draws is noisy: a coordinate
    whose per-example gradient is mostly zero gets σ̂_i = 0 in most small samples and a large
    σ̂_i in a few, which spreads σ̂ unevenly and pulls φ̂ below the true φ. Computing φ̂ from
    the first 16 of 64 draws and from all 64, at the same weights, measures that bias directly.
    """
    from signlab.sim.noise import estimate_density

    out = {}
    for n in counts:
        n = _validate.integer("n", n, low=2)
        rows = [s[:n].double() for s in stacks.values()]
        if rows[0].shape[0] < n:
            raise ValueError(f"n must be at most the number of draws {rows[0].shape[0]} (got {n})")
        out[str(n)] = float(estimate_density(torch.cat(rows, dim=1)))
    return out


def embedding_density_split(
    model: GPT, tokens: np.ndarray, n_samples: int, batch_size: int, seed: int
) -> dict:
    """φ of the token embedding's noise over all its rows, over the rows of tokens that occur in
    ``tokens`` and over the rows of tokens that never do.

    The head is tied to the embedding (logits = h Eᵀ), so every row of E gets a gradient from the
    softmax of every position, (p_v − 1[v = target]) h, even a token absent from the batch; an
    absent token's row gets only that small output-side term, and its noise is small. Returns
    ``{"all", "used", "unused"}`` densities, ``n_used``, ``n_rows``, and ``scale_ratio``, the mean
    noise scale σ_i of an unused row's coordinates over that of a used row's.
    """
    from signlab.sim.noise import estimate_sigma

    stacks = microbatch_gradients(model, tokens, n_samples, batch_size, seed=seed)
    emb = model.wte.weight
    samples = stacks["wte.weight"].reshape(n_samples, *emb.shape)
    used = torch.zeros(emb.shape[0], dtype=torch.bool)
    used[torch.from_numpy(np.unique(np.asarray(tokens)).astype(np.int64))] = True
    sigma = estimate_sigma(samples.double())
    unused = ~used
    return {
        "all": row_density(samples, torch.ones_like(used)),
        "used": row_density(samples, used),
        "unused": row_density(samples, unused) if unused.any() else None,
        "n_used": int(used.sum()),
        "n_rows": int(emb.shape[0]),
        "scale_ratio": float(sigma[unused].mean() / sigma[used].mean()) if unused.any() else None,
    }


def sparse_example_density(
    p: float, n: int, batch: int = 16, d: int = 20_000, seed: int = 0
) -> float:
    """φ̂ from ``n`` minibatch gradients of noise whose true φ is exactly 1, but sparse per example.

    Every coordinate has the same law, so σ is constant and φ(σ) = 1: each example's gradient
    coordinate is a standard normal with probability ``p`` and 0 otherwise, and a minibatch
    averages ``batch`` examples. With p = 1 the draws are Gaussian and φ̂ misses 1 only by the
    noise of σ̂ from n draws; with small p most minibatch coordinates are exactly 0 and a few are
    large, σ̂ is spread unevenly, and φ̂ falls well below 1. This is the bias a small n gives
    on a network whose per-example gradients are sparse (a ReLU layer, an embedding row).
    """
    from signlab.gpt.schedule import fraction
    from signlab.sim.noise import estimate_density

    p = fraction("p", p)
    n = _validate.integer("n", n, low=2)
    batch = _validate.integer("batch", batch)
    rng = np.random.default_rng(_validate.integer("seed", seed, low=0))
    active = rng.binomial(batch, p, size=(n, _validate.integer("d", d)))
    samples = np.sqrt(active) * rng.standard_normal((n, d)) / batch
    return float(estimate_density(samples))
