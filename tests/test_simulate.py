"""The vectorised simulator against plain per-step reference loops written here in numpy."""

import math

import numpy as np
import pytest
import torch

from signlab.sim import engine as simulate
from signlab.sim import noise, problems


def fresh_rng() -> np.random.Generator:
    return np.random.default_rng()


class TableNoise:
    """Adds table[t] at the t-th call: the same draws for the simulator and the reference loop."""

    def __init__(self, table: np.ndarray) -> None:
        self.table, self.calls = table, 0

    def gradient(self, grad, batch, generator):
        out = grad + torch.as_tensor(self.table[self.calls], dtype=grad.dtype)
        self.calls += 1
        return out


def reference(method, x0, L, table, lr, steps, **h):
    """Plain loop: one seed at a time, one step at a time, the textbook formulas."""
    out = []
    for s in range(x0.shape[0]):
        x, m, l1 = x0[s].copy(), np.zeros_like(x0[s]), []
        for t in range(steps + 1):
            grad = L * x
            l1.append(np.abs(grad).sum())
            if t == steps:
                break
            g = grad + table[t][s]
            if method == "sgd":
                m = h.get("momentum", 0.0) * m + g if t else g.copy()
                x = x - lr * (m if h.get("momentum", 0.0) else g)
            elif method == "signsgd":
                x = x - lr * np.sign(g)
            elif method == "signum":
                m = 0.9 * m + 0.1 * g
                x = x - lr * np.sign(m)
            elif method == "lion":
                x = x - lr * np.sign(0.9 * m + 0.1 * g)
                m = 0.99 * m + 0.01 * g
            elif method == "normalized_sgd":
                x = x - lr * g / np.sqrt((g**2).sum())
        out.append(l1)
    return np.array(out)


@pytest.mark.parametrize("method", ["sgd", "signsgd", "signum", "lion", "normalized_sgd"])
def test_methods_match_reference_loop(method):
    rng = fresh_rng()
    seeds, d, steps = 3, 6, 25
    L = rng.uniform(0.1, 2, size=d)
    x0 = rng.normal(size=(seeds, d))
    table = rng.normal(size=(steps, seeds, d)) * (rng.random(d) < 0.5)
    lr = float(rng.uniform(0.01, 0.3))
    run = simulate.simulate(
        problems.SeparableQuadratic(L),
        TableNoise(table),
        method,
        torch.tensor(x0),
        lr=lr,
        steps=steps,
        record=("grad_l1",),
    )
    want = reference(method, x0, L, table, lr, steps)
    np.testing.assert_allclose(run["grad_l1"], want, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(run.steps, np.arange(steps + 1))


def test_sgd_momentum_and_batch_count():
    rng = fresh_rng()
    L, x0 = rng.uniform(0.1, 2, size=4), rng.normal(size=(2, 4))
    table = rng.normal(size=(10, 2, 4))
    run = simulate.simulate(
        problems.SeparableQuadratic(L),
        TableNoise(table),
        "sgd",
        torch.tensor(x0),
        lr=0.1,
        steps=10,
        batch=8,
        momentum=0.5,
        record=("grad_l1",),
    )
    np.testing.assert_allclose(
        run["grad_l1"], reference("sgd", x0, L, table, 0.1, 10, momentum=0.5), rtol=1e-10
    )
    np.testing.assert_array_equal(run.gradients, 8 * np.arange(11))


def test_recorders_and_every():
    rng = fresh_rng()
    L, x0 = rng.uniform(0.1, 2, size=5), rng.normal(size=(4, 5))
    run = simulate.simulate(
        problems.SeparableCosine(L),
        None,
        "signsgd",
        torch.tensor(x0),
        lr=0.05,
        steps=12,
        every=4,
        record=("f", "grad_l1", "grad_l2", "grad_linf"),
    )
    x = x0.copy()
    for t in range(13):
        grad = L * np.sin(x)
        if t % 4 == 0:
            k = t // 4
            np.testing.assert_allclose(run["f"][:, k], (L * (1 - np.cos(x))).sum(1))
            np.testing.assert_allclose(run["grad_l1"][:, k], np.abs(grad).sum(1))
            np.testing.assert_allclose(run["grad_l2"][:, k], np.sqrt((grad**2).sum(1)))
            np.testing.assert_allclose(run["grad_linf"][:, k], np.abs(grad).max(1))
        x = x - 0.05 * np.sign(grad)
    assert run["f"].shape == (4, 4)


def test_matrix_parameters_and_nuclear_norm():
    rng = fresh_rng()
    L = rng.uniform(0.5, 2, size=(3, 4))
    x0 = torch.tensor(rng.normal(size=(2, 3, 4)))
    run = simulate.simulate(
        problems.SeparableQuadratic(L), None, "sgd", x0, lr=0.1, steps=3, record=("grad_nuc",)
    )
    want = np.linalg.svd(L * x0.numpy(), compute_uv=False).sum(-1)
    np.testing.assert_allclose(run["grad_nuc"][:, 0], want, rtol=1e-10)


def test_same_seed_gives_same_noise_to_every_method():
    seen = {}

    class Spy(noise.Gaussian):
        def gradient(self, grad, batch, generator):
            out = super().gradient(grad, batch, generator)
            seen.setdefault(self.tag, []).append((out - grad).clone())
            return out

    d = 5
    problem = problems.SeparableQuadratic(torch.ones(d, dtype=torch.float64))
    x0 = torch.zeros(3, d, dtype=torch.float64)
    for tag, method in [("a", "sgd"), ("b", "signsgd")]:
        spy = Spy(noise.dense_sigma(d, 1.0))
        object.__setattr__(spy, "tag", tag)
        simulate.simulate(problem, spy, method, x0, lr=0.1, steps=5, seed=7)
    for a, b in zip(seen["a"], seen["b"], strict=True):
        torch.testing.assert_close(a, b)
    assert not torch.equal(seen["a"][0], seen["a"][1])


def test_until_and_gradients_to_reach_and_tune():
    rng = fresh_rng()
    d = 10
    problem = problems.SeparableQuadratic(torch.ones(d, dtype=torch.float64))
    model = noise.Gaussian(noise.sparse_sigma(d, 1, 1.0))
    x0 = torch.tensor(rng.normal(size=(8, d)))
    eps = 0.5
    lrs = [0.4, 0.2, 0.1, 0.05]
    full = [simulate.simulate(problem, model, "signsgd", x0, lr=lr, steps=400) for lr in lrs]
    first = []
    for run in full:
        hits = np.flatnonzero(run["grad_l1"].mean(0) <= eps)
        first.append(float(hits[0]) if hits.size else math.inf)
        assert simulate.gradients_to_reach(run, eps) == first[-1]
    k = int(np.argmin(first))
    early = simulate.simulate(problem, model, "signsgd", x0, lr=lrs[k], steps=400, until=eps)
    assert early["grad_l1"].shape[1] == first[k] + 1
    assert simulate.tune(problem, model, "signsgd", x0, lrs, eps, steps=400, first=8) == (
        lrs[k],
        first[k],
    )
    assert simulate.tune(problem, model, "signsgd", x0, [1e-6], eps, steps=50) == (None, math.inf)


def test_divergence_records_inf_not_nan():
    problem = problems.SeparableQuadratic(torch.full((3,), 10.0, dtype=torch.float64))
    x0 = torch.ones(2, 3, dtype=torch.float64)
    run = simulate.simulate(problem, None, "sgd", x0, lr=1.0, steps=2000, record=("f",))
    assert run["f"].shape == (2, 2001)
    assert not np.isnan(run["f"]).any() and np.isinf(run["f"][:, -1]).all()


def test_registered_adapter_is_used():
    calls = []

    def step(param, grad, state, hyper, dims):
        calls.append(dims)
        return param - hyper["lr"] * hyper["scale"] * grad, state

    simulate.register_method("test_scaled_gd", step, scale=0.5)
    try:
        problem = problems.SeparableQuadratic(torch.ones(2, 2, dtype=torch.float64))
        run = simulate.simulate(
            problem, None, "test_scaled_gd", torch.ones(1, 2, 2), lr=0.2, steps=1, record=("f",)
        )
    finally:
        del simulate.METHODS["test_scaled_gd"]
    assert calls == [(1, 2)]
    assert run["f"][0, 1] == pytest.approx(0.5 * 4 * (1 - 0.1) ** 2)
    assert isinstance(run, simulate.Trajectory)
    assert isinstance(simulate.METHODS["sgd"], simulate.Method)


def test_noise_generator_is_not_the_raw_seed():
    a = torch.randn(5, generator=simulate.noise_generator(3))
    b = torch.randn(5, generator=torch.Generator().manual_seed(3))
    assert not torch.equal(a, b)
    torch.testing.assert_close(a, torch.randn(5, generator=simulate.noise_generator(3)))


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"lr": 0.0}, "lr"),
        ({"lr": -1.0}, "lr"),
        ({"method": "adam"}, "method"),
        ({"steps": -1}, "steps"),
        ({"batch": 0}, "batch"),
        ({"record": ("grad_l3",)}, "record"),
        ({"x0": torch.zeros(2, 4)}, "x0"),
        ({"x0": torch.zeros(2, 3, dtype=torch.int64)}, "x0"),
        ({"until": 0.0}, "until"),
        ({"threads": 0}, "threads"),
    ],
)
def test_bad_input_raises_naming_the_argument(kwargs, name):
    args = {"method": "sgd", "x0": torch.zeros(2, 3), "lr": 0.1, "steps": 3, **kwargs}
    problem = problems.SeparableQuadratic(torch.ones(3))
    with pytest.raises(ValueError, match=name):
        simulate.simulate(problem, None, args.pop("method"), args.pop("x0"), **args)


def test_sweep_and_custom_recorder():
    rng = fresh_rng()
    L = rng.uniform(0.5, 2, size=3)
    x0 = torch.tensor(rng.normal(size=(2, 3)))
    simulate.register_recorder("test_dist", lambda problem, x, grad, dims: x.abs().sum(dims))
    try:
        runs = simulate.sweep(
            problems.SeparableQuadratic(L),
            None,
            "sgd",
            x0,
            [0.1, 0.2],
            steps=3,
            record=("test_dist",),
        )
    finally:
        del simulate.RECORDERS["test_dist"]
    for run, lr in zip(runs, [0.1, 0.2], strict=True):
        want = np.abs(x0.numpy() * (1 - lr * L) ** 3).sum(1)
        np.testing.assert_allclose(run["test_dist"][:, 3], want)
    with pytest.raises(ValueError, match="lrs"):
        simulate.sweep(problems.SeparableQuadratic(L), None, "sgd", x0, [], steps=3)
