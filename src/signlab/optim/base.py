"""The plumbing shared by signlab's ``torch.optim.Optimizer`` classes: a thin layer on the rules.

The protocol every class follows:

- an explicit, typed ``__init__(self, params, lr, *, <the rule's hyperparameters>, foreach=None,
  check_finite=True)`` whose defaults are its rule's :class:`~signlab.optim.spec.Spec` (a test
  checks that the two agree), which hands the hyperparameters to :meth:`SignlabOptimizer.__init__`;
- ``rule`` (the pure rule of :mod:`signlab.optim.functional`) and, for a fast path, ``fused`` (its
  in-place twin in :mod:`signlab.optim._fused`) with ``state_keys``;
- two hooks with defaults, :meth:`~SignlabOptimizer._validate_group` (each param group checked by
  the rule's spec) and :meth:`~SignlabOptimizer._update` (the fused twin, else the rule tensor by
  tensor), which a class overrides where its groups need more (``NormalizedSGD``'s group norm,
  ``MuonWithAdamW``'s two rules).

Every class keeps PyTorch's contract (param groups, ``state_dict``/``load_state_dict``, closures;
per-parameter state under PyTorch's keys) and adds two group options:

- ``foreach`` (default None = True): the multi-tensor fast path of :mod:`signlab.optim._fused`;
  False runs the pure rule of :mod:`signlab.optim.functional` tensor by tensor (the reference).
- ``check_finite`` (default True): before any parameter changes, one sum per gradient proves
  every gradient finite; a NaN or inf raises ``ValueError`` and the step is not taken, so a
  parameter never silently turns into NaN. False skips the check (and its one pass over the
  gradients) for loops that check the loss themselves; a NaN then goes wherever torch's ops send
  it (``torch.sign(nan)`` is 0 on CPU, so sign methods freeze that entry; the others write NaN).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch.optim.optimizer import ParamsT, required

from signlab.optim import _fused
from signlab.optim.functional import Rule
from signlab.optim.spec import REQUIRED, flag

OPTIONS = {"foreach": None, "check_finite": True}
"""The group options every class adds, with their defaults."""


def _foreach(name: str, value: Any) -> bool | None:
    if value not in (None, True, False):
        raise ValueError(f"{name} must be None, True or False (got {value!r})")
    return value


class SignlabOptimizer(torch.optim.Optimizer):
    """Base class of signlab's optimizers (the protocol is in the module docstring)."""

    rule: ClassVar[Rule | None] = None
    """The pure update rule of :mod:`signlab.optim.functional` this class applies."""
    fused: ClassVar[Callable[..., Any] | None] = None
    """Its in-place twin in :mod:`signlab.optim._fused`: ``fused(params, grads, *states, **hyper,
    scratch=...)`` with one list of state tensors per key of ``state_keys``."""
    state_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        params: ParamsT,
        defaults: dict[str, Any],
        *,
        foreach: bool | None = None,
        check_finite: bool = True,
    ) -> None:
        """``defaults``: the hyperparameters every group takes unless it sets its own (an ``lr``
        of :data:`~signlab.optim.spec.REQUIRED` means each group must give one)."""
        defaults = {**defaults, "foreach": foreach, "check_finite": check_finite}
        if defaults.get("lr", None) is REQUIRED:
            defaults["lr"] = required
        self._scratch: dict = {}
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group as PyTorch does, after validating its hyperparameters (ValueError if bad)."""
        group = dict(param_group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, torch.Tensor) else list(params)
        merged = {**self.defaults, **group}
        if merged.get("lr") is not required:  # else PyTorch raises its own error below
            group.update(self._validate_group(merged))
            group["foreach"] = _foreach("foreach", merged["foreach"])
            group["check_finite"] = flag("check_finite", merged["check_finite"])
        super().add_param_group(group)

    def _rule(self) -> Rule:
        if self.rule is None:
            raise TypeError(f"{type(self).__name__} sets no rule")
        return self.rule

    def _validate_group(self, group: dict[str, Any]) -> dict[str, Any]:
        """The group's hyperparameters, checked and normalised by the rule's spec."""
        spec = self._rule().spec
        return spec.validate({h.name: group[h.name] for h in spec.rows("class")}, "class")

    def _state(self, p: torch.Tensor, key: str) -> torch.Tensor:
        state = self.state[p]
        if key not in state:
            state[key] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state[key]

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
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
        if not _fused.all_finite(checked):
            self._raise_nonfinite(work)
        for _, group, params, grads in work:
            if params:
                self._update(group, params, grads)
        return loss

    def _raise_nonfinite(self, work: list) -> None:
        for i, group, params, grads in work:
            for j, g in enumerate(grads):
                if group["check_finite"] and not bool(g.isfinite().all()):
                    index = next(k for k, q in enumerate(group["params"]) if q is params[j])
                    raise ValueError(
                        f"grad of param_groups[{i}]['params'][{index}] (shape "
                        f"{tuple(g.shape)}) contains NaN or inf; the step was not taken "
                        "(check_finite=False skips this check)"
                    )

    def _update(self, group: dict[str, Any], params: list, grads: list) -> None:
        """One step of one group: the fused twin (``foreach`` not False), else the rule."""
        hyper = {k: group[k] for k in self._rule().spec.names}
        fused = type(self).fused
        if group["foreach"] is False or fused is None:
            self._apply(self._rule(), hyper, params, grads)
            return
        states = [[self._state(p, key) for p in params] for key in self.state_keys]
        fused(params, grads, *states, **hyper, scratch=self._scratch)

    def _apply(self, rule: Rule, hyper: dict[str, Any], params: list, grads: list) -> None:
        """The pure rule, tensor by tensor, its results copied into the parameters and state."""
        for p, g in zip(params, grads, strict=True):
            state = self.state[p]
            new_p, new_state = rule.unchecked(p, g, state or None, **hyper)
            p.copy_(new_p)
            state.update(new_state)
