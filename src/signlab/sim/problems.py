r"""Separable test functions f(x) = Σ_i p_i(x_i) with a curvature vector L, evaluated in batches.

Tao, Yu & Zhang (arXiv:2605.06615) state their rates with *separable smoothness*: a vector
L = (L_1, …, L_d) with |p_i''| ≤ L_i, which implies ℓ∞-smoothness with constant L∞ = ‖L‖₁ (their
lemma; :func:`linf_smoothness`). The functions here have that exact L and inf f = 0, so the gap
Δ = f(x₀) − inf f is known in closed form:

- :class:`SeparableQuadratic`: f(x) = ½ Σ L_i x_i² (convex; the paper's toy experiments);
- :class:`SeparableCosine`: f(x) = Σ L_i (1 − cos x_i) (non-convex: p_i'' = L_i cos x_i
  changes sign);
- :class:`Quadratic`: f(x) = ½ xᵀHx with any symmetric positive semidefinite H (not separable:
  the geometry chapter rotates its Hessian away from the axes).

Every problem of the engine (:mod:`signlab.sim.engine`) has this vocabulary: ``shape`` (one point),
``value(x)`` (one number per run) and ``gradient(x)``, for ``x`` of shape (\*runs, \*shape), so one
call evaluates a whole population of runs. numpy inputs give numpy results.

**Multiplicities.** ``multiplicity`` (optional, the shape of L) lets one stored coordinate stand for
several identical ones: f = Σ_i m_i p_i(x_i). Coordinates with the same curvature, start and noise
(none) move identically under every coordinate-wise method, so a class of them can be simulated
once, exactly (the engine weights ‖∇f‖₁ and ‖∇f‖₂ by m).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from signlab import _validate
from signlab._arrays import numpy_or_torch

__all__ = ["Quadratic", "SeparableCosine", "SeparableQuadratic", "linf_smoothness"]


def _curvatures(L: Any) -> torch.Tensor:
    L = torch.as_tensor(L)
    L = L if L.is_floating_point() else L.double()
    if L.ndim == 0:
        raise ValueError("L must have at least one dimension (one curvature per coordinate)")
    _validate.nonnegative_array("L", L)
    return L


def linf_smoothness(L: Any, multiplicity: Any = None) -> float:
    r"""L∞ = ‖L‖₁ = Σ_i L_i (Σ_i m_i L_i with multiplicities): the ℓ∞-smoothness constant.

    Separable smoothness with vector L gives ℓ∞-smoothness with this L∞, because
    ½Σ L_i v_i² ≤ ½ (Σ_i L_i) ‖v‖∞², with equality for v = (±1, …, ±1).
    """
    L = _curvatures(L)
    return float(L.sum() if multiplicity is None else (L * torch.as_tensor(multiplicity)).sum())


@dataclass(frozen=True, eq=False)
class _Separable:
    L: Any
    multiplicity: Any = None
    _cast: dict[torch.dtype, torch.Tensor] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        L = _curvatures(self.L)
        object.__setattr__(self, "L", L)
        if self.multiplicity is not None:
            m = torch.as_tensor(self.multiplicity, dtype=L.dtype)
            if tuple(m.shape) != tuple(L.shape):
                raise ValueError(
                    f"multiplicity must have the shape of L {tuple(L.shape)} (got {tuple(m.shape)})"
                )
            _validate.nonnegative_array("multiplicity", m)
            object.__setattr__(self, "multiplicity", m)

    def curvatures(self, x: torch.Tensor) -> torch.Tensor:
        """L in the dtype of ``x``, checked against the trailing shape of ``x``."""
        L = self._cast.get(x.dtype)
        if L is None:
            L = self._cast[x.dtype] = self.L.to(x.dtype)
        if x.ndim < L.ndim or tuple(x.shape[x.ndim - L.ndim :]) != tuple(L.shape):
            raise ValueError(
                f"x must have shape (*runs, {', '.join(map(str, L.shape))}) (got {tuple(x.shape)})"
            )
        return L

    def _total(self, terms: torch.Tensor) -> torch.Tensor:
        if self.multiplicity is not None:
            terms = terms * self.multiplicity.to(terms.dtype)
        return terms.sum(dim=tuple(range(-self.L.ndim, 0)))

    inf_value = 0.0

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one point x (without the run dims)."""
        return tuple(self.L.shape)

    @property
    def dimension(self) -> int:
        """d, the number of coordinates represented (Σ m_i with multiplicities)."""
        if self.multiplicity is None:
            return self.L.numel()
        return int(round(float(self.multiplicity.sum())))

    @property
    def linf_smoothness(self) -> float:
        """L∞ = ‖L‖₁ (see :func:`linf_smoothness`)."""
        return linf_smoothness(self.L, self.multiplicity)

    def value(self, x: torch.Tensor) -> torch.Tensor:
        """f(x), one value per run (each problem defines it)."""
        raise NotImplementedError

    def gap(self, x0: Any) -> Any:
        """Δ = f(x₀) − inf f, one value per run."""
        return self.value(x0) - self.inf_value


class SeparableQuadratic(_Separable):
    """f(x) = ½ Σ L_i x_i² with curvatures ``L`` (inf f = 0 at x = 0)."""

    @numpy_or_torch
    def value(self, x):
        """f(x) for every run."""
        return 0.5 * self._total(self.curvatures(x) * x * x)

    @numpy_or_torch
    def gradient(self, x):
        """∇f(x) = L ⊙ x (per stored coordinate)."""
        return self.curvatures(x) * x


class SeparableCosine(_Separable):
    """f(x) = Σ L_i (1 − cos x_i), a non-convex separable function (inf f = 0 at x = 0)."""

    @numpy_or_torch
    def value(self, x):
        """f(x) for every run."""
        return self._total(self.curvatures(x) * (1.0 - torch.cos(x)))

    @numpy_or_torch
    def gradient(self, x):
        """∇f(x) = L ⊙ sin x."""
        return self.curvatures(x) * torch.sin(x)


class Quadratic:
    """f(x) = ½ xᵀHx for a symmetric positive semidefinite ``H`` (d×d), inf f = 0 at x = 0."""

    def __init__(self, H: Any) -> None:
        H = torch.as_tensor(H)
        H = H if H.is_floating_point() else H.double()
        _validate.psd_matrix("H", H)
        self.H = H

    @property
    def shape(self) -> tuple[int]:
        """(d,): one point x."""
        return (len(self.H),)

    def _H(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 1 or x.shape[-1] != len(self.H):
            raise ValueError(f"x must have shape (*runs, {len(self.H)}) (got {tuple(x.shape)})")
        return self.H.to(x.dtype)

    @numpy_or_torch
    def value(self, x):
        """f(x) = ½ xᵀHx for every run."""
        return 0.5 * ((x @ self._H(x)) * x).sum(dim=-1)

    @numpy_or_torch
    def gradient(self, x):
        """∇f(x) = Hx."""
        return x @ self._H(x)
