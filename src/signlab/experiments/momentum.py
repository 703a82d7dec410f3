r"""Where momentum helps a sign method, computed: skewed noise, EMA scales, equal-budget races, MVR.

Three mechanisms, each with its control:

- **Skewed noise breaks SignSGD at batch one.** With the two-point noise of
  :class:`signlab.sim.noise.TwoPoint`, E[sign g] ≠ sign ∇f on a whole interval, and B = 1 SignSGD
  settles where the *median* of g is zero (:func:`skewed_problem`, :func:`sign_agreement`,
  :func:`skewed_race`). Averaging before the sign, over a batch or over time, repairs it.
- **An EMA shrinks heavy-tailed noise**, at the rate of a batch of its window
  (:func:`signlab.sim.tails.ema_scale`; measured by :func:`ema_scale_table`).
- **At an equal gradient budget** a batch pays B gradients for each step of length η, momentum pays
  one, plus the lag of its average (:func:`budget_race`). Momentum variance reduction
  (:func:`sign_mvr`) removes the lag for a second gradient per step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from signlab import _validate
from signlab.experiments._progress import progress
from signlab.experiments.common import initial_point
from signlab.experiments.heavy_tails import heavy_tail_problem
from signlab.optim.spec import REQUIRED, Hyper, Spec
from signlab.sim.engine import Method, Recorder, Trajectory, Tuning, simulate, tune
from signlab.sim.noise import TwoPoint, dense_sigma
from signlab.sim.problems import SeparableQuadratic
from signlab.sim.tails import (
    _torch_threads,
    ema_scale,
    ema_scale_limit,
    mean_scale,
    measure_ema_scale,
)

__all__ = [
    "MOMENTUM_LRS",
    "budget_race",
    "ema_scale_table",
    "lag_race",
    "noiseless_control",
    "sign_agreement",
    "sign_mvr",
    "skewed_problem",
    "skewed_race",
    "skewed_start",
    "theorem1_run",
]

MOMENTUM_LRS = tuple(float(x) for x in np.logspace(-3, -1 / 3, 9))
"""Step sizes tried for every method of the budget races, 10⁻³ … 10^(−1/3) in thirds of a decade."""

MEAN_X = Recorder("mean_x", lambda problem, x, grad: x.mean(dim=-1))
"""The mean coordinate of x_t: where the runs settle (c for B = 1 SignSGD on the skewed instance)."""


def skewed_problem(
    d: int = 10, sigma: float = 1.0, p: float = 0.1
) -> tuple[SeparableQuadratic, TwoPoint]:
    r"""f(x) = ½‖x‖² (float64) with skewed two-point noise of standard deviation ``sigma`` on every coordinate.

    Each draw is +σ√((1 − p)/p) with probability p and −c = −σ√(p/(1 − p)) otherwise: mean 0,
    variance σ². Since ∂_i f = x_i, B = 1 SignSGD settles at x_i = c (there the median of g_i is 0),
    at ‖∇f‖₁ = d·c (3.33 for the defaults), although the noise is unbiased.
    """
    d = _validate.integer("d", d, low=1)
    sigma = _validate.positive("sigma", sigma)
    return SeparableQuadratic(torch.ones(d, dtype=torch.float64)), TwoPoint(
        dense_sigma(d, sigma), p=p
    )


def skewed_start(
    seeds: int = 16, d: int = 10, seed: int = 0, *, scale: float = 2.0
) -> torch.Tensor:
    """x₀ = ``scale``·N(0, I_d) for each of ``seeds`` runs (float64)."""
    return _validate.positive("scale", scale) * initial_point(seeds, d, seed)


def sign_agreement(
    grads: Any,
    *,
    sigma: float = 1.0,
    p: float = 0.1,
    batches: Sequence[int] = (1, 8),
    betas: Sequence[float] = (0.9,),
    lion: tuple[float, float] | None = (0.9, 0.99),
    chains: int = 10_000,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    r"""E[sign(·)] of what each method takes the sign of, at true gradient ∂f for each value in ``grads``.

    - ``"B=k"``: the mean of k draws, exactly (:meth:`TwoPoint.expected_sign`);
    - ``"EMA β"``: Signum's m = ∂f + EMA_β(ξ) in its stationary state, by Monte Carlo over
      ``chains`` chains of the EMA of the noise run for ⌈6/(1 − β)⌉ steps (β^K ≤ e⁻⁶: the start
      is forgotten);
    - ``"Lion"``: Lion's c = β₁m + (1 − β₁)g, with m an EMA_β₂ of the past draws and g a fresh one.

    The noise does not depend on ∂f, so the same chains serve every value of ``grads`` (smooth
    curves, one simulation). The Monte-Carlo standard error of each value is at most 1/√chains
    (0.01 for the default). Returns arrays aligned with ``grads``, with ``"sign"``: sign(∂f) itself.
    """
    g = torch.as_tensor(np.asarray(grads, dtype=float))
    if g.ndim != 1:
        raise ValueError(
            f"grads must be a 1-D sequence of gradient values (got shape {tuple(g.shape)})"
        )
    out = {"sign": torch.sign(g).numpy()}
    for b in batches:
        out[f"B={b}"] = TwoPoint(dense_sigma(len(g), sigma), p=p).expected_sign(g, batch=b).numpy()
    oracle = TwoPoint(dense_sigma(1, sigma), p=p)
    generator = torch.Generator().manual_seed(_validate.integer("seed", seed, low=0))
    chains = _validate.integer("chains", chains, low=1)
    zero = torch.zeros(chains, 1, dtype=torch.float64)

    def ema(beta: float) -> torch.Tensor:
        m = torch.zeros_like(zero)
        for _ in range(math.ceil(6.0 / (1.0 - beta))):
            m = torch.lerp(m, oracle.sample(zero, 1, generator), 1.0 - beta)
        return m

    def expected_sign(noise: torch.Tensor) -> np.ndarray:  # noise (chains, 1) + each ∂f
        return torch.sign(g + noise).mean(dim=0).numpy()

    with _torch_threads(1):  # small tensors in a loop: one thread is fastest on a shared machine
        for beta in betas:
            beta = _validate.unit_interval("betas", beta)
            out[f"EMA {beta:g}"] = expected_sign(ema(beta))
        if lion is not None:
            b1, b2 = lion
            out["Lion"] = expected_sign(
                torch.lerp(ema(b2), oracle.sample(zero, 1, generator), 1 - b1)
            )
    return out


def skewed_race(
    lrs: dict[str, float] | None = None,
    *,
    growth: int = 20,
    steps: int = 3000,
    seeds: int = 16,
    every: int = 10,
    seed: int = 0,
) -> dict[str, Trajectory]:
    r"""B = 1 SignSGD, SignSGD with a growing batch, Signum and Lion (B = 1) on :func:`skewed_problem`.

    The growing batch is B_t = 1 + ⌊t/``growth``⌋ (so B grows ∝ t, as Theorem 1's B ∝ T asks);
    records ‖∇f‖₁ and the mean coordinate of x_t (:data:`MEAN_X`) every ``every`` steps. Keys:
    ``"signsgd"``, ``"signsgd, growing B"``, ``"signum"``, ``"lion"``.
    """
    growth = _validate.integer("growth", growth, low=1)
    lrs = {"signsgd": 0.003, "signum": 0.003, "lion": 0.003} if lrs is None else lrs
    problem, oracle = skewed_problem()
    x0 = skewed_start(seeds, seed=seed)
    record = ("grad_l1", MEAN_X)
    common = dict(steps=steps, seed=seed, record=record, every=every)
    out = {"signsgd": simulate(problem, oracle, "signsgd", x0, lr=lrs["signsgd"], **common)}
    out["signsgd, growing B"] = simulate(
        problem, oracle, "signsgd", x0, lr=lrs["signsgd"], batch=lambda t: 1 + t // growth, **common
    )
    for method in ("signum", "lion"):
        out[method] = simulate(problem, oracle, method, x0, lr=lrs[method], **common)
    return out


def ema_scale_table(
    alphas: Sequence[float] = (1.2, 1.5, 1.8, 2.0),
    betas: Sequence[float] = (0.5, 0.8, 0.9, 0.95, 0.99),
    *,
    chains: int = 10_000,
    seed: int = 0,
    show_progress: bool = False,
) -> dict[float, dict[str, np.ndarray]]:
    r"""The EMA scale of unit α-stable noise, measured and predicted, for each α and β.

    Per α: ``"measured"`` and ``"stderr"`` (:func:`signlab.sim.tails.measure_ema_scale`), ``"exact"``
    (1 − β)/(1 − β^α)^{1/α}, ``"limit"`` α^{−1/α}(1 − β)^{1 − 1/α}, and ``"mean"``: the scale
    B^{1/α − 1} of the mean of B = 1/(1 − β) draws, the batch of the same window.
    """
    b = np.asarray(betas, dtype=float)
    out = {}
    for k, alpha in enumerate(progress(alphas, show=show_progress, desc="EMA scales")):
        measured, stderr = measure_ema_scale(alpha, b, chains=chains, seed=seed + k)
        out[alpha] = {
            "measured": measured,
            "stderr": stderr,
            "exact": ema_scale(alpha, b),
            "limit": ema_scale_limit(alpha, b),
            "mean": mean_scale(1.0 / (1.0 - b), alpha),
        }
    return out


class _SignMVR:
    r"""Sign descent on a momentum-variance-reduced estimate (the rule behind :func:`sign_mvr`)."""

    spec = Spec(
        "sign_mvr",
        (
            Hyper("lr", REQUIRED, _validate.positive, "step size η > 0"),
            Hyper("momentum", 0.9, _validate.unit_interval, "β ∈ [0, 1): d ← g + β(d − g̃)"),
        ),
    )

    def __init__(self, problem: Any) -> None:
        self._problem = problem

    def unchecked(self, param, grad, state, *, lr, momentum):
        here = self._problem.gradient(param)
        if state is None:
            d = grad
        else:
            # the same sample at the previous point: additive noise g - ∇f(x_t), plus ∇f(x_{t-1})
            previous = state["previous"] + (grad - here)
            d = grad + momentum * (state["estimate"] - previous)
        step = torch.add(param, torch.sign(d), alpha=-lr)
        return step, {"estimate": d, "previous": here}


def sign_mvr(problem: Any, oracle: Any) -> Method:
    r"""Sign descent on the momentum-variance-reduced estimate d_t (STORM's estimator), as a Method.

    .. math::

       d_t = g(x_t; \xi_t) + \beta\,\big(d_{t-1} - g(x_{t-1}; \xi_t)\big), \qquad
       x_{t+1} = x_t - \eta\,\operatorname{sign}(d_t)

    (d_1 = g_1): the same sample ξ_t evaluated at the current and the previous point, two gradient
    evaluations per step (count them: ``gradients_per_step=2`` in :func:`signlab.sim.engine.tune`). With additive
    noise, g(x; ξ) = ∇f(x) + ξ, the error e_t = d_t − ∇f(x_t) obeys e_t = βe_{t−1} + (1 − β)ξ_t
    exactly: an EMA of the noise and nothing else. Signum's error m_t − ∇f(x_t) obeys the same
    recursion minus β(∇f(x_t) − ∇f(x_{t−1})): its average also lags behind the moving gradient.
    Needs an additive oracle (the noise must not depend on x) and the problem's exact gradient,
    from which g(x_{t−1}; ξ_t) = ∇f(x_{t−1}) + (g_t − ∇f(x_t)) is formed.
    """
    if not getattr(oracle, "additive", False):
        raise ValueError("sign_mvr needs an additive oracle (noise independent of x)")
    return Method("sign_mvr", _SignMVR(problem))


def theorem1_run(
    problem: Any,
    oracle: Any,
    x0: torch.Tensor,
    sigma: Any,
    budget: float,
    *,
    seed: int = 0,
    every: int = 1,
) -> tuple[Trajectory, dict[str, float]]:
    r"""SignSGD with Theorem 1's hyperparameters for a budget of ``budget`` gradients.

    B = max(1, ‖σ‖₁√(2N/(L∞Δ))), T = N/B, η = √(2Δ/(L∞T))
    (:func:`signlab.theory.bounds.signsgd_schedule`, B and T rounded), with L∞ = ‖L‖₁ and
    Δ = mean f(x₀) over the runs (inf f = 0). Returns the run (‖∇f‖₁ every ``every`` steps) and the
    schedule ``{"batch", "steps", "lr"}``.
    """
    from signlab.theory.bounds import signsgd_schedule

    delta = float(problem.value(x0).mean())
    schedule = signsgd_schedule(budget, problem.linf_smoothness, delta, sigma)
    batch = max(1, round(schedule["batch"]))
    steps = max(1, round(budget / batch))
    run = simulate(
        problem, oracle, "signsgd", x0, lr=schedule["lr"], steps=steps, batch=batch, seed=seed,
        record=("grad_l1",), every=every,
    )  # fmt: skip
    return run, {"batch": batch, "steps": steps, "lr": schedule["lr"]}


def _first_hit(run: Trajectory, eps: float) -> float:
    with np.errstate(over="ignore", invalid="ignore"):
        hit = np.flatnonzero(run["grad_l1"].mean(axis=0) <= eps)
    return float(run.gradients[hit[0]]) if hit.size else math.inf


def _instance(name: str) -> tuple[Any, Any, torch.Tensor, Any, float]:
    """(problem, oracle, x0, σ for Theorem 1, ε) of a named race instance."""
    if name == "skewed":
        problem, oracle = skewed_problem()
        return problem, oracle, skewed_start(16), oracle.sigma, 1.0
    if name == "student_t":
        problem, oracle = heavy_tail_problem(100, 3.0)
        x0 = initial_point(4, 100, 0, dtype=torch.float32)
        return problem, oracle, x0, torch.full((100,), math.sqrt(3.0)), 15.0
    raise ValueError(f"instance must be 'skewed' or 'student_t' (got {name!r})")


def budget_race(
    instance: str = "skewed",
    *,
    lrs: Sequence[float] = MOMENTUM_LRS,
    steps: int = 4000,
    budgets: Sequence[float] = tuple(float(x) for x in np.logspace(2, 6, 13)),
    batches: Sequence[int] = (4, 8, 16, 32),
    seed: int = 0,
    show_progress: bool = False,
) -> dict[str, dict[str, Any]]:
    r"""Gradients to reach E‖∇f‖₁ ≤ ε for each way of averaging the noise, on one instance.

    ``instance``: ``"skewed"`` (:func:`skewed_problem`, 16 runs from :func:`skewed_start`, ε = 1,
    where B = 1 SignSGD stalls at d·c = 3.33) or ``"student_t"`` (the chapter's isotropic problem in
    d = 100 at ν = 3, σ_i = √3, 4 runs from x₀ ~ N(0, I), the sweep's ε = 15). Rows:

    - ``"signsgd B=1"``, ``"signum B=1"`` (β = 0.9), ``"lion B=1"`` (β = (0.9, 0.99)),
      ``"sign-MVR β=0.9"`` and ``"sign-MVR β=0.99"`` (:func:`sign_mvr`, two gradients per step): the
      step size tuned over ``lrs`` by :func:`signlab.sim.engine.tune`, at most ``steps`` steps (``steps/4`` for
      B = 1 SignSGD, which settles at d·c on the skewed instance and is fastest on the other);
    - ``"Theorem 1"``: :func:`theorem1_run` for each planned budget in ``budgets``; N(ε) is the
      first hit of the smallest budget that gets there (its own B, T and η, untuned);
    - ``"best constant B"``: SignSGD at each B in ``batches`` with its step size tuned, the best B
      (the control: a batch tuned to this instance).

    Each row: ``{"gradients": N(ε), "lr", "batch", "run"}`` (``run``: the winning trajectory).
    """
    problem, oracle, x0, sigma, eps = _instance(instance)
    rows: dict[str, dict[str, Any]] = {}

    def row(tuned: Tuning, batch: int = 1) -> dict[str, Any]:
        run = None if tuned.lr is None else tuned.run()
        return {"gradients": tuned.best, "lr": tuned.lr, "batch": batch, "run": run}

    sign_methods = [
        ("signsgd B=1", "signsgd", {}),
        ("signum B=1", "signum", {"momentum": 0.9}),
        ("lion B=1", "lion", {}),
        ("sign-MVR β=0.9", sign_mvr(problem, oracle), {"momentum": 0.9}),
        ("sign-MVR β=0.99", sign_mvr(problem, oracle), {"momentum": 0.99}),
    ]
    jobs = [*sign_methods, *[(f"B={b}", "signsgd", {}) for b in batches], ("Theorem 1", None, {})]
    best_batch: dict[str, Any] | None = None
    for label, method, hyper in progress(
        jobs, show=show_progress, desc=f"budget race ({instance})"
    ):
        if label == "Theorem 1":
            rows[label] = _theorem1_row(problem, oracle, x0, sigma, eps, budgets, seed)
        elif label.startswith("B="):
            b = int(label[2:])
            tuned = tune(
                problem, oracle, method, x0, lrs, eps, steps=max(64, steps // b), batch=b,
                seed=seed, every=1,
            )  # fmt: skip
            if best_batch is None or tuned.best < best_batch["gradients"]:
                best_batch = row(tuned, b)
        else:
            per_step = 2.0 if label.startswith("sign-MVR") else 1.0
            cap = max(64, steps // 4) if label == "signsgd B=1" else steps
            tuned = tune(
                problem, oracle, method, x0, lrs, eps, steps=cap, seed=seed, every=1,
                gradients_per_step=per_step, **hyper,
            )  # fmt: skip
            rows[label] = row(tuned)
    rows["best constant B"] = best_batch
    return rows


def _theorem1_row(problem, oracle, x0, sigma, eps, budgets, seed) -> dict[str, Any]:
    for budget in sorted(budgets):
        run, schedule = theorem1_run(problem, oracle, x0, sigma, budget, seed=seed)
        hit = _first_hit(run, eps)
        if math.isfinite(hit):
            return {"gradients": hit, "run": run, "budget": budget, **schedule}
    return {"gradients": math.inf, "run": None, "budget": math.inf, "batch": None, "lr": None}


def lag_race(
    lr: float = 0.01,
    betas: Sequence[float] = (0.9, 0.99),
    *,
    steps: int = 2000,
    seeds: int = 16,
    every: int = 10,
    seed: int = 0,
) -> dict[str, Trajectory]:
    r"""Signum against sign-MVR (:func:`sign_mvr`) at the same β and step size, on :func:`skewed_problem`.

    Both average the noise with the same EMA weights; Signum's average also lags behind the moving
    gradient, MVR's does not. Keys ``"signum β"`` and ``"sign-MVR β"``; the MVR runs' ``gradients``
    count two evaluations per step.
    """
    problem, oracle = skewed_problem()
    x0 = skewed_start(seeds, seed=seed)
    mvr = sign_mvr(problem, oracle)
    out = {}
    for beta in betas:
        common = dict(
            lr=lr, steps=steps, seed=seed, record=("grad_l1",), every=every, momentum=beta
        )
        out[f"signum {beta:g}"] = simulate(problem, oracle, "signum", x0, **common)
        run = simulate(problem, oracle, mvr, x0, **common)
        out[f"sign-MVR {beta:g}"] = Trajectory(
            run.method, run.lr, run.steps, 2 * run.gradients, run.records, run.x
        )
    return out


def noiseless_control(
    instance: str = "skewed",
    *,
    lrs: Sequence[float] = MOMENTUM_LRS,
    steps: int = 2000,
    seed: int = 0,
) -> dict[str, float]:
    r"""N(ε) of SignSGD, Signum (β = 0.9) and Lion with exact gradients on a :func:`budget_race` instance.

    The control for the races: without noise there is nothing to average, so what momentum costs
    here is its lag alone (step size tuned over ``lrs``).
    """
    problem, _, x0, _, eps = _instance(instance)
    return {
        method: tune(problem, None, method, x0, lrs, eps, steps=steps, seed=seed, every=1).best
        for method in ("signsgd", "signum", "lion")
    }
