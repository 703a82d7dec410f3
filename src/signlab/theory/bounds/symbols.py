"""The sympy symbols shared by the bound derivations, one per quantity of the theory.

All are positive reals, which is what lets sympy pick the positive root when it solves for the
optimal step size and batch size. The noise scale is ‖σ‖₁ for SignSGD and ‖Σ‖_* for Muon.
"""

from __future__ import annotations

from typing import Any

import sympy as sp


class Tex(sp.Symbol):
    """A sympy symbol printed verbatim as its LaTeX name (for names like ``f(x_{t+1})``)."""

    def _latex(self, printer: Any) -> str:
        return self.name


eta = Tex(r"\eta", positive=True)
T = Tex("T", positive=True)
B = Tex("B", positive=True)
N = Tex("N", positive=True)
Delta = Tex(r"\Delta", positive=True)
eps = Tex(r"\varepsilon", positive=True)
d = Tex("d", positive=True)
phi = Tex(r"\varphi(\sigma)", positive=True)
L_inf = Tex(r"L_\infty", positive=True)
L_star = Tex(r"L_\star", positive=True)
sigma_l1 = Tex(r"\|\sigma\|_1", positive=True)
sigma_l2 = Tex(r"\|\sigma\|_2", positive=True)
Sigma_nuc = Tex(r"\|\Sigma\|_*", positive=True)
