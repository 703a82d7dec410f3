r"""The classical ℓ2 picture: the zero-chain function and the probability-p oracle.

:cite:`arjevani2023lower` prove that any first-order method needs
:math:`\Omega(\Delta L\sigma^2\varepsilon^{-4})` stochastic gradients to find
:math:`\|\nabla f\|_2 \le \varepsilon` under ℓ2 smoothness L and ℓ2 variance σ². The hard function
is the chain

.. math:: F_T(x) = -\Psi(1)\Phi(x_1) + \sum_{i=2}^{T}\big[\Psi(-x_{i-1})\Phi(-x_i) -
          \Psi(x_{i-1})\Phi(x_i)\big],

with :math:`\Psi(x) = e^{1 - 1/(2x-1)^2}` for x > 1/2 (0 otherwise) and
:math:`\Phi(x) = \sqrt e\int_{-\infty}^x e^{-t^2/2}dt`. Coordinate i + 1 has a non-zero partial
derivative only once :math:`|x_i| > 1/2`: a method that only moves along coordinates it has seen a
gradient for (SGD, and SignSGD too, since sign(0) = 0) discovers the chain one link at a time. The
probability-p oracle hides the next link: it returns :math:`\partial_iF` scaled by z/p, z ~
Bernoulli(p), for coordinates beyond the progress
:math:`\mathrm{prog}_{1/4}(x) = \max\{i: |x_i| > 1/4\}`, so each link costs about 1/p queries. The
bound is stated in ℓ2 quantities; in the ℓ∞/ℓ1 geometry of sign methods this chain has an
ℓ∞-smoothness constant that grows with T (see :func:`cube_quadratic_max`), which is why it never
ruled out a gain for sign methods (our reading, not a claim of either paper).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import torch

from signlab import _validate


def _psi(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ψ and Ψ' elementwise."""
    safe = np.where(x > 0.5, 2 * x - 1, 1.0)
    val = np.where(x > 0.5, np.exp(1 - 1 / safe**2), 0.0)
    return val, np.where(x > 0.5, val * 4 / safe**3, 0.0)


def _phi(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Φ and Φ' elementwise."""
    erf = torch.erf(torch.from_numpy(x / math.sqrt(2))).numpy()
    val = math.sqrt(math.e) * math.sqrt(math.pi / 2) * (1 + erf)
    return val, math.sqrt(math.e) * np.exp(-(x**2) / 2)


def _check(x: Any) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim == 0:
        raise ValueError("x must have a last axis of length T >= 1 (got a scalar)")
    _validate.finite_array("x", x)
    return x


def zero_chain_value(x: Any) -> np.ndarray:
    """F_T(x), T the length of the last axis of ``x``."""
    x = _check(x)
    psi1 = math.exp(1 - 1 / 1.0)
    value = -psi1 * _phi(x[..., :1])[0][..., 0]
    prev, cur = x[..., :-1], x[..., 1:]
    value = value + (_psi(-prev)[0] * _phi(-cur)[0] - _psi(prev)[0] * _phi(cur)[0]).sum(axis=-1)
    return value


def zero_chain_grad(x: Any) -> np.ndarray:
    """∇F_T(x): ∂_j collects the links (j-1, j) and (j, j+1) of the chain."""
    x = _check(x)
    g = np.zeros_like(x)
    g[..., 0] = -math.exp(0.0) * _phi(x[..., :1])[1][..., 0]
    prev, cur = x[..., :-1], x[..., 1:]
    psi_p, dpsi_p = _psi(prev)
    psi_m, dpsi_m = _psi(-prev)
    phi_c, dphi_c = _phi(cur)
    phi_m, dphi_m = _phi(-cur)
    g[..., 1:] += -psi_m * dphi_m - psi_p * dphi_c
    g[..., :-1] += -dpsi_m * phi_m - dpsi_p * phi_c
    return g


def progress(x: Any, alpha: float = 0.25) -> np.ndarray:
    """prog_α(x) = max{i : |x_i| > α} (1-based; 0 if there is none)."""
    x = np.abs(_check(x)) > _validate.positive("alpha", alpha)
    idx = np.arange(1, x.shape[-1] + 1)
    return np.where(x, idx, 0).max(axis=-1)


class ProbabilityOracle:
    """The probability-p oracle: ∂_iF·(z/p) beyond prog_{1/4}(x), the exact ∂_iF before it.

    Unbiased; the noise sits on the coordinates past the progress, where only one partial derivative
    is non-zero, so it is 1-sparse (noise density 1/T).
    """

    def __init__(self, p: Any) -> None:
        p = _validate.positive("p", p)
        if p > 1:
            raise ValueError(f"p must lie in (0, 1] (got {p!r})")
        self.p = p

    def sample(self, x: Any, rng: np.random.Generator) -> np.ndarray:
        """One noisy gradient at each point of ``x`` (leading axes are independent runs)."""
        x = _check(x)
        g = zero_chain_grad(x)
        z = rng.random(x.shape[:-1]) < self.p
        beyond = np.arange(1, x.shape[-1] + 1) > progress(x)[..., None]
        return np.where(beyond, g * (z[..., None] / self.p), g)


def cube_quadratic_max(H: Any) -> float:
    r"""max over v ∈ {−1, 1}^d of |vᵀHv|: a lower bound on the ℓ∞-smoothness constant at a point
    with
    Hessian H (for comparison, ‖H‖₂ bounds the ℓ2 one). Brute force, so d ≤ 16."""
    H = np.asarray(H, dtype=float)
    if H.ndim != 2 or H.shape[0] != H.shape[1] or not 1 <= len(H) <= 16:
        raise ValueError(f"H must be a square matrix of size 1..16 (got shape {H.shape})")
    _validate.finite_array("H", H)
    signs = np.array(list(itertools.product((-1.0, 1.0), repeat=len(H))))
    return float(np.abs(np.einsum("ki,ij,kj->k", signs, H, signs)).max())


def zero_chain_hessian(x: Any, h: float = 1e-5) -> np.ndarray:
    """The Hessian of F_T at one point x, by central differences of :func:`zero_chain_grad`."""
    x = _check(x)
    if x.ndim != 1:
        raise ValueError(f"x must be a single point (1-D, got shape {x.shape})")
    h = _validate.positive("h", h)
    eye = np.eye(len(x)) * h
    H = (zero_chain_grad(x + eye) - zero_chain_grad(x - eye)) / (2 * h)
    return (H + H.T) / 2


METHODS = ("sgd", "signsgd")


def run_zero_chain(
    method: str, x0: Any, *, p: Any, lr: Any, steps: Any, rng: np.random.Generator
) -> np.ndarray:
    """prog_{1/4}(x_t) for t = 0..steps of SGD or SignSGD on F_T with the probability-p oracle.

    ``x0`` has shape (runs, T); the steps are ``signlab.optim.functional.sgd`` / ``signsgd``. Both
    methods only move coordinates with a non-zero stochastic gradient, so each link of the chain
    needs a successful (probability p) query: progress grows by at most about p per step.
    """
    from signlab.optim.functional import sgd, signsgd

    _validate.choice("method", method, METHODS)
    oracle = ProbabilityOracle(p)
    lr = _validate.positive("lr", lr)
    steps = _validate.integer("steps", steps, low=1)
    x = _check(np.array(x0, dtype=float))
    out = np.empty((steps + 1, *x.shape[:-1]), dtype=int)
    out[0] = progress(x)
    for t in range(steps):
        g = torch.from_numpy(oracle.sample(x, rng))
        xt = torch.from_numpy(x)
        new = signsgd(xt, g, lr=lr) if method == "signsgd" else sgd(xt, g, lr=lr)[0]
        x = new.numpy()
        out[t + 1] = progress(x)
    return out
