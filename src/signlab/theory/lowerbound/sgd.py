r"""SGD's hard instances, one per term of Theorem 3, built from first principles and runnable.

Theorem 3 of :cite:`tao2026signsgd` takes SGD's lower bound from :cite:`jiang2025adaptive`
(Thm 4.1 there), E[min_t ‖∇f(x_t)‖₁] = Ω(√(d‖L‖∞Δ/T) + (dΔ(Σ_iσ_i√L_i)²/T)^{1/4}). The book can
reach only that paper's abstract, so its construction is not reproduced here: these are our own
separable instances, each exercising one term, with a proof (in the docstrings, checked in
``tests/test_sgd_hard.py``) that bounds E‖∇f(x_t)‖₁ at every t, hence min_t E‖∇f(x_t)‖₁ (not the
stronger E[min_t] of the theorem). Every coordinate is a *Huber* function

.. math:: h(x) = \tfrac{L}{2}x^2 \ (|x| \le a), \qquad h(x) = La|x| - \tfrac{L}{2}a^2 \ (|x| > a),

with h'(x) = L·clamp(x, −a, a) and 0 ≤ h'' ≤ L (a = ∞: the quadratic). So f = Σ_i m_i h_i is
separably smooth with vector L (coordinate i repeated m_i times: its multiplicity), ℓ∞-smooth
with L∞ = Σ m_iL_i, inf f = 0 at 0, and Δ = f(x₀).

- **Noiseless term** (:func:`sgd_noiseless_instance`): one stiff quadratic coordinate, L₁ = L∞/2,
  started at c = 4ε/L∞ (gradient 2ε), and d − 1 flat Huber coordinates, L = L∞/(2(d − 1)), kink
  a = 4ε/L∞, started at b on their linear part, where the d − 1 of them have gradient 2ε in all.
  SGD needs η < 2/L₁ = 4/L∞ (at η ≥ 2/L₁, |x₁| never shrinks), so a flat coordinate moves at most
  ηLa = 2εη/(d − 1) per step, and ‖∇f‖₁ ≤ ε needs it within a/2 of 0:
  T > (b − a/2)(d − 1)L∞/(8ε) = (d − 1)L∞(Δ − Δ₁)/(16ε²) with Δ₁ = 4ε²/L∞ (x₁'s share of Δ).
  SignSGD with η = ε/L∞ moves every coordinate by η: it is within η of 0 after ⌈b/η⌉ steps and
  stays there, where ‖∇f‖₁ ≤ L∞η = ε: at most ⌈b/η⌉ + 1 ≈ L∞Δ/(2ε²) steps, whatever d.
- **Noise term** (:func:`sgd_noise_instance`): k noisy quadratic *wells*, L_w = L∞/(2k) each
  (Theorem 3's allocation L_i ∝ σ_i², here all σ_i = ‖σ‖₁/k), started at their minimum 0, with
  Gaussian noise; and d − k noiseless flat Huber coordinates carrying the gap, as above. Without
  noise the wells never move, so SGD may take any step the flat coordinates allow. With noise a
  well follows x ← (1 − ηL_w)x − ησ_wξ, a Gaussian of variance η²σ_w²S_t(η),
  S_t = Σ_{s<t}(1 − ηL_w)^{2s}, so E‖∇f(x_t)‖₁ ≥ √(2/π)·kL_wσ_w·η√S_t, increasing in t; and the
  flat coordinates need t ≥ A/η, A = (b − a/2)(d − k)/(2ε). :meth:`HardSGDInstance.sgd_steps_lower`
  takes the largest η for which the wells still allow ε at t = ⌈A/η⌉; for ε ≪ ‖σ‖₁ the wells
  are stationary by then (S_t ≈ 1/(2ηL_w)), η* ≈ πε²/(‖σ‖₁²L_w) and the bound is
  ≈ (d − k)‖σ‖₁²L∞Δ/(8πkε⁴) = (1 − φ)‖σ‖₁²L∞Δ/(8πφε⁴): the 1/φ of Theorem 3, through
  curvature aligned with the noise. (One noisy coordinate crosses 0 again and again, so min_t ‖∇f(x_t)‖₁ along one run can
  be small even when E‖∇f(x_t)‖₁ never is: a bound on E[min_t] needs more than this instance.)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from signlab import _validate
from signlab._arrays import numpy_or_torch
from signlab.sim.noise import Gaussian
from signlab.theory.lowerbound import _sgd_paths as _paths

TERMS = ("noiseless", "noise")

__all__ = ["HardSGDInstance", "TERMS", "sgd_noise_instance", "sgd_noiseless_instance"]


class HardSGDInstance:
    r"""f(x) = Σ_i m_i h_i(x_i), Huber coordinates (curvature L_i, kink a_i), with Gaussian noise σ.

    A problem of the engine (``shape``, ``value``, ``gradient``, ``multiplicity``) with its
    ``oracle`` (None when noiseless) and its ``start`` x₀. ``term`` says which term of Theorem 3
    it exercises; ``eps`` the target it was built for; ``d`` the dimension it represents.
    """

    def __init__(
        self,
        L: Any,
        kink: Any,
        multiplicity: Any,
        sigma: Any,
        start: Any,
        *,
        eps: float,
        term: str,
    ) -> None:
        self.L = torch.as_tensor(L, dtype=torch.float64)
        self.kink = torch.as_tensor(kink, dtype=torch.float64)
        self.multiplicity = torch.as_tensor(multiplicity, dtype=torch.float64)
        self.sigma = torch.as_tensor(sigma, dtype=torch.float64)
        self.x0 = torch.as_tensor(start, dtype=torch.float64)
        n = self.L.shape
        for name, v in [("kink", self.kink), ("multiplicity", self.multiplicity),
                        ("sigma", self.sigma), ("start", self.x0)]:  # fmt: skip
            if v.shape != n:
                raise ValueError(
                    f"{name} must have the shape of L {tuple(n)} (got {tuple(v.shape)})"
                )
        _validate.nonnegative_array("L", self.L)
        _validate.nonnegative_array("sigma", self.sigma)
        _validate.nonnegative_array("multiplicity", self.multiplicity)
        _validate.finite_array("start", self.x0)
        if bool((self.kink <= 0).any()):
            raise ValueError("kink must be > 0 (inf for a quadratic coordinate)")
        self.eps = _validate.positive("eps", eps)
        self.term = _validate.choice("term", term, TERMS)
        self.oracle = Gaussian(self.sigma) if bool((self.sigma > 0).any()) else None
        """Gaussian noise σ_i on the noisy coordinates (None for the noiseless instance)."""

    @property
    def shape(self) -> tuple[int, ...]:
        """(stored coordinates,): one point."""
        return tuple(self.L.shape)

    @property
    def d(self) -> int:
        """The dimension represented, Σ_i m_i."""
        return int(round(float(self.multiplicity.sum())))

    @property
    def linf_smoothness(self) -> float:
        """L∞ = Σ_i m_iL_i (separable smoothness with vector L implies it)."""
        return float((self.L * self.multiplicity).sum())

    @property
    def max_curvature(self) -> float:
        """‖L‖∞ = max_i L_i, the constant in Theorem 3's noiseless term."""
        return float(self.L.max())

    @property
    def noise_l1(self) -> float:
        """‖σ‖₁ = Σ_i m_iσ_i."""
        return float((self.sigma * self.multiplicity).sum())

    @property
    def alignment(self) -> float:
        """(Σ_i m_iσ_i√L_i)², the noise constant in Theorem 3's second term."""
        return float((self.multiplicity * self.sigma * self.L.sqrt()).sum()) ** 2

    def _t(self, x: torch.Tensor):
        return self.L.to(x.dtype), self.kink.to(x.dtype), self.multiplicity.to(x.dtype)

    @numpy_or_torch
    def value(self, x):
        """f(x), one value per run."""
        L, a, m = self._t(x)
        inside = x.abs() <= a
        safe_a = torch.where(torch.isfinite(a), a, torch.zeros_like(a))
        h = torch.where(inside, 0.5 * L * x * x, L * safe_a * x.abs() - 0.5 * L * safe_a**2)
        return (m * h).sum(dim=-1)

    @numpy_or_torch
    def gradient(self, x):
        """∇f(x) per stored coordinate: L_i·clamp(x_i, −a_i, a_i)."""
        L, a, _ = self._t(x)
        return L * torch.maximum(torch.minimum(x, a), -a)

    @property
    def gap(self) -> float:
        """Δ = f(x₀) − inf f = f(x₀)."""
        return float(self.value(self.x0[None])[0])

    def start(self, runs: int) -> torch.Tensor:
        """x₀ for ``runs`` runs, shape (runs, stored)."""
        runs = _validate.integer("runs", runs, low=1)
        return self.x0.expand(runs, -1).clone()

    def expanded(self) -> HardSGDInstance:
        """The same function with every coordinate stored (multiplicities 1): for tests."""
        reps = self.multiplicity.round().long()
        rep = lambda v: torch.repeat_interleave(v, reps)  # noqa: E731
        return HardSGDInstance(
            rep(self.L), rep(self.kink), torch.ones(int(reps.sum()), dtype=torch.float64),
            rep(self.sigma), rep(self.x0), eps=self.eps, term=self.term,
        )  # fmt: skip

    def _flat(self) -> tuple[float, float, float, float]:
        """(L, a, b, m) of the flat class (the last stored coordinate)."""
        return (
            float(self.L[-1]), float(self.kink[-1]), float(self.x0[-1]),
            float(self.multiplicity[-1]),
        )  # fmt: skip

    def sgd_steps_lower(self) -> float:
        r"""Steps SGD needs, at any constant step size, before E‖∇f(x_t)‖₁ ≤ ε can hold.

        Noiseless: (b − a/2)/(L_f a)·L₁/2, the module's (b − a/2)/(ηL_f a) at η → 2/L₁ (the bound
        is strict). Noise: A/η* with A = (b − a/2)m/(2ε) and η* the largest η with
        √(2/π)·kL_wσ_wη√S_{⌈A/η⌉}(η) ≤ ε (bisection on log η; the left side grows with η, up to
        the rounding of ⌈A/η⌉).
        """
        L_f, a, b, m = self._flat()
        eps = self.eps
        A = (b - a / 2) / (L_f * a)  # distance to cover over the speed per unit step, L_f·a
        if self.term == "noiseless":
            return A / (2.0 / float(self.L[0]))
        k = int(round(float(self.multiplicity[:-1].sum())))
        if self.oracle is None:  # the control: the wells never move, only the flat class counts
            return A / (2.0 / L_f)
        L_w, s_w = float(self.L[0]), float(self.sigma[0])
        c = math.sqrt(2 / math.pi) * k * L_w * s_w

        def floor(eta: float) -> float:
            t = math.ceil(A / eta)
            r2 = (1 - eta * L_w) ** 2
            S = t if r2 == 1 else (1 - r2**t) / (1 - r2) if r2 < 1 else math.inf
            return c * eta * math.sqrt(S)

        lo, hi = 1e-300, 2.0 / L_w
        # For η ≥ 2/L_w, S_t ≥ t, so the floor is ≥ c√(ηA) ≥ c√(2A/L_w) = floor(2/L_w): if that
        # exceeds ε, no η beyond 2/L_w helps and the search below is complete. Otherwise the
        # wells do not constrain η at all, and only the flat class's limit remains.
        if floor(hi) <= eps:
            return A / (2.0 / L_f)
        for _ in range(200):
            mid = math.sqrt(lo * hi) if lo > 0 else hi / 2
            lo, hi = (mid, hi) if floor(mid) <= eps else (lo, mid)
        return A / lo

    def _classes(self, quadratic: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(L, σ or kink, x₀, multiplicity) of the distinct quadratic (or Huber) coordinates: equal
        stored coordinates move alike, so each class is computed once."""
        mask = ~torch.isfinite(self.kink) if quadratic else torch.isfinite(self.kink)
        second = self.sigma if quadratic else self.kink
        cols = torch.stack([self.L, second, self.x0], dim=1)[mask].numpy()
        weights = self.multiplicity[mask].numpy()
        if not len(cols):
            return np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0)
        rows, inverse = np.unique(cols, axis=0, return_inverse=True)
        counts = np.bincount(inverse.ravel(), weights=weights, minlength=len(rows))
        return rows[:, 0], rows[:, 1], rows[:, 2], counts

    def _step_sizes(self, lr: Any) -> np.ndarray:
        eta = np.atleast_1d(np.asarray(lr, dtype=float))
        if eta.ndim != 1 or eta.size == 0:
            raise ValueError(f"lr must be a step size or a 1-D sequence of them (got {lr!r})")
        for value in eta:
            _validate.positive("lr", value)
        if bool((self.sigma[torch.isfinite(self.kink)] > 0).any()):
            raise ValueError("the exact expectation needs noiseless Huber coordinates")
        return eta

    def _chunks(self, eta: np.ndarray, steps: int, chunk: int = 2048):
        """Yield (t, stiff, flat) for t = 0..steps in chunks of ``chunk`` steps."""
        quadratic, huber = self._classes(True), self._classes(False)
        closed = (eta[:, None] * huber[0][None, :] < 2).all(axis=1)
        stepper = _paths.HuberStepper(*huber, eta[~closed])
        for t0 in range(0, steps + 1, chunk):
            t = np.arange(t0, min(steps + 1, t0 + chunk))
            flat = np.empty((len(eta), len(t)))
            flat[closed] = _paths.huber_closed(*huber, eta[closed], t)
            flat[~closed] = stepper.advance(len(t))
            yield t, _paths.quadratic_part(*quadratic, eta, t), flat

    def sgd_expectation(self, lr: Any, steps: int) -> dict[str, np.ndarray]:
        r"""E‖∇f(x_t)‖₁ of SGD (batch 1, constant step ``lr``) at t = 0, …, ``steps``, exactly.

        No Monte Carlo is needed (:mod:`signlab.theory.lowerbound._sgd_paths`): a quadratic
        coordinate under SGD is Gaussian, with mean (1 − ηL)^t x₀ and variance
        η²σ²Σ_{s<t}(1 − ηL)^{2s}, so E|Lx_t| is the mean of a folded normal; a Huber coordinate
        is noiseless and moves deterministically. Returns ``{"stiff", "flat", "total"}``: the
        quadratic coordinates' part (the noisy wells, or the stiff x₁), the Huber coordinates'
        part and their sum, each of shape (len(lr), steps + 1), or (steps + 1,) for a scalar
        ``lr``. The mean over seeds of the engine's runs estimates ``"total"``.
        """
        eta = self._step_sizes(lr)
        steps = _validate.integer("steps", steps, low=0)
        parts = list(zip(*self._chunks(eta, steps), strict=True))
        stiff, flat = np.concatenate(parts[1], axis=1), np.concatenate(parts[2], axis=1)
        out = {"stiff": stiff, "flat": flat, "total": stiff + flat}
        return {k: v[0] for k, v in out.items()} if np.ndim(lr) == 0 else out

    def sgd_steps(self, lr: Any, steps: int) -> Any:
        r"""N(ε) of SGD exactly: per step size, the first t ≤ ``steps`` with E‖∇f(x_t)‖₁ ≤ ε
        (inf if there is none), from :meth:`sgd_expectation` (B = 1, so t gradients).

        A float for a scalar ``lr``, else an array. No mean over seeds is involved, so no count
        comes early because a finite mean dipped below ε by chance. When every quadratic
        coordinate starts at its minimum (the noise instance), its part of E‖∇f‖₁ only grows
        with t, so a step size whose wells alone exceed ε is done: it never gets there.
        """
        eta = self._step_sizes(lr)
        steps = _validate.integer("steps", steps, low=0)
        found = np.full(len(eta), np.inf)
        quadratic, huber = self._classes(True), self._classes(False)
        closed = (eta[:, None] * huber[0][None, :] < 2).all(axis=1)
        stepped = np.flatnonzero(~closed)  # rare: a flat coordinate overshoots; no shortcut
        for t, stiff, flat in self._chunks(eta[stepped], steps) if len(stepped) else ():
            _first_hits(found, stepped, t, stiff + flat, self.eps)
            if np.isfinite(found[stepped]).all():
                break
        growing = bool((quadratic[2] == 0).all())
        pending, t0, chunk = np.flatnonzero(closed), 0, 256
        while len(pending) and t0 <= steps:
            t = np.arange(t0, min(steps + 1, t0 + chunk))
            stiff = _paths.quadratic_part(*quadratic, eta[pending], t)
            total = stiff + _paths.huber_closed(*huber, eta[pending], t)
            _first_hits(found, pending, t, total, self.eps)
            last = stiff[:, -1]
            done = np.isfinite(found[pending]) | ~np.isfinite(last)
            done |= growing & (last > self.eps)  # the wells alone stay above ε from now on
            pending, t0, chunk = pending[~done], t[-1] + 1, min(4 * chunk, 65536)
        return float(found[0]) if np.ndim(lr) == 0 else found

    def signsgd_steps_upper(self) -> float:
        """Noiseless instance only: SignSGD with η = ε/L∞ has ‖∇f‖₁ ≤ ε after ⌈b/η⌉ + 1 steps."""
        if self.term != "noiseless":
            raise ValueError("signsgd_steps_upper is proved for the noiseless instance only")
        eta = self.eps / self.linf_smoothness
        return math.ceil(float(self.x0.abs().max()) / eta) + 1


def _first_hits(found: np.ndarray, rows: np.ndarray, t: np.ndarray, total: np.ndarray, eps: float):
    """Write into ``found[rows]`` the first time of ``t`` with ``total`` ≤ ε, where not yet found."""
    below = (total <= eps) & np.isinf(found[rows])[:, None]
    hit = below.any(axis=1)
    found[rows[hit]] = t[np.argmax(below[hit], axis=1)]


def _common(d: int, eps: float, L_inf: float, Delta: float) -> tuple[int, float, float, float]:
    d = _validate.integer("d", d, low=2)
    eps = _validate.positive("eps", eps)
    L_inf = _validate.positive("L_inf", L_inf)
    Delta = _validate.positive("Delta", Delta)
    return d, eps, L_inf, Delta


def sgd_noiseless_instance(
    d: int, eps: float, *, L_inf: float = 1.0, Delta: float = 1.0
) -> HardSGDInstance:
    r"""Theorem 3's noiseless term: L₁ = L∞/2 stiff, d − 1 flat Huber coordinates (one class).

    x₁ starts at c = 4ε/L∞ (so L₁c = 2ε and its gap is Δ₁ = 4ε²/L∞), the flat class at
    b = a/2 + (Δ − Δ₁)/(2ε) with a = 4ε/L∞, so that f(x₀) = Δ. Needs Δ > 8ε²/L∞ (b > a).
    """
    d, eps, L_inf, Delta = _common(d, eps, L_inf, Delta)
    a = 4 * eps / L_inf
    delta1 = 4 * eps**2 / L_inf
    if Delta <= 2 * delta1:
        raise ValueError(f"Delta must be > 8·eps²/L_inf = {2 * delta1:g} (got {Delta!r})")
    b = a / 2 + (Delta - delta1) / (2 * eps)
    return HardSGDInstance(
        [L_inf / 2, L_inf / (2 * (d - 1))], [math.inf, a], [1.0, d - 1.0], [0.0, 0.0],
        [a, b], eps=eps, term="noiseless",
    )  # fmt: skip


def sgd_noise_instance(
    d: int, k: int, eps: float, *, noise_l1: float = 1.0, L_inf: float = 1.0, Delta: float = 1.0
) -> HardSGDInstance:
    r"""Theorem 3's noise term: k noisy wells L_w = L∞/(2k), σ_i = ‖σ‖₁/k, at rest at 0, and d − k
    flat noiseless Huber coordinates (L = L∞/(2(d − k)), a = 4ε/L∞) started at b = a/2 + Δ/(2ε).

    φ(σ) = k/d and (Σ_iσ_i√L_i)² = ‖σ‖₁²L∞/(2k) = (L∞/2)‖σ‖₂²: the allocation L_i ∝ σ_i² of
    half of L∞, the Cauchy–Schwarz maximum, so d(Σ_iσ_i√L_i)² = ‖σ‖₁²L∞/(2φ). Needs 1 ≤ k < d;
    ``noise_l1=0`` gives the same function without noise, the control.
    """
    d, eps, L_inf, Delta = _common(d, eps, L_inf, Delta)
    k = _validate.integer("k", k, low=1, high=d - 1)
    noise_l1 = _validate.nonnegative("noise_l1", noise_l1)
    a = 4 * eps / L_inf
    b = a / 2 + Delta / (2 * eps)
    L = [L_inf / (2 * k)] * k + [L_inf / (2 * (d - k))]
    return HardSGDInstance(
        L, [math.inf] * k + [a], [1.0] * k + [float(d - k)], [noise_l1 / k] * k + [0.0],
        [0.0] * k + [b], eps=eps, term="noise",
    )  # fmt: skip
