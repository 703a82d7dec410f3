"""Muon as a ``torch.optim`` optimizer, and Muon as used in practice: Muon + AdamW.

Muon (K. Jordan et al., 2024) orthogonalises the momentum of each 2-D weight with the matrix sign
(:func:`signlab.optim.functional.muon`). In practice it is applied to the hidden matrices only;
embeddings, the output head, gains and biases use AdamW. :func:`muon_param_groups` makes that
split and :class:`MuonWithAdamW` steps both kinds of group in one optimizer.
"""

from __future__ import annotations

from collections import defaultdict

import torch
from torch import nn

from signlab import _validate
from signlab.geometry.matrix import MSIGN_METHODS, msign, ns_coefficients
from signlab.optim import _multi, functional
from signlab.optim.base import SignlabOptimizer

HEAD_NAMES = ("lm_head", "head", "classifier")
"""Module names treated as the output head by :func:`muon_param_groups` (name rule)."""


def _check_muon_group(group: dict) -> None:
    _validate.positive("lr", group["lr"])
    _validate.unit_interval("momentum", group["momentum"])
    _validate.nonnegative("weight_decay", group["weight_decay"])
    _validate.integer("ns_steps", group["ns_steps"], low=0, high=99)
    _validate.choice("method", group["method"], MSIGN_METHODS)
    _validate.choice("adjust_lr", group["adjust_lr"], functional.ADJUST_LR)
    ns_coefficients(group["coefficients"])
    if group["nesterov"] not in (True, False):
        raise ValueError(f"nesterov must be True or False (got {group['nesterov']!r})")
    for i, p in enumerate(group["params"]):
        if p.ndim != 2:
            raise ValueError(
                f"Muon needs 2-D parameters (matrices); params[{i}] has shape {tuple(p.shape)}: "
                "put it in an AdamW group (see muon_param_groups / MuonWithAdamW)"
            )


def _check_adamw_group(group: dict) -> None:
    _validate.positive("lr", group["lr"])
    functional._betas(group["betas"])
    _validate.positive("eps", group["eps"])
    _validate.nonnegative("weight_decay", group["weight_decay"])


class _MuonSteps(SignlabOptimizer):
    """The Muon and AdamW group updates, shared by :class:`Muon` and :class:`MuonWithAdamW`."""

    def _muon_update(self, group, params, grads):
        lr, wd, mu = group["lr"], group["weight_decay"], group["momentum"]
        ns = dict(
            method=group["method"],
            steps=group["ns_steps"],
            coefficients=group["coefficients"],
            dtype=group["dtype"],
        )
        bufs = [self._state(p, "momentum_buffer") for p in params]
        if not self._fast(group):
            for p, g, b in zip(params, grads, bufs, strict=True):
                new_p, new_b = functional.muon(
                    p,
                    g,
                    b,
                    lr=lr,
                    momentum=mu,
                    nesterov=group["nesterov"],
                    ns_steps=ns["steps"],
                    weight_decay=wd,
                    method=ns["method"],
                    coefficients=ns["coefficients"],
                    adjust_lr=group["adjust_lr"],
                    dtype=ns["dtype"],
                    check_finite=False,
                )
                p.copy_(new_p)
                b.copy_(new_b)
            return
        torch._foreach_lerp_(bufs, grads, 1.0 - mu)
        updates = torch._foreach_lerp(grads, bufs, mu) if group["nesterov"] else bufs
        by_shape = defaultdict(list)
        for i, p in enumerate(params):
            by_shape[(p.shape, p.dtype, p.device)].append(i)
        if wd:
            torch._foreach_mul_(params, 1.0 - lr * wd)
        for (shape, _, _), idx in by_shape.items():
            step = lr * functional.muon_lr_scale(shape, group["adjust_lr"])
            directions = msign(torch.stack([updates[i] for i in idx]), **ns)
            for k, i in enumerate(idx):
                params[i].add_(directions[k], alpha=-step)

    def _adamw_update(self, group, params, grads):
        lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
        beta1, beta2 = group["betas"]
        exp_avgs = [self._state(p, "exp_avg") for p in params]
        exp_avg_sqs = [self._state(p, "exp_avg_sq") for p in params]
        steps = []
        for p in params:
            self.state[p]["step"] = self.state[p].get("step", 0) + 1
            steps.append(self.state[p]["step"])
        if self._fast(group):
            _multi.adamw_(
                params,
                grads,
                exp_avgs,
                exp_avg_sqs,
                steps,
                lr=lr,
                beta1=beta1,
                beta2=beta2,
                eps=eps,
                weight_decay=wd,
            )
            return
        for p, g, m, v, t in zip(params, grads, exp_avgs, exp_avg_sqs, steps, strict=True):
            new = functional.adamw(
                p,
                g,
                m,
                v,
                t,
                lr=lr,
                betas=(beta1, beta2),
                eps=eps,
                weight_decay=wd,
                check_finite=False,
            )
            for old, value in zip((p, m, v), new, strict=True):
                old.copy_(value)


class Muon(_MuonSteps):
    """Muon for 2-D parameters: momentum, then msign, then a decoupled-weight-decay step.

    Defaults follow K. Jordan et al. (2024): lr 0.02, Nesterov momentum 0.95, five quintic
    Newton–Schulz steps (``method="svd"`` for the exact polar factor, ``"newton_schulz_eigh"`` for
    the same NS map through one eigh, faster in float32 on CPU), the step scaled by
    √max(1, m/n) (``adjust_lr``, as torch.optim.Muon). Newton–Schulz runs in bfloat16 on CUDA and
    float32 on CPU unless ``dtype`` is given. A parameter that is not 2-D raises ``ValueError``.
    """

    def __init__(
        self,
        params,
        lr=0.02,
        momentum=0.95,
        nesterov=True,
        ns_steps=5,
        weight_decay=0.0,
        *,
        coefficients="quintic",
        method="newton_schulz",
        adjust_lr="original",
        dtype=None,
        foreach=None,
        check_finite=True,
    ):
        defaults = dict(
            lr=lr,
            momentum=momentum,
            nesterov=nesterov,
            ns_steps=ns_steps,
            weight_decay=weight_decay,
            coefficients=coefficients,
            method=method,
            adjust_lr=adjust_lr,
            dtype=dtype,
            foreach=foreach,
            check_finite=check_finite,
        )
        super().__init__(params, defaults)

    def _validate_group(self, group):
        _check_muon_group(group)

    def _update(self, group, params, grads):
        self._muon_update(group, params, grads)


class MuonWithAdamW(_MuonSteps):
    """One optimizer for a whole network: Muon on ``muon_params``, AdamW on ``adamw_params``.

    Each argument is a list of tensors or of param-group dicts; groups carry ``use_muon``
    (True/False) and their own hyperparameters, so schedulers and ``state_dict`` round trips work
    as for any ``torch.optim`` optimizer. ``lr``, ``momentum``, ``weight_decay`` (and the Muon
    keywords) configure the Muon groups; ``adamw_lr``, ``adamw_betas``, ``adamw_eps``,
    ``adamw_weight_decay`` the AdamW groups. Get the two lists from :func:`muon_param_groups`.
    """

    def __init__(
        self,
        muon_params,
        adamw_params,
        lr=0.02,
        momentum=0.95,
        adamw_lr=3e-4,
        adamw_betas=(0.9, 0.95),
        weight_decay=0.0,
        adamw_weight_decay=0.0,
        *,
        nesterov=True,
        ns_steps=5,
        coefficients="quintic",
        method="newton_schulz",
        adjust_lr="original",
        dtype=None,
        adamw_eps=1e-8,
        foreach=None,
        check_finite=True,
    ):
        muon = dict(
            use_muon=True,
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            nesterov=nesterov,
            ns_steps=ns_steps,
            coefficients=coefficients,
            method=method,
            adjust_lr=adjust_lr,
            dtype=dtype,
        )
        adamw = dict(
            use_muon=False,
            lr=adamw_lr,
            betas=adamw_betas,
            eps=adamw_eps,
            weight_decay=adamw_weight_decay,
        )
        _check_muon_group({**muon, "params": []})
        _check_adamw_group(adamw)
        groups = self._groups(muon_params, muon) + self._groups(adamw_params, adamw)
        if not groups:
            raise ValueError("muon_params and adamw_params must not both be empty")
        super().__init__(groups, dict(foreach=foreach, check_finite=check_finite))

    @staticmethod
    def _groups(params, defaults: dict) -> list[dict]:
        if isinstance(params, torch.Tensor):
            raise ValueError("params must be an iterable of tensors or dicts, not a tensor")
        params = list(params)
        if not params:
            return []
        if isinstance(params[0], dict):
            return [{**defaults, **group} for group in params]
        return [{**defaults, "params": params}]

    def _validate_group(self, group):
        if group.get("use_muon") not in (True, False):
            raise ValueError("every param group needs use_muon=True or use_muon=False")
        if group["use_muon"]:
            _check_muon_group(group)
        else:
            group["betas"] = functional._betas(group["betas"])
            _check_adamw_group(group)

    def _update(self, group, params, grads):
        if group["use_muon"]:
            self._muon_update(group, params, grads)
        else:
            self._adamw_update(group, params, grads)


def muon_param_groups(model: nn.Module, head_names=HEAD_NAMES):
    """Split a model's trainable parameters into (Muon params, AdamW params), as Muon is used.

    Muon: the 2-D weights of hidden layers. AdamW: everything else, i.e.
    - parameters that are not 2-D (gains, biases, convolution kernels);
    - embeddings: the weight of every ``nn.Embedding``, and any parameter tied to one (an output
      head sharing the embedding matrix is the same tensor, listed once);
    - the output head by a name rule: a parameter whose qualified name has a module component in
      ``head_names`` (default "lm_head", "head", "classifier"), e.g. ``lm_head.weight``.
    """
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    head_names = set(head_names)
    muon, adamw = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        is_head = bool(head_names.intersection(name.split(".")[:-1]))
        hidden_matrix = p.ndim == 2 and id(p) not in embeddings and not is_head
        (muon if hidden_matrix else adamw).append(p)
    return muon, adamw
