"""Multi-tensor, in-place versions of the pure rules, for the optimizer classes' fast path.

Same arithmetic as :mod:`signlab.optim.functional` (tests check they agree), organised for speed:

- ``torch._foreach_*`` over lists of tensors (one kernel launch per op on CUDA);
- on CPU, tensors of at least ``CHUNK`` elements are processed chunk by chunk through a scratch
  buffer that stays in cache, so a step reads and writes each tensor once instead of allocating
  (and page-faulting) a full-size temporary per op.
"""

from __future__ import annotations

import torch

CHUNK = 1 << 18
"""Chunk length (elements) on CPU: 1 MB of float32, which stays in L2/L3 cache between ops."""


def all_finite(tensors: list[torch.Tensor]) -> bool:
    """True iff every entry of every tensor is finite: one cheap sum per tensor, exact fallback.

    A NaN or inf entry makes its tensor's sum non-finite; a finite sum therefore proves the tensor
    finite. Only when a sum is not finite (NaN/inf, or an overflow of huge finite values) is the
    exact entrywise check run. One device sync per device.
    """
    by_device: dict[torch.device, list[torch.Tensor]] = {}
    for t in tensors:
        by_device.setdefault(t.device, []).append(t.sum(dtype=torch.float32))
    if all(bool(torch.stack(sums).isfinite().all()) for sums in by_device.values()):
        return True
    return all(bool(t.isfinite().all()) for t in tensors)


def _chunked(tensors: list[torch.Tensor]) -> bool:
    return (
        tensors[0].device.type == "cpu"
        and tensors[0].numel() >= CHUNK
        and all(t.is_contiguous() for t in tensors)
    )


def split(lists: list[list[torch.Tensor]]):
    """Split parallel lists into (small lists for foreach, [big tensor tuples] for chunking)."""
    small = [[] for _ in lists]
    big = []
    for tensors in zip(*lists, strict=True):
        if _chunked(list(tensors)):
            big.append(tensors)
        else:
            for out, t in zip(small, tensors, strict=True):
                out.append(t)
    return small, big


def chunks(tensors, scratch: dict):
    """Yield flat views (one per tensor) of CHUNK-long pieces and a scratch view as long."""
    flat = [t.view(-1) for t in tensors]
    n = flat[0].numel()
    key = (flat[0].dtype, flat[0].device)
    if key not in scratch or scratch[key].numel() < CHUNK:
        scratch[key] = torch.empty(CHUNK, dtype=flat[0].dtype, device=flat[0].device)
    for i in range(0, n, CHUNK):
        j = min(i + CHUNK, n)
        yield [f[i:j] for f in flat], scratch[key][: j - i]


def signsgd_(params, grads, *, lr, weight_decay, scratch):
    """p ← p·(1 − lr·wd) − lr·sign(g), in place."""
    (ps, gs), big = split([params, grads])
    if ps:
        if weight_decay:
            torch._foreach_mul_(ps, 1.0 - lr * weight_decay)
        torch._foreach_add_(ps, torch._foreach_sign(gs), alpha=-lr)
    for tensors in big:
        for (p, g), s in chunks(tensors, scratch):
            torch.sign(g, out=s)
            if weight_decay:
                p.mul_(1.0 - lr * weight_decay)
            p.add_(s, alpha=-lr)


def signum_(params, grads, bufs, *, lr, momentum, weight_decay, scratch):
    """m ← lerp(m, g, 1 − β); p ← p·(1 − lr·wd) − lr·sign(m), in place."""
    (ps, gs, ms), big = split([params, grads, bufs])
    if ps:
        torch._foreach_lerp_(ms, gs, 1.0 - momentum)
        if weight_decay:
            torch._foreach_mul_(ps, 1.0 - lr * weight_decay)
        torch._foreach_add_(ps, torch._foreach_sign(ms), alpha=-lr)
    for tensors in big:
        for (p, g, m), s in chunks(tensors, scratch):
            m.lerp_(g, 1.0 - momentum)
            torch.sign(m, out=s)
            if weight_decay:
                p.mul_(1.0 - lr * weight_decay)
            p.add_(s, alpha=-lr)


def lion_(params, grads, exp_avgs, *, lr, beta1, beta2, weight_decay, scratch):
    """c = lerp(m, g, 1 − β₁); p ← p·(1 − lr·wd) − lr·sign(c); m ← lerp(m, g, 1 − β₂), in place."""
    (ps, gs, ms), big = split([params, grads, exp_avgs])
    if ps:
        direction = torch._foreach_lerp(ms, gs, 1.0 - beta1)
        torch._foreach_sign_(direction)
        if weight_decay:
            torch._foreach_mul_(ps, 1.0 - lr * weight_decay)
        torch._foreach_add_(ps, direction, alpha=-lr)
        torch._foreach_lerp_(ms, gs, 1.0 - beta2)
    for tensors in big:
        for (p, g, m), s in chunks(tensors, scratch):
            torch.lerp(m, g, 1.0 - beta1, out=s)
            s.sign_()
            if weight_decay:
                p.mul_(1.0 - lr * weight_decay)
            p.add_(s, alpha=-lr)
            m.lerp_(g, 1.0 - beta2)


def scaled_add_(params, grads, scales: list[float], *, lr, weight_decay):
    """p ← p·(1 − lr·wd) − lr·c·g with one scalar c per tensor (normalized SGD: c = 1/‖g‖₂)."""
    if weight_decay:
        torch._foreach_mul_(params, 1.0 - lr * weight_decay)
    for p, g, c in zip(params, grads, scales, strict=True):
        p.add_(g, alpha=-lr * c)


def adamw_(params, grads, exp_avgs, exp_avg_sqs, steps, *, lr, beta1, beta2, eps, weight_decay):
    """AdamW in place (PyTorch's form), ``steps`` the per-tensor step counts after this update."""
    if weight_decay:
        torch._foreach_mul_(params, 1.0 - lr * weight_decay)
    torch._foreach_lerp_(exp_avgs, grads, 1.0 - beta1)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1.0 - beta2)
    denom = torch._foreach_sqrt(exp_avg_sqs)
    torch._foreach_div_(denom, [(1.0 - beta2**t) ** 0.5 for t in steps])
    torch._foreach_add_(denom, eps)
    torch._foreach_addcdiv_(params, exp_avgs, denom, [-lr / (1.0 - beta1**t) for t in steps])
