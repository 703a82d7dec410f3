r"""Norms, their duals, and steepest-descent directions: the geometry behind sign descent.

For a norm :math:`\|\cdot\|` the dual norm is :math:`\|g\|_\dagger = \max_{\|t\| \le 1} \langle g, t\rangle`,
and the maximiser :math:`t^\star` is the direction steepest descent under that norm moves against:

=========  ===========  ==================================================  ============================
norm       dual norm    ``dualize(g, kind)`` (argmax of ⟨g, t⟩, ‖t‖ = 1)   steepest descent is
=========  ===========  ==================================================  ============================
``l2``     ℓ2           :math:`g / \|g\|_2`                                 normalized gradient descent
``linf``   ℓ1           :math:`\operatorname{sign}(g)`                      sign descent (SignSGD)
``l1``     ℓ∞           :math:`\operatorname{sign}(g_i) e_i`, i = argmax|g_i|  greedy coordinate descent
=========  ===========  ==================================================  ============================

The matrix pair mirrors ℓ∞/ℓ1 (:cite:`bernstein2024oldoptimizer`): for the ``spectral`` norm
:math:`\|X\|_{\mathrm{op}} = \sigma_{\max}(X)` the dual is the ``nuclear`` norm
:math:`\|G\|_* = \sum_i \sigma_i(G)`, and ``dualize(G, "spectral")`` is the polar factor
:math:`UV^\top` (``msign``, Muon's update), just as ``dualize(g, "linf")`` is :math:`\operatorname{sign}(g)`.
``dualize(G, "nuclear")`` is the top singular pair :math:`u_1 v_1^\top`.

Vector kinds act on the last dimension, matrix kinds on the last two, and both batch over the leading
ones; numpy arrays and torch tensors both work and the result has the input's type.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from signlab import _validate

KINDS = ("l1", "l2", "linf")
MATRIX_KINDS = ("spectral", "nuclear")
DUAL = {"l1": "linf", "l2": "l2", "linf": "l1", "spectral": "nuclear", "nuclear": "spectral"}


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def _prepare(x: Any, name: str) -> Any:
    if not _is_torch(x):
        x = np.asarray(x, dtype=float)
    if x.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension (got a scalar)")
    _validate.finite_array(name, x)
    return x


def _as_torch(x: Any) -> tuple[Any, bool]:
    import torch

    return (x, False) if _is_torch(x) else (torch.from_numpy(np.asarray(x, dtype=float)), True)


def _matrix_norm(x: Any, kind: str) -> Any:
    from signlab.geometry.matrix import nuclear_norm, spectral_norm

    if x.ndim < 2:
        raise ValueError(f"a {kind} norm needs a matrix (got {x.ndim} dimension)")
    t, was_numpy = _as_torch(x)
    value = spectral_norm(t) if kind == "spectral" else nuclear_norm(t)
    return value.numpy() if was_numpy else value


def _norm(x: Any, kind: str) -> Any:
    if kind in MATRIX_KINDS:
        return _matrix_norm(x, kind)
    if _is_torch(x):
        import torch

        order = {"l1": 1, "l2": 2, "linf": float("inf")}[kind]
        return torch.linalg.vector_norm(x, ord=order, dim=-1)
    a = np.abs(x)
    if kind == "l1":
        return a.sum(axis=-1)
    if kind == "l2":
        scale = a.max(axis=-1, keepdims=True)
        safe = np.where(scale > 0, scale, 1.0)
        return safe[..., 0] * np.sqrt(((a / safe) ** 2).sum(axis=-1))
    return a.max(axis=-1)


def norm(x: Any, kind: str) -> Any:
    r"""The ``kind`` norm of ``x`` over its last dimension.

    :math:`\|x\|_1 = \sum_i |x_i|`, :math:`\|x\|_2 = (\sum_i x_i^2)^{1/2}`,
    :math:`\|x\|_\infty = \max_i |x_i|`; ``spectral`` and ``nuclear`` act on the last two dimensions.
    """
    _validate.choice("kind", kind, KINDS + MATRIX_KINDS)
    return _norm(_prepare(x, "x"), kind)


def dual_norm(g: Any, kind: str) -> Any:
    r"""The norm dual to ``kind``: :math:`\|g\|_\dagger = \max_{\|t\|\le 1}\langle g, t\rangle`.

    The dual of ℓ∞ is ℓ1 (this is why sign methods are measured by :math:`\|\nabla f\|_1`),
    the dual of ℓ1 is ℓ∞, and ℓ2 is its own dual; spectral and nuclear are dual to each other.
    """
    _validate.choice("kind", kind, KINDS + MATRIX_KINDS)
    return _norm(_prepare(g, "g"), DUAL[kind])


def dualize(g: Any, kind: str) -> Any:
    r"""The unit vector :math:`t` (in the ``kind`` norm) maximising :math:`\langle g, t\rangle`.

    Steepest descent under ``kind`` with step :math:`\eta` moves by :math:`-\eta\,\|g\|_\dagger\, t`
    when it minimises the quadratic model :math:`\langle g, \Delta\rangle + \frac{1}{2\eta}\|\Delta\|^2`;
    with a fixed step length it moves by :math:`-\eta t` (for ``linf`` this is SignSGD).
    For ``g = 0`` every unit vector is a maximiser; we return ``0`` so that sign(0) = 0 as in the theory.
    For ``l1`` ties between largest entries go to the first index. For ``spectral`` it is the polar
    factor :math:`UV^\top` computed exactly by SVD (zero singular values map to 0).
    """
    _validate.choice("kind", kind, KINDS + MATRIX_KINDS)
    g = _prepare(g, "g")
    if kind in MATRIX_KINDS and g.ndim < 2:
        raise ValueError(f"dualize(g, {kind!r}) needs a matrix (got {g.ndim} dimension)")
    t, was_numpy = _as_torch(g)
    out = _dualize(t, kind)
    return out.numpy() if was_numpy else out


def steepest_step(g: Any, kind: str, lam: float) -> Any:
    r"""The minimiser :math:`\Delta^\star = -(\|g\|_\dagger/\lambda)\,\mathrm{dualize}(g)` of the
    local model :math:`\langle g, \Delta\rangle + \frac{\lambda}{2}\|\Delta\|^2` (the geometry chapter).

    Its direction is :func:`dualize`, its length the dual norm over λ; the model drops by
    :math:`\|g\|_\dagger^2/(2\lambda)` (:func:`signlab.geometry.steepest.derive_step_length`).
    Vectors on the last dimension, batched over the leading ones; numpy or torch.
    """
    _validate.choice("kind", kind, KINDS)
    lam = _validate.positive("lam", lam)
    t, was_numpy = _as_torch(_prepare(g, "g"))
    out = _steepest_step(t, kind, 1.0 / lam)
    return out.numpy() if was_numpy else out


def _steepest_step(g: Any, kind: str, scale: float) -> Any:
    """−scale·‖g‖_†·dualize(g, kind) of a torch tensor, unvalidated (scale = 1/λ)."""
    import torch

    order = {"l1": float("inf"), "l2": 2, "linf": 1}[kind]  # the dual norm's order
    length = torch.linalg.vector_norm(g, ord=order, dim=-1, keepdim=True)
    return -scale * length * _dualize(g, kind)


def _dualize(g: Any, kind: str, dim: Any = -1, **msign_options: Any) -> Any:
    r""":func:`dualize` of a torch tensor without validation: the one implementation of each direction.

    The optimizers of :mod:`signlab.optim` compose their updates from it (they validate once, not
    per step). ``linf``: sign(g). ``l2``: g/‖g‖₂ over ``dim`` (an int, a tuple, or None for the
    whole tensor), 0 where g = 0, rescaled by max|g| first so that ‖g‖₂ neither overflows nor
    underflows. ``l1``: the signed one-hot at argmax|g| along ``dim`` (an int). ``spectral``: the
    polar factor by :func:`signlab.geometry.matrix._msign` with ``msign_options`` (``method``,
    ``steps``, ``abc``, ``dtype``, ``eps``; exact SVD by default). ``nuclear``: u₁v₁ᵀ.
    """
    import torch

    if kind == "linf":
        return torch.sign(g)
    if kind == "l2":
        return _l2_direction(g, tuple(range(g.ndim)) if dim is None else dim)
    if kind == "l1":
        idx = g.abs().argmax(dim=dim, keepdim=True)
        return torch.zeros_like(g).scatter(dim, idx, torch.sign(g).gather(dim, idx))
    if kind == "spectral":
        from signlab.geometry.matrix import _msign

        return _msign(g, **msign_options)
    U, S, Vh = torch.linalg.svd(g, full_matrices=False)
    top = U[..., :, :1] @ Vh[..., :1, :]
    return torch.where(S[..., :1, None] > 0, top, torch.zeros_like(top))


def _l2_direction(g: Any, dims: Any) -> Any:
    """g/‖g‖₂ over ``dims``, 0 where g = 0, accurate whatever the scale of g.

    The plain norm √Σg² is exact to rounding unless a square overflows (‖g‖ = inf) or the squares
    underflow: each term then loses at most ~tiny, a relative error ≤ eps once ‖g‖² ≥ n·tiny/eps.
    When every norm is in that range, g/‖g‖ is returned (two passes); otherwise g is first divided
    by max|g| (the scaled computation, four passes), which also maps g = 0 to 0.
    """
    import torch

    norm = torch.linalg.vector_norm(g, dim=dims, keepdim=True)
    info = torch.finfo(g.dtype)
    count = g.numel() // max(norm.numel(), 1)
    safe = math.sqrt(count * info.tiny / info.eps)
    if bool(((norm >= safe) & (norm <= info.max)).all()):
        return g / norm
    peak = g.abs().amax(dim=dims, keepdim=True)
    u = g / torch.where(peak > 0, peak, 1)
    n = torch.linalg.vector_norm(u, dim=dims, keepdim=True)
    return u / torch.where(n > 0, n, 1)


def density(v: Any) -> Any:
    r"""The density :math:`\varphi(v) = \|v\|_1^2 / (d\,\|v\|_2^2) \in [1/d, 1]` over the last dimension.

    It measures how spread out :math:`v` is: :math:`\varphi = 1` when all :math:`|v_i|` are equal (dense)
    and :math:`\varphi = 1/d` when one entry carries everything (sparse). By Cauchy–Schwarz,
    :math:`\|v\|_1 = \sqrt{\varphi d}\,\|v\|_2`, so :math:`\varphi` says how tight
    :math:`\|v\|_1 \le \sqrt d\,\|v\|_2` is. Applied to the noise scales σ it is the paper's
    noise density, which decides how much SignSGD gains over SGD.
    """
    v = _prepare(v, "v")
    peak = _norm(v, "linf")
    if bool((peak == 0).any()):
        raise ValueError("v must be non-zero (the density of the zero vector is undefined)")
    v = v / peak[..., None]
    return _norm(v, "l1") ** 2 / (v.shape[-1] * _norm(v, "l2") ** 2)


def unit_circle(kind: str, num: int = 361) -> np.ndarray:
    """``num`` points on the 2-D unit sphere of the ``kind`` norm, shape ``(num, 2)`` (for drawing balls).

    Each direction :math:`(\\cos\\theta, \\sin\\theta)` is rescaled to norm one, so the curve is the
    boundary :math:`\\{x : \\|x\\| = 1\\}` traversed once.
    """
    num = _validate.integer("num", num, low=3)
    theta = np.linspace(0.0, 2.0 * np.pi, num)
    directions = np.stack([np.cos(theta), np.sin(theta)], axis=-1)
    return directions / norm(directions, kind)[:, None]
