"""SignSGD, Signum, Lion and normalized SGD as ``torch.optim`` optimizers.

Each class names one rule of :mod:`signlab.optim.functional` (its math is there) and its in-place
twin in :mod:`signlab.optim._fused`; its ``__init__`` spells out the rule's hyperparameters with
the defaults of the rule's spec, which also validates every param group, and ``foreach`` selects
the fast path (default) or the rule itself (see :mod:`signlab.optim.base`).
"""

from __future__ import annotations

import torch
from torch.optim.optimizer import ParamsT

from signlab.optim import _fused
from signlab.optim import functional as F
from signlab.optim.base import SignlabOptimizer
from signlab.optim.spec import REQUIRED


class SignSGD(SignlabOptimizer):
    """SignSGD: p ← p·(1 − lr·wd) − lr·sign(g) (:func:`signlab.optim.functional.signsgd`)."""

    rule = F.signsgd
    fused = staticmethod(_fused.signsgd_)

    def __init__(
        self,
        params: ParamsT,
        lr: float = REQUIRED,
        *,
        weight_decay: float = 0.0,
        foreach: bool | None = None,
        check_finite: bool = True,
    ) -> None:
        """``lr``: the step size η > 0 (without it, every param group gives its own);
        ``weight_decay``: decoupled decay λ ≥ 0."""
        hyper = {"lr": lr, "weight_decay": weight_decay}
        super().__init__(params, hyper, foreach=foreach, check_finite=check_finite)


class Signum(SignlabOptimizer):
    """Signum: m ← βm + (1 − β)g, p ← p·(1 − lr·wd) − lr·sign(m) (:func:`~.functional.signum`)."""

    rule = F.signum
    fused = staticmethod(_fused.signum_)
    state_keys = ("momentum_buffer",)

    def __init__(
        self,
        params: ParamsT,
        lr: float = REQUIRED,
        *,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        foreach: bool | None = None,
        check_finite: bool = True,
    ) -> None:
        """``momentum``: the EMA factor β ∈ [0, 1); ``lr``, ``weight_decay`` as SignSGD's."""
        hyper = {"lr": lr, "momentum": momentum, "weight_decay": weight_decay}
        super().__init__(params, hyper, foreach=foreach, check_finite=check_finite)


class Lion(SignlabOptimizer):
    """Lion (Chen et al. 2023): p ← p(1 − lr·wd) − lr·sign(β₁m + (1 − β₁)g), m ← β₂m + (1 − β₂)g
    (:func:`~.functional.lion`)."""

    rule = F.lion
    fused = staticmethod(_fused.lion_)
    state_keys = ("exp_avg",)

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-4,
        *,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
        foreach: bool | None = None,
        check_finite: bool = True,
    ) -> None:
        """``betas``: (β₁, β₂), the interpolation of the step and the EMA of the state."""
        hyper = {"lr": lr, "betas": betas, "weight_decay": weight_decay}
        super().__init__(params, hyper, foreach=foreach, check_finite=check_finite)


class NormalizedSGD(SignlabOptimizer):
    """Normalized SGD, steepest descent under ‖·‖₂: p ← p·(1 − lr·wd) − lr·g/‖g‖₂ (0 if g = 0)
    (:func:`~.functional.normalized_sgd`).

    ``scope="group"``: ‖g‖₂ over all the group's gradients together (ℓ2 steepest descent on the
    concatenated parameter vector); ``scope="tensor"``: each tensor normalised on its own.
    """

    rule = F.normalized_sgd

    def __init__(
        self,
        params: ParamsT,
        lr: float = REQUIRED,
        *,
        weight_decay: float = 0.0,
        scope: str = "group",
        foreach: bool | None = None,
        check_finite: bool = True,
    ) -> None:
        """``scope``: "group" (one norm over the group's tensors) or "tensor" (one each)."""
        hyper = {"lr": lr, "weight_decay": weight_decay, "scope": scope}
        super().__init__(params, hyper, foreach=foreach, check_finite=check_finite)

    def _update(self, group: dict, params: list, grads: list) -> None:
        """The norm is the group's (or each tensor's), so the rule sees the group as one vector."""
        if group["foreach"] is not False:
            scales = _fused.l2_scales(grads, group["scope"])
            if scales is not None:  # else a norm overflowed: the rule rescales by max|g| first
                lr, decay = group["lr"], group["weight_decay"]
                _fused.scaled_add_(params, grads, scales, lr=lr, weight_decay=decay)
                return
        hyper = {"lr": group["lr"], "weight_decay": group["weight_decay"], "dim": None}
        if group["scope"] == "tensor":
            self._apply(F.normalized_sgd, hyper, params, grads)
            return
        flat_p = torch.cat([p.reshape(-1) for p in params])
        flat_g = torch.cat([g.reshape(-1) for g in grads])
        new, _ = F.normalized_sgd.unchecked(flat_p, flat_g, None, **hyper)
        for p, piece in zip(params, new.split([p.numel() for p in params]), strict=True):
            p.copy_(piece.view_as(p))
