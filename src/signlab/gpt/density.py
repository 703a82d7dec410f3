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

from contextlib import nullcontext

import numpy as np
import torch
from torch import nn

from signlab import _validate
from signlab.gpt.data import batch_starts, windows


def coordinate_subsets(
    shapes: dict[str, torch.Size], max_coords: int, generator: torch.Generator
) -> dict[str, torch.Tensor | None]:
    """Per tensor, the kept flat indices (``None``: all); the same fraction max_coords/d of each."""
    max_coords = _validate.integer("max_coords", max_coords)
    d = sum(int(np.prod(s)) for s in shapes.values())
    if d <= max_coords:
        return dict.fromkeys(shapes)
    frac = max_coords / d
    subsets = {}
    for name, shape in shapes.items():
        d_p = int(np.prod(shape))
        k = max(1, int(round(frac * d_p)))
        subsets[name] = torch.randperm(d_p, generator=generator)[:k].sort().values
    return subsets


def microbatch_gradients(
    model: nn.Module,
    tokens: np.ndarray,
    n_samples: int,
    batch_size: int,
    seed: int,
    max_coords: int = 1 << 20,
    autocast=nullcontext,
    forward: nn.Module | None = None,
) -> dict[str, torch.Tensor]:
    """Stacks of ``n_samples`` microbatch gradients, one (n, d_p) float32 CPU tensor per parameter.

    Each microbatch holds ``batch_size`` windows drawn with a generator seeded by ``seed``, so the
    measurement never touches the training RNG; gradients are cleared before and after.
    ``forward`` is the module to call (a compiled or DDP wrapper of ``model``; default ``model``).
    """
    n_samples = _validate.integer("n_samples", n_samples, low=2)
    batch_size = _validate.integer("batch_size", batch_size)
    net = model if forward is None else forward
    block = model.config.block_size
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    gen = torch.Generator().manual_seed(_validate.integer("seed", seed, low=0))
    subsets = coordinate_subsets({n: p.shape for n, p in params.items()}, max_coords, gen)
    width = {n: (p.numel() if subsets[n] is None else len(subsets[n])) for n, p in params.items()}
    stacks = {n: torch.empty(n_samples, width[n]) for n in params}
    device = next(model.parameters()).device
    was_training = net.training
    net.eval()
    sync_off = getattr(net, "no_sync", nullcontext)
    model.zero_grad(set_to_none=True)
    for k in range(n_samples):
        x, y = windows(tokens, batch_starts(len(tokens), block, batch_size, gen), block)
        with sync_off(), autocast():
            _, loss = net(x.to(device), y.to(device))
        loss.backward()
        for n, p in params.items():
            g = p.grad.detach().flatten()
            stacks[n][k] = (g if subsets[n] is None else g[subsets[n].to(device)]).float().cpu()
        model.zero_grad(set_to_none=True)
    net.train(was_training)
    return stacks


def gradient_density(stacks: dict[str, torch.Tensor]) -> tuple[float, dict[str, float]]:
    """(overall φ, {tensor name: φ}) from per-tensor gradient stacks, via ``signlab.sim.noise``.

    Overall φ is the density of the concatenated noise-scale vector σ = (σ_p)_p over all tensors.
    """
    from signlab.sim.noise import estimate_density

    per_tensor = {n: float(estimate_density(s.double())) for n, s in stacks.items()}
    overall = float(estimate_density(torch.cat([s.double() for s in stacks.values()], dim=1)))
    return overall, per_tensor
