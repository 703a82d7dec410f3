r"""The book's experiments, one module per chapter, all thin layers over :func:`signlab.sim.engine.simulate`.

- :mod:`~signlab.experiments.geometry`: gradient descent and sign descent as steepest descent.
- :mod:`~signlab.experiments.toys`: the paper's deterministic and stochastic toys.
- :mod:`~signlab.experiments.sparse_noise`: SGD against SignSGD with k noisy coordinates out of d.
- :mod:`~signlab.experiments.lower_bounds`: SignSGD on the hard instances, Muon on the embedding,
  the zero chain.
- :mod:`~signlab.experiments.heavy_tails`: SGD and the sign methods under Student-t noise.
- :mod:`~signlab.experiments.momentum`: skewed noise, EMA scales, momentum against a batch.
- :mod:`~signlab.experiments.muon`: SGD, Muon and SignSGD with matrix noise of a chosen rank.
- :mod:`~signlab.experiments.cnn`: a small CNN on digits and the noise density φ along its
  training, the image side of the GPT-2 chapter's contrast (imported on its own: it needs
  scikit-learn).
- :mod:`~signlab.experiments.common`: seeded starting points, races, log-log slopes.

Every experiment has fixed seeds; chapters call them by name (``experiments.toy_stochastic()``).
"""

from signlab.experiments.common import initial_point, loglog_fit, loglog_slope, race
from signlab.experiments.heavy_tails import (
    HEAVY_LRS,
    HEAVY_METHODS,
    SWEEP_EPS,
    Crossing,
    batch_mean_spread,
    first_crossings,
    heavy_tail_problem,
    heavy_tail_race,
    heavy_tail_sweep,
    running_second_moment,
    sign_flip_table,
    stationary_spread,
    tail_index_table,
    tail_survival,
)
from signlab.experiments.lower_bounds import (
    embedded_race,
    sandwich,
    stall_curve,
    zero_chain_progress,
)
from signlab.experiments.momentum import (
    BUDGET_EPS,
    MOMENTUM_LRS,
    RaceInstance,
    budget_race,
    ema_scale_table,
    lag_race,
    noiseless_control,
    race_instance,
    sign_agreement,
    sign_mvr,
    skewed_problem,
    skewed_race,
    skewed_start,
    theorem1_run,
)
from signlab.experiments.sparse_noise import (
    d_factor,
    lift_problem,
    noise_comparison,
    phi_factor,
)
from signlab.experiments.toys import PAPER_LRS, Losses, toy_deterministic, toy_stochastic

__all__ = [
    "BUDGET_EPS",
    "HEAVY_LRS",
    "HEAVY_METHODS",
    "MOMENTUM_LRS",
    "SWEEP_EPS",
    "Crossing",
    "RaceInstance",
    "batch_mean_spread",
    "budget_race",
    "first_crossings",
    "ema_scale_table",
    "lag_race",
    "noiseless_control",
    "race_instance",
    "running_second_moment",
    "sign_agreement",
    "sign_flip_table",
    "sign_mvr",
    "stationary_spread",
    "skewed_problem",
    "skewed_race",
    "skewed_start",
    "tail_index_table",
    "tail_survival",
    "theorem1_run",
    "PAPER_LRS",
    "Losses",
    "d_factor",
    "embedded_race",
    "heavy_tail_problem",
    "heavy_tail_race",
    "heavy_tail_sweep",
    "initial_point",
    "lift_problem",
    "loglog_fit",
    "loglog_slope",
    "noise_comparison",
    "phi_factor",
    "race",
    "sandwich",
    "stall_curve",
    "toy_deterministic",
    "toy_stochastic",
    "zero_chain_progress",
]
