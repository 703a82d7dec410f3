r"""SGD on its hard instances (Theorem 3), every constant step size of a grid, beside SignSGD.

The instances are :func:`~signlab.theory.lowerbound.sgd_noiseless_instance` (one term: the d
factor) and :func:`~signlab.theory.lowerbound.sgd_noise_instance` (the other: the 1/φ factor);
each run reads off N(ε), the gradients used when the seed-mean of ‖∇f‖₁ first is ≤ ε, for every
step size of a grid (:func:`signlab.sim.engine.tune`, ``until="all"``, up to a
budget of ``budget`` times the instance's proven lower bound on SGD's steps). B = 1, 32 seeds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from signlab import _validate
from signlab.sim.engine import tune
from signlab.theory.lowerbound import sgd_noise_instance, sgd_noiseless_instance

__all__ = ["SGD_HARD_GRIDS", "sgd_hard_sweep"]

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
    (the instance's proven lower bound on SGD's steps, :meth:`sgd_steps_lower`)``}``.
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
    if term == "noise":
        if d is None:
            raise ValueError("d must be given for term='noise'")
        d = _validate.integer("d", d, low=2)
        if max(vals) >= d:
            raise ValueError(f"values must be < d = {d} for term='noise' (got {vals})")
    out: dict[str, list] = {k: [] for k in ("sgd", "signsgd", "lower", "sgd_lrs", "signsgd_lrs")}
    for v in vals:
        if term == "noiseless":
            inst = sgd_noiseless_instance(v, eps, Delta=Delta)
            sgd_lrs = np.asarray(SGD_HARD_GRIDS["noiseless"]) / float(inst.L[0])
        else:
            inst = sgd_noise_instance(d, v, eps, noise_l1=noise_l1, Delta=Delta)
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
        out["sgd_lrs"].append(sgd_lrs)
        out["signsgd_lrs"].append(sign_lrs)
    res = {k: np.asarray(v, dtype=float) for k, v in out.items()}
    res["sgd_best"] = res["sgd"].min(axis=1)
    res["signsgd_best"] = res["signsgd"].min(axis=1)
    res["x"] = np.asarray(vals, dtype=float) / (d if term == "noise" else 1)
    return res
