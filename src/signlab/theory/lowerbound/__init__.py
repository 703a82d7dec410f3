"""The lower-bound constructions, built and run.

- :mod:`~signlab.theory.lowerbound.resisting`: the 1-D resisting function (Lemma 2).
- :mod:`~signlab.theory.lowerbound.stall`: the 1-D hard instance (Lemma 3: the resisting function with
  the bimodal oracle of :class:`signlab.sim.noise.Bimodal`), its stall probability and threshold.
- :mod:`~signlab.theory.lowerbound.lift`: the separable d-dimensional instance and Theorem 2's bound.
- :mod:`~signlab.theory.lowerbound.sgd`: SGD's hard instances, one per term of Theorem 3.
- :mod:`~signlab.theory.lowerbound.embedding`: the Muon embedding F(W) = Σ_i f_i((QWPᵀ)_ii) (Theorem 5).
- :mod:`~signlab.theory.lowerbound.zerochain`: Arjevani et al.'s zero chain with the probability-p oracle.

Every instance is a problem of :func:`signlab.sim.engine.simulate` (``shape``, ``value``,
``gradient``) with its oracle (``.oracle``), so the book runs SignSGD, SGD and Muon on them with the
same engine as every other experiment.
"""

from signlab.theory.lowerbound.embedding import (
    EmbeddedOracle,
    MuonEmbedding,
    coordinates,
    embed,
    noise_covariance,
    random_orthogonal,
    selector,
)
from signlab.theory.lowerbound.lift import (
    GridOracle,
    SeparableHardInstance,
    lower_bound_instance,
    noise_split,
    noiseless_split,
    signsgd_lower_complexity,
    signsgd_lower_rate,
)
from signlab.theory.lowerbound.resisting import (
    ResistingFunction,
    resisting_gradient,
    resisting_infimum,
    resisting_value,
)
from signlab.theory.lowerbound.sgd import (
    HardSGDInstance,
    sgd_noise_instance,
    sgd_noiseless_instance,
)
from signlab.theory.lowerbound.stall import (
    hard_cells,
    hard_instance,
    move_probability,
    paper_threshold,
    stall_probability,
    stall_threshold,
    zero_probability,
)
from signlab.theory.lowerbound.zerochain import (
    ProbabilityOracle,
    ZeroChain,
    cube_quadratic_max,
)

__all__ = [
    "coordinates",
    "cube_quadratic_max",
    "embed",
    "EmbeddedOracle",
    "GridOracle",
    "hard_cells",
    "hard_instance",
    "HardSGDInstance",
    "lower_bound_instance",
    "move_probability",
    "MuonEmbedding",
    "noise_covariance",
    "noise_split",
    "noiseless_split",
    "paper_threshold",
    "ProbabilityOracle",
    "random_orthogonal",
    "resisting_gradient",
    "resisting_infimum",
    "resisting_value",
    "ResistingFunction",
    "selector",
    "SeparableHardInstance",
    "sgd_noise_instance",
    "sgd_noiseless_instance",
    "signsgd_lower_complexity",
    "signsgd_lower_rate",
    "stall_probability",
    "stall_threshold",
    "zero_probability",
    "ZeroChain",
]
