"""Tests of signlab.theory.lowerbound: each property checked on random parameters drawn from the
test's seed (printed on failure), Monte Carlo tolerances from the standard error. The runs go
through the one engine, signlab.sim.engine.simulate."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from signlab.sim.engine import Recorder, simulate
from signlab.theory import lowerbound as lb


def signsgd_iterates(problem, x0, *, lr, steps, batch=1, seed=0):
    """(runs, steps + 1, d) iterates of SignSGD on ``problem`` with its oracle."""
    run = simulate(
        problem,
        problem.oracle,
        "signsgd",
        torch.as_tensor(np.asarray(x0, dtype=float)),
        lr=lr,
        steps=steps,
        batch=batch,
        seed=seed,
        record=("iterate", "grad_l1"),
    )
    return run


def random_resisting(rng):
    return lb.ResistingFunction(
        10 ** rng.uniform(-2, 0), 10 ** rng.uniform(-2, 0.5), int(rng.integers(1, 40))
    )


def test_resisting_slope_on_grid(rng):
    for _ in range(20):
        p = random_resisting(rng)
        assert len(p.grid) == p.n + 1
        np.testing.assert_allclose(np.diff(p.grid), p.eta)
        np.testing.assert_allclose(p.gradient(p.grid), -p.eps, atol=1e-12)


def test_resisting_derivative_is_one_lipschitz_and_matches_value(rng):
    for _ in range(20):
        p = random_resisting(rng)
        span = (p.n + 2) * p.eta + 1
        x, y = rng.uniform(-1, span, (2, 5000))
        assert np.all(np.abs(p.gradient(x) - p.gradient(y)) <= np.abs(x - y) + 1e-12)
        h = 1e-6
        fd = (p.value(x + h) - p.value(x - h)) / (2 * h)
        np.testing.assert_allclose(fd, p.gradient(x), atol=1e-5)


def test_resisting_gap_bound(rng):
    for _ in range(20):
        p = random_resisting(rng)
        x = np.linspace(-1, (p.n + 1) * p.eta + 2 * p.eps + 1, 400001)
        dense_min = p.value(x).min()
        assert p.gap() == pytest.approx(p.value(0.0) - dense_min, abs=1e-6)
        assert p.value(0.0) - dense_min <= p.n * p.eps**2 + p.eps**2 / 2 + 1e-12
        assert p.gap() <= p.gap_bound() + 1e-12
    q = lb.ResistingFunction(0.5 / math.sqrt(30), 0.3, 30)
    assert q.gap() <= 1.0


def test_functional_core_broadcasts_one_function_per_coordinate(rng):
    eps, eta = 10 ** rng.uniform(-2, 0, 4), 10 ** rng.uniform(-2, 0, 4)
    n = rng.integers(1, 20, 4)
    x = rng.uniform(-1, 5, (100, 4))
    for i in range(4):
        p = lb.ResistingFunction(eps[i], eta[i], int(n[i]))
        np.testing.assert_allclose(lb.resisting_value(x, eps, eta, n)[:, i], p.value(x[:, i]))
        np.testing.assert_allclose(lb.resisting_gradient(x, eps, eta, n)[:, i], p.gradient(x[:, i]))
        assert p.gap() == pytest.approx(-lb.resisting_infimum(eps[i], eta[i], int(n[i])))
    xt = torch.tensor(x)
    torch.testing.assert_close(
        lb.resisting_value(xt, eps, eta, n), torch.tensor(lb.resisting_value(x, eps, eta, n))
    )


def test_cells_and_move_probability(rng):
    eps, sigma, B = rng.uniform(0.01, 0.25), rng.uniform(0, 2), int(rng.integers(1, 20))
    assert lb.hard_cells(eps) == math.floor(1 / (16 * eps**2) + 1e-9)
    assert lb.hard_cells(0.25) == 1
    q = sigma**2 / (sigma**2 + 4 * eps**2)
    assert lb.zero_probability(eps, sigma) == pytest.approx(q)
    assert lb.move_probability(eps, sigma, B) == pytest.approx(1 - q**B)
    assert lb.move_probability(eps, sigma, B) <= B * (1 - q) + 1e-12


def test_hard_instance_oracle_has_mean_and_variance_sigma_on_the_grid(rng, generator):
    for _ in range(5):
        eps, sigma = 10 ** rng.uniform(-2, -0.5), 10 ** rng.uniform(-2, 0.5)
        lr = 10 ** rng.uniform(-2, 0)
        inst = lb.hard_instance(eps, sigma, lr)
        R = 400_000
        x = torch.tensor(lr * rng.integers(0, lb.hard_cells(eps), size=(R, 1)), dtype=torch.float64)
        grad = inst.gradient(x)
        np.testing.assert_allclose(grad.numpy(), -2 * eps, atol=1e-12)
        draws = inst.oracle.sample(grad, 1, generator).numpy()
        q = sigma**2 / (sigma**2 + 4 * eps**2)
        assert np.mean(draws == 0) == pytest.approx(q, abs=5 * 0.5 / np.sqrt(R))
        dev = draws - grad.numpy()
        assert abs(dev.mean()) <= 5 * dev.std() / np.sqrt(R)
        sq = dev**2
        assert sq.mean() == pytest.approx(sigma**2, abs=5 * sq.std() / np.sqrt(R))
        B = int(rng.integers(2, 9))
        batch_dev = (
            inst.oracle.sample(grad[: R // 4], B, generator).numpy() - grad[: R // 4].numpy()
        )
        sqb = batch_dev**2
        assert sqb.mean() == pytest.approx(sigma**2 / B, abs=5 * sqb.std() / np.sqrt(R // 4))


def test_grid_oracle_is_bimodal_within_its_limit_and_exact_beyond(generator):
    """Each coordinate: the bimodal draw (0 or g(σ² + a²)/a², variance σ²g²/a²) where |g| ≤ limit,
    g itself past it; written out from Lemma 3's two outcomes, not from Bimodal's code."""
    from signlab.sim.noise import Bimodal

    sigma, a = torch.tensor([0.5, 2.0], dtype=torch.float64), torch.tensor([0.2, 1.0]).double()
    oracle = lb.GridOracle(Bimodal(sigma, scale=a), limit=a)
    grad = torch.tensor([[-0.2, 1.0], [0.1, -3.0], [0.5, 0.4]], dtype=torch.float64)
    R = 200_000
    draws = oracle.sample(grad.repeat(R, 1), 1, generator).view(R, 3, 2)
    inside = grad.abs() <= a
    assert inside.tolist() == [[True, True], [True, False], [False, True]]
    up = grad * (sigma**2 + a**2) / a**2  # the non-zero outcome
    for i in range(3):
        for j in range(2):
            column = draws[:, i, j]
            if not inside[i, j]:
                assert torch.all(column == grad[i, j])  # exact past the grid
                continue
            nonzero = column[column != 0]
            torch.testing.assert_close(nonzero, torch.full_like(nonzero, float(up[i, j])))
            q = float(sigma[j] ** 2 / (sigma[j] ** 2 + a[j] ** 2))
            assert float((column == 0).double().mean()) == pytest.approx(q, abs=5e-3)
    expected = torch.where(inside, sigma**2 * grad**2 / a**2, torch.zeros_like(grad))
    torch.testing.assert_close(oracle.variance(grad), expected)
    q = sigma**2 / (sigma**2 + a**2)
    torch.testing.assert_close(oracle.zero_probability, q)


def exact_stall(eps, sigma, T, B, n):
    """P(Bin(T, 1 - q^B) <= n), from math.comb."""
    p = 1 - (sigma**2 / (sigma**2 + 4 * eps**2)) ** B
    return sum(math.comb(T, k) * p**k * (1 - p) ** (T - k) for k in range(min(n, T) + 1))


def simulate_stall(eps, sigma, lr, steps, batch, runs, seed):
    inst = lb.hard_instance(eps, sigma, lr)
    run = signsgd_iterates(inst, np.zeros((runs, 1)), lr=lr, steps=steps, batch=batch, seed=seed)
    traj = run["iterate"][:, :, 0]
    moves = np.rint(traj / lr)
    np.testing.assert_allclose(traj, moves * lr, atol=1e-9)
    assert np.all(np.abs(np.diff(moves, axis=1)) <= 1)
    stalled = traj.max(axis=1) <= inst.grid_top()[0]
    n = lb.hard_cells(eps)
    assert np.all(run["grad_l1"][stalled].min(axis=1) == pytest.approx(2 * eps))
    assert np.all(np.diff(moves[stalled], axis=1) >= 0)
    assert np.all(moves[stalled, -1] <= n)
    return stalled, n


def test_stall_below_threshold_and_not_far_above(rng, seed):
    eps = rng.uniform(0.04, 0.06)
    sigma = rng.uniform(0.1, 1.0)
    lr = 10 ** rng.uniform(-2, 0)
    runs = 3000
    below = int(lb.stall_threshold(eps, sigma))
    assert lb.stall_threshold(eps, sigma) >= lb.paper_threshold(eps, sigma)
    for B in (1, int(rng.integers(2, 5))):
        stalled, n = simulate_stall(eps, sigma, lr, max(1, below // B), B, runs, seed)
        se = 0.5 / np.sqrt(runs)
        assert stalled.mean() >= 0.5 - 4 * se
        exact = exact_stall(eps, sigma, max(1, below // B), B, n)
        assert stalled.mean() == pytest.approx(exact, abs=5 * max(se, 1e-3))
        assert lb.stall_probability(eps, sigma, max(1, below // B), B) == pytest.approx(exact)
    far = int(4 * lb.paper_threshold(eps, sigma))
    stalled, _ = simulate_stall(eps, sigma, lr, far, 1, runs, seed)
    assert stalled.mean() <= 0.05
    assert lb.stall_probability(eps, sigma, far, 1) <= 0.01


def test_noiseless_signsgd_walks_one_cell_per_step(rng):
    eps, lr = rng.uniform(0.05, 0.2), rng.uniform(0.01, 1)
    inst = lb.hard_instance(eps, 0.0, lr)
    n = lb.hard_cells(eps)
    run = signsgd_iterates(inst, np.zeros((1, 1)), lr=lr, steps=n)
    np.testing.assert_allclose(run["iterate"][0, :, 0], lr * np.arange(n + 1))


def random_lift_setting(rng):
    d = int(rng.integers(2, 6))
    sigma = rng.exponential(1.0, d) * (rng.random(d) < 0.7)
    sigma[0] = max(sigma[0], 0.1)
    return d, 10 ** rng.uniform(-0.5, 1), 10 ** rng.uniform(-0.5, 1), sigma


def test_lift_is_linf_smooth_with_the_right_gap(rng):
    for _ in range(3):
        d, L, Delta, sigma = random_lift_setting(rng)
        N, lr = 10 ** rng.uniform(1, 3), 10 ** rng.uniform(-2, -0.5)
        for term in ("noiseless", "noise"):
            f = lb.lower_bound_instance(N, L, Delta, sigma, lr, term)
            assert f.L.sum() == pytest.approx(L)
            assert f.Delta.sum() == pytest.approx(Delta)
            x, y = rng.uniform(-1, 3, (2, 4000, d))
            lhs = np.abs(f.value(y) - f.value(x) - ((y - x) * f.gradient(x)).sum(-1))
            assert np.all(lhs <= L / 2 * np.abs(y - x).max(-1) ** 2 * (1 + 1e-9) + 1e-12)
            # the gap, coordinate by coordinate on a dense grid
            gap = 0.0
            for i in np.flatnonzero(f.active):
                xi = np.linspace(-1, (f.cells[i] + 2) * lr + 10, 50001)
                z = np.zeros((len(xi), d))
                z[:, i] = xi
                gap += f.value(np.zeros(d)) - f.value(z).min()
            assert gap <= Delta


def test_lift_lower_bound_formula_and_monte_carlo(rng, seed):
    d, L, Delta, sigma = random_lift_setting(rng)
    N = int(10 ** rng.uniform(2, 2.7))
    s = sigma.sum()
    closed = max(
        np.sqrt(L * Delta / (32 * N)),
        min(np.sqrt(L * Delta) / 4, (s**2 * L * Delta / (128 * N)) ** 0.25),
    )
    assert lb.signsgd_lower_rate(N, L, Delta, sigma) == pytest.approx(closed)
    lr, B = 10 ** rng.uniform(-2, 0), int(rng.integers(1, 4))
    runs = 600
    for term in ("noiseless", "noise"):
        f = lb.lower_bound_instance(N, L, Delta, sigma, lr, term)
        assert f.budget() >= N
        run = signsgd_iterates(f, np.zeros((runs, d)), lr=lr, steps=N // B, batch=B, seed=seed)
        best = run["grad_l1"].min(axis=1)
        assert best.mean() >= f.lower_bound() - 4 * best.std() / np.sqrt(runs)
        assert np.all(best <= f.stall_gradient_l1() * (1 + 1e-9))


def test_lower_complexity_inverts_the_lower_rate(rng):
    for _ in range(10):
        d, L, Delta, sigma = random_lift_setting(rng)
        eps = np.sqrt(L * Delta) / 4 * rng.uniform(0.01, 0.9)
        N = lb.signsgd_lower_complexity(eps, L, Delta, sigma)
        s = sigma.sum()
        assert N == pytest.approx(max(L * Delta / (32 * eps**2), s**2 * L * Delta / (128 * eps**4)))
        assert lb.signsgd_lower_rate(0.999 * N, L, Delta, sigma) > eps
        assert lb.signsgd_lower_rate(N, L, Delta, sigma) == pytest.approx(eps)


def test_noise_split_is_proportional_to_sigma(rng):
    sigma = rng.exponential(1.0, 7)
    L, D = lb.noise_split(3.0, 2.0, sigma)
    np.testing.assert_allclose(L, 3 * sigma / sigma.sum())
    np.testing.assert_allclose(D, 2 * sigma / sigma.sum())
    w = rng.exponential(1.0, 7)
    L, D = lb.noiseless_split(3.0, 2.0, w)
    np.testing.assert_allclose(L, 3 * w / w.sum())
    np.testing.assert_allclose(D / L, 2 / 3)


def numpy_msign(G):
    U, s, Vt = np.linalg.svd(G, full_matrices=False)
    keep = s > 1e-12 * max(1.0, s.max())
    return (U[:, keep] * 1.0) @ Vt[keep]


@pytest.mark.parametrize("shape", [(3, 3), (2, 7), (5, 6)])
def test_embedding_identities(shape, rng, seed):
    m, n = shape
    Q = lb.random_orthogonal(m, seed)
    np.testing.assert_allclose(Q @ Q.T, np.eye(m), atol=1e-12)
    g = rng.standard_normal(m)
    G = lb.embed(g, Q, n)
    P = np.eye(m, n)
    np.testing.assert_allclose(G, Q.T @ np.diag(g) @ P, atol=1e-12)
    np.testing.assert_allclose(numpy_msign(G), Q.T @ np.diag(np.sign(g)) @ P, atol=1e-10)
    assert np.linalg.svd(G, compute_uv=False).sum() == pytest.approx(np.abs(g).sum())
    sigma = rng.exponential(1.0, m)
    Sigma = lb.noise_covariance(sigma, Q)
    assert np.linalg.svd(Sigma, compute_uv=False).sum() == pytest.approx(sigma.sum())
    W = rng.standard_normal((4, m, n))
    np.testing.assert_allclose(lb.coordinates(W, Q), np.diagonal(Q @ W @ P.T, axis1=-2, axis2=-1))
    np.testing.assert_allclose(lb.selector(m, n), P)


def test_embedded_gradient_and_muon_step_follow_signsgd(rng, seed):
    m, n = 3, 5
    f = lb.lower_bound_instance(200, 2.0, 1.5, np.array([1.0, 0.3, 0.5]), 0.05, "noise")
    F = lb.MuonEmbedding(f, lb.random_orthogonal(m, seed), n)
    z = rng.uniform(0, 1, m)
    W = F.point(z)
    np.testing.assert_allclose(F.coordinates(W), z, atol=1e-12)
    assert F.value(W) == pytest.approx(f.value(z))
    h = 1e-6
    E = rng.standard_normal((m, n))
    fd = (F.value(W + h * E) - F.value(W - h * E)) / (2 * h)
    assert fd == pytest.approx((F.gradient(W) * E).sum(), abs=1e-6)
    Wt, zt = torch.tensor(W)[None], torch.tensor(z)[None]
    oracle = lb.EmbeddedOracle(f.oracle, F)
    G = oracle.sample(F.gradient(Wt), 2, torch.Generator().manual_seed(7), x=Wt)
    g = f.oracle.sample(f.gradient(zt), 2, torch.Generator().manual_seed(7), x=zt)
    np.testing.assert_allclose(F.coordinates(G)[0].numpy(), g[0].numpy(), atol=1e-12)
    G, g = G[0].numpy(), g[0].numpy()
    W_next = W - 0.05 * numpy_msign(G)
    np.testing.assert_allclose(F.coordinates(W_next), z - 0.05 * np.sign(g), atol=1e-10)


def test_zero_chain_gradient_and_chain_property(rng):
    T = int(rng.integers(2, 10))
    chain = lb.ZeroChain(T)
    x = rng.standard_normal((5, T))
    h = 1e-6
    fd = np.stack(
        [(chain.value(x + h * e) - chain.value(x - h * e)) / (2 * h) for e in np.eye(T)],
        -1,
    )
    np.testing.assert_allclose(chain.gradient(x), fd, atol=1e-5)
    k = int(rng.integers(0, T - 1))
    y = np.zeros(T)
    y[:k] = rng.uniform(-2, 2, k)
    if k:
        y[k - 1] = rng.uniform(-0.5, 0.5)
    g = chain.gradient(y)
    assert np.all(g[k + 1 :] == 0)
    assert chain.progress(y, 0.5) <= max(k - 1, 0) or k == 0


def test_probability_oracle_is_unbiased_and_sparse(rng, generator):
    T, p, R = 6, rng.uniform(0.1, 0.9), 200_000
    x = torch.zeros(R, T, dtype=torch.float64)
    x[:, :2] = 1.0
    chain = lb.ZeroChain(T)
    oracle = lb.ProbabilityOracle(p)
    draws = oracle.sample(chain.gradient(x), 1, generator, x=x).numpy()
    grad = chain.gradient(x[:1])[0].numpy()
    se = draws.std(axis=0) / np.sqrt(R)
    assert np.all(np.abs(draws.mean(axis=0) - grad) <= 5 * se + 1e-9 * np.abs(grad).max())
    noisy = np.flatnonzero(draws.std(axis=0) > 1e-9 * np.abs(grad).max())
    assert len(noisy) == 1 and noisy[0] == 2


def test_chain_linf_smoothness_grows_with_length():
    values = []
    for T in (2, 4, 8):
        H = lb.ZeroChain(T).hessian(np.full(T, 0.75))
        values.append(lb.cube_quadratic_max(H) / np.abs(np.linalg.eigvalsh(H)).max())
    assert values[0] < values[1] < values[2] and values[2] > 5


@pytest.mark.parametrize(("method", "lr"), [("sgd", 0.02), ("signsgd", 0.05)])
def test_zero_chain_progress_needs_successful_queries(method, lr, rng, seed):
    p, steps, runs, T = rng.uniform(0.05, 0.3), 60, 300, 6
    chain = lb.ZeroChain(T)
    progress = Recorder("progress", lambda problem, x, grad: problem.progress(x))

    def run(p, runs, steps):
        start = torch.zeros(runs, T, dtype=torch.float64)
        out = simulate(
            chain,
            lb.ProbabilityOracle(p),
            method,
            start,
            lr=lr,
            steps=steps,
            seed=seed,
            record=(progress,),
        )
        return out["progress"]

    prog = run(p, runs, steps)
    assert prog.shape == (runs, steps + 1) and np.all(prog[:, 0] == 0)
    # each link needs one successful query: progress <= Binomial(t, p) successes
    t = np.arange(steps + 1)
    se = np.sqrt(t * p * (1 - p) / runs) + 1e-12
    assert np.all(prog.mean(axis=0) <= p * t + 4 * se + 1e-9)
    assert np.all(run(1.0, 2, 400)[:, -1] == T)


def test_cube_quadratic_max_matches_enumeration(rng):
    A = rng.standard_normal((5, 5))
    H = A + A.T
    best = max(
        abs(np.array(v) @ H @ np.array(v))
        for v in np.ndindex(*(2,) * 5)
        for v in [2 * np.array(v) - 1]
    )
    assert lb.cube_quadratic_max(H) == pytest.approx(best)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: lb.ResistingFunction(0, 1, 1), "eps"),
        (lambda: lb.ResistingFunction(-0.1, 1, 1), "eps"),
        (lambda: lb.ResistingFunction(0.1, 0, 1), "eta"),
        (lambda: lb.ResistingFunction(0.1, 1, 0), "n"),
        (lambda: lb.ResistingFunction(0.1, 1, 2.5), "n"),
        (lambda: lb.hard_instance(0.1, -1, 0.1), "sigma"),
        (lambda: lb.hard_instance(0.3, 1, 0.1), "eps"),
        (lambda: lb.hard_instance(0.1, 1, -0.1), "lr"),
        (lambda: lb.zero_probability(0.0, 1.0), "eps"),
        (lambda: lb.stall_threshold(0.1, -1), "sigma"),
        (lambda: lb.stall_probability(0.1, 1, 0), "steps"),
        (lambda: lb.lower_bound_instance(0, 1, 1, [1.0], 0.1, "noise"), "N"),
        (lambda: lb.lower_bound_instance(10, 1, 1, [1.0], 0.1, "both"), "term"),
        (lambda: lb.noise_split(1, 1, [0.0, 0.0]), "sigma"),
        (lambda: lb.embed([1.0, 2.0], np.ones((2, 2)), 3), "Q"),
        (lambda: lb.selector(3, 2), "n"),
        (lambda: lb.ProbabilityOracle(1.5), "p"),
        (lambda: lb.signsgd_lower_complexity(10.0, 1, 1, [1.0]), "eps"),
        (lambda: lb.SeparableHardInstance([1.0], [1.0], [1.0], 0.3, 0.1), "eps"),
        (lambda: lb.SeparableHardInstance([1.0], [1.0, 2.0], [1.0], 0.1, 0.1), "same length"),
        (lambda: lb.SeparableHardInstance([-1.0], [1.0], [1.0], 0.1, 0.1), "L"),
        (lambda: lb.ZeroChain(3).gradient(np.zeros(4)), "T = 3"),
        (lambda: lb.ProbabilityOracle(0.5).sample(torch.zeros(1, 3)), "x must be given"),
        (lambda: lb.MuonEmbedding(lb.hard_instance(0.1, 1, 0.1), np.eye(2), 3), "shape"),
    ],
)
def test_bad_input_raises(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_grid_oracle_has_variance_at_most_sigma_squared_everywhere(rng, generator):
    """Bimodal on the grid (variance σ²), between grid points (less), exact past the grid."""
    eps, sigma, lr = 0.05, float(rng.uniform(0.2, 2.0)), 0.05
    inst = lb.hard_instance(eps, sigma, lr)
    top = float(inst.grid_top()[0])
    x = torch.tensor(rng.uniform(-1.0, top + 2.0, size=(20, 1)))
    x[0] = top + 1.5  # surely on the closing parabola, where |p'| > 2ε
    grad = inst.gradient(x)
    R = 200_000
    draws = inst.oracle.sample(grad.expand(20, R).T.reshape(-1, 1) * 1.0, 1, generator)
    draws = draws.reshape(R, 20).numpy()
    g = grad[:, 0].numpy()
    dev = draws - g
    assert np.all(np.abs(dev.mean(0)) <= 6 * dev.std(0) / np.sqrt(R) + 1e-12)
    var, se = (dev**2).mean(0), (dev**2).std(0) / np.sqrt(R)
    assert np.all(var <= sigma**2 + 5 * se + 1e-12)
    past = np.abs(g) > 2 * eps * (1 + 1e-9)
    assert past.any() and np.all(var[past] == 0)  # the exact gradient beyond the grid
    np.testing.assert_allclose(inst.oracle.variance(grad)[:, 0].numpy()[~past],
                               sigma**2 * g[~past] ** 2 / (4 * eps**2))  # fmt: skip
    np.testing.assert_allclose(
        inst.oracle.zero_probability.numpy(), lb.zero_probability(eps, sigma)
    )


def test_lifted_stall_probability_is_a_product_of_binomial_tails(rng):
    """Each active coordinate moves one cell when one of its B draws is non-zero, independently
    of the others: the probability that none has left its grid is Π_i P(Bin(T, 1 − q_i^B) ≤ n_i),
    written out here with math.comb."""
    sigma = rng.uniform(0.1, 1.0, size=3)
    inst = lb.lower_bound_instance(200, 1.0, 1.0, np.r_[sigma, 0.0], 0.05, "noise")
    steps, batch = int(rng.integers(20, 200)), int(rng.integers(1, 4))
    expected = 1.0
    for i in np.flatnonzero(inst.active):
        s, e, n = inst.sigma_rescaled[i], inst.eps[i], int(inst.cells[i])
        move = 1 - (s**2 / (s**2 + 4 * e**2)) ** batch
        expected *= sum(
            math.comb(steps, j) * move**j * (1 - move) ** (steps - j) for j in range(n + 1)
        )
    assert inst.stall_probability(steps, batch) == pytest.approx(expected, rel=1e-10)
    one = lb.hard_instance(0.1, 0.6, 0.05)  # one coordinate: the 1-D formula
    assert one.stall_probability(20) == pytest.approx(lb.stall_probability(0.1, 0.6, 20))
    with pytest.raises(ValueError, match="steps"):
        inst.stall_probability(0)
