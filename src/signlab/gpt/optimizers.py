"""Optimizers by name for GPT training, with the GPT-2 weight-decay convention.

Weight decay applies to the matrices (embeddings and linear weights, ``p.dim() >= 2``) and never to
biases or LayerNorm gains, as in GPT-2 training. Names:

- ``sgd``: heavy-ball SGD, momentum 0.9 (the paper's baseline; ``torch.optim.SGD``'s default is 0);
- ``signsgd``: x ← x − η sign(g);  ``signum``: sign of the momentum;  ``lion``: Chen et al. (2023);
- ``adamw``: AdamW with β = (0.9, 0.95) (fused kernel on CUDA);
- ``muon``: Muon on the hidden 2-D weights, AdamW on embeddings, head, gains and biases
  (Jordan et al., 2024); its matrix sign by Newton–Schulz with a schedule of
  :data:`signlab.geometry.ns_schedules.NS_SCHEDULES` (default K. Jordan's quintic) or by SVD.

Signum, Lion and Muon take their defaults from their specs in :mod:`signlab.optim` (μ = 0.9;
β = (0.9, 0.99); μ = 0.95), and AdamW its β from :data:`signlab.optim.muon.ADAMW_DEFAULTS`, the
β MuonWithAdamW uses for its AdamW groups, so that the ``adamw`` run and Muon's AdamW part agree.
"""

from __future__ import annotations

import torch
from torch import nn

from signlab import _validate, optim
from signlab.geometry.ns_schedules import NS_SCHEDULES
from signlab.gpt.presets import OPTIMIZERS
from signlab.optim.muon import ADAMW_DEFAULTS

SGD_MOMENTUM = 0.9
"""The paper's SGD baseline: heavy-ball momentum 0.9."""


def decay_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two parameter groups: matrices with ``weight_decay``, vectors (biases, gains) with 0."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


def make_optimizer(
    name: str,
    model: nn.Module,
    lr: float,
    weight_decay: float = 0.0,
    adamw_lr: float = 3e-4,
    msign: str = "jordan",
    ns_dtype: torch.dtype | None = None,
) -> torch.optim.Optimizer:
    """The optimizer called ``name`` over ``model``'s parameters (``ValueError`` lists valid names).

    ``adamw_lr`` is the AdamW learning rate that Muon uses for its non-matrix parameters;
    ``msign`` its matrix sign ("svd", or a Newton–Schulz schedule's name, e.g. "polar_express")
    and ``ns_dtype`` the Newton–Schulz dtype (None: ``working_dtype``'s choice).
    """
    _validate.choice("optimizer", name, OPTIMIZERS)
    lr = _validate.positive("lr", lr)
    weight_decay = _validate.nonnegative("weight_decay", weight_decay)
    fused = next(model.parameters()).device.type == "cuda"
    groups = decay_groups(model, weight_decay)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=SGD_MOMENTUM)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=ADAMW_DEFAULTS["betas"], fused=fused)
    if name == "signsgd":
        return optim.SignSGD(groups, lr=lr)
    if name == "signum":
        return optim.Signum(groups, lr=lr)
    if name == "lion":
        return optim.Lion(groups, lr=lr)
    muon_params, adamw_params = optim.muon_param_groups(model)
    exact = _validate.choice("msign", msign, ("svd", *NS_SCHEDULES)) == "svd"
    return optim.MuonWithAdamW(
        muon_params,
        adamw_params,
        lr=lr,
        adamw_lr=_validate.positive("adamw_lr", adamw_lr),
        weight_decay=weight_decay,
        adamw_weight_decay=0.0,
        method="svd" if exact else "newton_schulz",
        ns_coefficients="jordan" if exact else msign,
        dtype=ns_dtype,
    )
