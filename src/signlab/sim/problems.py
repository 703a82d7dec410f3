r"""Separable test functions f(x) = Σ_i p_i(x_i) with a curvature vector L, evaluated in batches.

Tao, Yu & Zhang (arXiv:2605.06615) state their rates with *separable smoothness*: a vector
L = (L_1, …, L_d) with |p_i''| ≤ L_i, which implies ℓ∞-smoothness with constant L∞ = ‖L‖₁ (their
lemma; :func:`linf_smoothness`). The functions here have that exact L and inf f = 0, so the gap
Δ = f(x₀) − inf f is known in closed form:

- :class:`SeparableQuadratic`: f(x) = ½ Σ L_i x_i² (convex; the paper's toy experiments);
- :class:`SeparableCosine`: f(x) = Σ L_i (1 − cos x_i) (non-convex: p_i'' = L_i cos x_i
  changes sign).

``x`` has shape (\*batch, \*shape) where ``shape`` is ``L.shape``: every leading index is an
independent problem (a seed), so one call evaluates a whole population of runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from signlab import _validate

__all__ = [
    "SeparableCosine",
    "SeparableQuadratic",
    "cosine_gradient",
    "cosine_value",
    "linf_smoothness",
    "quadratic_gradient",
    "quadratic_value",
]


def _curvatures(L: Any) -> torch.Tensor:
    L = torch.as_tensor(L)
    L = L if L.is_floating_point() else L.double()
    if L.ndim == 0:
        raise ValueError("L must have at least one dimension (one curvature per coordinate)")
    _validate.nonnegative_array("L", L)
    return L


def _check_shape(x: torch.Tensor, L: torch.Tensor) -> tuple[int, ...]:
    if x.ndim < L.ndim or tuple(x.shape[x.ndim - L.ndim :]) != tuple(L.shape):
        raise ValueError(
            f"x must have shape (*batch, {', '.join(map(str, L.shape))}) (got {tuple(x.shape)})"
        )
    return tuple(range(-L.ndim, 0))


def linf_smoothness(L: Any) -> float:
    r"""L∞ = ‖L‖₁ = Σ_i L_i: separable smoothness with vector L gives ℓ∞-smoothness with this L∞.

    Because ½Σ L_i v_i² ≤ ½ (Σ_i L_i) ‖v‖∞², with equality for v = (±1, …, ±1).
    """
    return float(_curvatures(L).sum())


def _dims(L: torch.Tensor) -> tuple[int, ...]:
    return tuple(range(-L.ndim, 0))


def _quadratic_value(x: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
    return 0.5 * (L * x * x).sum(dim=_dims(L))


def _cosine_value(x: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
    return (L * (1.0 - torch.cos(x))).sum(dim=_dims(L))


def _cosine_gradient(x: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
    return L * torch.sin(x)


def _checked(x: torch.Tensor, L: Any) -> torch.Tensor:
    L = _curvatures(L).to(x.dtype)
    _check_shape(x, L)
    return L


def quadratic_value(x: torch.Tensor, L: Any) -> torch.Tensor:
    r"""f(x) = ½ Σ_i L_i x_i², summed over the trailing ``L.shape`` dims."""
    return _quadratic_value(x, _checked(x, L))


def quadratic_gradient(x: torch.Tensor, L: Any) -> torch.Tensor:
    r"""∇f(x) = L ⊙ x for f(x) = ½ Σ_i L_i x_i²."""
    return _checked(x, L) * x


def cosine_value(x: torch.Tensor, L: Any) -> torch.Tensor:
    r"""f(x) = Σ_i L_i (1 − cos x_i): non-convex, L-separably smooth (|p_i''| ≤ L_i)."""
    return _cosine_value(x, _checked(x, L))


def cosine_gradient(x: torch.Tensor, L: Any) -> torch.Tensor:
    r"""∇f(x) = L ⊙ sin(x) for f(x) = Σ_i L_i (1 − cos x_i)."""
    return _cosine_gradient(x, _checked(x, L))


@dataclass(frozen=True, eq=False)
class _Separable:
    L: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "L", _curvatures(self.L))
        object.__setattr__(self, "_cast", {})

    def curvatures(self, x: torch.Tensor) -> torch.Tensor:
        """L in the dtype of ``x`` (cached, checked against the shape of ``x`` once per dtype)."""
        L = self._cast.get(x.dtype)
        if L is None:
            L = self._cast[x.dtype] = self.L.to(x.dtype)
        _check_shape(x, L)
        return L

    inf_value = 0.0

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one point x (without the batch dims)."""
        return tuple(self.L.shape)

    @property
    def linf_smoothness(self) -> float:
        """L∞ = ‖L‖₁ (see :func:`linf_smoothness`)."""
        return linf_smoothness(self.L)

    def gap(self, x0: torch.Tensor) -> torch.Tensor:
        """Δ = f(x₀) − inf f, one value per problem in the batch."""
        return self.value(x0) - self.inf_value


class SeparableQuadratic(_Separable):
    """f(x) = ½ Σ L_i x_i² with curvatures ``L`` (inf f = 0 at x = 0)."""

    def value(self, x: torch.Tensor) -> torch.Tensor:
        """f(x) for every problem in the batch."""
        return _quadratic_value(x, self.curvatures(x))

    def gradient(self, x: torch.Tensor) -> torch.Tensor:
        """∇f(x) = L ⊙ x."""
        return self.curvatures(x) * x


class SeparableCosine(_Separable):
    """f(x) = Σ L_i (1 − cos x_i), a non-convex separable function (inf f = 0 at x = 0)."""

    def value(self, x: torch.Tensor) -> torch.Tensor:
        """f(x) for every problem in the batch."""
        return _cosine_value(x, self.curvatures(x))

    def gradient(self, x: torch.Tensor) -> torch.Tensor:
        """∇f(x) = L ⊙ sin x."""
        return _cosine_gradient(x, self.curvatures(x))
