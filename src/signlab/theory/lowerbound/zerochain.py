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
from signlab._arrays import numpy_or_torch
from signlab.sim.noise import Oracle


def _psi(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Ψ and Ψ' elementwise."""
    on = x > 0.5
    safe = torch.where(on, 2 * x - 1, torch.ones_like(x))
    val = torch.where(on, torch.exp(1 - 1 / safe**2), torch.zeros_like(x))
    return val, torch.where(on, val * 4 / safe**3, torch.zeros_like(x))


def _phi(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Φ and Φ' elementwise."""
    val = math.sqrt(math.e) * math.sqrt(math.pi / 2) * (1 + torch.erf(x / math.sqrt(2)))
    return val, math.sqrt(math.e) * torch.exp(-(x**2) / 2)


class ZeroChain:
    """Arjevani et al.'s chain F_T on points of T coordinates: a problem of the engine.

    ``value(x)``, ``gradient(x)`` and :meth:`progress` take (runs, T) arrays (numpy or torch).
    """

    def __init__(self, T: Any) -> None:
        self.T = _validate.integer("T", T, low=1)

    @property
    def shape(self) -> tuple[int]:
        """(T,): one point of the chain."""
        return (self.T,)

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 0 or x.shape[-1] != self.T:
            raise ValueError(
                f"x must have a last axis of length T = {self.T} (got {tuple(x.shape)})"
            )
        _validate.finite_array("x", x)
        return x

    @numpy_or_torch
    def value(self, x):
        """F_T(x), one value per run."""
        x = self._check(x)
        value = -math.exp(0.0) * _phi(x[..., 0])[0]
        prev, cur = x[..., :-1], x[..., 1:]
        links = _psi(-prev)[0] * _phi(-cur)[0] - _psi(prev)[0] * _phi(cur)[0]
        return value + links.sum(dim=-1)

    @numpy_or_torch
    def gradient(self, x):
        """∇F_T(x): ∂_j collects the links (j-1, j) and (j, j+1) of the chain."""
        x = self._check(x)
        g = torch.zeros_like(x)
        g[..., 0] = -_phi(x[..., 0])[1]
        prev, cur = x[..., :-1], x[..., 1:]
        psi_p, dpsi_p = _psi(prev)
        psi_m, dpsi_m = _psi(-prev)
        phi_c, dphi_c = _phi(cur)
        phi_m, dphi_m = _phi(-cur)
        g[..., 1:] += -psi_m * dphi_m - psi_p * dphi_c
        g[..., :-1] += -dpsi_m * phi_m - dpsi_p * phi_c
        return g

    @numpy_or_torch
    def progress(self, x, alpha: float = 0.25):
        """prog_α(x) = max{i : |x_i| > α} (1-based; 0 if there is none), one value per run."""
        above = x.abs() > _validate.positive("alpha", alpha)
        idx = torch.arange(1, x.shape[-1] + 1, dtype=x.dtype)
        return torch.where(above, idx, torch.zeros_like(idx)).amax(dim=-1)

    def hessian(self, x: Any, h: float = 1e-5) -> np.ndarray:
        """The Hessian of F_T at one point x, by central differences of :meth:`gradient`."""
        x = np.asarray(x, dtype=float)
        if x.shape != (self.T,):
            raise ValueError(f"x must be a single point of shape ({self.T},) (got {x.shape})")
        h = _validate.positive("h", h)
        eye = np.eye(self.T) * h
        H = (self.gradient(x + eye) - self.gradient(x - eye)) / (2 * h)
        return (H + H.T) / 2


class ProbabilityOracle(Oracle):
    """The probability-p oracle: ∂_iF·(z/p) beyond prog_{1/4}(x), the exact ∂_iF before it.

    Unbiased; the noise sits on the coordinates past the progress, where only one partial derivative
    is non-zero, so it is 1-sparse (noise density 1/T). The mean of B draws scales by K/(Bp),
    K ~ Binomial(B, p). It needs the point: the engine passes ``x``.
    """

    def __init__(self, p: Any) -> None:
        p = _validate.positive("p", p)
        if p > 1:
            raise ValueError(f"p must lie in (0, 1] (got {p!r})")
        self.p = p

    def sample(self, grad, batch=1, generator=None, *, x=None):
        """One noisy gradient per run (``x`` is required: the hidden links depend on it)."""
        if x is None:
            raise ValueError("x must be given: the probability oracle depends on the point")
        batch = _validate.integer("batch", batch, low=1)
        lead = grad.shape[:-1]
        hits = torch.binomial(
            torch.full(lead, float(batch), dtype=grad.dtype),
            torch.full(lead, self.p, dtype=grad.dtype),
            generator=generator,
        )
        progress = ZeroChain(x.shape[-1]).progress(x)
        beyond = torch.arange(1, x.shape[-1] + 1, dtype=x.dtype) > progress[..., None]
        return torch.where(beyond, grad * (hits / (batch * self.p))[..., None], grad)


def cube_quadratic_max(H: Any) -> float:
    r"""max over v ∈ {−1, 1}^d of |vᵀHv|: a lower bound on the ℓ∞-smoothness constant at a point
    with Hessian H (for comparison, ‖H‖₂ bounds the ℓ2 one). Brute force, so d ≤ 16."""
    H = np.asarray(H, dtype=float)
    if H.ndim != 2 or H.shape[0] != H.shape[1] or not 1 <= len(H) <= 16:
        raise ValueError(f"H must be a square matrix of size 1..16 (got shape {H.shape})")
    _validate.finite_array("H", H)
    signs = np.array(list(itertools.product((-1.0, 1.0), repeat=len(H))))
    return float(np.abs(np.einsum("ki,ij,kj->k", signs, H, signs)).max())
