"""The book's bounds as sympy derivations and as numbers.

- :mod:`signlab.theory.bounds.steps`: :class:`Step`, :class:`Derivation` (displayable proofs).
- :mod:`signlab.theory.bounds.upper`: Theorem 1 (SignSGD) and Theorem 4 (Muon), derived; their rates,
  schedules and complexities as numeric functions.
- :mod:`signlab.theory.bounds.comparison`: Theorem 3 (SGD's lower bound) and the gains d and 1/φ.
"""

from signlab.theory.bounds.comparison import (
    comparison_derivation,
    comparison_results,
    complexity_ratio,
    sgd_complexity_lower,
    sgd_rate_lower,
)
from signlab.theory.bounds.steps import Derivation, Step
from signlab.theory.bounds.upper import (
    muon_complexity,
    muon_rate,
    noise_l1,
    noise_nuclear,
    signsgd_complexity,
    signsgd_rate,
    signsgd_schedule,
    upper_bound_derivation,
    upper_bound_results,
)

__all__ = [
    "Derivation",
    "Step",
    "comparison_derivation",
    "comparison_results",
    "complexity_ratio",
    "muon_complexity",
    "muon_rate",
    "noise_l1",
    "noise_nuclear",
    "sgd_complexity_lower",
    "sgd_rate_lower",
    "signsgd_complexity",
    "signsgd_rate",
    "signsgd_schedule",
    "upper_bound_derivation",
    "upper_bound_results",
]
