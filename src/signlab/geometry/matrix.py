"""The matrix sign msign(G) = UVᵀ (polar factor), its Newton–Schulz approximation, and matrix norms.

For G = UΣVᵀ (thin SVD), msign(G) = U sign(Σ) Vᵀ: every nonzero singular value becomes 1 and a zero
one stays 0, exactly as sign(0) = 0 for vectors. It is the steepest-descent direction under the
spectral norm, argmax_{‖T‖_op ≤ 1} ⟨G, T⟩, and ⟨G, msign(G)⟩ = ‖G‖_* (nuclear norm), the pair
(spectral, nuclear) mirroring (ℓ∞, ℓ1) (Bernstein & Newhouse, arXiv:2409.20325).

Newton–Schulz replaces the SVD by matrix products: X₀ = G/‖G‖_F, then
X ← aX + b(XXᵀ)X + c(XXᵀ)²X, which maps every singular value x of X through the odd polynomial
p(x) = ax + bx³ + cx⁵ and leaves the singular vectors alone. The triple (a, b, c) may change from
step to step: a *schedule* (:mod:`signlab.geometry.ns_schedules`). Presets: K. Jordan's quintic
(3.4445, −4.7750, 2.0315) at every step ("jordan", the default, as torch.optim.Muon), which rises
fast near 0 but only lands in a band around 1; the classic cubic (1.5, −0.5, 0), which converges
to 1 on (0, √3); and per-step schedules that converge to 1 ("polar_express", "cans", "you").

The same map can be evaluated without iterating on the big matrix: with A = X₀X₀ᵀ = V diag(λ) Vᵀ
(λ = x², the squared singular values), K steps give V diag(p^K(x)/x) Vᵀ X₀
(:func:`newton_schulz_eigh`): fewer flops in float32, for CPUs.

All functions are batched over leading dimensions (..., m, n) and accept wide and tall matrices.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import torch

from signlab import _validate
from signlab.geometry.ns_schedules import (
    NS_SCHEDULES,
    _steps_of,
    ns_coefficients,
    ns_schedule,
)

__all__ = [
    "MSIGN_METHODS",
    "NATIVE_BF16_FLAGS",
    "NS_EPS",
    "NS_SCHEDULES",
    "cpu_has_native_bf16",
    "msign",
    "msign_svd",
    "newton_schulz",
    "newton_schulz_band",
    "newton_schulz_eigh",
    "newton_schulz_error",
    "newton_schulz_polynomial",
    "ns_coefficients",
    "ns_schedule",
    "nuclear_norm",
    "spectral_norm",
    "working_dtype",
]

MSIGN_METHODS = ("svd", "newton_schulz", "newton_schulz_eigh")
"""Ways to compute msign: exact SVD; Newton–Schulz by iteration; the same NS map via eigh."""

NS_EPS = 1e-7
"""Floor on ‖G‖_F in the Newton–Schulz normalisation (as torch.optim.Muon), so G = 0 maps to 0."""

Coefficients = str | Sequence
"""What the Newton–Schulz functions accept as ``coefficients``: a name of
:data:`~signlab.geometry.ns_schedules.NS_SCHEDULES`, one triple (a, b, c), or one triple per step."""


NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
"""x86 CPU flags (``/proc/cpuinfo``) that give native bfloat16 matrix products."""


@functools.lru_cache(maxsize=4)
def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True when this CPU multiplies bfloat16 matrices natively (AVX512-BF16 or AMX-BF16).

    Read from the CPU's own flags (``cpuinfo``, Linux's ``/proc/cpuinfo``), so the answer is the same
    at every call on a machine and never depends on how busy it is; False where they cannot be read.
    """
    try:
        with open(cpuinfo) as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return any(flag in flags.split() for flag in NATIVE_BF16_FLAGS)


def working_dtype(
    device: torch.device | str,
    dtype: torch.dtype | None = None,
    input_dtype: torch.dtype | None = None,
) -> torch.dtype:
    """The dtype Newton–Schulz runs in: ``dtype`` if given; else bfloat16 on CUDA and on CPUs with
    native bf16 (:func:`cpu_has_native_bf16`), float32 on other CPUs (float64 when the input is
    float64, for exact checks).

    Chosen per device by measurement (``benchmarks/bench_matrix.py``, one thread): on an Intel Xeon
    without AVX512-BF16 or AMX a bfloat16 matmul ran at 16–31 GFLOP/s against 75–138 GFLOP/s in
    float32 (bf16 Newton–Schulz ~3–4× *slower*), while an AMD EPYC with AVX512-BF16 ran bf16 matmuls
    2.5× *faster* than float32. bf16 costs accuracy: five quintic steps then differ from float64
    Newton–Schulz by ~1% (relative RMS) instead of ~2e-6 in float32.
    """
    if dtype is not None:
        if not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating-point torch dtype (got {dtype})")
        return dtype
    if input_dtype == torch.float64 and torch.device(device).type == "cpu":
        return torch.float64
    if torch.device(device).type == "cuda" or cpu_has_native_bf16():
        return torch.bfloat16
    return torch.float32


def _check_matrix(name: str, G: torch.Tensor) -> None:
    if not isinstance(G, torch.Tensor) or G.ndim < 2:
        shape = getattr(G, "shape", None)
        raise ValueError(f"{name} must be a torch tensor of shape (..., m, n) (got shape {shape})")
    _validate.finite_array(name, G)


def _wide_normalized(X: torch.Tensor, eps: float) -> tuple[torch.Tensor, bool]:
    """X₀ = X/max(‖X‖_F, eps) in the wide orientation (m ≤ n), and whether X was transposed."""
    tall = X.shape[-2] > X.shape[-1]
    if tall:
        X = X.mT
    if X.ndim == 2:
        return X / X.norm().clamp_min(eps), tall
    return X / X.norm(dim=(-2, -1), keepdim=True).clamp_min(eps), tall


def _newton_schulz(G, steps, abc, dtype, eps):
    """:func:`newton_schulz` without validation (``abc`` a resolved triple or schedule), in the
    working dtype.

    One matrix: ``torch.addmm`` (as torch.optim.Muon, so the bf16 results agree bit for bit);
    a batch: ``torch.baddbmm`` on (batch, m, n).
    """
    X, tall = _wide_normalized(G.to(working_dtype(G.device, dtype, G.dtype)), eps)
    if X.ndim == 2:
        for a, b, c in _steps_of(abc, steps):
            A = X @ X.mT
            B = torch.addmm(A, A, A, beta=b, alpha=c)
            X = torch.addmm(X, B, X, beta=a)
    else:
        batch = X.shape[:-2]
        X = X.reshape(-1, *X.shape[-2:])
        for a, b, c in _steps_of(abc, steps):
            A = X @ X.mT
            B = torch.baddbmm(A, A, A, beta=b, alpha=c)
            X = torch.baddbmm(X, B, X, beta=a)
        X = X.reshape(*batch, *X.shape[-2:])
    return X.mT if tall else X


def _eigh_dtype(G: torch.Tensor, dtype: torch.dtype | None) -> torch.dtype:
    work = dtype or (torch.float64 if G.dtype == torch.float64 else torch.float32)
    if work not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64 for eigh (got {work})")
    return work


def _newton_schulz_eigh(G, steps, abc, dtype, eps):
    """:func:`newton_schulz_eigh` without validation (``abc`` a resolved triple or schedule)."""
    X, tall = _wide_normalized(G.to(_eigh_dtype(G, dtype)), eps)
    lam, V = torch.linalg.eigh(X @ X.mT)
    s = lam.clamp_min(0.0)
    r = torch.ones_like(s)
    for a, b, c in _steps_of(abc, steps):
        q = a + s * (b + c * s)
        r = r * q
        s = s * q * q
    X = ((V * r.unsqueeze(-2)) @ V.mT) @ X
    return X.mT if tall else X


def _msign_svd(G: torch.Tensor, rtol: float | None = None) -> torch.Tensor:
    """:func:`msign_svd` without validation."""
    work = torch.float64 if G.dtype == torch.float64 else torch.float32
    X = G.to(work)
    if rtol is None:
        rtol = max(X.shape[-2:]) * torch.finfo(work).eps
    U, S, Vh = torch.linalg.svd(X, full_matrices=False)
    keep = S > rtol * S[..., :1]
    return (U * keep.to(work).unsqueeze(-2)) @ Vh


def _msign(
    G: torch.Tensor,
    method: str = "svd",
    steps: int = 5,
    abc=NS_SCHEDULES["jordan"][0],
    dtype: torch.dtype | None = None,
    eps: float = NS_EPS,
) -> torch.Tensor:
    """:func:`msign` without validation, in G's dtype: the one implementation behind ``msign``,
    ``dualize(G, "spectral")`` and Muon (whose callers validate their arguments once)."""
    if method == "svd":
        return _msign_svd(G).to(G.dtype)
    ns = _newton_schulz if method == "newton_schulz" else _newton_schulz_eigh
    return ns(G, steps, abc, dtype, eps).to(G.dtype)


def _ns_arguments(G, steps, coefficients, dtype, eps) -> tuple:
    """The public Newton–Schulz functions' arguments, validated: (G, steps, (a, b, c), dtype, eps)."""
    _check_matrix("G", G)
    steps = _validate.integer("steps", steps, low=0)
    return G, steps, ns_coefficients(coefficients), dtype, _validate.positive("eps", eps)


def newton_schulz(
    G: torch.Tensor,
    steps: int = 5,
    coefficients: Coefficients = "jordan",
    dtype: torch.dtype | None = None,
    eps: float = NS_EPS,
) -> torch.Tensor:
    """Approximate msign(G) by ``steps`` Newton–Schulz iterations (result in the working dtype).

    X₀ = G/max(‖G‖_F, eps) (so every singular value is ≤ 1), working on the wide orientation
    (m ≤ n, transposing tall inputs) so that the Gram matrix A = XXᵀ is the small one;
    then ``steps`` times X ← aX + (bA + cA²)X. Each singular value x goes to p(x) = ax + bx³ + cx⁵,
    with step k's triple from ``coefficients`` (:func:`ns_schedule`: a name, one triple for every
    step, or one triple per step, the last repeated).
    """
    return _newton_schulz(*_ns_arguments(G, steps, coefficients, dtype, eps))


def newton_schulz_eigh(
    G: torch.Tensor,
    steps: int = 5,
    coefficients: Coefficients = "jordan",
    dtype: torch.dtype | None = None,
    eps: float = NS_EPS,
) -> torch.Tensor:
    """The result of :func:`newton_schulz` in exact arithmetic, computed through one eigh.

    With X₀ = G/max(‖G‖_F, eps) (wide orientation) and A = X₀X₀ᵀ = V diag(λ) Vᵀ, the k-th NS step
    multiplies X by q_k(A) = a_k + b_kA + c_kA², a polynomial in A, so X_K = V diag(r) Vᵀ X₀ with
    r = Π_k (a_k + b_k s_k + c_k s_k²), s₀ = λ, s_{k+1} = s_k (a_k + b_k s_k + c_k s_k²)² (s_k = x_k²; no
    division, so λ = 0 is fine). Cost: two products with X₀ and one m×m eigh instead of 3K
    products; runs in float32 (float64 for float64 input) or ``dtype``.

    Accuracy: the Gram matrix squares the condition number. eigh gets each λ = x² to within
    ~eps·λ_max, so a small normalised singular value x is off by ~eps/(2x), and K steps multiply
    that by the slope of p^K at x, which is large near 0 (≈ 150 at x = 0.007 for five quintic
    steps). In float32 an ill-conditioned G therefore differs from float64 Newton–Schulz by up to
    ~1e-3 per entry, while iterating in float32 stays near 1e-6 (tests/test_matrix.py).
    """
    return _newton_schulz_eigh(*_ns_arguments(G, steps, coefficients, dtype, eps))


def msign_svd(G: torch.Tensor, rtol: float | None = None) -> torch.Tensor:
    """Exact msign(G) = U sign(Σ) Vᵀ from the thin SVD, in float32 (float64 for float64 input).

    A singular value counts as zero when it is ≤ rtol·σ_max, with rtol = max(m, n)·machine-eps of
    the working dtype by default (the rank tolerance of numpy/torch ``matrix_rank``); so a
    rank-deficient G, e.g. Qᵀdiag(g)P with some g_i = 0, gets exactly sign(0) = 0 there.
    """
    _check_matrix("G", G)
    if rtol is not None:
        rtol = _validate.nonnegative("rtol", rtol)
    return _msign_svd(G, rtol)


def msign(
    G: torch.Tensor,
    method: str = "svd",
    steps: int = 5,
    coefficients: Coefficients = "jordan",
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """The matrix sign msign(G) = UVᵀ of G = UΣVᵀ, batched over leading dimensions.

    ``method="svd"``: exact (zero singular values stay 0, see :func:`msign_svd`).
    ``method="newton_schulz"``: ``steps`` iterations with ``coefficients`` (a schedule of
    :data:`NS_SCHEDULES` such as "jordan" or "polar_express", one triple (a, b, c), or one triple
    per step) in :func:`working_dtype` (bfloat16 on CUDA and on CPUs with native bf16, float32
    on other CPUs, or ``dtype``).
    ``method="newton_schulz_eigh"``: the same NS map through one eigh (:func:`newton_schulz_eigh`).
    The result has G's dtype.
    """
    method = _validate.choice("method", method, MSIGN_METHODS)
    _check_matrix("G", G)
    if method == "svd":
        return _msign_svd(G).to(G.dtype)
    steps = _validate.integer("steps", steps, low=0)
    abc = ns_coefficients(coefficients)
    if method == "newton_schulz_eigh":
        _eigh_dtype(G, dtype)
    else:
        working_dtype(G.device, dtype, G.dtype)
    return _msign(G, method, steps, abc, dtype)


def spectral_norm(G: torch.Tensor) -> torch.Tensor:
    """‖G‖_op = σ_max(G), the largest singular value, per matrix of a batch (..., m, n) → (...)."""
    _check_matrix("G", G)
    return torch.linalg.matrix_norm(G, ord=2)


def nuclear_norm(G: torch.Tensor) -> torch.Tensor:
    """‖G‖_* = Σ_i σ_i(G), the dual of the spectral norm, per matrix of a batch (..., m, n)."""
    _check_matrix("G", G)
    return torch.linalg.matrix_norm(G, ord="nuc")


def newton_schulz_polynomial(x, coefficients: Coefficients = "jordan", steps: int = 1):
    """The composition p_steps ∘ … ∘ p_1 applied to x, p_k(x) = a_kx + b_kx³ + c_kx⁵ with step k's
    triple of ``coefficients`` (:func:`ns_schedule`): what NS does to a singular value.

    Works on floats, numpy arrays, torch tensors and sympy expressions alike (only + and * are
    used), so the book can plot it and derive it symbolically.
    """
    for a, b, c in ns_schedule(coefficients, steps):
        x2 = x * x
        x = x * (a + x2 * (b + c * x2))
    return x


def newton_schulz_band(
    coefficients: Coefficients = "jordan",
    steps: int = 5,
    x_min: float = 2e-3,
    num: int = 200_001,
) -> tuple[float, float]:
    """(min, max) of the composition over normalised singular values x ∈ [x_min, 1], on a dense
    grid (log-spaced, so the small singular values, where the error sits, are resolved).

    After X₀ = G/‖G‖_F every singular value lies in (0, 1], so this is the band NS leaves them in,
    for the singular values at least x_min·‖G‖_F. Jordan's quintic, 5 steps, x_min = 2e-3:
    ≈ (0.68, 1.20).
    """
    x_min = _validate.positive("x_min", x_min)
    if x_min > 1:
        raise ValueError(f"x_min must lie in (0, 1] (got {x_min!r})")
    num = _validate.integer("num", num, low=2)
    values = newton_schulz_polynomial(np.geomspace(x_min, 1.0, num), coefficients, steps)
    return float(values.min()), float(values.max())


def newton_schulz_error(
    coefficients: Coefficients = "jordan",
    steps: int = 5,
    x_min: float = 1e-3,
    num: int = 200_001,
) -> float:
    """Worst-case |p(x) − 1| of the composition over x ∈ [x_min, 1] (:func:`newton_schulz_band`).

    In exact arithmetic this is ‖NS(G) − UVᵀ‖_op for any G whose normalised singular values fill
    [x_min, 1], since NS keeps U and V and maps each singular value through the polynomial.
    Polar Express for ℓ = 10⁻³ (float64): ≈ 0.15, 5.6e-3, 9e-6 after 5, 6, 7 steps; Jordan's
    quintic ≈ 0.53 after 5 and never below ≈ 0.32.
    """
    lo, hi = newton_schulz_band(coefficients, steps, x_min, num)
    return max(1.0 - lo, hi - 1.0)
