"""SGD's hard instances: the constants they claim, checked at random points, and the bounds they
prove, checked against runs of the engine."""

import math

import numpy as np
import pytest
import torch

from signlab.experiments.sgd_hard import sgd_hard_sweep
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
