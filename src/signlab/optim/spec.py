"""One hyperparameter specification per optimizer: its defaults, its validation and its signatures.

A :class:`Spec` is a table of :class:`Hyper` rows (name, default, check, meaning). From it come

- ``spec.defaults()`` and ``spec.validate(dict)`` (normalised values, ``ValueError`` naming the
  argument and its range), used once by the simulation engine before its hot loop;
- the signature of the pure rule in :mod:`signlab.optim.functional`,
  ``rule(param, grad, state=None, /, *, lr, ..., check_finite=True)``;
- the signature of the ``torch.optim`` class, ``Class(params, lr, *, ..., foreach=None,
  check_finite=True)``, so ``inspect.signature`` and ``help`` show the real keyword arguments.

A row may belong to the rule only (normalized SGD's ``dim``, which batches independent problems)
or to the class only (its ``scope``); ``lr`` may have a default for the class and none for the rule.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from signlab import _validate

REQUIRED: Any = inspect.Parameter.empty
"""The default of a hyperparameter that must be given (the rules' ``lr``)."""

_KW = inspect.Parameter.KEYWORD_ONLY
_POS = inspect.Parameter.POSITIONAL_ONLY
_ANY = inspect.Parameter.POSITIONAL_OR_KEYWORD


@dataclass(frozen=True)
class Hyper:
    """One hyperparameter: ``check(name, value)`` returns the normalised value or raises ValueError."""

    name: str
    default: Any
    check: Callable[[str, Any], Any]
    doc: str
    where: str = "both"
    """"both", "rule" (the pure rule only) or "class" (the torch.optim class only)."""
    class_default: Any = None
    """The class's default when it differs from the rule's (``lr``); None means the same."""

    def default_for(self, where: str) -> Any:
        """The default in the rule (``where="rule"``) or the class (``"class"``): the class's own
        when it has one (``lr``, required in the rule, has a default in some classes)."""
        if where == "class" and self.class_default is not None:
            return self.class_default
        return self.default


def _no_relations(hyper: dict) -> None:
    return None


@dataclass(frozen=True)
class Spec:
    """The hyperparameters of one optimizer (see the module docstring)."""

    optimizer: str
    hypers: tuple[Hyper, ...]
    relations: Callable[[dict], None] = field(default=_no_relations)
    """Checks between arguments (e.g. Nesterov needs momentum), run after the per-row checks."""

    def rows(self, where: str = "rule") -> tuple[Hyper, ...]:
        """The hyperparameters that ``where`` ("rule" or "class") takes, in signature order."""
        return tuple(h for h in self.hypers if h.where in ("both", where))

    @property
    def names(self) -> tuple[str, ...]:
        """The rule's hyperparameter names, ``lr`` first."""
        return tuple(h.name for h in self.rows("rule"))

    def defaults(self, where: str = "rule") -> dict:
        """The default of every hyperparameter that has one (the rule's ``lr`` has none)."""
        return {
            h.name: h.default_for(where)
            for h in self.rows(where)
            if h.default_for(where) is not REQUIRED
        }

    def validate(self, hyper: dict, where: str = "rule") -> dict:
        """Every hyperparameter checked and normalised, defaults filled in (ValueError if bad)."""
        rows = self.rows(where)
        unknown = set(hyper) - {h.name for h in rows}
        if unknown:
            raise ValueError(
                f"{self.optimizer} has no hyperparameter {', '.join(sorted(unknown))} "
                f"(it takes {', '.join(h.name for h in rows)})"
            )
        out = {}
        for h in rows:
            value = hyper.get(h.name, h.default_for(where))
            if value is REQUIRED:
                raise ValueError(f"{h.name} is required for {self.optimizer}")
            out[h.name] = h.check(h.name, value)
        self.relations(out)
        return out

    def parameters(self, where: str, prefix: str = "", **defaults: Any) -> list[inspect.Parameter]:
        """Keyword-only parameters for a signature (``defaults`` override the table's)."""
        return [
            inspect.Parameter(
                prefix + h.name, _KW, default=defaults.get(h.name, h.default_for(where))
            )
            for h in self.rows(where)
        ]

    def rule_signature(self) -> inspect.Signature:
        """``(param, grad, state=None, /, *, lr, ..., check_finite=True)``."""
        head = [
            inspect.Parameter("param", _POS),
            inspect.Parameter("grad", _POS),
            inspect.Parameter("state", _POS, default=None),
        ]
        tail = [inspect.Parameter("check_finite", _KW, default=True)]
        return inspect.Signature(head + self.parameters("rule") + tail)

    def class_signature(self) -> inspect.Signature:
        """``(self, params, lr, *, ..., foreach=None, check_finite=True)`` of the torch.optim class."""
        lr, *rest = self.parameters("class")
        head = [
            inspect.Parameter("self", _ANY),
            inspect.Parameter("params", _ANY),
            lr.replace(kind=_ANY),
        ]
        return inspect.Signature(head + rest + CLASS_OPTIONS)

    def doc(self, where: str = "rule") -> str:
        """The table as docstring lines (name, default, meaning)."""
        lines = []
        for h in self.rows(where):
            default = h.default_for(where)
            shown = "required" if default is REQUIRED else f"default {default!r}"
            lines.append(f"    {h.name} ({shown}): {h.doc}")
        return "\n".join(lines)


CLASS_OPTIONS = [
    inspect.Parameter("foreach", _KW, default=None),
    inspect.Parameter("check_finite", _KW, default=True),
]
"""The group options every signlab torch.optim class adds (see :mod:`signlab.optim.base`)."""


# Checks: each takes (name, value), returns the normalised value, raises ValueError naming ``name``.


def flag(name: str, value: Any) -> bool:
    """True or False (not 0/1, which are too easily a misplaced number)."""
    if value is not True and value is not False:
        raise ValueError(f"{name} must be True or False (got {value!r})")
    return value


def betas(name: str, value: Any) -> tuple[float, float]:
    """A pair (β₁, β₂) in [0, 1)²."""
    try:
        b1, b2 = value
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a pair (beta1, beta2) in [0, 1) (got {value!r})"
        ) from None
    return _validate.unit_interval(f"{name}[0]", b1), _validate.unit_interval(f"{name}[1]", b2)


def one_of(options: Iterable[Any], aliases: dict | None = None) -> Callable[[str, Any], Any]:
    """A check accepting one of ``options`` (``aliases`` maps other accepted values onto them)."""
    options, aliases = tuple(options), dict(aliases or {})

    def check(name: str, value: Any) -> Any:
        value = aliases.get(value, value)
        return _validate.choice(name, value, options)

    return check


def integer_in(low: int, high: int | None = None) -> Callable[[str, Any], int]:
    """A check accepting an integer in [low, high]."""

    def check(name: str, value: Any) -> int:
        return _validate.integer(name, value, low=low, high=high)

    return check


def dims(name: str, value: Any) -> int | tuple[int, ...] | None:
    """None (the whole tensor), an int or a tuple of ints: the dims one problem occupies."""
    if value is None:
        return None
    items = value if isinstance(value, (tuple, list)) else (value,)
    if not items or not all(isinstance(d, int) and not isinstance(d, bool) for d in items):
        raise ValueError(f"{name} must be None, an int or a tuple of ints (got {value!r})")
    return tuple(items) if isinstance(value, (tuple, list)) else value
