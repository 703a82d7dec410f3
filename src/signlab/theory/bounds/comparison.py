r"""Theorem 3 (SGD's lower bound), its two curvature allocations, and the comparison through φ.

For vanilla SGD (B = 1) :cite:`tao2026signsgd` reduce to Theorem 4.1 of :cite:`jiang2025adaptive`,
which bounds SGD below, for separable smoothness with vector L and separable noise σ, by

.. math:: \mathbb E\big[\min_{t<T}\|\nabla f(x_t)\|_1\big] = \Omega\Big(\sqrt{d\|L\|_\infty\Delta/T}
          + \big(d\Delta(\textstyle\sum_i\sigma_i\sqrt{L_i})^2/T\big)^{1/4}\Big)

(taken from the cited papers with its unknown absolute constant, not re-proved here). Two choices
of L with ‖L‖₁ = L∞ (so that f is ℓ∞-smooth with L∞), one per term, turn it into Tao et al.'s form.
Each keeps the curvature on every coordinate that SGD has to move, because what makes SGD slow is
one step size for all coordinates:

- noiseless term: L₁ = L∞/2 (the others share L∞/2), so d‖L‖∞ = dL∞/2. The stiff coordinate caps
  the step size, the flat ones crawl;
- noise term: half of L∞ on the noisy coordinates, L_i = (L∞/2)σ_i²/‖σ‖₂², the other half shared
  by the noiseless ones, so (Σ_iσ_i√L_i)² = L∞‖σ‖₂²/2 and d‖σ‖₂²L∞/2 = ‖σ‖₁²L∞/(2φ(σ)). Noise on
  the stiff coordinates caps the step size, and the noiseless coordinates, which still have to
  move, crawl (:mod:`signlab.theory.bounds.mechanism` works this out on the instance the
  lower-bounds chapter runs).

By Cauchy–Schwarz, (Σσ_i√L_i)² ≤ (Σσ_i²)(ΣL_i) = ‖σ‖₂²L∞, so the noise allocation is within a
factor 2 of the largest value the term can take; :func:`noise_allocation` solves that maximisation
(L_i = L∞σ_i²/‖σ‖₂²). The maximum is algebra of the bound, not an instance: for sparse σ it puts
L_i = 0 on every noiseless coordinate, and a function bounded below with no curvature along x_i does
not depend on x_i, so at that L the problem has only the noisy coordinates and no factor d. With
isotropic curvature (L_i = L∞/d) the term is ‖σ‖₁²L∞: no 1/φ.

:func:`comparison_derivation` makes these steps with sympy, then inverts each term into a
complexity, T_ε = Ω(dL∞Δ/ε² + ‖σ‖₁²L∞Δ/(φ(σ)ε⁴)) (the factors 1/2 of the allocations absorbed in
the constant, as in Tao et al.'s statement). Against SignSGD's Θ(L∞Δ/ε² + ‖σ‖₁²L∞Δ/ε⁴) the
noiseless term is d times larger and the noise term 1/φ times larger. The absolute constant of the
lower bound is not known; the numeric functions here set it to 1 and compare with SignSGD's order
(its constants also set to 1), which is the paper's comparison.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import sympy as sp

from signlab import _validate
from signlab.geometry import density
from signlab.theory.bounds import symbols as S
from signlab.theory.bounds.steps import Derivation, Step, written
from signlab.theory.bounds.upper import _positive_values, noise_l1, upper_bound_results


def _invert_terms(rate: sp.Expr, budget: sp.Symbol) -> sp.Expr:
    """Sum over the terms of ``rate`` of the budget at which that term alone equals ε."""
    return sp.Add(*(sp.solve(sp.Eq(term, S.eps), budget)[0] for term in sp.Add.make_args(rate)))


def noise_allocation(d: int = 3) -> dict[str, Any]:
    r"""The curvature that maximises (Σ_iσ_i√L_i)² under Σ_iL_i = L∞, solved by sympy for ``d``.

    This is the largest value the noise term of SGD's lower bound can take at a given L∞, the
    algebra of the bound. It is not attained by any function when some σ_i = 0: it gives those
    coordinates L_i = 0, and f then does not depend on them (see the module docstring).
    Stationarity of the Lagrangian Σσ_i√L_i − λ(ΣL_i − L∞) gives √L_i = σ_i/(2λ); the
    constraint fixes λ, so L_i = L∞σ_i²/‖σ‖₂² and the maximum is L∞‖σ‖₂². That it is the
    maximum is Cauchy–Schwarz, checked here through Lagrange's identity
    ‖σ‖₂²‖√L‖₂² − (Σσ_i√L_i)² = ½Σ_{i,j}(σ_i√L_j − σ_j√L_i)² ≥ 0 (expanded by sympy).
    Returns ``{"sigma", "L", "allocation", "maximum", "identity"}`` (``identity`` is 0).
    """
    d = _validate.integer("d", d, low=1, high=8)
    sig = sp.symbols(f"sigma_1:{d + 1}", positive=True)
    r = sp.symbols(f"r_1:{d + 1}", positive=True)  # r_i = √L_i
    lam = sp.Symbol("lambda", positive=True)
    L = S.L_inf
    stationary = [
        sp.solve(sp.diff(sig[i] * r[i] - lam * r[i] ** 2, r[i]), r[i])[0] for i in range(d)
    ]
    lam_value = sp.solve(sp.Eq(sum(x**2 for x in stationary), L), lam)[0]
    allocation = [sp.simplify((x**2).subs(lam, lam_value)) for x in stationary]
    maximum = sp.simplify(sum(sig[i] * sp.sqrt(allocation[i]) for i in range(d)) ** 2)
    lhs = sum(x**2 for x in sig) * sum(x**2 for x in r) - sum(a * b for a, b in zip(sig, r)) ** 2
    rhs = sp.Rational(1, 2) * sum(
        (sig[i] * r[j] - sig[j] * r[i]) ** 2 for i in range(d) for j in range(d)
    )
    return {
        "sigma": sig,
        "L": tuple(x**2 for x in r),
        "allocation": allocation,
        "maximum": maximum,
        "identity": sp.expand(lhs - rhs),
    }


@cache
def _derive() -> tuple[Derivation, dict[str, Any]]:
    L, D, T, N, d, eps, phi = S.L_inf, S.Delta, S.T, S.N, S.d, S.eps, S.phi
    s1, s2 = S.sigma_l1, S.sigma_l2
    emin = S.Tex(r"\mathbb{E}\big[\min_{t<T}\|\nabla f(x_t)\|_1\big]", positive=True)
    Lmax = S.Tex(r"\|L\|_\infty", positive=True)
    align = S.Tex(r"\big(\textstyle\sum_i\sigma_i\sqrt{L_i}\big)^2", positive=True)
    quarter, half = sp.Rational(1, 4), sp.Rational(1, 2)
    jiang = sp.Add(
        written(1, d * Lmax * D / T, half), written(1, d * D * align / T, quarter), evaluate=False
    )
    noiseless_term = sp.sqrt(d * (L / 2) * D / T)
    solved = noise_allocation(3)
    assert solved["identity"] == 0
    noise_term = (d * D * L * s2**2 / (2 * T)) ** quarter
    l2_in_phi = sp.solve(sp.Eq(phi, s1**2 / (d * s2**2)), s2)[0]
    noise_term_phi = sp.simplify(noise_term.subs(s2, l2_in_phi))
    iso_term = sp.simplify((d * D * (s1**2 * L / d) / T) ** quarter)
    sgd_rate = sp.sqrt(d * L * D / T) + (d * s2**2 * L * D / T) ** quarter
    sgd_comp = _invert_terms(sgd_rate, T)
    sgd_comp_phi = sp.expand(sgd_comp.subs(s2, l2_in_phi))
    up = upper_bound_results("vector")
    sign_rate = up["order_rate"]
    sign_comp = _invert_terms(sign_rate, N)
    noiseless_sgd, noise_sgd = sgd_comp_phi.coeff(1 / eps**2), sgd_comp_phi.coeff(1 / eps**4)
    noiseless_sign, noise_sign = sign_comp.coeff(1 / eps**2), sign_comp.coeff(1 / eps**4)
    ratio_noiseless = sp.simplify(noiseless_sgd / noiseless_sign)
    ratio_noise = sp.simplify(noise_sgd / noise_sign)
    T_s, N_s = S.Tex(r"T_\varepsilon^{\mathrm{SGD}}"), S.Tex(r"N_\varepsilon^{\mathrm{SignSGD}}")
    term1 = S.Tex(r"\text{noiseless term}", positive=True)
    term2 = S.Tex(r"\text{noise term}", positive=True)
    steps = [
        Step(
            "SGD lower bound",
            "Theorem 4.1 of Jiang, Maladkar and Mokhtari as Tao et al. use it (vanilla SGD, "
            "$B = 1$, any constant step size, separable smoothness $L$, noise $\\sigma$), up to an "
            "absolute constant that we set to 1. Taken from the cited papers, not proved here.",
            sp.Ge(emin, jiang.doit()),
            sp.Ge(emin, jiang),
        ),
        Step(
            "noiseless allocation",
            "Put $L_1 = L_\\infty/2$ and share the other half among the $d - 1$ other "
            "coordinates: $\\|L\\|_1 = L_\\infty$ and $\\|L\\|_\\infty = L_\\infty/2$.",
            sp.Eq(term1, noiseless_term),
            sp.Eq(term1, written(1, d * L * D / (2 * T), half)),
        ),
        Step(
            "noise allocation",
            "Put half of $L_\\infty$ on the noisy coordinates, $L_i = "
            "\\frac{L_\\infty}{2}\\sigma_i^2/\\|\\sigma\\|_2^2$, and share the other half among "
            "the noiseless ones. Noise on the stiff coordinates caps SGD's one step size; the "
            "noiseless ones still have curvature, so they are part of $f$ and must move. On the "
            "noisy coordinates $\\sqrt{L_i} \\propto \\sigma_i$, Cauchy–Schwarz's equality case.",
            sp.Eq(align, L * s2**2 / 2),
        ),
        Step(
            "the bound's maximum",
            "Cauchy–Schwarz: $(\\sum_i\\sigma_i\\sqrt{L_i})^2 \\le \\|\\sigma\\|_2^2\\|L\\|_1$, "
            "with equality at $L_i = L_\\infty\\sigma_i^2/\\|\\sigma\\|_2^2$ (sympy solves the "
            "Lagrange conditions, `noise_allocation`), so the allocation above is within a factor "
            "2 of the largest value. The maximiser itself is no instance: it gives every noiseless "
            "coordinate $L_i = 0$, and a function bounded below with no curvature along $x_i$ "
            "does not depend on $x_i$, which leaves a problem in the noisy coordinates only.",
            sp.Le(align, L * s2**2),
        ),
        Step(
            "noise term",
            "Substitute the allocation.",
            sp.Eq(term2, noise_term),
            sp.Eq(term2, written(1, d * s2**2 * L * D / (2 * T), quarter)),
        ),
        Step(
            "noise term in φ",
            "From $\\varphi(\\sigma) = \\|\\sigma\\|_1^2/(d\\|\\sigma\\|_2^2)$: "
            "$d\\|\\sigma\\|_2^2 = \\|\\sigma\\|_1^2/\\varphi(\\sigma)$.",
            sp.Eq(term2, noise_term_phi),
            sp.Eq(term2, written(1, s1**2 * L * D / (2 * phi * T), quarter)),
        ),
        Step(
            "isotropic curvature",
            "For comparison, $L_i = L_\\infty/d$ for every $i$ gives "
            "$(\\sum_i\\sigma_i\\sqrt{L_i})^2 = \\|\\sigma\\|_1^2L_\\infty/d$: the noise "
            "term has no $1/\\varphi$. The gain needs curvature aligned with the noise.",
            sp.Eq(term2, iso_term),
            sp.Eq(term2, written(1, s1**2 * L * D / T, quarter)),
        ),
        Step(
            "SGD complexity",
            "Tao et al.'s form of the bound (the factors 1/2 of both allocations absorbed in the "
            "constant); each term must fall below $\\varepsilon$: solve term "
            "$= \\varepsilon$ for $T$, and add.",
            sp.Ge(T_s, sgd_comp),
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
        "noise_term_phi": noise_term_phi,
        "isotropic_noise_term": iso_term,
    }
    return Derivation("SGD's lower bound against SignSGD", steps), results


def comparison_derivation() -> Derivation:
    """The steps from Theorem 3 to the gains d (noiseless term) and 1/φ (noise term)."""
    return _derive()[0]


def comparison_results() -> dict[str, Any]:
    """Symbolic outcomes: ``sgd_rate``, ``sgd_complexity`` (in ‖σ‖₂), ``sgd_complexity_phi``,
    ``signsgd_complexity`` (order), ``gain_noiseless`` (= d), ``gain_noise`` (= 1/φ),
    ``noise_term_phi`` (the noise term at the allocation, in φ) and ``isotropic_noise_term``."""
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
    gradients (absolute constant set to 1) to reach :math:`\mathbb E[\min_t\|\nabla f\|_1] \le
    \varepsilon` on its worst-case instance.
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
