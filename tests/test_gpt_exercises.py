"""The GPT-2 chapter's exercises: each checker accepts the book's solution, rejects perturbed and
placeholder answers, and its answer agrees with an independent computation written here."""

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from signbook.checks import check

CHAPTER = Path(__file__).resolve().parents[1] / "book" / "gpt2.ipynb"
LABELS = [f"ex-gpt2-{k}" for k in range(1, 7)]


def _cells():
    return json.loads(CHAPTER.read_text())["cells"]


def _solutions() -> dict[str, str]:
    """{label: answer source} of the solution's ``check(label, answer)`` (the last call per label)."""
    calls = {}
    for cell in _cells():
        source = "".join(cell["source"])
        for label, answer in re.findall(r'check\("(ex-gpt2-\d+)",\s*(.+?)\)\s*$', source, re.M):
            calls[label] = answer
    return calls


def test_every_exercise_follows_the_convention():
    cells = _cells()
    for label in LABELS:
        k = next(i for i, c in enumerate(cells) if f":label: {label}" in "".join(c["source"]))
        answer_cell = cells[k + 1]
        assert answer_cell["cell_type"] == "code"
        assert answer_cell["metadata"].get("tags") == ["exercise-answer"]
        assert f'check("{label}", answer)' in "".join(answer_cell["source"])
        assert "answer = ...  # your answer" in "".join(answer_cell["source"])
        assert "{solution-start} " + label in "".join(cells[k + 2]["source"])


@pytest.mark.parametrize("label", LABELS[:5])
def test_checker_accepts_the_solution_and_rejects_perturbations(label):
    answer = eval(_solutions()[label], {"math": math, "np": np})
    assert check(label, answer).correct
    assert not check(label, np.asarray(answer, dtype=float) * 1.02).correct
    assert not check(label, np.asarray(answer, dtype=float) + 0.01).correct
    placeholder = check(label, ...)
    assert not placeholder.correct and "placeholder" in placeholder.message


def test_answers_match_independent_computations(rng):
    d, V, L = 128, 256, 2
    assert check("ex-gpt2-1", V * d + L * (12 * d * d + 13 * d) + 2 * d).correct
    # ex-gpt2-2: Laplace noise ½e^(−|x|); one draw's density tends to (E|ξ|)²/E[ξ²], the moments
    # integrated numerically here (trapezoid rule on [0, 60], the tail beyond is e^(−60))
    x = np.linspace(0.0, 60.0, 600_001)
    half_density = np.exp(-x)  # |ξ| has density e^(−x) on x ≥ 0
    e_abs, e_sq = np.trapezoid(x * half_density, x), np.trapezoid(x**2 * half_density, x)
    limit = e_abs**2 / e_sq
    assert check("ex-gpt2-2", (1.0, limit)).correct
    assert not check("ex-gpt2-2", (limit, 1.0)).correct  # the two references swapped
    assert not check("ex-gpt2-2", (1.0, 2 / math.pi)).correct  # the Gaussian's limit
    xi = rng.laplace(0.0, 1.0, 2_000_000)
    one_draw = np.abs(xi).sum() ** 2 / (xi.size * (xi**2).sum())
    assert one_draw == pytest.approx(
        limit, abs=2e-3
    )  # 5 standard errors (0.5/√n by the delta method)
    sigma = np.concatenate([np.ones(107 * 64), np.full(149 * 64, 0.1)])
    assert check("ex-gpt2-3", sigma.sum() ** 2 / (sigma.size * (sigma**2).sum())).correct
    n = 50304 * 384 + 6 * (12 * 384**2 + 13 * 384) + 2 * 384
    assert n == 29_964_288
    assert check("ex-gpt2-4", 1.5e6 * (6 * n + 12 * 6 * 512 * 384) / 989e12).correct
    b = np.polyfit(np.log([32, 64, 128]), np.log([1.0, 1.2, 1.44]), 1)[0]
    assert check("ex-gpt2-5", b).correct


def test_the_prediction_exercise_accepts_a_band_around_the_run(seed):
    # ex-gpt2-6: the estimator on noise with true φ = 1, written here from its definition:
    # per example N(0, 1) with probability 0.01, minibatch = mean of 16, n = 128 minibatches
    rng = np.random.default_rng(seed)
    n, batch, d = 128, 16, 20_000
    examples = rng.standard_normal((n, batch, d)) * (rng.random((n, batch, d)) < 0.01)
    sigma = (examples.mean(axis=1)).std(axis=0, ddof=1)
    phi_hat = sigma.sum() ** 2 / (d * (sigma**2).sum())
    assert 0.93 < phi_hat < 0.99
    assert check("ex-gpt2-6", phi_hat).correct
    assert check("ex-gpt2-6", 0.96).correct  # the solution's prediction
    for wrong in (0.69, 1.0, 0.5, 0.9):  # no change, no bias, ...
        assert not check("ex-gpt2-6", wrong).correct
    placeholder = check("ex-gpt2-6", ...)
    assert not placeholder.correct and "placeholder" in placeholder.message


def test_wrong_types_are_not_accepted():
    assert not check("ex-gpt2-2", 0.637).correct  # a tuple is asked for
    assert not check("ex-gpt2-4", "a lot").correct
