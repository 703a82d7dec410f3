r"""Theorem 1 (SignSGD) and Theorem 4 (Muon) upper bounds, derived step by step with sympy.

The proof of :cite:`tao2026signsgd` runs on one inequality. For SignSGD,
:math:`x_{t+1} = x_t - \eta\,\mathrm{sign}(g_t)` with :math:`g_t` a mean of :math:`B` stochastic
gradients, ℓ∞-smoothness and :math:`\langle\nabla f, \mathrm{sign}\,g\rangle \ge \|\nabla f\|_1 -
2\|\nabla f - g\|_1` give

.. math:: f(x_{t+1}) \le f(x_t) - \eta\|\nabla f(x_t)\|_1 + 2\eta\|\nabla f(x_t) - g_t\|_1
          + \tfrac{\eta^2 L_\infty}{2},

and separable noise gives :math:`\mathbb E\|\nabla f - g_t\|_1 \le \|\sigma\|_1/\sqrt B`.
Telescoping over :math:`T` steps, sympy then solves for the step size and the batch size that
minimise the bound (they are not typed in), rewrites it in the budget :math:`N = BT`, and inverts it
into a complexity. The paper states the rate up to :math:`O(\cdot)`; every constant here comes out of
these steps:

- :math:`\eta^\star = \sqrt{2\Delta/(L_\infty T)}` (the paper's choice exactly);
- :math:`B^\star = \|\sigma\|_1\sqrt{2N/(L_\infty\Delta)}`, i.e.
  :math:`2\|\sigma\|_1^2T/(L_\infty\Delta)` (the paper takes :math:`\|\sigma\|_1^2T/(L_\infty\Delta)`,
  a factor 2 apart);
- rate :math:`\le 2\sqrt{2L_\infty\Delta/N} + 2^{7/4}(\|\sigma\|_1^2L_\infty\Delta/N)^{1/4}`;
- complexity :math:`N_\varepsilon \le 8L_\infty\Delta/\varepsilon^2
  + 128\|\sigma\|_1^2L_\infty\Delta/\varepsilon^4`.

Muon (Theorem 4) is the same derivation in the spectral/nuclear geometry:
:math:`L_\infty \to L_\star` (smoothness in the operator norm), :math:`\|\sigma\|_1 \to \|\Sigma\|_*`
and :math:`\|\nabla f\|_1 \to \|\nabla F\|_*`, with :math:`\mathbb E\|N\|_* \le \|\Sigma\|_*/\sqrt B`
when :math:`\mathbb E[NN^\top] \preceq \Sigma^2/B`. Batch sizes and step counts are treated as
real numbers (:math:`B \ge 1`), as in the paper.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import sympy as sp

from signlab import _validate
from signlab.theory.bounds import symbols as S
from signlab.theory.bounds.steps import Derivation, Step, written

GEOMETRIES = ("vector", "matrix")


def _notation(geometry: str) -> dict[str, Any]:
    if geometry == "vector":
        return {
            "L": S.L_inf,
            "s": S.sigma_l1,
            "G": S.Tex(r"\|\nabla f(x_t)\|_1", positive=True),
            "E": S.Tex(r"\|\nabla f(x_t) - g_t\|_1", nonnegative=True),
            "f_t": S.Tex("f(x_t)", real=True),
            "f_next": S.Tex("f(x_{t+1})", real=True),
            "avg": S.Tex(r"\frac{1}{T}\sum_t \mathbb{E}\|\nabla f(x_t)\|_1", positive=True),
            "algo": "SignSGD",
            "smooth": "ℓ∞-smoothness with $\\|\\eta\\,\\mathrm{sign}(g_t)\\|_\\infty \\le \\eta$",
            "align": (
                "$\\langle \\nabla f, \\mathrm{sign}(g)\\rangle \\ge \\|\\nabla f\\|_1 - "
                "2\\|\\nabla f - g\\|_1$ (a coordinate whose sign is wrong has "
                "$|\\partial_i f| \\le |\\partial_i f - g_i|$)"
            ),
            "noise": (
                "Separable noise: $\\mathbb{E}|\\partial_i f - g_i| \\le \\sigma_i/\\sqrt{B}$ "
                "for a mean of $B$ samples (Jensen), summed over $i$."
            ),
        }
    return {
        "L": S.L_star,
        "s": S.Sigma_nuc,
        "G": S.Tex(r"\|\nabla F(W_t)\|_*", positive=True),
        "E": S.Tex(r"\|\nabla F(W_t) - G_t\|_*", nonnegative=True),
        "f_t": S.Tex("F(W_t)", real=True),
        "f_next": S.Tex("F(W_{t+1})", real=True),
        "avg": S.Tex(r"\frac{1}{T}\sum_t \mathbb{E}\|\nabla F(W_t)\|_*", positive=True),
        "algo": "Muon",
        "smooth": (
            "smoothness in the operator norm with "
            "$\\|\\eta\\,\\mathrm{msign}(G_t)\\|_{op} \\le \\eta$"
        ),
        "align": (
            "with $N = G - \\nabla F$, $\\langle \\nabla F, \\mathrm{msign}(G)\\rangle \\ge "
            "\\|\\nabla F\\|_* - 2\\|N\\|_*$ (von Neumann's trace inequality)"
        ),
        "noise": (
            "Noise covariance $\\mathbb{E}[NN^\\top] \\preceq \\Sigma^2/B$ for a mean of "
            "$B$ samples; "
            "$\\mathbb{E}\\,\\mathrm{tr}(NN^\\top)^{1/2} \\le \\mathrm{tr}\\,\\Sigma/\\sqrt{B}$ by "
            "concavity and monotonicity of the square root."
        ),
    }


@cache
def _derive(geometry: str) -> tuple[Derivation, dict[str, Any]]:
    n = _notation(geometry)
    L, s, eta, T, B, N, Delta, eps = n["L"], n["s"], S.eta, S.T, S.B, S.N, S.Delta, S.eps
    algo = n["algo"]

    one_step = sp.Le(n["f_next"], n["f_t"] - eta * n["G"] + 2 * eta * n["E"] + eta**2 * L / 2)
    noise = sp.Le(S.Tex(r"\mathbb{E}" + n["E"].name, nonnegative=True), s / sp.sqrt(B))
    # Sum the one-step inequality over T steps with the noise bound plugged in, divide by ηT.
    per_step_excess = one_step.rhs - n["f_t"] + eta * n["G"]
    per_step_excess = per_step_excess.subs(n["E"], noise.rhs)
    bound = sp.expand((Delta + T * per_step_excess) / (eta * T))
    eta_opt = sp.solve(sp.diff(bound, eta), eta)[0]
    curvature = sp.simplify(sp.diff(bound, eta, 2).subs(eta, eta_opt))
    bound_eta = sp.simplify(bound.subs(eta, eta_opt))
    bound_budget = sp.expand(bound_eta.subs(T, N / B))
    batch_opt = sp.solve(sp.diff(bound_budget, B), B)[0]
    batch_opt_T = sp.solve(sp.Eq(B, batch_opt.subs(N, B * T)), B)[0]
    rate_large = sp.simplify(bound_budget.subs(B, batch_opt))
    rate_unit = bound_budget.subs(B, 1)
    budget_switch = sp.solve(sp.Eq(batch_opt, 1), N)[0]
    eps_switch = sp.simplify(rate_large.subs(N, budget_switch))
    noise_at_switch = sp.solve(sp.Eq(budget_switch, N), s)[0]
    rate_unit_max = sp.simplify(rate_unit.subs(s, noise_at_switch))
    envelope = rate_unit_max + rate_large
    small_budget = sp.Lt(N * sp.denom(budget_switch), sp.numer(budget_switch))
    rate = sp.Piecewise((rate_unit, small_budget), (rate_large, True))
    comp_large = sp.solve(sp.Eq(rate_large, eps), N)[0]
    comp_unit = sp.solve(sp.Eq(rate_unit, eps), N)[0]
    complexity = sp.Piecewise((comp_large, eps < eps_switch), (comp_unit, True))
    eps_over_s = sp.solve(sp.Eq(eps_switch, eps), s)[0]
    comp_unit_max = sp.simplify(comp_unit.subs(s, eps_over_s))
    comp_envelope = comp_unit_max + comp_large
    order = sp.sqrt(L * Delta / N) + (s**2 * L * Delta / N) ** sp.Rational(1, 4)
    order_complexity = L * Delta / eps**2 + s**2 * L * Delta / eps**4

    eta_s, b_s, n_s = S.Tex(r"\eta^\star"), S.Tex(r"B^\star"), S.Tex(r"N_\varepsilon")
    avg = n["avg"]
    half, quarter = sp.Rational(1, 2), sp.Rational(1, 4)
    two_74 = sp.Pow(2, sp.Rational(7, 4), evaluate=False)

    def plus(*terms):
        return sp.Add(*terms, evaluate=False)

    shown = {  # the theorem's way of writing each result (checked equal in Step)
        "eta": sp.Eq(eta_s, written(1, 2 * Delta / (L * T), half)),
        "bound_eta": sp.Le(avg, plus(written(1, 2 * L * Delta / T, half), 2 * s / sp.sqrt(B))),
        "budget": sp.Le(avg, plus(written(1, 2 * B * L * Delta / N, half), 2 * s / sp.sqrt(B))),
        "batch": sp.Eq(b_s, written(s, 2 * N / (L * Delta), half)),
        "large": sp.Le(avg, written(two_74, s**2 * L * Delta / N, quarter)),
        "unit": sp.Le(avg, plus(written(1, 2 * L * Delta / N, half), 2 * s)),
        "envelope": sp.Le(
            avg,
            plus(
                written(2, 2 * L * Delta / N, half), written(two_74, s**2 * L * Delta / N, quarter)
            ),
        ),
    }
    steps = [
        Step(
            "one-step descent",
            f"{n['smooth']}, and {n['align']}.",
            one_step,
            sp.Le(
                n["f_next"],
                plus(n["f_t"], -eta * n["G"], 2 * eta * n["E"], eta**2 * L / 2),
            ),
        ),
        Step("noise", n["noise"], noise),
        Step(
            "telescoping",
            "Take expectations, sum over $t < T$ (the total decrease is at most $\\Delta$), "
            "divide by $\\eta T$.",
            sp.Le(avg, bound),
        ),
        Step(
            "optimal step size",
            "Solve $\\partial/\\partial\\eta = 0$ (the second derivative there is "
            f"${sp.latex(curvature)} > 0$, so it is the minimum).",
            sp.Eq(eta_s, eta_opt),
            shown["eta"],
        ),
        Step(
            "bound at the optimal step",
            "Substitute $\\eta^\\star$.",
            sp.Le(avg, bound_eta),
            shown["bound_eta"],
        ),
        Step(
            "in the budget",
            "Write $T = N/B$ with $N = BT$ gradient evaluations.",
            sp.Le(avg, bound_budget),
            shown["budget"],
        ),
        Step(
            "optimal batch size",
            "Solve $\\partial/\\partial B = 0$; in terms of $T$ this is "
            f"$B^\\star = {sp.latex(batch_opt_T)}$ (the paper uses "
            f"${sp.latex(s**2 * T / (L * Delta))}$: same order, constant 2).",
            sp.Eq(b_s, batch_opt),
            shown["batch"],
        ),
        Step(
            "rate, large budget",
            "Substitute $B^\\star$; valid when $B^\\star \\ge 1$, i.e. "
            f"$N \\ge {sp.latex(budget_switch)}$.",
            sp.Le(avg, rate_large),
            shown["large"],
        ),
        Step(
            "rate, small budget",
            f"When $N < {sp.latex(budget_switch)}$ the best batch is $B = 1$.",
            sp.Le(avg, rate_unit),
            shown["unit"],
        ),
        Step(
            "rate with explicit constants",
            f"In the small-budget regime ${sp.latex(s)} < {sp.latex(noise_at_switch)}$, so the "
            "$B = 1$ rate is at most "
            f"${sp.latex(rate_unit_max)}$; both regimes sit below the sum. This is Theorem 1's "
            "$O(\\cdot)$ with its constants.",
            sp.Le(avg, envelope),
            shown["envelope"],
        ),
        Step(
            "complexity",
            f"Solve rate $= \\varepsilon$ for $N$ in each regime; they meet at $\\varepsilon = "
            f"{sp.latex(eps_switch)}$.",
            sp.Eq(n_s, complexity),
        ),
        Step(
            "complexity with explicit constants",
            f"For $\\varepsilon \\ge {sp.latex(eps_switch)}$ the $B = 1$ branch is largest at "
            f"${sp.latex(s)} = {sp.latex(eps_over_s)}$; the paper's "
            f"$\\Theta({sp.latex(order_complexity)})$ with its constants.",
            sp.Le(n_s, comp_envelope),
        ),
    ]
    results = {
        "L": L,
        "s": s,
        "bound": bound,
        "eta_opt": eta_opt,
        "batch_opt": batch_opt,
        "batch_opt_T": batch_opt_T,
        "budget_switch": budget_switch,
        "rate": rate,
        "rate_envelope": envelope,
        "complexity": complexity,
        "complexity_envelope": comp_envelope,
        "order_rate": order,
        "order_complexity": order_complexity,
    }
    return Derivation(f"{algo}: the upper bound, step by step", steps), results


def upper_bound_derivation(geometry: str = "vector") -> Derivation:
    """The steps of Theorem 1 (``geometry="vector"``, SignSGD) or Theorem 4 (``"matrix"``, Muon)."""
    return _derive(_validate.choice("geometry", geometry, GEOMETRIES))[0]


def upper_bound_results(geometry: str = "vector") -> dict[str, Any]:
    """The symbolic outcomes of the derivation: ``eta_opt``, ``batch_opt``, ``rate``,
    ``complexity``, ...

    Keys: ``bound`` (the telescoped bound in η, T, B), ``eta_opt``, ``batch_opt`` (in N),
    ``batch_opt_T`` (in T), ``budget_switch`` (N where B* = 1), ``rate`` (piecewise in N),
    ``rate_envelope``, ``complexity`` (piecewise in ε), ``complexity_envelope``, and the paper's
    orders ``order_rate``, ``order_complexity`` (constants set to 1); ``L`` and ``s`` are the
    smoothness and noise symbols of that geometry.
    """
    return dict(_derive(_validate.choice("geometry", geometry, GEOMETRIES))[1])


@cache
def _numeric(geometry: str, key: str, first: str) -> Any:
    r = _derive(geometry)[1]
    first_symbol = {"N": S.N, "eps": S.eps, "T": S.T}[first]
    f = sp.lambdify((first_symbol, r["L"], S.Delta, r["s"]), r[key], modules="math")
    return np.vectorize(f, otypes=[float])


def _positive_values(name: str, x: Any) -> np.ndarray:
    """``x`` as a float array if every entry is finite and > 0 (scalars or arrays of ε, N, T)."""
    arr = np.asarray(x, dtype=float)
    _validate.finite_array(name, arr)
    if bool((arr <= 0).any()):
        raise ValueError(f"{name} must be a finite number > 0 (got {x!r})")
    return arr


def noise_l1(sigma: Any) -> float:
    """‖σ‖₁ of a noise-scale vector σ (each σ_i ≥ 0), validated."""
    arr = np.asarray(sigma, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"sigma must be a 1-D vector of noise scales (got shape {arr.shape})")
    _validate.nonnegative_array("sigma", arr)
    return float(np.abs(arr).sum())


def noise_nuclear(Sigma: Any) -> float:
    """‖Σ‖_* (the trace) of a symmetric positive semidefinite noise matrix Σ, validated."""
    _validate.psd_matrix("Sigma", Sigma)
    eig = np.linalg.eigvalsh(np.asarray(Sigma, dtype=float))
    return float(np.clip(eig, 0.0, None).sum())


def _evaluate(geometry: str, key: str, first: str, x: Any, smooth: Any, Delta: Any, s: float):
    L = _validate.positive("L_star" if geometry == "matrix" else "L_inf", smooth)
    D = _validate.positive("Delta", Delta)
    out = _numeric(geometry, key, first)(x, L, D, s)
    return float(out) if np.ndim(out) == 0 else out


def _complexity(geometry: str, eps: Any, smooth: Any, Delta: Any, s: float, constants: str):
    _validate.choice("constants", constants, ("explicit", "order"))
    e = _positive_values("eps", eps)
    key = "complexity" if constants == "explicit" else "order_complexity"
    return _evaluate(geometry, key, "eps", e, smooth, Delta, s)


def signsgd_complexity(
    eps: Any, L_inf: Any, Delta: Any, sigma: Any, *, constants: str = "explicit"
) -> Any:
    r"""Gradient evaluations N for SignSGD to guarantee :math:`\frac1T\sum_t\mathbb E\|\nabla f\|_1
    \le \varepsilon`.

    ``constants="explicit"``: the exact inversion of the derived bound (step "complexity"),
    :math:`128\|\sigma\|_1^2L_\infty\Delta/\varepsilon^4` if :math:`\varepsilon < 4\|\sigma\|_1`,
    else
    :math:`2L_\infty\Delta/(\varepsilon - 2\|\sigma\|_1)^2`; it never exceeds
    :math:`8L_\infty\Delta/\varepsilon^2 + 128\|\sigma\|_1^2L_\infty\Delta/\varepsilon^4`.
    ``constants="order"``: the paper's :math:`L_\infty\Delta/\varepsilon^2 +
    \|\sigma\|_1^2L_\infty\Delta/\varepsilon^4` with the hidden constants set to 1, the form to
    compare
    with SGD's lower bound. ``eps`` may be an array.
    """
    return _complexity("vector", eps, L_inf, Delta, noise_l1(sigma), constants)


def signsgd_rate(N: Any, L_inf: Any, Delta: Any, sigma: Any) -> Any:
    r"""The derived bound on :math:`\frac1T\sum_t\mathbb E\|\nabla f(x_t)\|_1` after N gradients.

    With the optimal η and :math:`B = \max(1, B^\star)`:
    :math:`2^{7/4}(\|\sigma\|_1^2L_\infty\Delta/N)^{1/4}`
    when :math:`N \ge L_\infty\Delta/(2\|\sigma\|_1^2)`, else :math:`\sqrt{2L_\infty\Delta/N} +
    2\|\sigma\|_1`.
    ``N`` may be an array.
    """
    return _evaluate("vector", "rate", "N", _positive_values("N", N), L_inf, Delta, noise_l1(sigma))


def signsgd_schedule(N: Any, L_inf: Any, Delta: Any, sigma: Any) -> dict[str, float]:
    r"""The derived hyperparameters for a budget of N gradients: ``batch``, ``steps``, ``lr``.

    :math:`B = \max(1, \|\sigma\|_1\sqrt{2N/(L_\infty\Delta)})`, :math:`T = N/B`,
    :math:`\eta = \sqrt{2\Delta/(L_\infty T)}` (real numbers; round B and T to use them).
    """
    n = float(_positive_values("N", N))
    L = _validate.positive("L_inf", L_inf)
    D = _validate.positive("Delta", Delta)
    s = noise_l1(sigma)
    r = _derive("vector")[1]
    batch = max(1.0, float(r["batch_opt"].subs({S.N: n, r["L"]: L, S.Delta: D, r["s"]: s})))
    steps = n / batch
    lr = float(r["eta_opt"].subs({S.T: steps, r["L"]: L, S.Delta: D}))
    return {"batch": batch, "steps": steps, "lr": lr}


def muon_complexity(
    eps: Any, L_star: Any, Delta: Any, Sigma: Any, *, constants: str = "explicit"
) -> Any:
    r"""Theorem 4: gradient evaluations for Muon to guarantee average :math:`\mathbb E\|\nabla
    F\|_* \le \varepsilon`.

    The same formula as :func:`signsgd_complexity` with :math:`L_\infty \to L_\star` (smoothness in
    the
    operator norm) and :math:`\|\sigma\|_1 \to \|\Sigma\|_*` (Σ the m×m PSD noise matrix with
    :math:`\mathbb E[NN^\top] \preceq \Sigma^2`); no min(m, n) factor appears.
    """
    return _complexity("matrix", eps, L_star, Delta, noise_nuclear(Sigma), constants)


def muon_rate(N: Any, L_star: Any, Delta: Any, Sigma: Any) -> Any:
    r"""Theorem 4's derived bound on :math:`\frac1T\sum_t\mathbb E\|\nabla F(W_t)\|_*` after N
    gradients.

    :func:`signsgd_rate` with :math:`L_\infty \to L_\star`, :math:`\|\sigma\|_1 \to \|\Sigma\|_*`.
    """
    return _evaluate(
        "matrix", "rate", "N", _positive_values("N", N), L_star, Delta, noise_nuclear(Sigma)
    )
