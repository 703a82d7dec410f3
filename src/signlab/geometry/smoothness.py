r"""Smoothness constants of a quadratic :math:`f(x) = \tfrac12 x^\top H x` in different norms.

:math:`f` is :math:`L`-smooth in the norm :math:`\|\cdot\|` when
:math:`|f(y) - f(x) - \langle\nabla f(x), y - x\rangle| \le \tfrac{L}{2}\|y - x\|^2`. For a quadratic the
left side is :math:`\tfrac12|v^\top H v|` with :math:`v = y - x`, so :math:`L = \max_{\|v\|\le 1}|v^\top H v|`:

- ℓ2: :math:`L_2 = \max_i |\lambda_i(H)|`, the spectral norm;
- ℓ∞: :math:`L_\infty = \max_{\|v\|_\infty \le 1} |v^\top H v|`. For positive semi-definite :math:`H` the
  maximum of the convex :math:`v^\top H v` over the box sits at a vertex :math:`v \in \{\pm1\}^d`, and
  it equals :math:`\|H\|_{\infty\to 1} = \max_{\|v\|_\infty\le1}\|Hv\|_1`. For diagonal
  :math:`H = \operatorname{diag}(L_1,\dots,L_d) \succeq 0` this is :math:`\sum_i L_i = \|L\|_1`
  (separable smoothness implies ℓ∞-smoothness with :math:`L_\infty = \|L\|_1`).

Comparing :math:`L_\infty` with :math:`L_2` shows when sign descent's geometry is cheap: always
:math:`L_2 \le L_\infty \le d\,L_2`, and :math:`L_\infty` is close to :math:`L_2` when one curvature
dominates.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from signlab import _validate

MAX_BRUTE_FORCE_DIM = 20


def _check_psd(H: Any) -> np.ndarray:
    _validate.psd_matrix("H", H)
    return np.asarray(H, dtype=float)


def quadratic_smoothness(H: Any, kind: str) -> float:
    """The smoothness constant of :math:`\\tfrac12 x^\\top H x` (H symmetric PSD) in the ``kind`` norm.

    ``kind="l2"`` gives the largest eigenvalue; ``kind="linf"`` the exact
    :math:`\\max_{v\\in\\{\\pm1\\}^d} v^\\top H v` by enumeration (d ≤ 20; diagonal H of any size
    uses the closed form :math:`\\operatorname{tr} H`).
    """
    _validate.choice("kind", kind, ("l2", "linf"))
    H = _check_psd(H)
    if kind == "l2":
        return float(np.linalg.eigvalsh(H).max())
    d = H.shape[0]
    if np.count_nonzero(H - np.diag(np.diag(H))) == 0:
        return float(np.trace(H))
    if d > MAX_BRUTE_FORCE_DIM:
        raise ValueError(
            f"H must have dimension <= {MAX_BRUTE_FORCE_DIM} unless diagonal (got {d})"
        )
    signs = np.array(list(itertools.product((-1.0, 1.0), repeat=d - 1)))
    v = np.hstack([np.ones((len(signs), 1)), signs])
    return float(np.einsum("ki,ij,kj->k", v, H, v).max())
