"""Pure update rules: tensors in, tensors out, inputs never modified, any shape.

Each rule maps (param, grad, state) to (new param, new state). Leading dimensions are independent
problems (a batch of seeds is a tensor of shape (seeds, d) or, for Muon, (seeds, m, n)).
Conventions shared by every rule:

- sign(0) = 0 (``torch.sign``); the lower-bound construction of Tao, Yu & Zhang (arXiv:2605.06615)
  depends on it, since SignSGD must not move on a zero gradient.
- Decoupled weight decay (Loshchilov & Hutter): p ← p·(1 − lr·wd) − lr·update.
- A NaN or inf in ``grad`` raises ``ValueError`` (``check_finite=False`` skips the check, and the
  one device sync it costs, for callers that guarantee finite gradients).
"""

from __future__ import annotations

import math

import torch

from signlab import _validate
from signlab.geometry.matrix import msign

ADJUST_LR = ("original", "match_rms_adamw", "none")


def _check_grad(grad: torch.Tensor, check_finite: bool) -> None:
    if check_finite:
        _validate.finite_array("grad", grad)


def _betas(betas) -> tuple[float, float]:
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise ValueError(f"betas must be a pair (beta1, beta2) in [0, 1) (got {betas!r})") from None
    return _validate.unit_interval("betas[0]", b1), _validate.unit_interval("betas[1]", b2)


def _decay(param: torch.Tensor, lr: float, weight_decay: float) -> torch.Tensor:
    """p·(1 − lr·wd): decoupled weight decay (skipped when wd = 0, so p is returned as is)."""
    return param * (1.0 - lr * weight_decay) if weight_decay else param


def sgd(
    param, grad, buf=None, *, lr, momentum=0.0, nesterov=False, weight_decay=0.0, check_finite=True
):
    """SGD with heavy-ball or Nesterov momentum (PyTorch's convention, dampening 0).

    b ← μ·b + g (b = g on the first step, i.e. ``buf=None``);
    u = g + μ·b (Nesterov) or b (heavy ball) or g (μ = 0); p ← p·(1 − lr·wd) − lr·u.
    Returns (param, buf); with μ = 0 the buffer is not used and ``buf`` is returned unchanged.
    """
    lr = _validate.positive("lr", lr)
    momentum = _validate.unit_interval("momentum", momentum)
    weight_decay = _validate.nonnegative("weight_decay", weight_decay)
    if nesterov and momentum == 0:
        raise ValueError("nesterov=True needs momentum in (0, 1) (got momentum=0)")
    _check_grad(grad, check_finite)
    update = grad
    if momentum:
        buf = grad.clone() if buf is None else torch.add(grad, buf, alpha=momentum)
        update = torch.add(grad, buf, alpha=momentum) if nesterov else buf
    return torch.add(_decay(param, lr, weight_decay), update, alpha=-lr), buf


def signsgd(param, grad, *, lr, weight_decay=0.0, check_finite=True):
    """SignSGD (Bernstein et al., ICML 2018): p ← p·(1 − lr·wd) − lr·sign(g), with sign(0) = 0.

    The steepest-descent step under ‖·‖∞ of length lr: sign(g) = argmax_{‖t‖∞ ≤ 1} ⟨g, t⟩.
    """
    lr = _validate.positive("lr", lr)
    weight_decay = _validate.nonnegative("weight_decay", weight_decay)
    _check_grad(grad, check_finite)
    return torch.add(_decay(param, lr, weight_decay), torch.sign(grad), alpha=-lr)


def signum(param, grad, buf, *, lr, momentum=0.9, weight_decay=0.0, check_finite=True):
    """Signum, SignSGD with momentum (Bernstein et al., ICML 2018).

    m ← β·m + (1 − β)·g (m = 0 when ``buf`` is None); p ← p·(1 − lr·wd) − lr·sign(m).
    Returns (param, m).
    """
    lr = _validate.positive("lr", lr)
    momentum = _validate.unit_interval("momentum", momentum)
    weight_decay = _validate.nonnegative("weight_decay", weight_decay)
    _check_grad(grad, check_finite)
    buf = torch.zeros_like(grad) if buf is None else buf
    buf = torch.lerp(buf, grad, 1.0 - momentum)
    return torch.add(_decay(param, lr, weight_decay), torch.sign(buf), alpha=-lr), buf


def lion(param, grad, exp_avg, *, lr, betas=(0.9, 0.99), weight_decay=0.0, check_finite=True):
    """Lion (Chen et al., arXiv:2302.06675).

    c = β₁·m + (1 − β₁)·g;  p ← p·(1 − lr·wd) − lr·sign(c);  m ← β₂·m + (1 − β₂)·g
    (m = 0 when ``exp_avg`` is None). Returns (param, m).
    """
    lr = _validate.positive("lr", lr)
    beta1, beta2 = _betas(betas)
    weight_decay = _validate.nonnegative("weight_decay", weight_decay)
    _check_grad(grad, check_finite)
    exp_avg = torch.zeros_like(grad) if exp_avg is None else exp_avg
    direction = torch.sign(torch.lerp(exp_avg, grad, 1.0 - beta1))
    param = torch.add(_decay(param, lr, weight_decay), direction, alpha=-lr)
    return param, torch.lerp(exp_avg, grad, 1.0 - beta2)


def l2_direction(grad, dim=None):
    """g/‖g‖₂ = argmax_{‖t‖₂ ≤ 1} ⟨g, t⟩, and 0 where g = 0 (the ℓ2 analogue of sign(0) = 0).

    ``dim=None`` normalises the whole tensor; an int or tuple normalises along those dims
    (``dim=-1``: each row of a batch of vectors separately).
    """
    norm = grad.norm() if dim is None else grad.norm(dim=dim, keepdim=True)
    return grad / norm.clamp_min(torch.finfo(grad.dtype).tiny)


def normalized_sgd(param, grad, *, lr, weight_decay=0.0, dim=None, check_finite=True):
    """Normalized SGD, steepest descent under ‖·‖₂: p ← p·(1 − lr·wd) − lr·g/‖g‖₂ (0 if g = 0).

    With :func:`signsgd` (ℓ∞) and :func:`muon` (spectral) it completes the ladder of normalised
    steepest-descent steps of length lr (Bernstein & Newhouse, arXiv:2409.20325).
    """
    lr = _validate.positive("lr", lr)
    weight_decay = _validate.nonnegative("weight_decay", weight_decay)
    _check_grad(grad, check_finite)
    return torch.add(_decay(param, lr, weight_decay), l2_direction(grad, dim), alpha=-lr)


def muon_lr_scale(shape, adjust_lr="original") -> float:
    """Muon's shape scaling of the step for an m×n matrix (torch.optim.Muon's ``adjust_lr_fn``).

    "original" (K. Jordan et al. 2024): √max(1, m/n); "match_rms_adamw" (Liu et al., Moonlight,
    arXiv:2502.16982): 0.2·√max(m, n), so the update RMS matches AdamW's; "none": 1.
    """
    adjust_lr = _validate.choice("adjust_lr", adjust_lr, ADJUST_LR)
    m, n = shape[-2], shape[-1]
    if adjust_lr == "original":
        return math.sqrt(max(1.0, m / n))
    if adjust_lr == "match_rms_adamw":
        return 0.2 * math.sqrt(max(m, n))
    return 1.0


def muon(
    param,
    grad,
    buf,
    *,
    lr,
    momentum=0.95,
    nesterov=True,
    ns_steps=5,
    weight_decay=0.0,
    method="newton_schulz",
    coefficients="quintic",
    adjust_lr="original",
    dtype=None,
    check_finite=True,
):
    """Muon (K. Jordan et al., 2024): momentum, then the matrix sign, on (..., m, n) tensors.

    b ← μ·b + (1 − μ)·g (b = 0 when ``buf`` is None);  u = (1 − μ)·g + μ·b (Nesterov) or b;
    p ← p·(1 − lr·wd) − lr·s·msign(u), with msign by ``method`` ("newton_schulz": ``ns_steps``
    steps of ``coefficients`` in :func:`signlab.geometry.matrix.working_dtype` or ``dtype``; "svd": exact;
    "newton_schulz_eigh": the NS map through one eigh)
    and s = :func:`muon_lr_scale` (shape, ``adjust_lr``). This is torch.optim.Muon's update; the
    moving average is (1 − μ) times the sum form b ← μb + g, which msign cannot see (msign(cX) =
    msign(X) for c > 0). Leading dimensions are independent matrices. Returns (param, buf).
    """
    lr = _validate.positive("lr", lr)
    momentum = _validate.unit_interval("momentum", momentum)
    weight_decay = _validate.nonnegative("weight_decay", weight_decay)
    if grad.ndim < 2:
        raise ValueError(f"grad must have shape (..., m, n) for Muon (got {tuple(grad.shape)})")
    _check_grad(grad, check_finite)
    buf = torch.zeros_like(grad) if buf is None else buf
    buf = torch.lerp(buf, grad, 1.0 - momentum)
    update = torch.lerp(grad, buf, momentum) if nesterov else buf
    direction = msign(update, method=method, steps=ns_steps, coefficients=coefficients, dtype=dtype)
    step = lr * muon_lr_scale(param.shape, adjust_lr)
    return torch.add(_decay(param, lr, weight_decay), direction, alpha=-step), buf


def adamw(
    param,
    grad,
    exp_avg,
    exp_avg_sq,
    step,
    *,
    lr,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.0,
    check_finite=True,
):
    """AdamW (Loshchilov & Hutter, 2019), PyTorch's form; ``step`` counts from 1.

    m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;
    p ← p·(1 − lr·wd) − (lr/(1 − β₁ᵗ))·m/(√(v/(1 − β₂ᵗ)) + ε)
    (m, v = 0 when None). Used by :class:`signlab.optim.MuonWithAdamW` for non-matrix parameters.
    Returns (param, m, v).
    """
    lr = _validate.positive("lr", lr)
    beta1, beta2 = _betas(betas)
    eps = _validate.positive("eps", eps)
    weight_decay = _validate.nonnegative("weight_decay", weight_decay)
    step = _validate.integer("step", step, low=1)
    _check_grad(grad, check_finite)
    exp_avg = torch.zeros_like(grad) if exp_avg is None else exp_avg
    exp_avg_sq = torch.zeros_like(grad) if exp_avg_sq is None else exp_avg_sq
    exp_avg = torch.lerp(exp_avg, grad, 1.0 - beta1)
    exp_avg_sq = torch.addcmul(exp_avg_sq * beta2, grad, grad, value=1.0 - beta2)
    denom = exp_avg_sq.sqrt() / math.sqrt(1.0 - beta2**step) + eps
    param = torch.addcdiv(
        _decay(param, lr, weight_decay), exp_avg, denom, value=-lr / (1.0 - beta1**step)
    )
    return param, exp_avg, exp_avg_sq
