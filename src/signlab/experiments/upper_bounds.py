r"""The upper-bounds chapter's measurement: noise on the stiff coordinates caps SGD's step size.

SGD runs from rest on k noisy quadratic wells ½L_w x_i² (Gaussian noise σ_i = ‖σ‖₁/k, the wells
of :func:`signlab.theory.bounds.mechanism.allocated_instance`) at every step size of a grid, all
as one population of the engine. Each seed's ‖∇f‖₁ is averaged over the second half of a run long
enough for the slowest step size to settle (its variance relaxes like (1 − ηL_w)^{2t}), and the
seeds give the mean and its standard error, to set beside the stationary prediction
:func:`~signlab.theory.bounds.mechanism.noise_floor`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from signlab import _validate
from signlab.sim.engine import simulate
from signlab.sim.noise import Gaussian
from signlab.sim.problems import SeparableQuadratic
from signlab.stats import Estimate, mean_se

__all__ = ["wells_noise_floor"]


def wells_noise_floor(
    etas: Any,
    *,
    k: int = 10,
    L_w: float = 0.05,
    noise_l1: float = 1.0,
    seeds: int = 64,
    seed: int = 0,
    settle: float = 8.0,
) -> dict[str, Any]:
    r"""SGD's stationary E‖∇f‖₁ on k noisy wells of curvature ``L_w``, for each step size of ``etas``.

    All ``len(etas)·seeds`` runs start at 0 and go on for 2·⌈``settle``/(η_min L_w)⌉ steps (the
    slowest step size's variance is within e^{−2·settle} of stationary halfway); each run's
    ‖∇f‖₁ is averaged over the second half. Returns ``eta``, ``measured`` (a list of
    :class:`~signlab.stats.Estimate`, mean over seeds ± standard error) and ``steps``.
    """
    etas = np.asarray(etas, dtype=float).ravel()
    if etas.size == 0 or not np.all(np.isfinite(etas)) or np.any(etas <= 0):
        raise ValueError("etas must hold at least one finite step size > 0")
    k = _validate.integer("k", k, low=1)
    L_w = _validate.positive("L_w", L_w)
    noise_l1 = _validate.positive("noise_l1", noise_l1)
    seeds = _validate.integer("seeds", seeds, low=2)
    settle = _validate.positive("settle", settle)
    if np.any(etas * L_w >= 2):
        raise ValueError(f"etas must be < 2/L_w = {2 / L_w:g} (SGD diverges beyond)")
    steps = 2 * math.ceil(settle / (etas.min() * L_w))
    problem = SeparableQuadratic(torch.full((k,), L_w, dtype=torch.float64))
    oracle = Gaussian(torch.full((k,), noise_l1 / k, dtype=torch.float64))
    x0 = torch.zeros(etas.size * seeds, k, dtype=torch.float64)
    run = simulate(
        problem,
        oracle,
        "sgd",
        x0,
        lr=np.repeat(etas, seeds),
        steps=steps,
        seed=seed,
        record=("grad_l1",),
        every=max(1, steps // 400),
    )
    late = run.steps >= steps // 2
    per_run = np.asarray(run["grad_l1"])[:, late].mean(axis=1).reshape(etas.size, seeds)
    measured: list[Estimate] = [mean_se(row) for row in per_run]
    return {"eta": etas, "measured": measured, "steps": steps}
