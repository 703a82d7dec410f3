"""Muon as a ``torch.optim`` optimizer, and Muon as used in practice: Muon + AdamW.

Muon (K. Jordan et al., 2024) steps each 2-D weight along the matrix sign of its momentum
(:func:`signlab.optim.functional.muon`). In practice it is applied to the hidden matrices only;
embeddings, the output head, gains and biases use AdamW. :func:`muon_param_groups` makes that
split and :class:`MuonWithAdamW` steps both kinds of group in one optimizer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torch.optim.optimizer import ParamsT

from signlab.geometry.matrix import NS_EPS, Coefficients
from signlab.optim import _fused
from signlab.optim import functional as F
from signlab.optim.base import SignlabOptimizer
from signlab.optim.spec import flag

HEAD_NAMES = ("lm_head", "head", "classifier")
"""Module names treated as the output head by :func:`muon_param_groups` (name rule)."""

ADAMW_DEFAULTS: dict[str, Any] = {"lr": 3e-4, "betas": (0.9, 0.95)}
"""MuonWithAdamW's AdamW defaults where they differ from the rule's (nanoGPT/Muon practice)."""


def _matrices_only(params) -> None:
    for i, p in enumerate(params):
        if p.ndim != 2:
            raise ValueError(
                f"Muon needs 2-D parameters (matrices); params[{i}] has shape {tuple(p.shape)}: "
                "put it in an AdamW group (see muon_param_groups / MuonWithAdamW)"
            )


class Muon(SignlabOptimizer):
    """Muon for 2-D parameters, with ``torch.optim.Muon``'s signature (every argument after ``lr``
    keyword-only, torch's names) plus ``method``, ``dtype``, ``foreach`` and ``check_finite``.

    The update is :func:`signlab.optim.functional.muon`: EMA momentum with Nesterov's look-ahead,
    msign by ``ns_steps`` Newton–Schulz steps, decoupled weight decay, the step scaled by
    √max(1, m/n). ``ns_coefficients`` takes torch's single triple (a, b, c), applied at every step,
    and also a per-step schedule: a sequence of triples or a name of
    :data:`signlab.geometry.ns_schedules.NS_SCHEDULES` ("jordan", the default and torch's
    (3.4445, −4.775, 2.0315); "polar_express", "cans", "you", "cubic"), whose last triple repeats
    when ``ns_steps`` is longer. ``method="svd"`` gives the exact polar factor,
    ``"newton_schulz_eigh"`` the same NS map through one eigh. Unless ``dtype`` is given,
    Newton–Schulz runs in the dtype :func:`signlab.geometry.matrix.working_dtype` picks per device,
    by measurement: bfloat16 on CUDA and on CPUs with native bf16 matrix products (AVX512-BF16 or
    AMX-BF16, where bf16 matmuls ran 2.5× faster than float32), float32 on other CPUs (where bf16
    Newton–Schulz ran ~3–4× slower), float64 for float64 matrices on CPU.
    ``dtype=torch.bfloat16`` reproduces torch.optim.Muon's arithmetic (which always uses bf16) step
    for step, given the same arguments.

    **Defaults that differ from torch.optim.Muon's**: ``lr=0.02`` (torch 1e-3) and
    ``weight_decay=0.0`` (torch 0.1), K. Jordan's settings for the "original" step scaling; pass
    ``lr=1e-3, weight_decay=0.1`` for torch's. The other defaults (momentum 0.95, Nesterov,
    ``ns_coefficients`` (3.4445, −4.775, 2.0315), ``eps`` 1e-7, ``ns_steps`` 5, ``adjust_lr_fn``
    None, i.e. "original") are torch's. A parameter that is not 2-D raises ``ValueError``.
    """

    rule = F.muon
    fused = staticmethod(_fused.muon_)
    state_keys = ("momentum_buffer",)

    def __init__(
        self,
        params: ParamsT,
        lr: float = 0.02,
        *,
        weight_decay: float = 0.0,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: Coefficients = "jordan",
        eps: float = NS_EPS,
        ns_steps: int = 5,
        adjust_lr_fn: str | None = "original",
        method: str = "newton_schulz",
        dtype: torch.dtype | None = None,
        foreach: bool | None = None,
        check_finite: bool = True,
    ) -> None:
        """The arguments of ``torch.optim.Muon`` (same names, same order) and ``method``, ``dtype``
        (the class docstring); their meaning and ranges are :data:`signlab.optim.functional.MUON`'s."""
        hyper = dict(
            lr=lr,
            weight_decay=weight_decay,
            momentum=momentum,
            nesterov=nesterov,
            ns_coefficients=ns_coefficients,
            eps=eps,
            ns_steps=ns_steps,
            adjust_lr_fn=adjust_lr_fn,
            method=method,
            dtype=dtype,
        )
        super().__init__(params, hyper, foreach=foreach, check_finite=check_finite)

    def _validate_group(self, group: dict) -> dict:
        _matrices_only(group["params"])
        return super()._validate_group(group)


class MuonWithAdamW(SignlabOptimizer):
    """One optimizer for a whole network: Muon on ``muon_params``, AdamW on ``adamw_params``.

    Each argument is a list of tensors or of param-group dicts; groups carry ``use_muon``
    (True/False) and their own hyperparameters, so schedulers and ``state_dict`` round trips work
    as for any ``torch.optim`` optimizer. ``lr`` and the keywords of :class:`Muon` configure the
    Muon groups; ``adamw_lr`` (3e-4), ``adamw_betas`` ((0.9, 0.95)), ``adamw_eps``,
    ``adamw_weight_decay`` the AdamW groups (:func:`signlab.optim.functional.adamw`). Get the two
    lists from :func:`muon_param_groups`.
    """

    def __init__(
        self,
        muon_params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        adamw_params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 0.02,
        *,
        weight_decay: float = 0.0,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: Coefficients = "jordan",
        eps: float = NS_EPS,
        ns_steps: int = 5,
        adjust_lr_fn: str | None = "original",
        method: str = "newton_schulz",
        dtype: torch.dtype | None = None,
        adamw_lr: float = 3e-4,
        adamw_betas: tuple[float, float] = (0.9, 0.95),
        adamw_eps: float = 1e-8,
        adamw_weight_decay: float = 0.0,
        foreach: bool | None = None,
        check_finite: bool = True,
    ) -> None:
        """Muon's arguments as :class:`Muon`'s, AdamW's with the prefix ``adamw_``."""
        muon = F.MUON.validate(
            dict(
                lr=lr,
                weight_decay=weight_decay,
                momentum=momentum,
                nesterov=nesterov,
                ns_coefficients=ns_coefficients,
                eps=eps,
                ns_steps=ns_steps,
                adjust_lr_fn=adjust_lr_fn,
                method=method,
                dtype=dtype,
            ),
            "class",
        )
        adamw = F.ADAMW.validate(
            dict(lr=adamw_lr, betas=adamw_betas, eps=adamw_eps, weight_decay=adamw_weight_decay),
            "class",
        )
        groups = self._groups(muon_params, {"use_muon": True, **muon})
        groups += self._groups(adamw_params, {"use_muon": False, **adamw})
        if not groups:
            raise ValueError("muon_params and adamw_params must not both be empty")
        super().__init__(groups, {}, foreach=foreach, check_finite=check_finite)

    @staticmethod
    def _groups(params: Any, defaults: dict) -> list[dict]:
        if isinstance(params, torch.Tensor):
            raise ValueError("params must be an iterable of tensors or dicts, not a tensor")
        params = list(params)
        if not params:
            return []
        if isinstance(params[0], dict):
            return [{**defaults, **group} for group in params]
        return [{**defaults, "params": params}]

    def _validate_group(self, group: dict) -> dict:
        if group.get("use_muon") not in (True, False):
            raise ValueError("every param group needs use_muon=True or use_muon=False")
        spec = F.MUON if group["use_muon"] else F.ADAMW
        if group["use_muon"]:
            _matrices_only(group["params"])
        hyper = {h.name: group[h.name] for h in spec.rows("class") if h.name in group}
        return {"use_muon": flag("use_muon", group["use_muon"]), **spec.validate(hyper, "class")}

    def _update(self, group: dict, params: list, grads: list) -> None:
        """Muon's step on a Muon group, AdamW's on the others (fused twins unless foreach=False)."""
        rule = F.muon if group["use_muon"] else F.adamw
        hyper = {k: group[k] for k in rule.spec.names}
        if group["foreach"] is False:
            self._apply(rule, hyper, params, grads)
        elif group["use_muon"]:
            bufs = [self._state(p, "momentum_buffer") for p in params]
            _fused.muon_(params, grads, bufs, **hyper, scratch=self._scratch)
        else:
            states = [self.state[p] for p in params]
            steps = [s.setdefault("step", torch.tensor(0.0)) for s in states]
            torch._foreach_add_(steps, 1.0)
            exp_avgs = [self._state(p, "exp_avg") for p in params]
            exp_avg_sqs = [self._state(p, "exp_avg_sq") for p in params]
            _fused.adamw_(params, grads, exp_avgs, exp_avg_sqs, [float(t) for t in steps], **hyper)


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
    muon: list[nn.Parameter] = []
    adamw: list[nn.Parameter] = []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        is_head = bool(head_names.intersection(name.split(".")[:-1]))
        hidden_matrix = p.ndim == 2 and id(p) not in embeddings and not is_head
        (muon if hidden_matrix else adamw).append(p)
    return muon, adamw
