"""Sign-based optimizers: pure update rules and the ``torch.optim`` classes that apply them.

- :mod:`signlab.optim.functional`: the definitions. Each rule is the book's composition, average
  the gradients → ``dualize`` under a norm (ℓ∞: sign, ℓ2: g/‖g‖₂, spectral: msign) → decoupled
  decay → step, with one result shape: ``rule(param, grad, state=None, *, lr, ...) -> (param,
  state)``.
- :mod:`signlab.optim.spec`: one hyperparameter table per optimizer, from which each rule's
  defaults, validation and signature come (and each class's defaults, which a test holds equal).
- :mod:`signlab.optim.registry`: every optimizer by name, with what the simulation engine and the
  GPT's factory need to know of it (:data:`REGISTRY`).
- Classes (drop-in ``torch.optim.Optimizer`` s): :class:`SignSGD`, :class:`Signum`, :class:`Lion`,
  :class:`NormalizedSGD`, :class:`Muon` (``torch.optim.Muon``'s signature and update; its
  defaults lr 0.02 and weight decay 0 are K. Jordan's, torch's are 1e-3 and 0.1), and
  :class:`MuonWithAdamW` with :func:`muon_param_groups` for Muon as used in practice (hidden
  matrices on Muon, everything else on AdamW). Their fast path, ``signlab.optim._fused``, is an
  implementation detail that the tests prove equal to the rules.
"""

from signlab.optim import functional
from signlab.optim.muon import Muon, MuonWithAdamW, muon_param_groups
from signlab.optim.registry import REGISTRY, Entry
from signlab.optim.sign import Lion, NormalizedSGD, SignSGD, Signum

__all__ = [
    "REGISTRY",
    "Entry",
    "Lion",
    "Muon",
    "MuonWithAdamW",
    "NormalizedSGD",
    "SignSGD",
    "Signum",
    "functional",
    "muon_param_groups",
]
