"""The plumbing shared by signlab's ``torch.optim.Optimizer`` classes: a thin layer on the rules.

A class names its rule (``rule = functional.signum``); the rule's :class:`~signlab.optim.spec.Spec`
gives the class its signature ``Class(params, lr, *, ..., foreach=None, check_finite=True)``, its
defaults and the validation of every param group. Every class keeps PyTorch's contract (param
groups, ``state_dict``/``load_state_dict``, closures; per-parameter state under PyTorch's keys) and
adds two group options:

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
from torch.optim.optimizer import required

from signlab.optim import _fused
from signlab.optim.spec import REQUIRED, flag

OPTIONS = {"foreach": None, "check_finite": True}
"""The group options every class adds, with their defaults."""


def _foreach(name, value):
    if value not in (None, True, False):
        raise ValueError(f"{name} must be None, True or False (got {value!r})")
    return value


class SignlabOptimizer(torch.optim.Optimizer):
    """Base class: a subclass sets ``rule`` and, for a fast path, ``fused`` and ``state_keys``."""

    rule = None
    """The pure update rule of :mod:`signlab.optim.functional` this class applies."""
    fused = None
    """Its in-place twin in :mod:`signlab.optim._fused`: ``fused(params, grads, *states, **hyper,
    scratch=...)`` with one list of state tensors per key of ``state_keys``."""
    state_keys: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        """Give each rule-backed class an ``__init__`` whose signature its spec generates."""
        super().__init_subclass__(**kwargs)
        if cls.rule is None or "__init__" in cls.__dict__:
            return

        def __init__(self, params, lr=REQUIRED, **hyper):
            SignlabOptimizer.__init__(self, params, lr, **hyper)

        __init__.__signature__ = cls.rule.spec.class_signature()
        __init__.__qualname__ = f"{cls.__qualname__}.__init__"
        __init__.__doc__ = f"Hyperparameters:\n\n{cls.rule.spec.doc('class')}"
        cls.__init__ = __init__

    def __init__(self, params, lr=REQUIRED, **hyper):
        spec = self.rule.spec
        known = {h.name for h in spec.rows("class")} | set(OPTIONS)
        unknown = sorted(set(hyper) - known)
        if unknown:
            raise TypeError(
                f"{type(self).__name__}() got an unexpected keyword argument {unknown[0]!r}"
            )
        defaults = {**spec.defaults("class"), **OPTIONS, **hyper}
        if lr is not REQUIRED:
            defaults["lr"] = lr
        defaults.setdefault("lr", required)
        self._scratch: dict = {}
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
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

    def _validate_group(self, group: dict) -> dict:
        """The group's hyperparameters, checked and normalised by the rule's spec."""
        spec = self.rule.spec
        return spec.validate({h.name: group[h.name] for h in spec.rows("class")}, "class")

    def _state(self, p: torch.Tensor, key: str) -> torch.Tensor:
        state = self.state[p]
        if key not in state:
            state[key] = torch.zeros_like(p, memory_format=torch.preserve_format)
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
        if not _fused.all_finite(checked):
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

    def _update(self, group: dict, params: list, grads: list) -> None:
        if group["foreach"] is False or not self._fused(group, params, grads):
            self._reference(group, params, grads)

    def _fused(self, group: dict, params: list, grads: list) -> bool:
        """The fast path; returns False when there is none (the reference path runs instead)."""
        if self.fused is None:
            return False
        states = [[self._state(p, key) for p in params] for key in self.state_keys]
        hyper = {k: group[k] for k in self.rule.spec.names}
        self.fused(params, grads, *states, **hyper, scratch=self._scratch)
        return True

    def _reference(self, group: dict, params: list, grads: list) -> None:
        hyper = {k: group[k] for k in self.rule.spec.names}
        self._apply(self.rule, hyper, params, grads)

    def _apply(self, rule, hyper: dict, params: list, grads: list) -> None:
        """The pure rule, tensor by tensor, its results copied into the parameters and state."""
        for p, g in zip(params, grads, strict=True):
            state = self.state[p]
            new_p, new_state = rule.unchecked(p, g, state or None, **hyper)
            p.copy_(new_p)
            state.update(new_state)
