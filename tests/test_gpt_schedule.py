"""Tests for signlab.gpt.schedule: warmup + cosine against an explicit formula."""

import math

import numpy as np
import pytest

from signlab.gpt.schedule import lr_multiplier, warmup_steps


@pytest.mark.parametrize("seed", range(5))
def test_matches_warmup_then_cosine(seed):
    rng = np.random.default_rng(seed)
    total = int(rng.integers(20, 500))
    warm = int(rng.integers(1, total // 2))
    floor = float(rng.uniform(0, 0.5))
    for t in rng.integers(0, total, size=20):
        t = int(t)
        if t < warm:
            expected = (t + 1) / warm
        else:
            angle = math.pi * (t - warm) / (total - warm)
            expected = floor + (1 - floor) * (1 + math.cos(angle)) / 2
        assert lr_multiplier(t, total, warm, floor) == pytest.approx(expected)


def test_shape():
    values = [lr_multiplier(t, 100, 10, 0.1) for t in range(100)]
    assert values[9] == 1.0 and values[0] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(values[9:], values[10:], strict=False))
    assert values[-1] > 0.1 and lr_multiplier(100, 100, 10, 0.1) == pytest.approx(0.1)
    assert lr_multiplier(5, 10, 0, 0.0) == pytest.approx(0.5)
    assert warmup_steps(300, 0.1) == 30


@pytest.mark.parametrize(
    "args", [(-1, 10, 1), (0, 0, 0), (0, 10, 11), (0, 10, 1, 1.5), (0.5, 10, 1)]
)
def test_bad_arguments_raise(args):
    with pytest.raises(ValueError):
        lr_multiplier(*args)


def test_fraction_allows_the_closed_interval():
    from signlab.gpt.schedule import fraction

    assert fraction("f", 1) == 1.0 and fraction("f", 0.0) == 0.0
    for bad in (-0.1, 1.5, "x", True):
        with pytest.raises(ValueError, match=r"f must lie in \[0, 1\]"):
            fraction("f", bad)
    assert lr_multiplier(5, 10, 0, min_frac=1.0) == 1.0  # a constant rate
