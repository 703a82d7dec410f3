r"""SGD on its hard instances (Theorem 3), every constant step size of a grid, beside SignSGD.

The instances are :func:`~signlab.theory.lowerbound.sgd_noiseless_instance` (one term: the d
factor) and :func:`~signlab.theory.lowerbound.sgd_noise_instance` (the other: the 1/φ factor).
N(ε) is the number of gradients (B = 1) after which E‖∇f(x_t)‖₁ first is ≤ ε.

- :func:`sgd_hard_sweep` runs both methods through the engine at every step size of
  :data:`SGD_HARD_GRIDS` and reads N(ε) off the mean over seeds (:func:`signlab.sim.engine.tune`).
- :func:`noise_factor` measures the 1/φ factor without letting a grid or a lucky mean decide it:
  SGD's N(ε) is computed exactly (:meth:`~signlab.theory.lowerbound.HardSGDInstance.sgd_steps`) at
  step sizes 2^{1/8} apart over eight octaves below its stability limit, SignSGD's is measured
  over many seeds with a bootstrap standard error.
- :func:`step_size_runs` shows why: SGD's runs at chosen step sizes beside their exact
  expectation, split into the noisy wells' part and the flat coordinates' part.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from signlab import _validate
from signlab.sim.engine import simulate, tune
from signlab.theory.lowerbound import HardSGDInstance, sgd_noise_instance, sgd_noiseless_instance

__all__ = [
    "SGD_EXACT_STEPS",
    "SGD_HARD_GRIDS",
    "SIGNSGD_NOISE_GRID",
    "largest_stable_step",
    "noise_factor",
    "sgd_hard_sweep",
    "step_size_runs",
]

SGD_HARD_GRIDS = {
    "noiseless": tuple(2.0 * np.array([1.2, 0.95, 0.5, 0.25, 0.12])),
    "noise": tuple(1.9 * 4.0 ** -np.arange(8)),
    "signsgd": tuple(2.0 ** np.arange(2, -4, -1)),
}
"""The step sizes: SGD in units of 1/L₁ (noiseless; 2/L₁ is the stability limit) or of 1/L_flat
(noise: the wells at rest allow any step the flat class does), SignSGD in units of ε/L∞."""


def sgd_hard_sweep(
    term: str,
    values: Any,
    *,
    eps: float,
    d: int | None = None,
    noise_l1: float = 1.0,
    Delta: float = 0.5,
    seeds: int = 32,
    seed: int = 0,
    budget: float = 6.0,
) -> dict[str, np.ndarray]:
    r"""SGD at every step size of :data:`SGD_HARD_GRIDS` and SignSGD on one of SGD's hard instances.

    ``term="noiseless"``: ``values`` are dimensions d (L∞ = 1, Δ = ``Delta``); ``term="noise"``:
    ``values`` are numbers k of noisy coordinates out of ``d`` (‖σ‖₁ = ``noise_l1``;
    ``noise_l1=0`` is the control, the same function without noise). Returns ``{"x"`` (d, or
    φ = k/d), ``"sgd_lrs"``, ``"sgd"`` (N(ε) per value and step size: shape (values, step
    sizes), inf where not reached within ``budget`` times the lower bound plus 256 steps, the
    cap of both methods), ``"sgd_best"``,
    ``"signsgd_lrs"``, ``"signsgd"`` (per value and step size), ``"signsgd_best"``, ``"lower"``
    (the instance's proven lower bound on SGD's steps, :meth:`sgd_steps_lower`),
    ``"signsgd_upper"`` (SignSGD's proven count at η = ε/L∞, :meth:`signsgd_steps_upper`;
    noiseless term only, nan for the noise term)``}``.
    """
    term = _validate.choice("term", term, ("noiseless", "noise"))
    eps = _validate.positive("eps", eps)
    noise_l1 = _validate.nonnegative("noise_l1", noise_l1)
    budget = _validate.positive("budget", budget)
    seeds = _validate.integer("seeds", seeds, low=1)
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("values must be a non-empty 1-D sequence of integers")
    vals = [_validate.integer("values", int(v) if float(v).is_integer() else v, low=1) for v in arr]
    dim = 1  # d for term="noise" (the x it returns is k/d), 1 otherwise
    if term == "noise":
        if d is None:
            raise ValueError("d must be given for term='noise'")
        dim = _validate.integer("d", d, low=2)
        if max(vals) >= dim:
            raise ValueError(f"values must be < d = {dim} for term='noise' (got {vals})")
    keys = ("sgd", "signsgd", "lower", "signsgd_upper", "sgd_lrs", "signsgd_lrs")
    out: dict[str, list] = {k: [] for k in keys}
    for v in vals:
        if term == "noiseless":
            inst = sgd_noiseless_instance(v, eps, Delta=Delta)
            sgd_lrs = np.asarray(SGD_HARD_GRIDS["noiseless"]) / float(inst.L[0])
        else:
            inst = sgd_noise_instance(dim, v, eps, noise_l1=noise_l1, Delta=Delta)
            sgd_lrs = np.asarray(SGD_HARD_GRIDS["noise"]) / float(inst.L[-1])
        sign_lrs = np.asarray(SGD_HARD_GRIDS["signsgd"]) * eps / inst.linf_smoothness
        lower = inst.sgd_steps_lower()
        x0 = inst.start(seeds)
        cap = int(budget * lower) + 256
        sgd = tune(inst, inst.oracle, "sgd", x0, sgd_lrs, eps, steps=cap, seed=seed, until="all")
        sign = tune(
            inst, inst.oracle, "signsgd", x0, sign_lrs, eps, steps=cap, seed=seed, until="all"
        )
        out["sgd"].append(sgd.gradients)
        out["signsgd"].append(sign.gradients)
        out["lower"].append(lower)
        out["signsgd_upper"].append(inst.signsgd_steps_upper() if term == "noiseless" else math.nan)
        out["sgd_lrs"].append(sgd_lrs)
        out["signsgd_lrs"].append(sign_lrs)
    res = {k: np.asarray(v, dtype=float) for k, v in out.items()}
    res["sgd_best"] = res["sgd"].min(axis=1)
    res["signsgd_best"] = res["signsgd"].min(axis=1)
    res["x"] = np.asarray(vals, dtype=float) / dim
    return res


SGD_EXACT_STEPS = tuple(2.0 ** (-np.arange(1, 65) / 8))
"""SGD's step sizes for :func:`noise_factor`, in units of :func:`largest_stable_step`: 2^{1/8}
(9%) apart, over eight octaves below it. The best of them is within 9% of the best constant
step, and :func:`noise_factor` reports whether it lies inside the grid."""

SIGNSGD_NOISE_GRID = tuple(2.0 ** (np.arange(-6, 5) / 2))
"""SignSGD's step sizes on the noise instance, in units of ε/L∞: √2 apart, from 1/8 to 4."""


def largest_stable_step(instance: HardSGDInstance) -> float:
    """2/max L_i over the coordinates that move (noisy, or not started at 0): at a larger
    constant step SGD's distance to the minimiser grows on one of them, so E‖∇f‖₁ never falls
    to ε. For the noise instance it is 2/L_w (the wells), for its noiseless control and for
    the noiseless instance 2/L of the stiffest coordinate that has to move."""
    moves = (instance.sigma > 0) | (instance.x0 != 0)
    return 2.0 / float(instance.L[moves].max())


def _signsgd_best(inst: HardSGDInstance, eps: float, seeds: int, seed: int) -> dict[str, Any]:
    """SignSGD's best N(ε) over :data:`SIGNSGD_NOISE_GRID` on ``inst``, with 400 bootstrap
    replicates of it over the seeds, their standard error, and the fraction of them that had not
    reached ε when the runs stopped."""
    lrs = np.asarray(SIGNSGD_NOISE_GRID) * eps / inst.linf_smoothness
    runs = seeds if inst.oracle is not None else 2  # without noise every seed runs alike
    tuning = tune(
        inst, inst.oracle, "signsgd", inst.start(runs), lrs, eps,
        steps=100_000, seed=seed, until="best", margin=1.5,
    )  # fmt: skip
    j = int(np.argmin(tuning.gradients))
    reps = tuning.resampled(np.random.default_rng(seed).integers(0, runs, (400, runs)))
    finite = reps[np.isfinite(reps)]
    return dict(
        best=tuning.best,
        se=float(finite.std(ddof=1)) if finite.size > 1 else math.inf,
        lr=math.nan if tuning.lr is None else tuning.lr,
        edge=tuning.lr is None or j in (0, len(lrs) - 1),
        unreached=float(np.mean(~np.isfinite(reps))),
        replicates=reps,
    )


def noise_factor(
    ks: Any,
    *,
    d: int = 100,
    eps: float = 0.2,
    noise_l1: float = 1.0,
    Delta: float = 0.5,
    seeds: int = 256,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    r"""SGD's and SignSGD's N(ε) on the noise instance, for each number k of noisy coordinates.

    SGD's N(ε) is exact (:meth:`~signlab.theory.lowerbound.HardSGDInstance.sgd_steps`) at every
    step size of :data:`SGD_EXACT_STEPS` (times :func:`largest_stable_step`, up to a budget of 40
    times the proven bound), so neither the grid's spacing nor a mean over seeds that dips below
    ε by chance decides it; ``sgd_edge`` says whether the best lies at an end of the grid.
    SignSGD's is the first crossing of the mean over ``seeds`` runs, best over
    :data:`SIGNSGD_NOISE_GRID`, with its bootstrap standard error (``signsgd_se``).
    ``noise_l1=0`` is the control: the same function without noise.

    Returns ``{"k", "x"`` (φ = k/d), ``"lower"`` (the proven bound on SGD's steps),
    ``"sgd_lrs"`` and ``"sgd"`` (shape (len(ks), 64): N(ε) per step size), ``"sgd_best"``,
    ``"sgd_lr"``, ``"sgd_edge"``, ``"signsgd_best"``, ``"signsgd_se"``, ``"signsgd_lr"``,
    ``"signsgd_edge"``, ``"signsgd_unreached"`` (the fraction of bootstrap resamples that had
    not reached ε when the runs stopped), ``"signsgd_replicates"`` (shape (len(ks), 400): the
    bootstrap replicates of the best count, for the uncertainty of a slope)``}``.
    """
    eps = _validate.positive("eps", eps)
    seeds = _validate.integer("seeds", seeds, low=2)
    d = _validate.integer("d", d, low=2)
    ks = [_validate.integer("ks", int(k), low=1, high=d - 1) for k in np.atleast_1d(ks)]
    rows: dict[str, list] = {}
    for k in ks:
        inst = sgd_noise_instance(d, k, eps, noise_l1=noise_l1, Delta=Delta)
        lower = inst.sgd_steps_lower()
        lrs = np.asarray(SGD_EXACT_STEPS) * largest_stable_step(inst)
        counts = inst.sgd_steps(lrs, int(40 * lower) + 1000)
        j = int(np.argmin(counts))
        sign = _signsgd_best(inst, eps, seeds, seed)
        row = dict(
            k=k, x=k / d, lower=lower, sgd_lrs=lrs, sgd=counts, sgd_best=counts[j],
            sgd_lr=lrs[j], sgd_edge=j in (0, len(lrs) - 1) or not np.isfinite(counts[j]),
            **{f"signsgd_{key}": value for key, value in sign.items()},
        )  # fmt: skip
        for key, value in row.items():
            rows.setdefault(key, []).append(value)
    out = {key: np.asarray(value) for key, value in rows.items()}
    out["signsgd_se"] = out.pop("signsgd_se").astype(float)
    return out


def _first_crossings(values: np.ndarray, eps: float, weights: np.ndarray) -> np.ndarray:
    """Per row of ``weights`` (a resample of the seeds), the first step at which the weighted
    mean of ``values`` (seeds, steps) is ≤ ε (inf if none)."""
    below = weights @ values <= eps
    return np.where(below.any(axis=1), np.argmax(below, axis=1), np.inf)


def step_size_runs(
    k: int,
    lrs: Any,
    *,
    d: int = 100,
    eps: float = 0.2,
    noise_l1: float = 1.0,
    Delta: float = 0.5,
    seeds: int = 64,
    seed: int = 0,
    steps: int | None = None,
    points: int = 120,
) -> dict[str, np.ndarray]:
    r"""SGD on the noise instance with k noisy coordinates at each step size of ``lrs``: its runs
    and their exact expectation.

    Every step size runs ``seeds`` times for ``steps`` steps (default: 1.5 times the largest
    finite exact N(ε) among ``lrs``, at least 200). ``mean``/``se``: the mean over seeds of
    ‖∇f(x_t)‖₁ and its standard error, at ``points`` steps spaced evenly on a log scale
    (``steps_shown``); ``stiff``/``flat``/``total``: the exact E‖∇f(x_t)‖₁ and its two parts
    (:meth:`~signlab.theory.lowerbound.HardSGDInstance.sgd_expectation`) at the same steps;
    ``exact``: N(ε) of the expectation; ``measured``: the first crossing of the mean over seeds
    (every step) and ``measured_se`` its bootstrap standard error (inf: some resamples never
    crossed); ``lower``: the proven bound on SGD's steps at any step size; ``curve_lrs`` and
    ``curve``: SGD's exact N(ε) at step sizes 2^{1/8} apart from a quarter of the smallest of
    ``lrs`` to twice the largest (inf beyond 50 000 steps), to draw the whole curve.
    """
    d = _validate.integer("d", d, low=2)
    eps = _validate.positive("eps", eps)
    seeds = _validate.integer("seeds", seeds, low=2)
    points = _validate.integer("points", points, low=2)
    inst = sgd_noise_instance(d, k, eps, noise_l1=noise_l1, Delta=Delta)
    lrs = np.asarray(lrs, dtype=float)
    exact = inst.sgd_steps(lrs, int(40 * inst.sgd_steps_lower()) + 1000)
    if steps is None:
        finite = exact[np.isfinite(exact)]
        steps = max(200, int(1.5 * finite.max())) if finite.size else 200
    steps = _validate.integer("steps", steps, low=1)
    run = simulate(
        inst, inst.oracle, "sgd", inst.start(seeds).repeat(len(lrs), 1),
        lr=np.repeat(lrs, seeds), steps=steps, seed=seed, record=("grad_l1",),
    )  # fmt: skip
    values = np.nan_to_num(run["grad_l1"], nan=np.inf).reshape(len(lrs), seeds, -1)
    shown = np.r_[0, np.unique(np.geomspace(1, steps, points).round().astype(int))]
    expectation = inst.sgd_expectation(lrs, steps)
    octaves = math.log2(8 * lrs.max() / lrs.min())
    curve_lrs = lrs.min() / 4 * 2.0 ** (np.arange(int(8 * octaves) + 1) / 8)
    rng = np.random.default_rng(seed)
    resample = np.zeros((400, seeds))
    np.add.at(resample, (np.arange(400)[:, None], rng.integers(0, seeds, (400, seeds))), 1 / seeds)
    measured, measured_se = [], []
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging step size: inf, never ≤ ε
        for v in values:
            measured.append(_first_crossings(v, eps, np.full((1, seeds), 1 / seeds))[0])
            reps = _first_crossings(v, eps, resample)
            measured_se.append(float(reps.std(ddof=1)) if np.isfinite(reps).all() else math.inf)
        mean = values.mean(axis=1)
        se = np.nan_to_num(values.std(axis=1, ddof=1), nan=np.inf) / math.sqrt(seeds)
    return {
        "lrs": lrs,
        "steps_shown": shown,
        "mean": mean[:, shown],
        "se": se[:, shown],
        **{key: expectation[key][:, shown] for key in ("stiff", "flat", "total")},
        "exact": exact,
        "measured": np.asarray(measured, dtype=float),
        "measured_se": np.asarray(measured_se),
        "lower": inst.sgd_steps_lower(),
        "curve_lrs": curve_lrs,
        "curve": inst.sgd_steps(curve_lrs, 50_000),
    }
