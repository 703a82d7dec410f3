r"""Pure update rules, each the composition the book teaches: average, dualize, decay, step.

Every rule has one shape,

    new_param, new_state = rule(param, grad, state=None, *, lr, ..., check_finite=True)

with ``state`` None on the first call and afterwards the dict the previous call returned (keys as in
PyTorch: ``momentum_buffer``, ``exp_avg``, ``exp_avg_sq``, ``step``; ``{}`` for stateless rules).
Inputs are never modified. Leading dimensions are independent problems (a batch of seeds is a tensor
of shape (seeds, d) or, for Muon, (seeds, m, n)).

The sign-based rules are steepest descent under a norm applied to an average of the gradients:

.. math::

   m_t = \text{average}(g_1, \dots, g_t), \qquad
   d_t = \operatorname{dualize}(m_t, \|\cdot\|) = \arg\max_{\|d\| \le 1} \langle m_t, d\rangle, \qquad
   x_{t+1} = x_t (1 - \eta\lambda) - \eta\, d_t

=====================  ====================================  =====================================
rule                   average                               norm (``dualize``)
=====================  ====================================  =====================================
:func:`signsgd`        none                                  ℓ∞: sign(g)
:func:`signum`         EMA β                                 ℓ∞
:func:`lion`           β₁-interpolation of an EMA β₂         ℓ∞
:func:`normalized_sgd` none                                  ℓ2: g/‖g‖₂
:func:`muon`           EMA μ with Nesterov look-ahead        spectral: msign(G) = UVᵀ
=====================  ====================================  =====================================

:func:`sgd` (the unnormalised ℓ2 step) and :func:`adamw` are the references they are compared with;
:func:`steepest_descent` is the unnormalised step of any norm, with the length ‖g‖_† of its model.
The directions come from :func:`signlab.geometry.dualize` (its unvalidated twin, since every rule
validates its hyperparameters once). Conventions shared by every rule:

- sign(0) = 0 (``torch.sign``); the lower-bound construction of Tao, Yu & Zhang (arXiv:2605.06615)
  depends on it, since SignSGD must not move on a zero gradient.
- Decoupled weight decay λ (Loshchilov & Hutter): x ← x·(1 − ηλ) − η·d.
- A NaN or inf in ``grad`` raises ``ValueError`` (``check_finite=False`` skips the check, and the one
  device sync it costs, for callers that guarantee finite gradients).

Every rule carries ``rule.spec`` (its :class:`signlab.optim.spec.Spec`: ``defaults()``,
``validate(dict)``, ``names``) and ``rule.unchecked(param, grad, state, **validated)``, the same update
without any check, for loops that validate once (the simulation engine).
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import Any, Protocol, cast, runtime_checkable

import torch

from signlab import _validate
from signlab.geometry.matrix import MSIGN_METHODS, NS_EPS
from signlab.geometry.norms import _dualize as dualize  # validated once per rule, not per call
from signlab.geometry.norms import _steepest_step
from signlab.geometry.ns_schedules import _resolve_coefficients
from signlab.optim.spec import REQUIRED, Hyper, Spec, betas, dims, flag, integer_in, one_of

ADJUST_LR_FN = ("original", "match_rms_adamw", "none")
"""Muon's shape scalings of the step (:func:`muon_lr_scale`); None means "original", as in torch."""


def _lr(default=REQUIRED) -> Hyper:
    return Hyper("lr", REQUIRED, _validate.positive, "step size η > 0", class_default=default)


_WEIGHT_DECAY = Hyper(
    "weight_decay", 0.0, _validate.nonnegative, "decoupled weight decay λ ≥ 0: x ← x·(1 − ηλ) − ηd"
)


def _dtype(name, value):
    if value is not None and not (isinstance(value, torch.dtype) and value.is_floating_point):
        raise ValueError(f"{name} must be None or a floating-point torch dtype (got {value!r})")
    return value


def _nesterov_needs_momentum(h: dict) -> None:
    if h["nesterov"] and h["momentum"] == 0:
        raise ValueError("nesterov=True needs momentum in (0, 1) (got momentum=0)")


def _eigh_needs_float(h: dict) -> None:
    if h["method"] == "newton_schulz_eigh" and h["dtype"] not in (
        None,
        torch.float32,
        torch.float64,
    ):
        raise ValueError(
            f"dtype must be torch.float32 or torch.float64 for eigh (got {h['dtype']})"
        )


SGD = Spec(
    "sgd",
    (
        _lr(),
        Hyper("momentum", 0.0, _validate.unit_interval, "heavy-ball momentum μ ∈ [0, 1)"),
        Hyper("nesterov", False, flag, "Nesterov's look-ahead g + μb instead of b"),
        _WEIGHT_DECAY,
    ),
    _nesterov_needs_momentum,
)
SIGNSGD = Spec("signsgd", (_lr(), _WEIGHT_DECAY))
SIGNUM = Spec(
    "signum",
    (
        _lr(),
        Hyper("momentum", 0.9, _validate.unit_interval, "EMA factor β ∈ [0, 1)"),
        _WEIGHT_DECAY,
    ),
)
LION = Spec(
    "lion",
    (
        _lr(1e-4),
        Hyper(
            "betas", (0.9, 0.99), betas, "(β₁, β₂): interpolation for the step, EMA of the state"
        ),
        _WEIGHT_DECAY,
    ),
)
NORMALIZED_SGD = Spec(
    "normalized_sgd",
    (
        _lr(),
        _WEIGHT_DECAY,
        Hyper("dim", None, dims, "dims normalised together (None: the whole tensor)", "rule"),
        Hyper(
            "scope",
            "group",
            one_of(("group", "tensor")),
            '"group": one ‖g‖₂ over all the group\'s tensors; "tensor": each on its own',
            "class",
        ),
    ),
)
STEEPEST_DESCENT = Spec(
    "steepest_descent",
    (
        _lr(),
        Hyper("norm", "l2", one_of(("l1", "l2", "linf")), "the norm whose steepest step is taken"),
    ),
)
MUON = Spec(
    "muon",
    (
        _lr(0.02),
        _WEIGHT_DECAY,
        Hyper("momentum", 0.95, _validate.unit_interval, "EMA factor μ ∈ [0, 1) of the buffer"),
        Hyper("nesterov", True, flag, "step along (1 − μ)G + μB instead of B"),
        Hyper(
            "ns_coefficients",
            "jordan",
            _resolve_coefficients,
            "Newton–Schulz (a, b, c) for every step (torch's form), one triple per step, or a"
            ' schedule\'s name: "jordan" (3.4445, −4.775, 2.0315), "polar_express", "cans", "you",'
            ' "cubic" (geometry.ns_schedules)',
        ),
        Hyper(
            "eps", NS_EPS, _validate.positive, "floor on ‖G‖_F in the normalisation X₀ = G/‖G‖_F"
        ),
        Hyper("ns_steps", 5, integer_in(0, 99), "Newton–Schulz steps (0 … 99, as torch)"),
        Hyper(
            "adjust_lr_fn",
            "original",
            one_of(ADJUST_LR_FN, {None: "original"}),
            "shape scaling s(m, n) of the step (:func:`muon_lr_scale`; None means original)",
        ),
        Hyper(
            "method",
            "newton_schulz",
            one_of(MSIGN_METHODS),
            'msign by "newton_schulz", "newton_schulz_eigh" (same map, one eigh) or exact "svd"',
        ),
        Hyper(
            "dtype",
            None,
            _dtype,
            "Newton–Schulz working dtype (None: geometry.matrix.working_dtype's choice, bfloat16"
            " on CUDA and on CPUs with native bf16, else float32; float64 input on CPU: float64)",
        ),
    ),
    _eigh_needs_float,
)
ADAMW = Spec(
    "adamw",
    (
        _lr(),
        Hyper("betas", (0.9, 0.999), betas, "(β₁, β₂): EMA factors of g and g²"),
        Hyper("eps", 1e-8, _validate.positive, "ε added to √v̂"),
        _WEIGHT_DECAY,
    ),
)


@runtime_checkable
class Rule(Protocol):
    """What every rule of this module is: callable as ``rule(param, grad, state=None, *, lr, ...,
    check_finite=True) -> (param, state)``, with its :class:`~signlab.optim.spec.Spec` as ``spec``
    and the same update without any check as ``unchecked(param, grad, state, **validated)``."""

    spec: Spec
    unchecked: Callable[..., tuple[torch.Tensor, dict]]

    def __call__(
        self, param: torch.Tensor, grad: torch.Tensor, state: Any = None, /, **kw: Any
    ) -> tuple[torch.Tensor, dict]: ...


def _check_inputs(param, grad, state, min_ndim: int, check_finite: bool) -> None:
    if not isinstance(param, torch.Tensor) or not isinstance(grad, torch.Tensor):
        raise ValueError("param and grad must be torch tensors")
    if param.shape != grad.shape:
        raise ValueError(
            f"grad must have param's shape {tuple(param.shape)} (got {tuple(grad.shape)})"
        )
    if grad.ndim < min_ndim:
        raise ValueError(f"grad must have shape (..., m, n) for Muon (got {tuple(grad.shape)})")
    if state is not None and not isinstance(state, dict):
        raise ValueError(
            f"state must be None or the dict the previous call returned (got {type(state).__name__})"
        )
    if flag("check_finite", check_finite):
        _validate.finite_array("grad", grad)


def _rule(spec: Spec, *, min_ndim: int = 0):
    """Make the public rule from its unchecked update: signature, validation and docs from ``spec``."""

    def make(update: Callable[..., tuple[torch.Tensor, dict]]) -> Rule:
        parameters = inspect.signature(update).parameters.values()
        keywords = [p.name for p in parameters if p.kind is p.KEYWORD_ONLY]
        if tuple(keywords) != spec.names:
            raise TypeError(f"{update.__name__} takes {keywords}, its spec says {spec.names}")

        @functools.wraps(update)
        def rule(param, grad, state=None, /, *, check_finite=True, **hyper):
            hyper = spec.validate(hyper)
            _check_inputs(param, grad, state, min_ndim, check_finite)
            return update(param, grad, state, **hyper)

        made = cast(Any, rule)
        made.__signature__ = spec.rule_signature()
        made.__doc__ = (
            f"{(update.__doc__ or '').rstrip()}\n\n    Hyperparameters:\n\n{spec.doc()}\n"
        )
        made.spec = spec
        made.unchecked = update
        return cast(Rule, made)

    return make


def _ema(state: dict | None, key: str, grad: torch.Tensor, beta: float) -> torch.Tensor:
    """m ← β·m + (1 − β)·g, with m = 0 before the first step (``torch.lerp``, as PyTorch)."""
    m = state.get(key) if state else None
    return torch.lerp(torch.zeros_like(grad) if m is None else m, grad, 1.0 - beta)


def _step(param, direction, lr: float, weight_decay: float, scale: float = 1.0) -> torch.Tensor:
    """x·(1 − ηλ) − η·s·d: decoupled decay (skipped when λ = 0), then the step of length η·s."""
    decayed = param * (1.0 - lr * weight_decay) if weight_decay else param
    return torch.add(decayed, direction, alpha=-lr * scale)


@_rule(SGD)
def sgd(param, grad, state, *, lr, momentum, nesterov, weight_decay):
    r"""SGD with heavy-ball or Nesterov momentum (PyTorch's convention, dampening 0).

    .. math::

       b_t = \mu b_{t-1} + g_t \ (b_1 = g_1), \qquad
       u_t = g_t + \mu b_t \text{ (Nesterov)},\ b_t \text{ (heavy ball)},\ g_t\ (\mu = 0), \qquad
       x_{t+1} = x_t(1 - \eta\lambda) - \eta u_t

    The reference every sign method is measured against: the ℓ2 steepest-descent step *without*
    normalisation, −η·g = −η‖g‖₂·dualize(g, "l2"). State: ``{"momentum_buffer": b}`` (``{}`` for μ = 0).
    """
    if not momentum:
        return _step(param, grad, lr, weight_decay), {}
    buf = state.get("momentum_buffer") if state else None
    buf = grad.clone() if buf is None else torch.add(grad, buf, alpha=momentum)
    update = torch.add(grad, buf, alpha=momentum) if nesterov else buf
    return _step(param, update, lr, weight_decay), {"momentum_buffer": buf}


@_rule(SIGNSGD)
def signsgd(param, grad, state, *, lr, weight_decay):
    r"""SignSGD (Bernstein et al., ICML 2018): steepest descent under ℓ∞.

    .. math:: x_{t+1} = x_t(1 - \eta\lambda) - \eta\,\operatorname{sign}(g_t)

    sign(g) = dualize(g, "linf") = argmax_{‖d‖∞ ≤ 1} ⟨g, d⟩: every coordinate moves by η, whatever the
    size of its gradient, so what matters is ‖g‖₁ (the dual norm), not ‖g‖₂. Stateless (``{}``).
    """
    return _step(param, dualize(grad, "linf"), lr, weight_decay), {}


@_rule(SIGNUM)
def signum(param, grad, state, *, lr, momentum, weight_decay):
    r"""Signum, SignSGD on an exponential moving average (Bernstein et al., ICML 2018).

    .. math::

       m_t = \beta m_{t-1} + (1 - \beta) g_t \ (m_0 = 0), \qquad
       x_{t+1} = x_t(1 - \eta\lambda) - \eta\,\operatorname{sign}(m_t)

    Averaging before the sign shrinks the noise the sign sees (for i.i.d. noise of variance σ² the
    EMA's is σ²(1 − β)/(1 + β)), the role a growing batch plays for SignSGD; with skewed noise it
    also moves sign(m) back toward sign(∇f) (the heavy-tails chapter measures it; Karimireddy et al.
    2019 show batch-one SignSGD failing there). State: ``{"momentum_buffer": m}``.
    """
    m = _ema(state, "momentum_buffer", grad, momentum)
    return _step(param, dualize(m, "linf"), lr, weight_decay), {"momentum_buffer": m}


@_rule(LION)
def lion(param, grad, state, *, lr, betas, weight_decay):
    r"""Lion (Chen et al., arXiv:2302.06675): the sign of an interpolation, an EMA kept apart.

    .. math::

       c_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \qquad
       x_{t+1} = x_t(1 - \eta\lambda) - \eta\,\operatorname{sign}(c_t), \qquad
       m_t = \beta_2 m_{t-1} + (1 - \beta_2) g_t \ (m_0 = 0)

    With β₂ > β₁ the state averages over a longer window than the step uses, so the step reacts to
    the current gradient while the state stays smooth. State: ``{"exp_avg": m}``.
    """
    beta1, beta2 = betas
    m = state.get("exp_avg") if state else None
    m = torch.zeros_like(grad) if m is None else m
    direction = dualize(torch.lerp(m, grad, 1.0 - beta1), "linf")
    return _step(param, direction, lr, weight_decay), {"exp_avg": torch.lerp(m, grad, 1.0 - beta2)}


@_rule(NORMALIZED_SGD)
def normalized_sgd(param, grad, state, *, lr, weight_decay, dim):
    r"""Normalized SGD, steepest descent under ℓ2 (0 where g = 0).

    .. math:: x_{t+1} = x_t(1 - \eta\lambda) - \eta\, g_t/\|g_t\|_2

    g/‖g‖₂ = dualize(g, "l2"), over the whole tensor (``dim=None``) or along ``dim`` (each problem of
    a batch on its own). With :func:`signsgd` (ℓ∞) and :func:`muon` (spectral) it completes the
    ladder of normalised steepest-descent steps of length η (Bernstein & Newhouse,
    arXiv:2409.20325). Stateless (``{}``).
    """
    return _step(param, dualize(grad, "l2", dim=dim), lr, weight_decay), {}


@_rule(STEEPEST_DESCENT)
def steepest_descent(param, grad, state, *, lr, norm):
    r"""Steepest descent under a norm with the step length of its local model (the geometry chapter).

    .. math:: x_{t+1} = x_t - \eta\,\|g_t\|_\dagger\,\operatorname{dualize}(g_t, \|\cdot\|)
              = x_t + \text{steepest\_step}(g_t, \|\cdot\|, \lambda = 1/\eta)

    With η = 1/λ this is the minimiser of ⟨g, Δ⟩ + (λ/2)‖Δ‖² (Bernstein & Newhouse,
    arXiv:2409.20325), guaranteed to lower f by ‖g‖_†²/(2λ) when λ is f's smoothness constant in
    that norm: gradient descent for ℓ2 (‖g‖₂·g/‖g‖₂ = g), sign descent with length ‖g‖₁ for ℓ∞,
    greedy coordinate descent for ℓ1. The normalised rules (:func:`signsgd`, :func:`normalized_sgd`)
    keep the direction and replace the length ‖g‖_† by a step size. Vectors on the last dimension,
    batched over the leading ones. Stateless (``{}``).
    """
    return param + _steepest_step(grad, norm, lr), {}


def _lr_scale(shape, adjust_lr_fn: str) -> float:
    m, n = shape[-2], shape[-1]
    if adjust_lr_fn == "original":
        return math.sqrt(max(1.0, m / n))
    if adjust_lr_fn == "match_rms_adamw":
        return 0.2 * math.sqrt(max(m, n))
    return 1.0


def muon_lr_scale(shape, adjust_lr_fn="original") -> float:
    """Muon's shape scaling s(m, n) of the step for an m×n matrix (torch.optim.Muon's ``adjust_lr_fn``).

    "original" (K. Jordan et al. 2024; also None): √max(1, m/n), so that a tall matrix, whose
    msign has entries of RMS 1/√m, moves as much per entry as a wide one; "match_rms_adamw" (Liu et
    al., Moonlight, arXiv:2502.16982): 0.2·√max(m, n), so that the update's RMS matches AdamW's and
    AdamW's step size and decay carry over; "none": 1 (the theory's step −η·msign(G)).
    """
    adjust_lr_fn = one_of(ADJUST_LR_FN, {None: "original"})("adjust_lr_fn", adjust_lr_fn)
    return _lr_scale(shape, adjust_lr_fn)


@_rule(MUON, min_ndim=2)
def muon(
    param,
    grad,
    state,
    *,
    lr,
    weight_decay,
    momentum,
    nesterov,
    ns_coefficients,
    eps,
    ns_steps,
    adjust_lr_fn,
    method,
    dtype,
):
    r"""Muon (K. Jordan et al., 2024): steepest descent under the spectral norm, on an EMA.

    .. math::

       B_t = \mu B_{t-1} + (1 - \mu) G_t \ (B_0 = 0), \qquad
       U_t = (1 - \mu) G_t + \mu B_t \text{ (Nesterov) or } B_t, \\
       W_{t+1} = W_t(1 - \eta\lambda) - \eta\, s(m, n)\, \operatorname{msign}(U_t)

    msign(U) = UVᵀ for U = UΣVᵀ is dualize(U, "spectral") = argmax_{‖D‖_op ≤ 1} ⟨U, D⟩: every
    singular value is set to 1, as sign sets every coordinate to ±1. ``method="newton_schulz"``
    approximates it with ``ns_steps`` quintic steps on X₀ = U/max(‖U‖_F, eps), by default Jordan's
    coefficients, which maximise the slope at 0 so that small singular values rise fast, at the
    price of landing in a band around 1 (about [0.68, 1.2]) rather than on 1; a per-step schedule
    (``ns_coefficients="polar_express"``, :mod:`signlab.geometry.ns_schedules`) converges to 1 at
    the same cost per step; ``"svd"`` is exact. s(m, n) is
    :func:`muon_lr_scale`. This is torch.optim.Muon's update, the same arithmetic: torch 2.13
    keeps the same EMA (``buf.lerp_(grad, 1 - momentum)``) and the same Nesterov mix
    (``grad.lerp(buf, momentum)``), so the momentum buffers agree exactly, not only up to the
    positive factor msign cannot see (msign(cX) = msign(X) for c > 0). Matrices only (..., m, n);
    leading dimensions are independent problems. State: ``{"momentum_buffer": B}``.
    """
    buf = _ema(state, "momentum_buffer", grad, momentum)
    update = torch.lerp(grad, buf, momentum) if nesterov else buf
    direction = _muon_msign(
        update,
        ns_coefficients=ns_coefficients,
        eps=eps,
        ns_steps=ns_steps,
        method=method,
        dtype=dtype,
    )
    scale = _lr_scale(param.shape, adjust_lr_fn)
    return _step(param, direction, lr, weight_decay, scale), {"momentum_buffer": buf}


def _muon_msign(update, *, ns_coefficients, eps, ns_steps, method, dtype):
    """msign(U) = dualize(U, "spectral") by ``method``, from Muon's names for the options."""
    return dualize(
        update, "spectral", method=method, steps=ns_steps, abc=ns_coefficients, dtype=dtype, eps=eps
    )


@_rule(ADAMW)
def adamw(param, grad, state, *, lr, betas, eps, weight_decay):
    r"""AdamW (Loshchilov & Hutter, 2019), PyTorch's form.

    .. math::

       m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2,
       \\
       x_{t+1} = x_t(1 - \eta\lambda) - \frac{\eta}{1 - \beta_1^t}\,
       \frac{m_t}{\sqrt{v_t/(1 - \beta_2^t)} + \epsilon}

    (m₀ = v₀ = 0). With β₁ = β₂ = 0 and ε → 0 it is SignSGD: Adam is a smoothed sign method. Used by
    :class:`signlab.optim.MuonWithAdamW` for non-matrix parameters. State: ``{"exp_avg": m,
    "exp_avg_sq": v, "step": t}`` (t a float32 scalar tensor, as PyTorch stores it).
    """
    beta1, beta2 = betas
    state = state or {}
    step = state["step"] + 1 if "step" in state else torch.tensor(1.0)
    m = _ema(state, "exp_avg", grad, beta1)
    v = state.get("exp_avg_sq")
    v = torch.zeros_like(grad) if v is None else v
    v = torch.addcmul(v * beta2, grad, grad, value=1.0 - beta2)
    t = float(step)
    denom = v.sqrt() / math.sqrt(1.0 - beta2**t) + eps
    param = param * (1.0 - lr * weight_decay) if weight_decay else param
    param = torch.addcdiv(param, m, denom, value=-lr / (1.0 - beta1**t))
    return param, {"exp_avg": m, "exp_avg_sq": v, "step": step}
