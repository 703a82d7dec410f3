"""The optimizer classes' fast path: the rules of :mod:`signlab.optim.functional`, in place, many
tensors at once. An implementation detail; ``tests/test_optim_fused.py`` proves it equal to the rules.

Same arithmetic as the rules, organised for speed:

- ``torch._foreach_*`` over lists of tensors (one kernel launch per op on CUDA);
- on CPU, a tensor of at least ``CHUNK`` elements is processed chunk by chunk through a scratch
  buffer that stays in cache, so a step streams each tensor through memory once instead of
  allocating (and page-faulting) a full-size temporary per op;
- Muon: in-place momentum, then msign matrix by matrix (batching same-shape matrices was measured
  slower in float32 and no faster in bfloat16 on this project's CPU), in torch.optim.Muon's order
  of operations, so that with ``dtype=torch.bfloat16`` the two agree bit for bit.
"""

from __future__ import annotations

import math

import torch

from signlab.optim.functional import _lr_scale, _muon_msign

CHUNK = 1 << 17
"""Chunk length per torch thread (elements) on CPU: a chunk is ``CHUNK × torch.get_num_threads()``
long, so each thread's share (512 KB of float32) and its part of the scratch stay in its L2.

Measured (``benchmarks/bench_optim.py --chunk-sweep``, SignSGD with its guard, bandwidth / copy_):
one thread 2^16: 0.66, 2^17: 0.65, 2^18: 0.59; two threads 2^16: 0.47, 2^17: 0.52, 2^18: 0.55 (a core
has 1.25 MB of L2; sign and add run ~2× faster on chunks that fit it with their scratch).
"""


def chunk_length() -> int:
    """Elements per chunk: ``CHUNK`` per torch thread."""
    return CHUNK * max(1, torch.get_num_threads())


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


def _chunked(tensors: tuple[torch.Tensor, ...], length: int) -> bool:
    return (
        tensors[0].device.type == "cpu"
        and tensors[0].numel() >= length
        and all(t.is_contiguous() for t in tensors)
    )


def split(lists: list[list[torch.Tensor]]):
    """Split parallel lists into (small lists for foreach, [big tensor tuples] for chunking)."""
    small: list[list[torch.Tensor]] = [[] for _ in lists]
    big = []
    length = chunk_length()
    for tensors in zip(*lists, strict=True):
        if _chunked(tensors, length):
            big.append(tensors)
        else:
            for out, t in zip(small, tensors, strict=True):
                out.append(t)
    return small, big


def chunks(tensors, scratch: dict):
    """Yield flat views of :func:`chunk_length` elements (one per tensor) and a scratch view as long.

    ``Tensor.split`` makes all the views of a tensor in one call, which is measurably cheaper than
    slicing chunk by chunk (~1 ms of a 15 ms Signum step on 9.5M parameters).
    """
    first, length = tensors[0], chunk_length()
    key = (first.dtype, first.device)
    if key not in scratch or scratch[key].numel() < length:
        scratch[key] = torch.empty(length, dtype=first.dtype, device=first.device)
    buffer = scratch[key][:length]
    for pieces in zip(*(t.view(-1).split(length) for t in tensors), strict=True):
        n = pieces[0].numel()
        yield pieces, buffer if n == length else buffer[:n]


def _decay_(params, lr: float, weight_decay: float) -> None:
    if weight_decay:
        torch._foreach_mul_(params, 1.0 - lr * weight_decay)


def signsgd_(params, grads, *, lr, weight_decay, scratch):
    """:func:`~signlab.optim.functional.signsgd` in place: p ← p·(1 − ηλ) − η·sign(g)."""
    (ps, gs), big = split([params, grads])
    if ps:
        _decay_(ps, lr, weight_decay)
        torch._foreach_add_(ps, torch._foreach_sign(gs), alpha=-lr)
    for tensors in big:
        for (p, g), s in chunks(tensors, scratch):
            torch.sign(g, out=s)
            if weight_decay:
                p.mul_(1.0 - lr * weight_decay)
            p.add_(s, alpha=-lr)


def signum_(params, grads, bufs, *, lr, momentum, weight_decay, scratch):
    """:func:`~signlab.optim.functional.signum` in place: m ← lerp(m, g, 1 − β); p ← … − η·sign(m)."""
    (ps, gs, ms), big = split([params, grads, bufs])
    if ps:
        torch._foreach_lerp_(ms, gs, 1.0 - momentum)
        _decay_(ps, lr, weight_decay)
        torch._foreach_add_(ps, torch._foreach_sign(ms), alpha=-lr)
    for tensors in big:
        for (p, g, m), s in chunks(tensors, scratch):
            m.lerp_(g, 1.0 - momentum)
            torch.sign(m, out=s)
            if weight_decay:
                p.mul_(1.0 - lr * weight_decay)
            p.add_(s, alpha=-lr)


def lion_(params, grads, exp_avgs, *, lr, betas, weight_decay, scratch):
    """:func:`~signlab.optim.functional.lion` in place: c = lerp(m, g, 1 − β₁);
    p ← p·(1 − ηλ) − η·sign(c); m ← lerp(m, g, 1 − β₂)."""
    beta1, beta2 = betas
    (ps, gs, ms), big = split([params, grads, exp_avgs])
    if ps:
        direction = torch._foreach_lerp(ms, gs, 1.0 - beta1)
        torch._foreach_sign_(direction)
        _decay_(ps, lr, weight_decay)
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


def l2_scales(grads, scope: str) -> list[float] | None:
    """1/‖g‖₂ per tensor ("tensor") or of the concatenation ("group"), 0 where g = 0; None when a
    norm overflows (the caller then falls back to the rule, which rescales by max|g| first)."""
    norms = torch.stack(torch._foreach_norm(grads)).double()
    if scope == "group":
        norms = norms.square().sum().sqrt().expand(len(grads))
    values = norms.tolist()
    if not all(v < float("inf") for v in values):
        return None
    return [1.0 / v if v > 0 else 0.0 for v in values]


def scaled_add_(params, grads, scales, *, lr, weight_decay):
    """p ← p·(1 − ηλ) − η·c·g with one scalar c per tensor (normalized SGD: c = 1/‖g‖₂)."""
    _decay_(params, lr, weight_decay)
    for p, g, c in zip(params, grads, scales, strict=True):
        p.add_(g, alpha=-lr * c)


def adamw_(params, grads, exp_avgs, exp_avg_sqs, steps, *, lr, betas, eps, weight_decay):
    """:func:`~signlab.optim.functional.adamw` in place; ``steps`` the step counts after this one."""
    beta1, beta2 = betas
    _decay_(params, lr, weight_decay)
    torch._foreach_lerp_(exp_avgs, grads, 1.0 - beta1)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1.0 - beta2)
    denom = torch._foreach_sqrt(exp_avg_sqs)
    torch._foreach_div_(denom, [math.sqrt(1.0 - beta2**t) for t in steps])
    torch._foreach_add_(denom, eps)
    torch._foreach_addcdiv_(params, exp_avgs, denom, [-lr / (1.0 - beta1**t) for t in steps])


def muon_(
    params, grads, bufs, *, lr, weight_decay, momentum, nesterov, adjust_lr_fn, scratch, **msign
):
    """:func:`~signlab.optim.functional.muon` in place, torch.optim.Muon's order of operations:
    B ← lerp(B, G, 1 − μ); U = lerp(G, B, μ) or B; W ← W·(1 − ηλ) − η·s·msign(U), matrix by matrix
    (``msign``: the Newton–Schulz options of the rule)."""
    torch._foreach_lerp_(bufs, grads, 1.0 - momentum)
    updates = torch._foreach_lerp(grads, bufs, momentum) if nesterov else bufs
    _decay_(params, lr, weight_decay)
    for p, u in zip(params, updates, strict=True):
        p.add_(_muon_msign(u, **msign), alpha=-lr * _lr_scale(p.shape, adjust_lr_fn))
