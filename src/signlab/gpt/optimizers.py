"""Optimizers by name for GPT training: :func:`make_optimizer` reads them from the registry.

Every name of :data:`signlab.gpt.presets.OPTIMIZERS` is an entry of
:data:`signlab.optim.registry.REGISTRY` whose ``network`` builds the optimizer for a whole model,
with the GPT-2 weight-decay convention (:func:`~signlab.optim.registry.decay_groups`: matrices
decayed, biases and gains not):

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

from signlab import _validate
from signlab.gpt.presets import OPTIMIZERS
from signlab.optim.registry import REGISTRY, SGD_MOMENTUM, decay_groups

__all__ = ["SGD_MOMENTUM", "decay_groups", "make_optimizer"]


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
    network = REGISTRY[_validate.choice("optimizer", name, OPTIMIZERS)].network
    assert network is not None  # OPTIMIZERS holds the entries that have one
    lr = _validate.positive("lr", lr)
    weight_decay = _validate.nonnegative("weight_decay", weight_decay)
    return network(model, lr, weight_decay, adamw_lr=adamw_lr, msign=msign, ns_dtype=ns_dtype)
