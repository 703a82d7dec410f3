"""Sign-based optimizers: pure update rules (:mod:`signlab.optim.functional`) and torch optimizers.

Classes (drop-in ``torch.optim.Optimizer`` s): :class:`SignSGD`, :class:`Signum`, :class:`Lion`,
:class:`NormalizedSGD`, :class:`Muon`, and :class:`MuonWithAdamW` with :func:`muon_param_groups`
for Muon as used in practice (hidden matrices on Muon, everything else on AdamW).
"""

from signlab.optim import functional
from signlab.optim.muon import Muon, MuonWithAdamW, muon_param_groups
from signlab.optim.sign import Lion, NormalizedSGD, SignSGD, Signum

__all__ = [
    "Lion",
    "Muon",
    "MuonWithAdamW",
    "NormalizedSGD",
    "SignSGD",
    "Signum",
    "functional",
    "muon_param_groups",
]
