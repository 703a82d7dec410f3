"""SGD's hard instances: the constants they claim, checked at random points, and the bounds they
prove, checked against runs of the engine."""

import math

import numpy as np
import pytest
import torch

from signlab.experiments.sgd_hard import (
    SGD_EXACT_STEPS,
    largest_stable_step,
    noise_factor,
    sgd_hard_sweep,
    step_size_runs,
)
from signlab.sim.engine import gradients_to_reach, simulate
from signlab.theory import lowerbound as lb


def instances(rng):
    eps = float(rng.uniform(0.05, 0.3))
    d = int(rng.integers(3, 30))
    k = int(rng.integers(1, d))
    L_inf, Delta = float(rng.uniform(0.5, 3)), float(rng.uniform(1.0, 3.0))
    noiseless = lb.sgd_noiseless_instance(d, eps, L_inf=L_inf, Delta=Delta)
    noise = lb.sgd_noise_instance(d, k, eps, L_inf=L_inf, Delta=Delta, noise_l1=1.3)
    return (noiseless, noise), dict(d=d, k=k, eps=eps, L_inf=L_inf, Delta=Delta)


def test_instances_have_the_constants_they_claim(rng):
    (noiseless, noise), p = instances(rng)
    for inst in (noiseless, noise):
        assert isinstance(inst, lb.HardSGDInstance) and inst.d == p["d"]
        assert inst.linf_smoothness == pytest.approx(p["L_inf"])
        assert inst.gap == pytest.approx(p["Delta"])
        full = inst.expanded()
        L = full.L.numpy()
        assert L.sum() == pytest.approx(p["L_inf"]) and full.d == p["d"]
        x = rng.normal(scale=3 * inst.x0.abs().max().item() + 1, size=(4000, p["d"]))
        y = x + rng.normal(scale=rng.uniform(0.01, 3), size=x.shape)
        gap = full.value(y) - full.value(x) - (full.gradient(x) * (y - x)).sum(axis=1)
        assert np.all(np.abs(gap) <= 0.5 * ((y - x) ** 2 * L).sum(axis=1) * (1 + 1e-9) + 1e-12)
        assert np.all(np.abs(gap) <= 0.5 * L.sum() * np.abs(y - x).max(axis=1) ** 2 + 1e-12)
        h = 1e-6  # the gradient is the derivative of the value
        e = np.eye(p["d"])[None] * h
        fd = (full.value(x[:50, None] + e) - full.value(x[:50, None] - e)) / (2 * h)
        np.testing.assert_allclose(fd, full.gradient(x[:50]), atol=1e-6)
        assert np.all(full.value(x) >= 0) and float(full.value(np.zeros((1, p["d"])))[0]) == 0
    assert noiseless.max_curvature == pytest.approx(p["L_inf"] / 2) and noiseless.oracle is None
    sigma = noise.expanded().sigma.numpy()
    assert noise.noise_l1 == pytest.approx(1.3) and np.count_nonzero(sigma) == p["k"]
    assert noise.alignment == pytest.approx(p["L_inf"] / 2 * (sigma**2).sum())
    # the Gaussian noise has the claimed standard deviation and no bias, at a random point
    x = torch.tensor(rng.normal(size=(100_000, noise.shape[0])))
    grad = noise.gradient(x)
    draws = noise.oracle.sample(grad, 1, torch.Generator().manual_seed(1)) - grad
    np.testing.assert_allclose(draws.std(0).numpy(), noise.sigma.numpy(), rtol=0.02, atol=1e-12)
    assert np.all(np.abs(draws.mean(0).numpy()) <= 5 * noise.sigma.numpy() / np.sqrt(1e5) + 1e-12)


@pytest.mark.parametrize("method", ["sgd", "signsgd"])
def test_compressed_instance_equals_the_expanded_one_step_by_step(method, rng, seed):
    (noiseless, noise), _ = instances(rng)
    for inst in (noiseless, noise):
        full = inst.expanded()
        lr = 0.5 if method == "sgd" else 0.01
        a = simulate(inst, inst.oracle, method, inst.start(3), lr=lr, steps=40, seed=seed)
        b = simulate(full, full.oracle, method, full.start(3), lr=lr, steps=40, seed=seed)
        for name in ("f", "grad_l1", "grad_l2"):
            np.testing.assert_allclose(a[name], b[name], rtol=1e-11, atol=1e-14)


def test_sgd_never_beats_the_proven_bound_and_signsgd_meets_its_own(rng):
    eps = 0.2
    for d in (5, 40):
        inst = lb.sgd_noiseless_instance(d, eps, Delta=0.6)
        lower = inst.sgd_steps_lower()
        for lr in 4.0 * np.array([0.99, 0.6, 0.3, 0.1]):  # 2/L₁ = 4
            run = simulate(inst, None, "sgd", inst.start(1), lr=lr, steps=int(20 * lower) + 100)
            assert gradients_to_reach(run, eps) > lower
        run = simulate(inst, None, "sgd", inst.start(1), lr=4.05, steps=2000)
        assert math.isinf(gradients_to_reach(run, eps))
        eta = eps / inst.linf_smoothness
        sign = simulate(inst, None, "signsgd", inst.start(1), lr=eta, steps=500)
        assert gradients_to_reach(sign, eps) <= inst.signsgd_steps_upper()


def test_noise_instance_bound_holds_for_the_mean_over_seeds():
    inst = lb.sgd_noise_instance(20, 2, 0.2, noise_l1=1.0, Delta=0.5)
    lower = inst.sgd_steps_lower()
    for lr in (20.0, 2.0, 0.5, 0.1):
        run = simulate(inst, inst.oracle, "sgd", inst.start(200), lr=lr, steps=int(8 * lower))
        assert gradients_to_reach(run, 0.2) >= 0.9 * lower  # E, estimated from 200 seeds
    control = lb.sgd_noise_instance(20, 2, 0.2, noise_l1=0.0, Delta=0.5)
    assert control.oracle is None and control.sgd_steps_lower() < lower / 100


def test_sweeps_show_each_factor_and_its_control():
    noiseless = sgd_hard_sweep("noiseless", (10, 100), eps=0.2, seeds=4)
    assert noiseless["sgd"].shape == (2, 5) and np.isinf(noiseless["sgd"][:, 0]).all()
    assert noiseless["sgd_best"][1] > 5 * noiseless["sgd_best"][0]
    assert np.all(noiseless["sgd_best"] >= noiseless["lower"])
    assert noiseless["signsgd_best"][0] == noiseless["signsgd_best"][1]
    noise = sgd_hard_sweep("noise", (1, 8), d=32, eps=0.25, seeds=8)
    control = sgd_hard_sweep("noise", (1, 8), d=32, eps=0.25, noise_l1=0.0, seeds=8)
    np.testing.assert_allclose(noise["x"], [1 / 32, 8 / 32])
    assert noise["sgd_best"][0] > 3 * noise["sgd_best"][1]
    assert control["sgd_best"][0] == control["sgd_best"][1]


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="k"):
        lb.sgd_noise_instance(10, 10, 0.1)
    with pytest.raises(ValueError, match="eps"):
        lb.sgd_noiseless_instance(10, 0.0)
    with pytest.raises(ValueError, match="Delta"):
        lb.sgd_noiseless_instance(10, 0.5, Delta=0.1)
    with pytest.raises(ValueError, match="values"):
        sgd_hard_sweep("noise", (1, 40), d=32, eps=0.2)
    with pytest.raises(ValueError, match="values"):
        sgd_hard_sweep("noiseless", (), eps=0.2)
    with pytest.raises(ValueError, match="term"):
        sgd_hard_sweep("both", (10,), eps=0.2)
    with pytest.raises(ValueError, match="eps"):
        sgd_hard_sweep("noiseless", (10,), eps=-1.0)


def test_exact_expectation_is_what_the_runs_average_to(rng, seed):
    """sgd_expectation against the engine: the mean of 3000 runs per step size agrees within
    5 standard errors at every step, for step sizes that settle, that never reach ε and that
    diverge; the noiseless instance equals its one deterministic run."""
    d, k = int(rng.integers(8, 30)), int(rng.integers(1, 4))
    inst = lb.sgd_noise_instance(d, k, 0.2, Delta=0.5, noise_l1=float(rng.uniform(0.5, 2)))
    L_w = float(inst.L[0])
    lrs = np.array([0.05, 0.5, 1.5]) / L_w  # quiet, settling, oscillating wells
    exact = inst.sgd_expectation(lrs, 60)
    runs = 3000
    for j, lr in enumerate(lrs):
        run = simulate(
            inst, inst.oracle, "sgd", inst.start(runs), lr=float(lr), steps=60, seed=seed
        )
        mean = run["grad_l1"].mean(axis=0)
        se = run["grad_l1"].std(axis=0, ddof=1) / np.sqrt(runs)
        assert np.all(np.abs(mean - exact["total"][j]) <= 5 * se + 1e-12), j
    np.testing.assert_allclose(exact["total"], exact["stiff"] + exact["flat"], rtol=1e-15)
    # the flat part alone is the deterministic path of the Huber coordinates, stepped here
    L_f, a, b, m = float(inst.L[-1]), float(inst.kink[-1]), float(inst.x0[-1]), d - k
    for j, lr in enumerate(lrs):
        x, path = b, []
        for _ in range(61):
            g = L_f * min(max(x, -a), a)
            path.append(m * abs(g))
            x -= lr * g
        np.testing.assert_allclose(exact["flat"][j], path, rtol=1e-12, atol=1e-15)
    noiseless = lb.sgd_noiseless_instance(d, 0.2, Delta=0.5)
    for lr in (1.0, 3.9):  # below the stiff coordinate's limit 2/L₁ = 4
        run = simulate(noiseless, None, "sgd", noiseless.start(1), lr=lr, steps=80)
        np.testing.assert_allclose(
            noiseless.sgd_expectation(lr, 80)["total"], run["grad_l1"][0], rtol=1e-11, atol=1e-14
        )


def test_flat_coordinates_that_overshoot_are_stepped(rng):
    """Past ηL = 2 on a flat coordinate there is no closed form; the stepped path must be the
    plain loop (written here), and sgd_steps must agree with the expectation's first crossing."""
    inst = lb.sgd_noise_instance(10, 2, 0.25, Delta=0.5, noise_l1=0.0)
    L_f, a, b, m = float(inst.L[-1]), float(inst.kink[-1]), float(inst.x0[-1]), 8
    lrs = np.array([1.0, 2.5, 3.0]) / L_f  # the last two overshoot
    total = inst.sgd_expectation(lrs, 50)["total"]
    for j, lr in enumerate(lrs):
        x, path = b, []
        for _ in range(51):
            g = L_f * min(max(x, -a), a)
            path.append(m * abs(g))
            x -= lr * g
        np.testing.assert_allclose(total[j], path, rtol=1e-12, atol=1e-15)
    first = [np.flatnonzero(row <= 0.25) for row in total]
    expected = [float(f[0]) if f.size else math.inf for f in first]
    assert inst.sgd_steps(lrs, 50).tolist() == expected


def test_exact_counts_are_first_crossings_and_respect_the_proven_bound(rng):
    d, k = int(rng.integers(10, 40)), int(rng.integers(1, 5))
    eps = float(rng.uniform(0.15, 0.3))
    inst = lb.sgd_noise_instance(d, k, eps, Delta=0.5)
    lrs = largest_stable_step(inst) * 2.0 ** -np.linspace(0.2, 7, 25)
    cap = int(20 * inst.sgd_steps_lower()) + 500
    counts = inst.sgd_steps(lrs, cap)
    total = inst.sgd_expectation(lrs, cap)["total"]
    for j in range(len(lrs)):
        hits = np.flatnonzero(total[j] <= eps)
        assert counts[j] == (hits[0] if hits.size else math.inf)
    assert np.isfinite(counts).any()
    assert np.all(counts[np.isfinite(counts)] > inst.sgd_steps_lower())  # the proof holds
    assert inst.sgd_steps(float(lrs[0]), cap) == counts[0]  # a scalar step size: a float


def test_largest_stable_step_is_that_of_the_stiffest_moving_coordinate():
    noise = lb.sgd_noise_instance(20, 4, 0.2)
    assert largest_stable_step(noise) == pytest.approx(2 / (1 / 8))  # 2/L_w, L_w = L∞/(2k)
    control = lb.sgd_noise_instance(20, 4, 0.2, noise_l1=0.0)  # the wells never move
    assert largest_stable_step(control) == pytest.approx(2 * 2 * 16)  # 2/L_f, L_f = 1/(2·16)
    noiseless = lb.sgd_noiseless_instance(20, 0.2)
    assert largest_stable_step(noiseless) == pytest.approx(4.0)  # 2/L₁, L₁ = L∞/2


def test_noise_factor_shows_one_over_phi_for_sgd_only(seed):
    out = noise_factor((1, 4), d=20, eps=0.25, seeds=64, seed=seed)
    assert out["x"].tolist() == [0.05, 0.2] and out["sgd"].shape == (2, len(SGD_EXACT_STEPS))
    assert not out["sgd_edge"].any() and np.all(out["sgd_best"] > out["lower"])
    for i, k in enumerate((1, 4)):  # the best is the minimum of exact counts, recomputed here
        inst = lb.sgd_noise_instance(20, k, 0.25, Delta=0.5)
        lrs = np.asarray(SGD_EXACT_STEPS) * largest_stable_step(inst)
        np.testing.assert_allclose(out["sgd_lrs"][i], lrs)
        assert (
            out["sgd_best"][i] == inst.sgd_steps(lrs, int(40 * inst.sgd_steps_lower()) + 1000).min()
        )
    # SGD's best grows about like (d − k)/k = 19 → 4 (a factor 4.75); SignSGD's hardly moves
    assert 3.5 < out["sgd_best"][0] / out["sgd_best"][1] < 6.5
    assert out["signsgd_replicates"].shape == (2, 400) and np.all(out["signsgd_se"] >= 0)
    assert (
        abs(out["signsgd_best"][0] - out["signsgd_best"][1]) <= 4 * np.hypot(*out["signsgd_se"]) + 1
    )
    control = noise_factor((1, 4), d=20, eps=0.25, noise_l1=0.0)
    assert np.all(control["signsgd_se"] == 0) and control["sgd_best"][0] == control["sgd_best"][1]


def test_step_size_runs_report_runs_and_their_exact_expectation(seed):
    lrs = np.array([0.5, 2.0])
    out = step_size_runs(2, lrs, d=20, eps=0.25, seeds=40, seed=seed, steps=300, points=30)
    inst = lb.sgd_noise_instance(20, 2, 0.25, Delta=0.5)
    shown = out["steps_shown"]
    assert shown[0] == 0 and shown[-1] == 300 and np.all(np.diff(shown) > 0)
    exact = inst.sgd_expectation(lrs, 300)
    np.testing.assert_allclose(out["total"], exact["total"][:, shown])
    assert (
        out["exact"].tolist()
        == inst.sgd_steps(lrs, int(40 * inst.sgd_steps_lower()) + 1000).tolist()
    )
    # the same runs, made here: per step size 40 seeds, the first crossing of their mean
    run = simulate(
        inst, inst.oracle, "sgd", inst.start(40).repeat(2, 1), lr=np.repeat(lrs, 40),
        steps=300, seed=seed,
    )  # fmt: skip
    values = run["grad_l1"].reshape(2, 40, -1)
    np.testing.assert_allclose(out["mean"], values.mean(axis=1)[:, shown])
    for j in range(2):
        hits = np.flatnonzero(values[j].mean(axis=0) <= 0.25)
        assert out["measured"][j] == (hits[0] if hits.size else math.inf)
    assert out["lower"] == inst.sgd_steps_lower()
    grid = out["curve_lrs"]  # a quarter of 0.5 to twice 2.0, 2^{1/8} apart
    assert grid[0] == pytest.approx(0.125) and grid[-1] == pytest.approx(4.0)
    np.testing.assert_allclose(grid[1:] / grid[:-1], 2 ** (1 / 8))
    assert out["curve"].tolist() == inst.sgd_steps(grid, 50_000).tolist()


def test_exact_expectation_refuses_what_it_cannot_compute():
    inst = lb.sgd_noise_instance(10, 2, 0.2)
    with pytest.raises(ValueError, match="lr"):
        inst.sgd_expectation(0.0, 10)
    with pytest.raises(ValueError, match="steps"):
        inst.sgd_steps(0.1, -1)
    noisy_huber = lb.HardSGDInstance(
        [1.0], [0.5], [1.0], [0.3], [1.0], eps=0.1, term="noise"
    )  # a Huber coordinate with noise: not Gaussian, no closed form
    with pytest.raises(ValueError, match="noiseless Huber"):
        noisy_huber.sgd_expectation(0.1, 5)
