r"""The paper's two toy experiments (Tao, Yu & Zhang, arXiv:2605.06615), with its settings as defaults."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from signlab import _validate
from signlab.experiments.common import initial_point
from signlab.sim.engine import Trajectory, simulate
from signlab.sim.noise import Gaussian, sparse_sigma
from signlab.sim.problems import SeparableQuadratic

__all__ = [
    "Losses",
    "PAPER_LRS",
    "toy_deterministic",
    "toy_stochastic",
]

PAPER_LRS = tuple(10.0**-k for k in range(2, 9))


class Losses(dict):
    """method → losses f(x_t), shape (seeds, steps), t = 0 … steps − 1; ``lrs``: the step sizes."""

    def __init__(self, losses: dict[str, np.ndarray], lrs: dict[str, float]) -> None:
        super().__init__(losses)
        self.lrs = dict(lrs)


def _losses(run: Trajectory, steps: int) -> np.ndarray:
    return run["f"][:, :steps]


def toy_deterministic(
    *,
    d: int = 5000,
    stiff: float = 1000.0,
    steps: int = 3000,
    lrs: Sequence[float] = PAPER_LRS,
    seeds: int = 1,
    seed: int = 0,
    methods: Sequence[str] = ("sgd", "signsgd"),
) -> Losses:
    r"""The paper's deterministic toy: f(x) = ½ Σ L_i x_i², L_1 = ``stiff``, L_i = 1 otherwise.

    x₀ is Gaussian with its first coordinate divided by L_1; exact gradients; each method runs
    ``steps`` steps at every step size in ``lrs`` (the paper's grid 10⁻², …, 10⁻⁸) and keeps
    the one with the lowest final mean loss (a diverged run counts as +inf). The paper describes a
    single initial point; ``seeds`` > 1 averages over several. float64, since steps of 10⁻⁸ vanish
    in float32 rounding.
    """
    d = _validate.integer("d", d, low=1)
    stiff = _validate.positive("stiff", stiff)
    steps = _validate.integer("steps", steps, low=1)
    L = torch.ones(d, dtype=torch.float64)
    L[0] = stiff
    x0 = initial_point(seeds, d, seed)
    x0[:, 0] /= stiff
    problem = SeparableQuadratic(L)
    losses, best = {}, {}
    for method in methods:
        runs = [
            simulate(problem, None, method, x0, lr=lr, steps=steps - 1, record=("f",)) for lr in lrs
        ]
        with np.errstate(over="ignore"):  # a diverging run's huge losses average to inf
            final = [float(np.mean(run["f"][:, -1])) for run in runs]
        k = int(np.argmin(final))
        losses[method], best[method] = _losses(runs[k], steps), runs[k].lr
    return Losses(losses, best)


def toy_stochastic(
    *,
    d: int = 100,
    sigma: float = 100.0,
    steps: int = 3000,
    seeds: int = 42,
    lrs: dict[str, float] | None = None,
    seed: int = 0,
    batch: int = 1,
) -> Losses:
    r"""The paper's stochastic toy: f(x) = ½‖x‖², Gaussian noise of std ``sigma`` on x_1 only.

    Defaults are the paper's official code's (``toy_models/sto.py``): d = 100, σ = 100, 3000 steps,
    42 seeds, SGD at lr 10⁻³ and SignSGD at lr 10⁻² (``lrs`` maps method → step size), and
    x₀ ~ N(0, I) per seed. The noise is φ = 1/d sparse. The seed-to-seed spread is large (SGD's
    final f is about a scaled squared Gaussian), so compare a 42-seed mean with a prediction within
    its standard error (:func:`signlab.stats.mean_se`), not within a fixed fraction.
    """
    d = _validate.integer("d", d, low=1)
    sigma = _validate.nonnegative("sigma", sigma)
    steps = _validate.integer("steps", steps, low=1)
    lrs = {"sgd": 1e-3, "signsgd": 1e-2} if lrs is None else dict(lrs)
    problem = SeparableQuadratic(torch.ones(d, dtype=torch.float64))
    noise = Gaussian(sparse_sigma(d, 1, sigma))
    x0 = initial_point(seeds, d, seed)
    losses = {
        method: _losses(
            simulate(
                problem,
                noise,
                method,
                x0,
                lr=lr,
                steps=steps - 1,
                batch=batch,
                seed=seed,
                record=("f",),
            ),
            steps,
        )
        for method, lr in lrs.items()
    }
    return Losses(losses, lrs)
