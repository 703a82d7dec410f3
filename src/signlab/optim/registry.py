"""The one registry of optimizers: every place that offers an optimizer by name reads it from here.

Each :class:`Entry` names a rule of :mod:`signlab.optim.functional` and says everything the rest of
the library needs to know about it:

- the simulation engine's method of that name (:data:`signlab.sim.engine.METHODS`): its default
  keywords there, whether it moves each coordinate on its own (``separable``), how many stochastic
  gradients one step evaluates (``gradients_per_step``) and whether its step is affine in the step
  size (``lr_affine``, which lets :func:`signlab.sim.engine.tune` run a grid of step sizes as one
  population; ``tests/test_registry.py`` checks the claim for every entry);
- how to train a whole network with it (``network``: the GPT factory
  :func:`signlab.gpt.optimizers.make_optimizer` and the presets' learning rates ``lr``, one per
  preset name of :mod:`signlab.gpt.presets`).

Adding an optimizer: its rule and :class:`~signlab.optim.spec.Spec` in ``functional.py``; its
in-place twin in ``_fused.py`` and a ``torch.optim`` class in ``sign.py`` (both optional); one
:class:`Entry` in :data:`REGISTRY` below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from signlab import _validate
from signlab.geometry.ns_schedules import NS_SCHEDULES
from signlab.optim import functional as F
from signlab.optim.functional import Rule
from signlab.optim.muon import ADAMW_DEFAULTS, MuonWithAdamW, muon_param_groups
from signlab.optim.sign import Lion, SignSGD, Signum

Network = Callable[..., torch.optim.Optimizer]
"""``network(model, lr, weight_decay, **options) -> torch.optim.Optimizer`` over a whole model."""

SGD_MOMENTUM = 0.9
"""The paper's SGD baseline on networks: heavy-ball momentum 0.9 (torch.optim.SGD's default is 0)."""


@dataclass(frozen=True)
class Entry:
    """One optimizer of the registry (see the module docstring for what reads each field)."""

    name: str
    rule: Rule
    engine: Mapping[str, Any] = field(default_factory=dict)
    """The simulation engine's keywords where they differ from the rule's defaults."""
    separable: bool = True
    """The rule moves each coordinate with that coordinate's gradient alone."""
    gradients_per_step: float = 1.0
    """Stochastic gradients one step evaluates per sample of its batch."""
    lr_affine: bool = True
    """rule(x, g; η) = x + η·(rule(x, g; 1) − x) with a state that does not depend on η."""
    network: Network | None = None
    """How a whole network trains with it (None: simulations only)."""
    lr: Mapping[str, float] = field(default_factory=dict)
    """Its learning rate in each GPT preset, by preset name (:mod:`signlab.gpt.presets`)."""

    def __post_init__(self) -> None:
        if self.name != self.rule.spec.optimizer:
            raise ValueError(f"entry {self.name!r} names the rule of {self.rule.spec.optimizer!r}")
        _validate.positive("gradients_per_step", self.gradients_per_step)
        unknown = set(self.engine) - set(self.rule.spec.names)
        if unknown:
            raise ValueError(f"{self.name}: the rule takes no {', '.join(sorted(unknown))}")
        if self.lr and self.network is None:
            raise ValueError(f"{self.name}: learning rates for networks, but no network factory")


def decay_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two parameter groups: matrices with ``weight_decay``, vectors (biases, gains) with 0.

    GPT-2's convention: weight decay applies to the matrices (embeddings and linear weights,
    ``p.dim() >= 2``) and never to biases or LayerNorm gains.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


def _decayed(cls: Callable[..., torch.optim.Optimizer], **fixed: Any) -> Network:
    """A network factory: ``cls`` over :func:`decay_groups`, with the keywords ``fixed``."""

    def network(model: nn.Module, lr: float, weight_decay: float, **_: Any):
        return cls(decay_groups(model, weight_decay), lr=lr, **fixed)

    return network


def _adamw(model: nn.Module, lr: float, weight_decay: float, **_: Any) -> torch.optim.Optimizer:
    """AdamW with MuonWithAdamW's β (so an AdamW run and Muon's AdamW part agree); fused on CUDA."""
    fused = next(model.parameters()).device.type == "cuda"
    groups = decay_groups(model, weight_decay)
    return torch.optim.AdamW(groups, lr=lr, betas=ADAMW_DEFAULTS["betas"], fused=fused)


def _muon(
    model: nn.Module,
    lr: float,
    weight_decay: float,
    *,
    adamw_lr: float = 3e-4,
    msign: str = "jordan",
    ns_dtype: torch.dtype | None = None,
) -> torch.optim.Optimizer:
    """Muon on the hidden matrices, AdamW (``adamw_lr``, no decay) on embeddings, head, gains
    and biases (:func:`~signlab.optim.muon_param_groups`); ``msign`` "svd" or a Newton–Schulz
    schedule's name, ``ns_dtype`` its dtype (None: ``working_dtype``'s choice)."""
    muon_params, adamw_params = muon_param_groups(model)
    exact = _validate.choice("msign", msign, ("svd", *NS_SCHEDULES)) == "svd"
    return MuonWithAdamW(
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


REGISTRY: dict[str, Entry] = {
    e.name: e
    for e in (
        Entry(
            "sgd",
            F.sgd,
            network=_decayed(torch.optim.SGD, momentum=SGD_MOMENTUM),
            # cpu-tiny: best of a 3-point grid (final val loss of one 300-step run at width 64);
            # colab-t4 and gpt2-124m: the paper's rate
            lr={"cpu-tiny": 0.1, "colab-t4": 1e-2, "gpt2-124m": 1e-2},
        ),
        Entry(
            "signsgd",
            F.signsgd,
            network=_decayed(SignSGD),
            lr={"cpu-tiny": 3e-3, "colab-t4": 1e-4, "gpt2-124m": 1e-4},  # 1e-4: the paper's
        ),
        Entry(
            "signum",
            F.signum,
            network=_decayed(Signum),
            lr={"cpu-tiny": 1e-3, "colab-t4": 1e-4, "gpt2-124m": 1e-4},  # by analogy, untuned
        ),
        Entry(
            "lion",
            F.lion,
            network=_decayed(Lion),
            lr={"cpu-tiny": 1e-3, "colab-t4": 1e-4, "gpt2-124m": 1e-4},  # by analogy, untuned
        ),
        Entry(
            "adamw",
            F.adamw,
            network=_adamw,
            lr={"cpu-tiny": 3e-3, "colab-t4": 1e-3, "gpt2-124m": 6e-4},  # the last two untuned
        ),
        Entry(
            "muon",
            F.muon,
            # the theory's Muon in simulations: exact msign, no momentum, no shape scaling
            engine={"momentum": 0.0, "nesterov": False, "method": "svd", "adjust_lr_fn": "none"},
            separable=False,
            network=_muon,
            lr={"cpu-tiny": 0.02, "colab-t4": 0.02, "gpt2-124m": 0.02},  # K. Jordan's
        ),
        Entry("normalized_sgd", F.normalized_sgd, separable=False),
        Entry("steepest_descent", F.steepest_descent, separable=False),
    )
}
"""Every optimizer signlab knows by name, in the order the book lists them."""

NETWORK_OPTIMIZERS = tuple(name for name, e in REGISTRY.items() if e.network is not None)
"""The names that can train a network (the GPT's ``--optimizer`` choices)."""


def learning_rates(preset: str) -> dict[str, float]:
    """The learning rate of every network optimizer in the GPT preset called ``preset``."""
    return {name: e.lr[preset] for name, e in REGISTRY.items() if preset in e.lr}
