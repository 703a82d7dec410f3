"""The plumbing shared by signlab's ``torch.optim.Optimizer`` classes (a thin layer on the rules).

Every class keeps PyTorch's contract (param groups, ``state_dict``/``load_state_dict``, closures)
and adds two group options:

- ``foreach`` (default None = True): the multi-tensor fast path of :mod:`signlab.optim._fused`;
  False runs the pure rule of :mod:`signlab.optim.functional` tensor by tensor (the reference).
- ``check_finite`` (default True): before any parameter changes, one sum per gradient proves
  every gradient finite; a NaN or inf raises ``ValueError`` and the step is not taken, so a
  parameter never silently turns into NaN. False skips the check (and its one pass over the
  gradients) for loops that check the loss themselves; a NaN then goes wherever torch's ops send
  it (``torch.sign(nan)`` is 0 on CPU, so sign methods freeze that entry; the others write NaN).
"""

from __future__ import annotations

import torch

from signlab.optim import _multi


class SignlabOptimizer(torch.optim.Optimizer):
    """Base class: validates every param group, checks gradients, dispatches to ``_update``."""

    def __init__(self, params, defaults: dict):
        self._scratch: dict = {}
        defaults = {"foreach": None, "check_finite": True, **defaults}
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group as PyTorch does, then validate its hyperparameters (ValueError if bad)."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        if group["foreach"] not in (None, True, False):
            raise ValueError(f"foreach must be None, True or False (got {group['foreach']!r})")
        if group["check_finite"] not in (True, False):
            raise ValueError(f"check_finite must be True or False (got {group['check_finite']!r})")
        self._validate_group(group)

    def _validate_group(self, group: dict) -> None:
        raise NotImplementedError

    def _update(self, group: dict, params: list, grads: list) -> None:
        raise NotImplementedError

    def _state(self, p: torch.Tensor, key: str, init=torch.zeros_like):
        state = self.state[p]
        if key not in state:
            state[key] = init(p, memory_format=torch.preserve_format)
        return state[key]

    @torch.no_grad()
    def step(self, closure=None):
        """Take one step on every parameter with a gradient; returns the closure's loss, if any."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        work = []
        for i, group in enumerate(self.param_groups):
            params = [p for p in group["params"] if p.grad is not None]
            grads = [p.grad for p in params]
            if any(g.is_sparse for g in grads):
                raise ValueError(f"{type(self).__name__} does not support sparse gradients")
            work.append((i, group, params, grads))
        checked = [g for _, group, _, grads in work if group["check_finite"] for g in grads]
        if not _multi.all_finite(checked):
            self._raise_nonfinite(work)
        for _, group, params, grads in work:
            if params:
                self._update(group, params, grads)
        return loss

    def _raise_nonfinite(self, work) -> None:
        for i, group, params, grads in work:
            for j, g in enumerate(grads):
                if group["check_finite"] and not bool(g.isfinite().all()):
                    index = next(k for k, q in enumerate(group["params"]) if q is params[j])
                    raise ValueError(
                        f"grad of param_groups[{i}]['params'][{index}] (shape "
                        f"{tuple(g.shape)}) contains NaN or inf; the step was not taken "
                        "(check_finite=False skips this check)"
                    )

    def _fast(self, group: dict) -> bool:
        return group["foreach"] is not False
