"""The lower-bound constructions, built and run.

- :mod:`~signlab.theory.lowerbound.resisting`: the 1-D resisting function (Lemma 2).
- :mod:`~signlab.theory.lowerbound.oracle`: the bimodal oracle (Lemma 3).
- :mod:`~signlab.theory.lowerbound.stall`: the hard instance, SignSGD on it, stall probability and
  threshold.
- :mod:`~signlab.theory.lowerbound.lift`: the separable d-dimensional instance and Theorem 2's bound.
- :mod:`~signlab.theory.lowerbound.embedding`: the Muon embedding F(W) = Σ_i f_i((QWPᵀ)_ii) (Theorem 5).
- :mod:`~signlab.theory.lowerbound.zerochain`: Arjevani et al.'s zero chain with the probability-p oracle.
"""

from signlab.theory.lowerbound.embedding import (
    MuonEmbedding,
    coordinates,
    embed,
    noise_covariance,
    random_orthogonal,
    selector,
)
from signlab.theory.lowerbound.lift import (
    SeparableHardInstance,
    lower_bound_instance,
    noise_split,
    noiseless_split,
    signsgd_lower_complexity,
    signsgd_lower_rate,
)
from signlab.theory.lowerbound.oracle import BimodalOracle, bimodal_sample, zero_probability
from signlab.theory.lowerbound.resisting import (
    ResistingFunction,
    resisting_grad,
    resisting_infimum,
    resisting_value,
)
from signlab.theory.lowerbound.stall import (
    hard_cells,
    hard_instance,
    min_gradient_l1,
    move_probability,
    paper_threshold,
    run_signsgd,
    stall_probability,
    stall_threshold,
    stalled,
)
from signlab.theory.lowerbound.zerochain import (
    ProbabilityOracle,
    cube_quadratic_max,
    progress,
    run_zero_chain,
    zero_chain_grad,
    zero_chain_hessian,
    zero_chain_value,
)

__all__ = [
    "BimodalOracle",
    "MuonEmbedding",
    "ProbabilityOracle",
    "ResistingFunction",
    "SeparableHardInstance",
    "bimodal_sample",
    "coordinates",
    "cube_quadratic_max",
    "hard_cells",
    "hard_instance",
    "embed",
    "lower_bound_instance",
    "min_gradient_l1",
    "move_probability",
    "noise_covariance",
    "noise_split",
    "noiseless_split",
    "paper_threshold",
    "progress",
    "run_zero_chain",
    "random_orthogonal",
    "resisting_grad",
    "resisting_infimum",
    "resisting_value",
    "run_signsgd",
    "stalled",
    "selector",
    "signsgd_lower_complexity",
    "signsgd_lower_rate",
    "stall_probability",
    "stall_threshold",
    "zero_chain_grad",
    "zero_chain_hessian",
    "zero_chain_value",
    "zero_probability",
]
