"""Derivations as data: a named sequence of sympy steps that a chapter can show one at a time.

A :class:`Step` pairs a sentence (why the step holds) with a sympy expression or relation (what it
says); a :class:`Derivation` is an ordered, name-addressable list of steps. Both render as Markdown
with display math in Jupyter and in the book, so a chapter shows a proof by displaying its steps.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sympy as sp


def written(coefficient: Any, inside: Any, power: Any = 1) -> sp.Expr:
    r"""coefficient·(inside)^power kept as written: e.g. 2^{7/4}·(‖σ‖₁²L∞Δ/N)^{1/4}.

    sympy normally splits a power of a product into a product of powers
    (2·2^{3/4}∜L∞∜Δ√‖σ‖₁/∜N); this keeps the form in which a theorem is stated, for display.
    ``coefficient`` may itself be a power kept unevaluated, ``sp.Pow(2, Rational(7, 4),
    evaluate=False)``.
    """
    body = sp.UnevaluatedExpr(inside)
    body = body if power == 1 else sp.Pow(body, power, evaluate=False)
    return body if coefficient == 1 else sp.Mul(coefficient, body, evaluate=False)


@dataclass(frozen=True)
class Step:
    """One step of a derivation: ``name`` (a short key), ``description`` (why), ``expr`` (sympy).

    ``shown`` (optional) is the same relation written the way the theorem states it (built with
    :func:`written`); it must equal ``expr`` (checked when the step is made) and is what
    :meth:`latex` prints.
    """

    name: str
    description: str
    expr: Any
    shown: Any = None

    def __post_init__(self) -> None:
        if self.shown is None:
            return
        a, b = self.shown, self.expr
        same_kind = type(a) is type(b) and getattr(a, "lhs", None) == getattr(b, "lhs", None)
        rhs_a = getattr(a, "rhs", a).doit()
        rhs_b = getattr(b, "rhs", b)
        if not same_kind or sp.simplify(rhs_a - rhs_b) != 0:
            raise ValueError(f"step {self.name!r}: the shown form differs from the expression")

    def latex(self) -> str:
        """The step's expression in LaTeX (``sympy.latex``); a shown form keeps its terms in the
        order they were written."""
        if self.shown is None:
            return sp.latex(self.expr)
        return sp.latex(self.shown, order="none")

    def _repr_markdown_(self) -> str:
        return f"**{self.name}.** {self.description}\n\n$$\n{self.latex()}\n$$\n"

    def _repr_latex_(self) -> str:
        return f"$\\displaystyle {self.latex()}$"


class Derivation:
    """An ordered list of :class:`Step`, addressable by position or by step name."""

    def __init__(self, title: str, steps: list[Step]) -> None:
        names = [s.name for s in steps]
        if len(set(names)) != len(names):
            raise ValueError(f"steps must have distinct names (got {names})")
        self.title = title
        self.steps = list(steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __getitem__(self, key: int | str) -> Step:
        if isinstance(key, str):
            for step in self.steps:
                if step.name == key:
                    return step
            raise KeyError(f"no step named {key!r}; steps are {[s.name for s in self.steps]}")
        return self.steps[key]

    def names(self) -> list[str]:
        """The step names, in order."""
        return [s.name for s in self.steps]

    def _repr_markdown_(self) -> str:
        body = "\n".join(
            f"{k}. **{s.name}.** {s.description}\n\n   $$\n   {s.latex()}\n   $$\n"
            for k, s in enumerate(self.steps, start=1)
        )
        return f"**{self.title}**\n\n{body}"
