"""The one engine against plain per-step reference loops written here in numpy."""

import math

import numpy as np
import pytest
import torch

from signlab.optim import functional as F
from signlab.sim import engine as simulate
from signlab.sim import noise, problems


class TableNoise(noise.Oracle):
    """Adds table[t] at the t-th call: the same draws for the simulator and the reference loop."""

    def __init__(self, table: np.ndarray) -> None:
        self.table, self.calls = table, 0

    def sample(self, grad, batch=1, generator=None, *, x=None):
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
def test_methods_match_reference_loop(method, rng):
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


def test_sgd_momentum_and_batch_count(rng):
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


def test_recorders_and_every(rng):
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


def test_matrix_parameters_and_nuclear_norm(rng):
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
        def sample(self, grad, batch=1, generator=None, *, x=None):
            out = super().sample(grad, batch, generator)
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


def test_until_and_gradients_to_reach_and_tune(rng):
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
    grid = simulate.tune(problem, model, "signsgd", x0, lrs, eps, steps=400, first=8, every=1)
    assert (grid.lr, grid.best) == (lrs[k], first[k])
    np.testing.assert_array_equal(grid.gradients[k], first[k])
    none = simulate.tune(problem, model, "signsgd", x0, [1e-6], eps, steps=50)
    assert (none.lr, none.best) == (None, math.inf)
    with pytest.raises(ValueError, match="no step size reached"):
        none.run()


@pytest.mark.parametrize("method", ["sgd", "signum", "lion"])
def test_a_tuned_grid_is_the_runs_simulate_makes_one_by_one(method, rng, seed):
    """Chunks continue iterates, the rule's state and the noise stream exactly, and every step
    size sees the same draws: group k of the grid is simulate(..., lr=lrs[k]) over the same steps."""
    d = 4
    problem = problems.SeparableQuadratic(torch.tensor(rng.uniform(0.5, 2, size=d)))
    oracle = noise.Gaussian(torch.tensor(rng.uniform(0, 1, size=d)))
    x0 = torch.tensor(rng.normal(size=(3, d)))
    lrs = [0.2, 0.05]
    grid = simulate.tune(
        problem, oracle, method, x0, lrs, 1e-9, steps=150, first=20, every=1, seed=seed,
        record=("iterate",),
    )  # fmt: skip
    assert grid.lr is None and grid.steps[-1] == 150  # ε unreachable: the whole budget ran
    np.testing.assert_array_equal(grid.steps, np.arange(151))
    for k, lr in enumerate(lrs):
        alone = simulate.simulate(
            problem, oracle, method, x0, lr=lr, steps=150, seed=seed, record=("grad_l1", "iterate")
        )
        np.testing.assert_allclose(grid.records["iterate"][k], alone["iterate"], rtol=1e-12)
        np.testing.assert_allclose(grid.run(k)["grad_l1"], alone["grad_l1"], rtol=1e-12)


def test_tune_stops_after_the_best_crossing_and_keeps_margin(rng):
    problem = problems.SeparableQuadratic(torch.ones(3, dtype=torch.float64))
    x0 = torch.tensor(rng.normal(size=(4, 3)))
    grid = simulate.tune(
        problem, None, "sgd", x0, [0.5, 0.01], 1e-3, steps=10_000, first=4, every=1
    )
    # 0.5 halves ‖∇f‖₁ each step; 0.01 is far slower and never gets there before the best stops
    assert grid.lr == 0.5 and np.isinf(grid.gradients[1])
    assert grid.steps[-1] < 4 * grid.best
    wide = simulate.tune(
        problem, None, "sgd", x0, [0.5, 0.01], 1e-3, steps=10_000, first=4, every=1, margin=3.0
    )
    assert wide.best == grid.best and wide.steps[-1] >= 3 * grid.best
    every = simulate.tune(
        problem, None, "sgd", x0, [0.5, 0.01], 1e-3, steps=10_000, first=4, every=1, until="all"
    )
    assert np.isfinite(every.gradients).all()
    identity = np.tile(np.arange(4), (3, 1))
    np.testing.assert_array_equal(every.resampled(identity), every.best)
    one = every.resampled(np.full((1, 4), 2))[0]  # the mean over seed 2 alone
    alone = simulate.tune(problem, None, "sgd", x0[2:3], [0.5, 0.01], 1e-3, steps=10_000, every=1)
    assert one == alone.best


def test_a_diverging_step_size_dies_and_the_others_go_on(rng):
    problem = problems.SeparableQuadratic(torch.full((2,), 10.0, dtype=torch.float64))
    x0 = torch.tensor(rng.normal(size=(2, 2)))
    grid = simulate.tune(
        problem, None, "sgd", x0, [5.0, 0.05], 1e-4, steps=2000, first=400, until="all"
    )  # 5.0 multiplies x by -49 each step: it overflows, dies, and stays dead over the chunks
    assert np.isinf(grid.gradients[0]) and np.isfinite(grid.gradients[1])
    assert grid.steps[-1] > 1900 and np.isinf(grid.records["grad_l1"][0][:, -1]).all()
    assert np.isfinite(grid.records["grad_l1"][1]).all()
    with pytest.raises(ValueError, match="additive"):
        simulate.tune(problem, noise.Bimodal(torch.ones(2)), "sgd", x0, [0.1], 0.1, steps=5)
    with pytest.raises(ValueError, match="margin"):
        simulate.tune(problem, None, "sgd", x0, [0.1], 0.1, steps=5, margin=0.5)
    with pytest.raises(ValueError, match="lrs"):
        simulate.tune(problem, None, "sgd", x0, [], 0.1, steps=5)


def test_per_run_step_sizes_and_continuation(rng, seed):
    problem = problems.SeparableQuadratic(torch.ones(3, dtype=torch.float64))
    oracle = noise.Gaussian(torch.ones(3, dtype=torch.float64))
    x0 = torch.tensor(rng.normal(size=(2, 3)))
    both = simulate.simulate(problem, oracle, "signum", x0, lr=[0.1, 0.3], steps=5, seed=seed)
    np.testing.assert_array_equal(both.lr, [0.1, 0.3])
    half = simulate.simulate(problem, oracle, "signum", x0, lr=[0.1, 0.3], steps=2, seed=seed)
    rest = simulate.simulate(
        problem, oracle, "signum", half.x, lr=[0.1, 0.3], steps=3, seed=half.generator,
        state=half.state,
    )  # fmt: skip
    torch.testing.assert_close(rest.x, both.x, rtol=0, atol=0)
    with pytest.raises(ValueError, match="one step size per run"):
        simulate.simulate(problem, None, "sgd", x0, lr=[0.1, 0.2, 0.3], steps=1)
    with pytest.raises(ValueError, match="lr must hold"):
        simulate.simulate(problem, None, "sgd", x0, lr=[0.1, -0.2], steps=1)


def test_divergence_records_inf_not_nan():
    problem = problems.SeparableQuadratic(torch.full((3,), 10.0, dtype=torch.float64))
    x0 = torch.ones(2, 3, dtype=torch.float64)
    run = simulate.simulate(problem, None, "sgd", x0, lr=1.0, steps=2000, record=("f",))
    assert run["f"].shape == (2, 2001)
    assert not np.isnan(run["f"]).any() and np.isinf(run["f"][:, -1]).all()


def test_a_method_object_runs_any_rule_with_its_defaults():
    method = simulate.Method("heavy_ball", F.sgd, {"momentum": 0.5})
    problem = problems.SeparableQuadratic(torch.ones(2, dtype=torch.float64))
    run = simulate.simulate(problem, None, method, torch.ones(1, 2), lr=0.1, steps=2, record=("f",))
    # b0 = g0 = x0, x1 = 0.9 x0; b1 = 0.5 b0 + x1 = 1.4 x0, x2 = x1 - 0.14 x0 = 0.76 x0
    assert run["f"][0, 2] == pytest.approx(0.5 * 2 * 0.76**2)
    assert run.method == "heavy_ball"


def test_muon_is_a_method_of_the_engine(rng):
    """The engine's "muon" is the theory's step W ← W − lr·msign(G) (exact msign, no momentum)."""
    L = rng.uniform(0.5, 2, size=(3, 5))
    W0 = torch.tensor(rng.normal(size=(2, 3, 5)))
    run = simulate.simulate(
        problems.SeparableQuadratic(L), None, "muon", W0, lr=0.05, steps=3, record=("iterate",)
    )
    W = W0.numpy()
    for t in range(4):
        np.testing.assert_allclose(run["iterate"][:, t], W, atol=1e-12)
        U, _, Vh = np.linalg.svd(L * W, full_matrices=False)
        W = W - 0.05 * U @ Vh


def test_batch_schedule_counts_gradients_and_shrinks_the_noise(rng):
    problem = problems.SeparableQuadratic(torch.ones(1, dtype=torch.float64))
    schedule = lambda t: 2**t  # noqa: E731
    x0 = torch.zeros(20_000, 1, dtype=torch.float64)
    run = simulate.simulate(
        problem,
        noise.Gaussian([1.0]),
        "sgd",
        x0,
        lr=1.0,
        steps=4,
        batch=schedule,
        record=("iterate",),
    )
    np.testing.assert_array_equal(run.gradients, [0, 1, 3, 7, 15])
    # with lr = 1 on f = x²/2, x_{t+1} = x_t − (x_t + ξ_t) = −ξ_t: the spread is 1/√B_t
    spread = run["iterate"][:, 1:, 0].std(axis=0)
    np.testing.assert_allclose(spread, [1.0, 2**-0.5, 0.5, 2**-1.5], rtol=0.05)


def test_multiplicities_give_the_uncompressed_run(rng):
    """Coordinates with the same curvature, start and no noise, stored once with a multiplicity."""
    L_classes, counts = np.array([3.0, 0.5]), np.array([1, 6])
    start = rng.normal(size=(4, 2))
    full = problems.SeparableQuadratic(np.repeat(L_classes, counts))
    small = problems.SeparableQuadratic(L_classes, multiplicity=counts)
    record = ("f", "grad_l1", "grad_l2", "grad_linf")
    for method in ("sgd", "signsgd", "signum"):
        a = simulate.simulate(
            full,
            None,
            method,
            torch.tensor(np.repeat(start, counts, axis=1)),
            lr=0.05,
            steps=30,
            record=record,
        )
        b = simulate.simulate(
            small, None, method, torch.tensor(start), lr=0.05, steps=30, record=record
        )
        for name in record:
            np.testing.assert_allclose(a[name], b[name], rtol=1e-12, atol=1e-14)
    assert small.dimension == 7 and small.linf_smoothness == pytest.approx(3.0 + 3.0)
    with pytest.raises(ValueError, match="multiplicities"):
        simulate.simulate(small, None, "normalized_sgd", torch.tensor(start), lr=0.1, steps=1)


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
        ({"momentum": 0.5, "method": "signsgd"}, "momentum"),
        ({"batch": lambda t: 0}, "batch"),
    ],
)
def test_bad_input_raises_naming_the_argument(kwargs, name):
    args = {"method": "sgd", "x0": torch.zeros(2, 3), "lr": 0.1, "steps": 3, **kwargs}
    problem = problems.SeparableQuadratic(torch.ones(3))
    with pytest.raises(ValueError, match=name):
        simulate.simulate(problem, None, args.pop("method"), args.pop("x0"), **args)


def test_custom_recorder_and_iterates(rng):
    L = rng.uniform(0.5, 2, size=3)
    x0 = torch.tensor(rng.normal(size=(2, 3)))
    dist = simulate.Recorder("dist", lambda problem, x, grad: x.abs().sum(-1))
    run = simulate.simulate(
        problems.SeparableQuadratic(L), None, "sgd", x0, lr=0.1, steps=3, record=(dist, "iterate")
    )
    want = x0.numpy() * (1 - 0.1 * L) ** 3
    np.testing.assert_allclose(run["iterate"][:, 3], want)
    np.testing.assert_allclose(run["dist"][:, 3], np.abs(want).sum(1))
    with pytest.raises(ValueError, match="distinct"):
        simulate.simulate(
            problems.SeparableQuadratic(L), None, "sgd", x0, lr=0.1, steps=1, record=(dist, dist)
        )


def test_gradients_to_reach_reads_the_first_crossing_of_the_run_mean():
    records = {"grad_l1": np.array([[3.0, 2.0, 0.5, 0.1], [1.0, 0.8, 0.9, 0.1]])}
    run = simulate.Trajectory(
        "sgd", 0.1, np.arange(4), np.array([0.0, 4.0, 8.0, 12.0]), records, torch.zeros(2, 1)
    )
    assert simulate.gradients_to_reach(run, 0.7) == 8.0  # means 2, 1.4, 0.7, 0.1
    assert simulate.gradients_to_reach(run, 0.05) == math.inf
    np.testing.assert_array_equal(run["grad_l1"], records["grad_l1"])


def test_tuning_reads_groups_and_bootstraps_from_its_records():
    grad_l1 = np.array(
        [
            [[4.0, 2.0, 1.0, 0.5], [4.0, 3.0, 2.0, 1.5]],  # step size 0: means 4, 2.5, 1.5, 1.0
            [[4.0, 1.0, 0.2, 0.1], [4.0, 3.0, 0.5, 0.4]],  # step size 1: means 4, 2.0, 0.35, 0.25
        ]
    )
    used = np.array([0.0, 2.0, 4.0, 6.0])
    tuned = simulate.Tuning(
        "sgd", np.array([0.1, 0.2]), np.array([6.0, 4.0]), 0.2, 4.0, 1.0, np.arange(4), used,
        {"grad_l1": grad_l1}, torch.zeros(2, 2, 1),
    )  # fmt: skip
    np.testing.assert_array_equal(tuned.run()["grad_l1"], grad_l1[1])
    assert tuned.run(0).lr == 0.1 and tuned.run().lr == 0.2
    # seed 0 twice: step size 1 is at 1.0 ≤ ε after 2 gradients; seed 1 twice: at 0.5 after 4;
    # both seeds: the full means, 4 gradients
    np.testing.assert_array_equal(tuned.resampled([[0, 0], [1, 1], [0, 1]]), [2.0, 4.0, 4.0])
    # a larger target, read off the same record: at 2.5 both seeds' mean crosses after 2 gradients
    # (step size 0: 4, 2.5; step size 1: 4, 2.0), seed 1 alone after 4 (3, then 2 and 0.5)
    both = tuned.resampled([[0, 0], [1, 1], [0, 1]], eps=[2.5, 1.0])
    np.testing.assert_array_equal(both, [[2.0, 2.0], [4.0, 4.0], [2.0, 4.0]])
    assert tuned.resampled([[0, 1]], eps=2.5).shape == (1,)
    # every step size's own count, the mean over both seeds: at 1.0 (6, 4) as tuned; at 2.5 (2, 2)
    np.testing.assert_array_equal(tuned.crossings(), tuned.gradients)
    np.testing.assert_array_equal(tuned.crossings([2.5, 1.0]), [[2.0, 6.0], [2.0, 4.0]])
    with pytest.raises(ValueError, match="eps"):
        tuned.crossings(0.5)
    with pytest.raises(ValueError, match="eps"):
        tuned.resampled([[0, 1]], eps=[0.5])  # below the tuned target: the record may stop early
    with pytest.raises(ValueError, match="eps"):
        tuned.resampled([[0, 1]], eps=[])
