r"""Theorem 3 (SGD's lower bound) and the comparison with SignSGD through the noise density φ.

For vanilla SGD (B = 1) :cite:`tao2026signsgd` reduce to :cite:`jiang2025adaptive` and get, for the
ℓ1 stationarity measure,

.. math:: \min_{t<T}\mathbb E\|\nabla f(x_t)\|_1 = \Omega\Big(\sqrt{dL_\infty\Delta/T}
          + \big(d\|\sigma\|_2^2L_\infty\Delta/T\big)^{1/4}\Big).

Inverting each term gives :math:`T_\varepsilon = \Omega(dL_\infty\Delta/\varepsilon^2 +
d\|\sigma\|_2^2L_\infty\Delta/\varepsilon^4)`, and the density :math:`\varphi(\sigma) =
\|\sigma\|_1^2/(d\|\sigma\|_2^2)` turns :math:`d\|\sigma\|_2^2` into :math:`\|\sigma\|_1^2/\varphi`.
Against SignSGD's :math:`\Theta(L_\infty\Delta/\varepsilon^2 +
\|\sigma\|_1^2L_\infty\Delta/\varepsilon^4)` the noiseless term is d times larger and the noise
term 1/φ times larger. The absolute constant of the lower bound is not given in the paper's
statement; the numeric functions here set it to 1, and compare with SignSGD's order (its constants
also set to 1), which is the paper's comparison.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import sympy as sp

from signlab import _validate
from signlab.geometry import density
from signlab.theory.bounds import symbols as S
from signlab.theory.bounds.steps import Derivation, Step
from signlab.theory.bounds.upper import _positive_values, noise_l1, upper_bound_results


def _invert_terms(rate: sp.Expr, budget: sp.Symbol) -> sp.Expr:
    """Sum over the terms of ``rate`` of the budget at which that term alone equals ε."""
    return sp.Add(*(sp.solve(sp.Eq(term, S.eps), budget)[0] for term in sp.Add.make_args(rate)))


@cache
def _derive() -> tuple[Derivation, dict[str, Any]]:
    L, D, T, N, d, eps, phi = S.L_inf, S.Delta, S.T, S.N, S.d, S.eps, S.phi
    s1, s2 = S.sigma_l1, S.sigma_l2
    best = S.Tex(r"\min_{t<T}\mathbb{E}\|\nabla f(x_t)\|_1", positive=True)
    sgd_rate = sp.sqrt(d * L * D / T) + (d * s2**2 * L * D / T) ** sp.Rational(1, 4)
    sgd_comp = _invert_terms(sgd_rate, T)
    l2_in_phi = sp.solve(sp.Eq(phi, s1**2 / (d * s2**2)), s2)[0]
    sgd_comp_phi = sp.expand(sgd_comp.subs(s2, l2_in_phi))
    up = upper_bound_results("vector")
    sign_rate = up["order_rate"]
    sign_comp = _invert_terms(sign_rate, N)
    noiseless_sgd, noise_sgd = sgd_comp_phi.coeff(1 / eps**2), sgd_comp_phi.coeff(1 / eps**4)
    noiseless_sign, noise_sign = sign_comp.coeff(1 / eps**2), sign_comp.coeff(1 / eps**4)
    ratio_noiseless = sp.simplify(noiseless_sgd / noiseless_sign)
    ratio_noise = sp.simplify(noise_sgd / noise_sign)
    T_s, N_s = S.Tex(r"T_\varepsilon^{\mathrm{SGD}}"), S.Tex(r"N_\varepsilon^{\mathrm{SignSGD}}")
    steps = [
        Step(
            "SGD lower bound",
            "Theorem 3 (vanilla SGD, $B = 1$, any step size), up to an absolute constant that we "
            "set to 1.",
            sp.Ge(best, sgd_rate),
        ),
        Step(
            "SGD complexity",
            "Each term must fall below $\\varepsilon$: solve term $= \\varepsilon$ for $T$, "
            "and add.",
            sp.Ge(T_s, sgd_comp),
        ),
        Step(
            "noise density",
            "From $\\varphi(\\sigma) = \\|\\sigma\\|_1^2/(d\\|\\sigma\\|_2^2)$.",
            sp.Eq(d * s2**2, sp.simplify(d * l2_in_phi**2)),
        ),
        Step("SGD complexity in φ", "Substitute the density.", sp.Ge(T_s, sgd_comp_phi)),
        Step(
            "SignSGD complexity",
            "The same inversion applied to Theorems 1–2 (tight, constants set to 1).",
            sp.Eq(N_s, sign_comp),
        ),
        Step(
            "noiseless gain",
            "Ratio of the $1/\\varepsilon^2$ terms.",
            sp.Eq(S.Tex(r"\mathrm{gain}_{\mathrm{noiseless}}"), ratio_noiseless),
        ),
        Step(
            "noise gain",
            "Ratio of the $1/\\varepsilon^4$ terms: $d$ for one noisy coordinate, "
            "1 for dense noise.",
            sp.Eq(S.Tex(r"\mathrm{gain}_{\mathrm{noise}}"), ratio_noise),
        ),
        Step(
            "overall gain",
            "A ratio of sums lies between the ratios of its terms (mediant inequality).",
            sp.Contains(
                S.Tex(r"T_\varepsilon/N_\varepsilon"),
                sp.Interval(
                    sp.Min(ratio_noiseless, ratio_noise), sp.Max(ratio_noiseless, ratio_noise)
                ),
            ),
        ),
    ]
    results = {
        "sgd_rate": sgd_rate,
        "sgd_complexity": sgd_comp,
        "sgd_complexity_phi": sgd_comp_phi,
        "signsgd_complexity": sign_comp,
        "gain_noiseless": ratio_noiseless,
        "gain_noise": ratio_noise,
    }
    return Derivation("SGD's lower bound against SignSGD", steps), results


def comparison_derivation() -> Derivation:
    """The steps from Theorem 3 to the gains d (noiseless term) and 1/φ (noise term)."""
    return _derive()[0]


def comparison_results() -> dict[str, Any]:
    """Symbolic outcomes: ``sgd_rate``, ``sgd_complexity`` (in ‖σ‖₂), ``sgd_complexity_phi``,
    ``signsgd_complexity`` (order), ``gain_noiseless`` (= d) and ``gain_noise`` (= 1/φ)."""
    return dict(_derive()[1])


def _l2_squared_times_d(sigma: Any) -> tuple[int, float]:
    """(d, d‖σ‖₂²) written as ‖σ‖₁²/φ(σ) through the density (0 for noiseless σ)."""
    s1 = noise_l1(sigma)
    sig = np.asarray(sigma, dtype=float)
    return sig.size, (s1**2 / float(density(sig)) if s1 > 0 else 0.0)


@cache
def _numeric(key: str, first: str) -> Any:
    r = _derive()[1]
    first_symbol = {"eps": S.eps, "T": S.T}[first]
    expr = r[key].subs(S.d * S.sigma_l2**2, S.Tex("v", nonnegative=True))
    expr = expr.subs(S.sigma_l2**2, S.Tex("v", nonnegative=True) / S.d)
    args = (first_symbol, S.L_inf, S.Delta, S.d, S.Tex("v", nonnegative=True))
    return np.vectorize(sp.lambdify(args, expr, modules="math"), otypes=[float])


def _evaluate(key: str, first: str, x: Any, L_inf: Any, Delta: Any, sigma: Any) -> Any:
    L = _validate.positive("L_inf", L_inf)
    D = _validate.positive("Delta", Delta)
    d, v = _l2_squared_times_d(sigma)
    out = _numeric(key, first)(x, L, D, d, v)
    return float(out) if np.ndim(out) == 0 else out


def sgd_complexity_lower(eps: Any, L_inf: Any, Delta: Any, sigma: Any) -> Any:
    r"""Theorem 3 as a complexity: SGD needs at least
    :math:`dL_\infty\Delta/\varepsilon^2 +
    \|\sigma\|_1^2L_\infty\Delta/(\varphi(\sigma)\varepsilon^4)`
    gradients (absolute constant set to 1) to reach :math:`\min_t\mathbb E\|\nabla f\|_1 \le
    \varepsilon`.
    """
    return _evaluate("sgd_complexity", "eps", _positive_values("eps", eps), L_inf, Delta, sigma)


def sgd_rate_lower(T: Any, L_inf: Any, Delta: Any, sigma: Any) -> Any:
    r"""Theorem 3's rate after T steps of SGD (B = 1), absolute constant set to 1:
    :math:`\sqrt{dL_\infty\Delta/T} + (d\|\sigma\|_2^2L_\infty\Delta/T)^{1/4}`."""
    return _evaluate("sgd_rate", "T", _positive_values("T", T), L_inf, Delta, sigma)


def complexity_ratio(eps: Any, L_inf: Any, Delta: Any, sigma: Any) -> Any:
    r"""SGD's lower-bound complexity over SignSGD's (both with constants set to 1, the paper's Eq.
    10).

    It lies between d (the noiseless gain) and 1/φ(σ) (the noise gain): ≈ d when the noise is
    sparse (φ = 1/d) and the noise term dominates, i.e. ε ≪ ‖σ‖₁.
    """
    from signlab.theory.bounds.upper import signsgd_complexity

    sgd = sgd_complexity_lower(eps, L_inf, Delta, sigma)
    return sgd / signsgd_complexity(eps, L_inf, Delta, sigma, constants="order")
