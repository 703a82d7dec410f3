r"""The resisting function: a 1-D piecewise quadratic on which SignSGD can only crawl.

Lemma 2 of :cite:`tao2026signsgd`. On the grid :math:`x_t = (t-1)\eta`, t = 1, …, n+1 (so
:math:`x_1 = 0`), let :math:`c = \eta^2/4 - \varepsilon\eta` and :math:`P_k = kc`. Then

.. math::
   p(x) = \begin{cases}
   -\varepsilon x & x \le 0,\\
   P_k + \tfrac12 u^2 - \varepsilon u & u = x - x_{k+1} \in [0, \eta/2] \text{ (first half)},\\
   P_{k+1} - \tfrac12 v^2 - \varepsilon v & v = x - x_{k+2} \in (-\eta/2, 0] \text{ (second half)},\\
   P_n + \tfrac12 u^2 - \varepsilon u & u = x - x_{n+1} > 0 \text{ (the last piece)}.
   \end{cases}

The pieces are glued with matching values and slopes, so :math:`p'` is continuous with slopes ±1
(1-Lipschitz), :math:`p'(x_t) = -\varepsilon` at every grid point, and each cell lowers p by
:math:`\varepsilon\eta - \eta^2/4 \le \varepsilon^2`, whence
:math:`p(x_1) - \inf p \le n\varepsilon^2 + \varepsilon^2/2`. SignSGD with step η started at a grid
point sees a negative slope everywhere on the grid and moves exactly one cell per non-zero step: it
cannot find a point with small gradient before it has walked n cells.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from signlab import _validate
from signlab._arrays import is_torch, numpy_or_torch, to_tensor


def _params(x: torch.Tensor, *params: Any) -> list[torch.Tensor]:
    return [to_tensor(p).to(x.dtype) for p in params]


def _cells(x: torch.Tensor, eta: torch.Tensor, n: torch.Tensor):
    """Cell index k in [0, n-1] and offset u = x - kη (only meaningful for 0 <= x <= nη)."""
    k = torch.minimum(torch.clamp(torch.floor(x / eta), min=0.0), n - 1)
    return k, x - k * eta


def _value(x: torch.Tensor, eps: Any, eta: Any, n: Any) -> torch.Tensor:
    eps, eta, n = _params(x, eps, eta, n)
    c = eta**2 / 4 - eps * eta
    k, u = _cells(x, eta, n)
    first = k * c + u**2 / 2 - eps * u
    v = u - eta
    second = (k + 1) * c - v**2 / 2 - eps * v
    inside = torch.where(u <= eta / 2, first, second)
    w = x - n * eta
    tail = n * c + w**2 / 2 - eps * w
    return torch.where(x <= 0, -eps * x, torch.where(x >= n * eta, tail, inside))


def _gradient(x: torch.Tensor, eps: Any, eta: Any, n: Any) -> torch.Tensor:
    eps, eta, n = _params(x, eps, eta, n)
    k, u = _cells(x, eta, n)
    inside = torch.where(u <= eta / 2, u - eps, -(u - eta) - eps)
    tail = (x - n * eta) - eps
    return torch.where(x <= 0, -eps * torch.ones_like(x), torch.where(x >= n * eta, tail, inside))


def resisting_value(x: Any, eps: Any, eta: Any, n: Any) -> Any:
    """p(x) of the resisting function with slope -ε on the grid (x_t = (t-1)η, t = 1..n+1).

    ``x`` is any array (numpy in, numpy out; torch in, torch out); ``eps``, ``eta``, ``n``
    broadcast against it (one function per coordinate).
    """
    out = _value(to_tensor(x), eps, eta, n)
    return out if is_torch(x) else out.numpy()


def resisting_gradient(x: Any, eps: Any, eta: Any, n: Any) -> Any:
    """p'(x): -ε left of the grid, u - ε / -v - ε on the two halves of a cell, u - ε after it."""
    out = _gradient(to_tensor(x), eps, eta, n)
    return out if is_torch(x) else out.numpy()


def resisting_infimum(eps: float, eta: float, n: int) -> float:
    """inf p, from the finitely many candidates (grid points, cell midpoints, critical points)."""
    k = np.arange(n + 1)
    candidates = np.concatenate(
        [k * eta, k[:-1] * eta + min(eps, eta / 2), k[:-1] * eta + eta / 2, [n * eta + eps]]
    )
    return float(resisting_value(candidates, eps, eta, n).min())


class ResistingFunction:
    r"""The resisting function of Lemma 2 with slope -``eps`` on ``n + 1`` grid points spaced
    ``eta``: a function of one variable, evaluated elementwise.

    ``.grid`` holds :math:`x_1, …, x_{n+1}`; ``.value(x)`` and ``.gradient(x)`` are elementwise;
    ``.gap()`` is :math:`p(x_1) - \inf p` and ``.gap_bound()`` its bound :math:`n\varepsilon^2 +
    \varepsilon^2/2` (at most 1 when :math:`\varepsilon \le 1/(2\sqrt n)`).
    """

    def __init__(self, eps: Any, eta: Any, n: Any) -> None:
        self.eps = _validate.positive("eps", eps)
        self.eta = _validate.positive("eta", eta)
        self.n = _validate.integer("n", n, low=1)
        self.grid = np.arange(self.n + 1) * self.eta

    @numpy_or_torch
    def value(self, x):
        """p(x), elementwise."""
        return _value(x, self.eps, self.eta, self.n)

    @numpy_or_torch
    def gradient(self, x):
        """p'(x), elementwise."""
        return _gradient(x, self.eps, self.eta, self.n)

    def gap(self) -> float:
        """p(x_1) - inf p: the optimality gap Δ this function needs."""
        return float(self.value(0.0)) - resisting_infimum(self.eps, self.eta, self.n)

    def gap_bound(self) -> float:
        """Lemma 2's bound n ε² + ε²/2 on the gap."""
        return self.n * self.eps**2 + self.eps**2 / 2

    def __repr__(self) -> str:
        return f"ResistingFunction(eps={self.eps:g}, eta={self.eta:g}, n={self.n})"
