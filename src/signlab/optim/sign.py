"""SignSGD, Signum, Lion and normalized SGD as ``torch.optim`` optimizers.

Each class names one rule of :mod:`signlab.optim.functional` (its math is there) and its in-place
twin in :mod:`signlab.optim._fused`; signature, defaults and validation come from the rule's spec,
and ``foreach`` selects the fast path (default) or the rule itself (see :mod:`signlab.optim.base`).
"""

from __future__ import annotations

import torch

from signlab.optim import _fused
from signlab.optim import functional as F
from signlab.optim.base import SignlabOptimizer


class SignSGD(SignlabOptimizer):
    """SignSGD: p ← p·(1 − lr·wd) − lr·sign(g) (:func:`signlab.optim.functional.signsgd`)."""

    rule = F.signsgd
    fused = staticmethod(_fused.signsgd_)


class Signum(SignlabOptimizer):
    """Signum: m ← βm + (1 − β)g, p ← p·(1 − lr·wd) − lr·sign(m) (:func:`~.functional.signum`)."""

    rule = F.signum
    fused = staticmethod(_fused.signum_)
    state_keys = ("momentum_buffer",)


class Lion(SignlabOptimizer):
    """Lion (Chen et al. 2023): p ← p(1 − lr·wd) − lr·sign(β₁m + (1 − β₁)g), m ← β₂m + (1 − β₂)g
    (:func:`~.functional.lion`)."""

    rule = F.lion
    fused = staticmethod(_fused.lion_)
    state_keys = ("exp_avg",)


class NormalizedSGD(SignlabOptimizer):
    """Normalized SGD, steepest descent under ‖·‖₂: p ← p·(1 − lr·wd) − lr·g/‖g‖₂ (0 if g = 0)
    (:func:`~.functional.normalized_sgd`).

    ``scope="group"``: ‖g‖₂ over all the group's gradients together (ℓ2 steepest descent on the
    concatenated parameter vector); ``scope="tensor"``: each tensor normalised on its own.
    """

    rule = F.normalized_sgd

    def _fused(self, group, params, grads):
        scales = _fused.l2_scales(grads, group["scope"])
        if scales is None:  # a norm overflowed: the rule rescales by max|g| first
            return False
        _fused.scaled_add_(
            params, grads, scales, lr=group["lr"], weight_decay=group["weight_decay"]
        )
        return True

    def _reference(self, group, params, grads):
        hyper = {"lr": group["lr"], "weight_decay": group["weight_decay"], "dim": None}
        if group["scope"] == "tensor":
            self._apply(self.rule, hyper, params, grads)
            return
        flat_p = torch.cat([p.reshape(-1) for p in params])
        flat_g = torch.cat([g.reshape(-1) for g in grads])
        new, _ = self.rule.unchecked(flat_p, flat_g, None, **hyper)
        for p, piece in zip(params, new.split([p.numel() for p in params]), strict=True):
            p.copy_(piece.view_as(p))
