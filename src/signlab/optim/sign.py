"""SignSGD, Signum, Lion and normalized SGD as ``torch.optim`` optimizers.

Thin classes over :mod:`signlab.optim.functional`; see :mod:`signlab.optim.base` for the group
options ``foreach`` and ``check_finite`` shared by all of them.
"""

from __future__ import annotations

import torch

from signlab import _validate
from signlab.optim import _multi, functional
from signlab.optim.base import SignlabOptimizer


def _check_common(group: dict) -> None:
    _validate.positive("lr", group["lr"])
    _validate.nonnegative("weight_decay", group["weight_decay"])


class SignSGD(SignlabOptimizer):
    """SignSGD: p ← p·(1 − lr·wd) − lr·sign(g) (:func:`signlab.optim.functional.signsgd`)."""

    def __init__(self, params, lr, weight_decay=0.0, *, foreach=None, check_finite=True):
        defaults = dict(
            lr=lr, weight_decay=weight_decay, foreach=foreach, check_finite=check_finite
        )
        super().__init__(params, defaults)

    def _validate_group(self, group):
        _check_common(group)

    def _update(self, group, params, grads):
        lr, wd = group["lr"], group["weight_decay"]
        if self._fast(group):
            _multi.signsgd_(params, grads, lr=lr, weight_decay=wd, scratch=self._scratch)
            return
        for p, g in zip(params, grads, strict=True):
            p.copy_(functional.signsgd(p, g, lr=lr, weight_decay=wd, check_finite=False))


class Signum(SignlabOptimizer):
    """Signum: m ← βm + (1 − β)g, p ← p·(1 − lr·wd) − lr·sign(m) (:func:`~.functional.signum`)."""

    def __init__(
        self, params, lr, momentum=0.9, weight_decay=0.0, *, foreach=None, check_finite=True
    ):
        defaults = dict(
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            foreach=foreach,
            check_finite=check_finite,
        )
        super().__init__(params, defaults)

    def _validate_group(self, group):
        _check_common(group)
        _validate.unit_interval("momentum", group["momentum"])

    def _update(self, group, params, grads):
        lr, wd, beta = group["lr"], group["weight_decay"], group["momentum"]
        bufs = [self._state(p, "momentum_buffer") for p in params]
        if self._fast(group):
            _multi.signum_(
                params, grads, bufs, lr=lr, momentum=beta, weight_decay=wd, scratch=self._scratch
            )
            return
        for p, g, m in zip(params, grads, bufs, strict=True):
            new_p, new_m = functional.signum(
                p, g, m, lr=lr, momentum=beta, weight_decay=wd, check_finite=False
            )
            p.copy_(new_p)
            m.copy_(new_m)


class Lion(SignlabOptimizer):
    """Lion (Chen et al. 2023): p ← p(1 − lr·wd) − lr·sign(β₁m + (1 − β₁)g), m ← β₂m + (1 − β₂)g."""

    def __init__(
        self,
        params,
        lr=1e-4,
        betas=(0.9, 0.99),
        weight_decay=0.0,
        *,
        foreach=None,
        check_finite=True,
    ):
        defaults = dict(
            lr=lr,
            betas=betas,
            weight_decay=weight_decay,
            foreach=foreach,
            check_finite=check_finite,
        )
        super().__init__(params, defaults)

    def _validate_group(self, group):
        _check_common(group)
        group["betas"] = functional._betas(group["betas"])

    def _update(self, group, params, grads):
        lr, wd, (beta1, beta2) = group["lr"], group["weight_decay"], group["betas"]
        exp_avgs = [self._state(p, "exp_avg") for p in params]
        if self._fast(group):
            _multi.lion_(
                params,
                grads,
                exp_avgs,
                lr=lr,
                beta1=beta1,
                beta2=beta2,
                weight_decay=wd,
                scratch=self._scratch,
            )
            return
        for p, g, m in zip(params, grads, exp_avgs, strict=True):
            new_p, new_m = functional.lion(
                p, g, m, lr=lr, betas=(beta1, beta2), weight_decay=wd, check_finite=False
            )
            p.copy_(new_p)
            m.copy_(new_m)


class NormalizedSGD(SignlabOptimizer):
    """Normalized SGD, steepest descent under ‖·‖₂: p ← p·(1 − lr·wd) − lr·g/‖g‖₂ (0 if g = 0).

    ``scope="group"``: ‖g‖₂ over all the group's gradients together (ℓ2 steepest descent on the
    concatenated parameter vector); ``scope="tensor"``: each tensor normalised on its own.
    """

    def __init__(
        self, params, lr, weight_decay=0.0, scope="group", *, foreach=None, check_finite=True
    ):
        defaults = dict(
            lr=lr,
            weight_decay=weight_decay,
            scope=scope,
            foreach=foreach,
            check_finite=check_finite,
        )
        super().__init__(params, defaults)

    def _validate_group(self, group):
        _check_common(group)
        _validate.choice("scope", group["scope"], ("group", "tensor"))

    def _update(self, group, params, grads):
        lr, wd = group["lr"], group["weight_decay"]
        if self._fast(group):
            norms = torch.stack(torch._foreach_norm(grads)).double()
            if group["scope"] == "group":
                norms = norms.square().sum().sqrt().expand(len(grads))
            scales = [1.0 / n if n > 0 else 0.0 for n in norms.tolist()]
            _multi.scaled_add_(params, grads, scales, lr=lr, weight_decay=wd)
            return
        if group["scope"] == "tensor":
            for p, g in zip(params, grads, strict=True):
                p.copy_(functional.normalized_sgd(p, g, lr=lr, weight_decay=wd, check_finite=False))
            return
        flat_p = torch.cat([p.reshape(-1) for p in params])
        flat_g = torch.cat([g.reshape(-1) for g in grads])
        new = functional.normalized_sgd(flat_p, flat_g, lr=lr, weight_decay=wd, check_finite=False)
        for p, piece in zip(params, new.split([p.numel() for p in params]), strict=True):
            p.copy_(piece.view_as(p))
