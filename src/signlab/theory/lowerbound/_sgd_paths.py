r"""E‖∇f(x_t)‖₁ of SGD on a separable sum of quadratic and Huber coordinates, exactly.

The computations behind :meth:`~signlab.theory.lowerbound.HardSGDInstance.sgd_expectation`. Each
function takes classes of equal coordinates (curvature L, noise σ or kink a, start x₀,
multiplicity m: 1-D arrays) and step sizes η (1-D), and returns Σ m·E|∂f| per step size (rows)
at the times t (columns).

- A quadratic coordinate (h = Lx²/2) with Gaussian noise σ follows x_{t+1} = r x_t − ησξ_t,
  r = 1 − ηL: x_t is Gaussian with mean r^t x₀ and variance v_t = η²σ²Σ_{s<t} r^{2s}, so
  E|L x_t| is L times the mean of a folded normal, √(2v_t/π)·exp(−μ²/(2v_t)) + μ·erf(μ/√(2v_t)).
- A noiseless Huber coordinate (h' = L·clamp(x, −a, a)) moves deterministically. While ηL < 2,
  from |x₀| > a it moves ηLa per step until |x| ≤ a, at t₁ = ⌈(|x₀| − a)/(ηLa)⌉ (it lands in
  (−a, a] because ηLa < 2a), and then shrinks geometrically, x_{t₁+s} = r^s x_{t₁}. Otherwise
  :class:`HuberStepper` steps it.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from signlab._threads import torch_threads


def quadratic_part(L, sigma, x0, m, eta, t) -> np.ndarray:
    """Σ m·E|L x_t| over the quadratic classes, shape (len(eta), len(t))."""
    L, sigma, x0, m = (
        torch.from_numpy(np.asarray(v, float))[None, :, None] for v in (L, sigma, x0, m)
    )
    lr = torch.from_numpy(np.asarray(eta, float))[:, None, None]
    t = torch.from_numpy(np.asarray(t, float))
    with torch_threads(1):  # small tensors: a second thread of a busy machine made it 20× slower
        r = 1 - lr * L
        unit = r**2 == 1
        rt = r**t
        denominator = torch.where(unit, torch.ones_like(r), 1 - r**2)
        geometric = torch.where(unit, t.expand_as(rt), (1 - rt**2) / denominator)
        var = (lr * sigma) ** 2 * geometric  # η²σ² Σ_{s<t} r^{2s}
        mean = x0 * rt
        sd = var.sqrt()
        safe = torch.where(sd > 0, sd, torch.ones_like(sd))
        fold = torch.where(
            sd > 0,
            safe * math.sqrt(2 / math.pi) * torch.exp(-(mean**2) / (2 * safe**2))
            + mean * torch.erf(mean / (safe * math.sqrt(2))),
            mean.abs(),
        )  # E|X| for X ~ N(mean, sd²)
        return (m * L * fold).sum(dim=1).numpy()


def huber_closed(L, a, x0, m, eta, t) -> np.ndarray:
    """Σ m·|h'(x_t)| over the Huber classes in closed form, shape (len(eta), len(t)); every
    step size must have ηL < 2 on every class."""
    eta = np.asarray(eta, float)[:, None, None]
    L, a, x0, m = (np.asarray(v, float)[None, :, None] for v in (L, a, x0, m))
    t = np.asarray(t, float)[None, None, :]
    speed = eta * L * a
    excess = np.maximum(np.abs(x0) - a, 0.0)
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        t1 = np.where(excess > 0, np.ceil(excess / speed), 0.0)
        landed = np.sign(x0) * (np.abs(x0) - t1 * speed)
        linear = np.sign(x0) * (np.abs(x0) - t * speed)
        x = np.where(t < t1, linear, landed * (1 - eta * L) ** np.maximum(t - t1, 0.0))
    return (m * L * np.abs(np.clip(x, -a, a))).sum(axis=1)


class HuberStepper:
    """Σ m·|h'(x_t)| over the Huber classes by stepping x ← x − ηL·clamp(x, −a, a), for any η;
    :meth:`advance` continues where the last call stopped."""

    def __init__(self, L, a, x0, m, eta) -> None:
        self.L, self.a, self.m = (np.asarray(v, float) for v in (L, a, m))
        self.eta = np.asarray(eta, float)[:, None]
        self.x = np.broadcast_to(np.asarray(x0, float), (len(self.eta), len(self.L))).copy()

    def advance(self, count: int) -> np.ndarray:
        """The next ``count`` values, shape (len(eta), count)."""
        out = np.empty((len(self.eta), count))
        with np.errstate(over="ignore", invalid="ignore"):
            for j in range(count):
                g = self.L * np.clip(self.x, -self.a, self.a)
                out[:, j] = (self.m * np.abs(g)).sum(axis=1)
                self.x -= self.eta * g
        return out
