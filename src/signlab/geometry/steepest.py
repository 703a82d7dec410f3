r"""Steepest descent under a norm, derived symbolically (sympy).

Minimising the local model :math:`\langle g, \Delta\rangle + \frac{\lambda}{2}\|\Delta\|^2` splits into a
direction and a length (:cite:`bernstein2024oldoptimizer`). Writing :math:`\Delta = -c\,t` with
:math:`\|t\| = 1`, the direction maximises :math:`\langle g, t\rangle` (its value is the dual norm
:math:`\|g\|_\dagger`) and the length minimises :math:`-c\|g\|_\dagger + \frac{\lambda}{2}c^2`, so

.. math:: \Delta^\star = -\frac{\|g\|_\dagger}{\lambda}\, t^\star,
   \qquad \text{decrease of the model} = \frac{\|g\|_\dagger^2}{2\lambda}.

With :math:`\lambda` the smoothness constant in the same norm, this decrease is guaranteed for the
function itself. For ℓ2 it is gradient descent with step :math:`1/L_2`; for ℓ∞ it is sign descent with
step :math:`\|g\|_1/L_\infty`. The numeric step is :func:`signlab.geometry.steepest_step`, and the
optimizer that iterates it is :func:`signlab.optim.functional.steepest_descent` (run by the engine).
"""

from __future__ import annotations

import sympy as sp

from signlab import _validate
from signlab.geometry import KINDS


def gradient_symbols(d: int) -> list[sp.Symbol]:
    """Real symbols :math:`g_1, \\dots, g_d`."""
    _validate.integer("d", d, low=1)
    return list(sp.symbols(f"g_1:{d + 1}", real=True))


def derive_dual(kind: str, d: int = 3) -> tuple[sp.Expr, list[sp.Expr]]:
    r"""Solve :math:`\max_{\|t\|\le 1}\langle g, t\rangle` with sympy for symbolic :math:`g \in \mathbb R^d`.

    Returns ``(value, maximisers)``:

    - ``linf``: the box separates into :math:`d` one-dimensional problems
      :math:`\max_{t_i\in[-1,1]} g_i t_i = |g_i|`, solved by ``sympy.calculus.util.maximum``;
      the maximiser is :math:`\operatorname{sign}(g)` and the value :math:`\|g\|_1`.
    - ``l2``: Lagrange conditions :math:`g = 2\mu t`, :math:`\|t\|_2^2 = 1` solved by ``sympy.solve``;
      of the two critical points the maximiser is :math:`g/\|g\|_2`, value :math:`\|g\|_2`.
    - ``l1``: a linear function on the cross-polytope peaks at a vertex :math:`\pm e_i`; the value is
      :math:`\max_i |g_i| = \|g\|_\infty`, attained at :math:`\operatorname{sign}(g_j)e_j`,
      :math:`j = \arg\max_i |g_i|` (``maximisers`` lists the :math:`2d` vertices' values).
    """
    from sympy.calculus.util import maximum

    _validate.choice("kind", kind, KINDS)
    g = gradient_symbols(d)
    if kind == "linf":
        t = sp.Symbol("t", real=True)
        value = sum(maximum(gi * t, t, sp.Interval(-1, 1)).rewrite(sp.Abs) for gi in g)
        return sp.simplify(value), [sp.sign(gi) for gi in g]
    if kind == "l2":
        t = list(sp.symbols(f"t_1:{d + 1}", real=True))
        mu = sp.Symbol("mu", real=True)
        equations = [gi - 2 * mu * ti for gi, ti in zip(g, t)] + [sum(ti**2 for ti in t) - 1]
        solutions = sp.solve(equations, [*t, mu], dict=True)
        values = [sp.simplify(sum(gi * s[ti] for gi, ti in zip(g, t))) for s in solutions]
        best = max(range(len(values)), key=lambda k: values[k].subs({gi: 1 for gi in g}))
        return values[best], [sp.simplify(solutions[best][ti]) for ti in t]
    vertex_values = [s * gi for gi in g for s in (1, -1)]
    pairs = [sp.Max(gi, -gi).rewrite(sp.Abs) for gi in g]
    return sp.Max(*pairs), vertex_values


def derive_step_length() -> dict[str, sp.Expr]:
    r"""Minimise :math:`m(c) = -c D + \frac{\lambda}{2}c^2` over the step length :math:`c` with sympy.

    ``D`` stands for the dual norm :math:`\|g\|_\dagger`. Returns the model ``m``, the minimiser
    ``c_star`` (:math:`D/\lambda`) and the model's minimum ``decrease`` (:math:`-D^2/(2\lambda)`).
    """
    c, dual, lam = sp.symbols("c D lambda", positive=True)
    model = -c * dual + lam / 2 * c**2
    (c_star,) = sp.solve(sp.diff(model, c), c)
    return {"model": model, "c_star": c_star, "decrease": sp.simplify(model.subs(c, c_star))}
