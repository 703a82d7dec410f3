"""The paper's toy experiments, the d-sweep and the plotting helpers, against independent loops."""

import math

import numpy as np
import pytest
import torch

from signlab import experiments
from signlab.book import viz


def test_toy_deterministic_picks_the_best_rate_of_plain_loops():
    d, stiff, steps, lrs = 40, 50.0, 60, (1e-1, 1e-2, 1e-3)
    result = experiments.toy_deterministic(d=d, stiff=stiff, steps=steps, lrs=lrs, seeds=2, seed=3)
    L = np.ones(d)
    L[0] = stiff
    x0 = torch.randn(2, d, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    x0 = x0.numpy()
    x0[:, 0] /= stiff
    for method, direction in [("sgd", lambda g: g), ("signsgd", np.sign)]:
        curves = {}
        for lr in lrs:
            x, f = x0.copy(), []
            with np.errstate(over="ignore", invalid="ignore"):
                for _ in range(steps):
                    f.append(0.5 * (L * x**2).sum(1))
                    x = x - lr * direction(L * x)
            curves[lr] = np.nan_to_num(np.array(f).T, nan=np.inf)
        best = min(lrs, key=lambda lr: curves[lr][:, -1].mean())
        assert result.lrs[method] == best
        assert result[method].shape == (2, steps)
        np.testing.assert_allclose(result[method], curves[best], rtol=1e-9)


def test_toy_stochastic_shapes_and_start():
    result = experiments.toy_stochastic(d=10, steps=30, seeds=5, seed=1)
    x0 = torch.randn(5, 10, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for method in ("sgd", "signsgd"):
        assert result[method].shape == (5, 30)
        np.testing.assert_allclose(result[method][:, 0], 0.5 * (x0.numpy() ** 2).sum(1))
    assert result.lrs == {"sgd": 1e-3, "signsgd": 1e-2}


@pytest.mark.slow
def test_toy_stochastic_paper_defaults_match_the_prediction_within_their_error():
    """The chapter's toy at the paper's settings (42 seeds), at three seeds of the whole run: the
    final mean loss is within 3 standard errors of the prediction, and SGD clearly above SignSGD."""
    from signlab import stats
    from signlab.experiments.sparse_noise import toy_stochastic_prediction

    for seed in (0, 1, 2):
        result = experiments.toy_stochastic(seed=seed)
        assert result["sgd"].shape == (42, 3000)
        pred = toy_stochastic_prediction(result.lrs)
        end = {m: stats.mean_se(result[m][:, -1]) for m in result}
        for m in result:
            assert stats.consistent(end[m], pred[m][-1], z=3), (seed, m, end[m])
        assert stats.clearly_greater(end["sgd"], end["signsgd"])


def test_noise_comparison_runs_both_methods_at_their_rates():
    runs = experiments.noise_comparison(d=20, k=2, steps=15, seeds=4, sgd_rate=0.5)
    assert set(runs) == {"sgd", "signsgd"}
    L_max = 0.5 * (1 / 20 + 1 / 2)
    assert runs["sgd"].lr == pytest.approx(0.5 / L_max, rel=1e-6)
    assert runs["signsgd"].lr == pytest.approx(0.1)
    for run in runs.values():
        assert run["grad_l1"].shape == (4, 16)
    with pytest.raises(ValueError, match="k"):
        experiments.noise_comparison(d=5, k=6)


def test_lift_problem_curvature_follows_sigma(rng):
    sigma = rng.uniform(0, 1, size=7)
    L = experiments.lift_problem(sigma, linf=3.0).L.numpy()
    np.testing.assert_allclose(L, 1.5 * (1 / 7 + sigma / sigma.sum()))
    np.testing.assert_allclose(experiments.lift_problem(np.zeros(4)).L.numpy(), np.full(4, 0.25))
    with pytest.raises(ValueError, match="sigma"):
        experiments.lift_problem([1.0, -1.0])


def test_loglog_slope_recovers_power_law(rng):
    p, c = rng.uniform(-2, 2), rng.uniform(0.1, 10)
    x = np.geomspace(1, 1e4, 6)
    assert experiments.loglog_slope(x, c * x**p) == pytest.approx(p)
    assert experiments.loglog_slope([1, 2, 4], [1, math.inf, 4]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="two finite"):
        experiments.loglog_slope([1, 2], [1, math.inf])


def test_band_traces_mean_and_quantiles(rng):
    values = rng.normal(size=(50, 7))
    values[3, 5] = np.inf
    x = np.arange(7)
    band, line = viz.band_traces(x, values, name="sgd", color=viz.COLORS["sgd"])
    np.testing.assert_allclose(line.y[:5], values[:, :5].mean(0))
    assert np.isnan(line.y[5])
    column = np.sort(values[:, 2])
    pos = 0.9 * (len(column) - 1)
    hi = column[int(pos)] + (column[int(pos) + 1] - column[int(pos)]) * (pos - int(pos))
    assert band.y[2] == pytest.approx(hi)
    assert viz.rgba("#ff0080", 0.5) == "rgba(255, 0, 128, 0.5)"
    with pytest.raises(ValueError, match="values"):
        viz.band_traces(x, values[:, :3], name="a", color="#000000")
    with pytest.raises(ValueError, match="color"):
        viz.rgba("red", 0.5)


def test_stall_curve_measures_the_exact_binomial_probability():
    curve = experiments.stall_curve(0.1, 0.6, 0.05, [0.5, 2.0, 6.0], runs=4000, seed=1)
    se = np.sqrt(curve["exact"] * (1 - curve["exact"]) / 4000) + 1e-3
    assert np.all(np.abs(curve["measured"] - curve["exact"]) <= 5 * se)
    assert curve["exact"][0] > 0.9 > 0.1 > curve["exact"][-1]
    p = curve["measured"]
    np.testing.assert_allclose(curve["se"], np.sqrt(p * (1 - p) / 4000))
    # exact_stall is the binomial tail at T = ⌊m·N*/B⌋ steps, computed here from its parts
    from signlab.experiments import lower_bounds as lbx
    from signlab.theory import lowerbound as lb

    threshold = lb.paper_threshold(0.1, 0.6)
    for batch in (1, 3):
        got = lbx.exact_stall(0.1, 0.6, [0.5, 2.0], batch=batch)
        want = [lb.stall_probability(0.1, 0.6, int(m * threshold / batch), batch) for m in (0.5, 2)]
        np.testing.assert_allclose(got, want)
    with pytest.raises(ValueError, match="multiples"):
        lbx.exact_stall(0.1, 0.6, [-1.0])
    with pytest.raises(ValueError, match="multiples"):
        experiments.stall_curve(0.1, 0.6, 0.05, [])


def test_sandwich_measurement_lies_above_the_lower_bound_and_below_the_upper():
    out = experiments.sandwich([50, 400], 1.0, 1.0, np.array([0.5, 0.5, 0.0]), runs=100)
    assert np.all(out["measured"] >= out["lower"])
    assert np.all(out["measured"] <= out["upper"])
    assert np.all(out["batch"] >= 1)


def test_zero_chain_progress_is_monotone_in_the_successes():
    prog = experiments.zero_chain_progress("signsgd", 5, 1.0, lr=0.3, steps=60, runs=3)
    assert prog.shape == (3, 61) and prog[:, 0].tolist() == [0, 0, 0]
    assert prog[:, -1].tolist() == [5, 5, 5]
    with pytest.raises(ValueError, match="method"):
        experiments.zero_chain_progress("adam", 5, 1.0, lr=0.3, steps=1)


def test_low_rank_race_records_the_nuclear_norm_for_every_method_and_step_size():
    from signlab.experiments.muon import low_rank_race

    grids = {"sgd": (1e-3, 1e-2), "muon": (1e-2,), "signsgd": (1e-3, 3e-3, 1e-2)}
    race = low_rank_race((2,), budgets=(10, 20), lrs=grids, m=4, seeds=2, every=5)
    assert set(race.curves) == set(grids)
    for method, curves in race.curves.items():
        assert curves.shape == (1, len(grids[method]), 2, 5)  # t = 0, 5, ..., 20
        assert np.isfinite(curves).all()
    assert race.steps.tolist() == [0, 5, 10, 15, 20]


def test_losses_keep_a_copy_of_the_step_sizes():
    lrs = {"sgd": 0.1}
    losses = experiments.Losses({"sgd": np.zeros((1, 3))}, lrs)
    lrs["sgd"] = 0.2
    assert losses.lrs == {"sgd": 0.1} and losses["sgd"].shape == (1, 3)


def test_low_rank_problem_is_spectrally_smooth_with_the_trace(rng):
    from signlab.experiments.muon import low_rank_problem

    problem = low_rank_problem(5, stiff=30.0)
    trace = 30.0 + 4.0
    W = torch.tensor(rng.normal(size=(200, 5, 5)))
    V = torch.tensor(rng.normal(size=(200, 5, 5)))
    gap = problem.value(W + V) - problem.value(W) - (problem.gradient(W) * V).sum((-2, -1))
    op = torch.linalg.matrix_norm(V, ord=2)
    assert torch.all(gap.abs() <= trace / 2 * op**2 * (1 + 1e-12))
    # tight at V = I (‖I‖_op = 1): F(I) = tr D / 2
    assert float(problem.value(torch.eye(5, dtype=torch.float64)[None])) == pytest.approx(trace / 2)


# --- the two factors, measured apart (issue 11) -------------------------------------------------


def expand(problem, x):
    """The uncompressed problem and start: every stored coordinate repeated m_i times."""
    from signlab.sim.problems import SeparableQuadratic

    reps = problem.multiplicity.round().long()
    return SeparableQuadratic(torch.repeat_interleave(problem.L, reps)), torch.repeat_interleave(
        x, reps, dim=-1
    )


@pytest.mark.parametrize("method", ["sgd", "signsgd"])
def test_compressed_d_factor_problem_equals_the_uncompressed_one_step_by_step(method, rng):
    from signlab.experiments.sparse_noise import d_factor_problem
    from signlab.sim.engine import simulate

    d = int(rng.integers(3, 12))
    problem = d_factor_problem(d)
    x0 = torch.tensor(rng.normal(size=(4, 2)))
    full, x0_full = expand(problem, x0)
    lr = {"sgd": 3.0, "signsgd": 0.05}[method]
    rec = ("f", "grad_l1", "grad_l2", "grad_linf", "iterate")
    small = simulate(problem, None, method, x0, lr=lr, steps=60, record=rec)
    big = simulate(full, None, method, x0_full, lr=lr, steps=60, record=rec)
    for name in ("f", "grad_l1", "grad_l2", "grad_linf"):
        np.testing.assert_allclose(small[name], big[name], rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(
        big["iterate"][..., 1:], small["iterate"][..., 1:2].repeat(d - 1, -1)
    )


def test_compressed_phi_problem_with_noise_equals_the_uncompressed_one(rng, seed):
    from signlab.experiments.sparse_noise import phi_factor_problem
    from signlab.sim.engine import simulate
    from signlab.sim.noise import Gaussian

    d, k = 9, 3
    for curvature in ("isotropic", "follows"):
        problem, oracle = phi_factor_problem(d, k, noise_l1=0.7, curvature=curvature)
        x0 = torch.tensor(rng.normal(size=(5, k + 1)))
        full, x0_full = expand(problem, x0)
        sigma_full = torch.repeat_interleave(oracle.sigma, problem.multiplicity.round().long())
        for method, lr in (("sgd", 2.0), ("signsgd", 0.05)):
            a = simulate(problem, oracle, method, x0, lr=lr, steps=50, seed=seed)
            b = simulate(full, Gaussian(sigma_full), method, x0_full, lr=lr, steps=50, seed=seed)
            for name in ("f", "grad_l1", "grad_l2"):
                np.testing.assert_allclose(a[name], b[name], rtol=1e-11, atol=1e-14)


def test_d_factor_counts_against_closed_forms():
    """SGD: mean_r Σ_i m_iL_i|1 − ηL_i|^t|x₀ᵢ| first ≤ ε, best over the grid; SignSGD: a loop.
    Two targets, read off one run each, against the closed form for each."""
    from signlab.experiments.sparse_noise import sgd_grid, signsgd_grid

    targets, ds = (0.2, 0.1), (10, 100, 1000)
    out = experiments.d_factor(ds, eps=targets, seeds=4, seed=5)
    np.testing.assert_array_equal(out.eps, [0.2, 0.1])
    np.testing.assert_array_equal(out.x, ds)
    x0 = torch.randn(4, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    x0 = x0.numpy()
    for j, d in enumerate(ds):
        L, m = np.array([0.5, 0.5 / (d - 1)]), np.array([1.0, d - 1.0])
        t = np.arange(80 * d + 10_001)
        for col, eps in enumerate(targets):
            best = math.inf
            for lr in sgd_grid(L):
                rate = np.abs(1 - lr * L)
                if np.any(rate > 1):
                    continue
                curve = (m * L * np.abs(x0)).T[None] * rate[None, :, None] ** t[:, None, None]
                below = np.flatnonzero(curve.sum(axis=1).mean(axis=1) <= eps)
                if below.size:
                    best = min(best, t[below[0]])
            assert best <= out.n["sgd"][j, col] <= best * (1 + 1 / 64) + 1
            sign_best = math.inf
            for lr in signsgd_grid(targets):
                x = x0.copy()
                for step in range(300):
                    if ((m * L * np.abs(x)).sum(axis=1).mean()) <= eps:
                        sign_best = min(sign_best, step)
                        break
                    x = x - lr * np.sign(L * x)
            assert out.n["signsgd"][j, col] == sign_best
    assert out.n["sgd"][2, 1] > 8 * out.n["sgd"][1, 1] > 32 * out.n["sgd"][0, 1]
    assert out.boot["sgd"].shape == (experiments.sparse_noise.BOOTSTRAP, 3, 2)
    assert out.se("sgd").shape == (3, 2) and np.all(out.se("sgd") >= 0)
    assert out.column(0.1) == 1
    with pytest.raises(ValueError, match="eps"):
        out.column(0.3)


def test_phi_factor_shapes_its_control_and_the_isotropic_sgd_floor():
    ks = (1, 4, 16)
    noisy = experiments.phi_factor(ks, d=16, noise_l1=1.0, eps=(0.2, 0.1), seeds=8)
    control = experiments.phi_factor(ks, d=16, noise_l1=0.0, eps=(0.2, 0.1), seeds=8)
    np.testing.assert_allclose(noisy.x, np.array(ks) / 16)
    for res in (noisy, control):
        for method in ("sgd", "signsgd"):
            assert res.n[method].shape == (3, 2) and np.all(np.isfinite(res.n[method]))
            assert res.lr[method].shape == res.edge[method].shape == (3, 2)
            # the smaller target is never reached sooner
            assert np.all(res.n[method][:, 1] >= res.n[method][:, 0])
    # isotropic, no noise: gradient descent with η = 1/ℓ·0.95 lands within 5% of 0 in one step
    np.testing.assert_array_equal(control.n["sgd"], 1.0)
    assert np.all(noisy.n["sgd"] > control.n["sgd"])
    assert np.all(noisy.n["signsgd"] >= control.n["signsgd"])
    slopes = experiments.sparse_noise.factor_slopes(noisy, 0.1)
    assert set(slopes) == {"sgd", "signsgd", "ratio"} and all(len(v) == 2 for v in slopes.values())
    alone = experiments.phi_factor(ks, d=16, noise_l1=1.0, eps=(0.2, 0.1), seeds=8, methods="sgd")
    assert set(alone.n) == {"sgd"}
    np.testing.assert_array_equal(alone.n["sgd"], noisy.n["sgd"])  # the same runs, one method


def test_count_ratio_pairs_the_replicates_and_spread_reads_quantiles(rng):
    from signlab.experiments.sparse_noise import Counts, count_ratio, spread

    reps = rng.normal(10.0, 2.0, size=(4000, 1, 1))
    assert spread(reps)[0, 0] == pytest.approx(2.0, rel=0.05)
    reps[:100] = np.inf  # 2.5% of the resamples never got there: the upper quantile barely moves
    assert spread(reps)[0, 0] == pytest.approx(2.0, rel=0.1)
    reps[:1000] = np.inf  # 25%: the error is unknown
    assert spread(reps)[0, 0] == math.inf
    with pytest.raises(ValueError, match="replicates"):
        spread(np.ones(1))
    # two counts with the same resampled seeds: their ratio's spread is the ratio's own, far
    # smaller than the delta method's for independent counts when they move together
    common = rng.normal(100.0, 10.0, size=(2000, 2, 1))
    a = Counts(np.ones(2), np.array([0.1]), {"m": np.full((2, 1), 100.0)}, {"m": common},
               {}, {})  # fmt: skip
    b = Counts(np.ones(2), np.array([0.1]), {"m": np.full((2, 1), 50.0)}, {"m": common / 2},
               {}, {})  # fmt: skip
    value, se = count_ratio(a, "m", b, "m")
    np.testing.assert_allclose(value, 2.0)
    np.testing.assert_allclose(se, 0.0, atol=1e-12)
    c = Counts(np.ones(2), np.array([0.2]), {"m": np.ones((2, 1))}, {"m": common}, {}, {})
    with pytest.raises(ValueError, match="same"):
        count_ratio(a, "m", c, "m")


def test_signsgd_threshold_is_where_the_noisy_share_of_the_start_equals_eps(rng, seed):
    """Monte Carlo: E Σ_{i≤k} L_i|x₀ᵢ| with L_i = 1/d and x₀ ~ N(0, I) is φ√(2/π); the threshold
    φ* puts that share at ε. Then the measured jump: SignSGD's count over its control's, far below
    and far above φ*."""
    from signlab import stats
    from signlab.experiments import sparse_noise as sn

    d, k = 50, 5
    x0 = rng.standard_normal((20_000, d))
    share = (np.abs(x0[:, :k]) / d).sum(axis=1).mean()
    assert share == pytest.approx(k / d * math.sqrt(2 / math.pi), rel=0.02)
    eps = share
    assert sn.signsgd_threshold(eps) == pytest.approx(k / d, rel=0.02)
    np.testing.assert_allclose(
        sn.signsgd_threshold([0.1, 0.2], linf=2.0), [0.0627, 0.1253], rtol=1e-3
    )
    with pytest.raises(ValueError, match="eps"):
        sn.signsgd_threshold(-0.1)
    # d = 20, ε = 0.1: φ* ≈ 0.125; k = 1 (φ = 0.05) below it, k = 20 (φ = 1) far above it
    kw = dict(d=20, eps=0.1, seeds=16, seed=seed % 1000, methods="signsgd")
    noisy = experiments.phi_factor((1, 20), noise_l1=1.0, **kw)
    control = experiments.phi_factor((1, 20), noise_l1=0.0, **kw)
    ratio, se = sn.count_ratio(noisy, "signsgd", control, "signsgd")
    below, above = (stats.Estimate(ratio[i, 0], se[i, 0]) for i in (0, 1))
    # (margins from 41 seeds of this test: the smallest z was 3.7)
    assert stats.clearly_greater(above, below)
    assert stats.clearly_greater(6.0, below) and stats.clearly_greater(above, 4.0)


def test_factor_experiments_refuse_bad_input():
    with pytest.raises(ValueError, match="k_values"):
        experiments.phi_factor([1, 20], d=10, noise_l1=1.0, eps=0.1)
    with pytest.raises(ValueError, match="k_values"):
        experiments.phi_factor([], d=10, noise_l1=1.0, eps=0.1)
    with pytest.raises(ValueError, match="eps"):
        experiments.phi_factor([1], d=10, noise_l1=1.0, eps=0.0)
    with pytest.raises(ValueError, match="eps"):
        experiments.phi_factor([1], d=10, noise_l1=1.0, eps=(0.1, 0.1))
    with pytest.raises(ValueError, match="eps"):
        experiments.phi_factor([1], d=10, noise_l1=1.0, eps=())
    with pytest.raises(ValueError, match="noise_l1"):
        experiments.phi_factor([1], d=10, noise_l1=-1.0, eps=0.1)
    with pytest.raises(ValueError, match="curvature"):
        experiments.phi_factor([1], d=10, noise_l1=1.0, eps=0.1, curvature="round")
    with pytest.raises(ValueError, match="k_values"):
        experiments.phi_factor([10], d=10, noise_l1=1.0, eps=0.1, at_rest=True)
    with pytest.raises(ValueError, match="methods"):
        experiments.phi_factor([1], d=10, noise_l1=1.0, eps=0.1, methods=("adam",))
    with pytest.raises(ValueError, match="methods"):
        experiments.phi_factor([1], d=10, noise_l1=1.0, eps=0.1, methods=("sgd", "sgd"))
    with pytest.raises(ValueError, match="d_values"):
        experiments.d_factor([], eps=0.1)
    with pytest.raises(ValueError, match="d_values"):
        experiments.d_factor([1, 10], eps=0.1)
    with pytest.raises(ValueError, match="eps"):
        experiments.d_factor([10], eps=-0.1)


def test_step_size_grids_reach_the_noise_floor_and_the_targets():
    from signlab.experiments.sparse_noise import sgd_grid, signsgd_grid

    L = np.array([0.5, 0.01])
    plain = sgd_grid(L)
    np.testing.assert_allclose(plain[1:] / plain[:-1], 0.5)
    assert plain[0] <= 2 / L.min() and plain[-1] == pytest.approx(1.9 / 0.5 * 2.0**-11)
    # with noise ‖σ‖₁ = 1 and ε = 0.01 the floor √(ηL/π) = ε needs ηL = πε² ≈ 3e-4: reach 4 below
    noisy = sgd_grid(L, noise_l1=1.0, eps=0.01)
    assert noisy[-1] * L.max() <= math.pi * 0.01**2 / 4 < noisy[-1] * L.max() * 2
    np.testing.assert_array_equal(noisy[: len(plain)], plain)
    grid = signsgd_grid((0.2, 0.05), linf=2.0)
    np.testing.assert_allclose(grid[1:] / grid[:-1], 2**-0.5)
    assert grid[0] == pytest.approx(4 * 0.2 / 2) and grid[-1] >= 0.05 / 32 / 2 / 1.0001
    assert grid[-1] < 0.05 / 32 / 2 * math.sqrt(2)


def test_toy_stochastic_prediction_follows_the_simulation():
    """The derived E f(x_t) of both methods against 400 simulated seeds (d = 20, 400 steps)."""
    from signlab.experiments.sparse_noise import toy_stochastic_prediction

    lrs = {"sgd": 1e-3, "signsgd": 1e-2}
    sim = experiments.toy_stochastic(d=20, steps=400, seeds=400, seed=3)
    pred = toy_stochastic_prediction(lrs, d=20, steps=400)
    for method in lrs:
        mean, se = sim[method].mean(axis=0), sim[method].std(axis=0) / np.sqrt(400)
        assert np.all(np.abs(mean - pred[method]) <= 5 * se + 1e-3 * pred[method])
    with pytest.raises(ValueError, match="lrs"):
        toy_stochastic_prediction({"adam": 0.1})


def test_sandwich_at_batch_one_walks_far_more_steps_than_cells_and_still_stalls():
    out = experiments.sandwich(
        [100, 400], 1.0, 1.0, np.array([0.6, 0.3, 0.1, 0.0]), runs=100, batch=1
    )
    assert np.all(out["batch"] == 1) and np.all(out["steps"] == [100, 400])
    assert np.all(out["steps"] > 5 * out["cells"])
    assert np.all(out["stalled"] >= 0.5) and np.all(out["stalled"] <= 1)
    assert np.all(out["measured"] >= out["lower"])
    # the stalled fraction estimates the exact product of binomial tails
    exact = out["stalled_exact"]
    assert np.all(np.abs(out["stalled"] - exact) <= 5 * np.sqrt(exact * (1 - exact) / 100) + 0.01)
    np.testing.assert_allclose(
        out["stalled_se"], np.sqrt(out["stalled"] * (1 - out["stalled"]) / 100)
    )
    assert np.all(out["measured_se"] > 0)
    theorem1 = experiments.sandwich([100, 400], 1.0, 1.0, np.array([0.6, 0.3, 0.1, 0.0]), runs=20)
    assert np.all(theorem1["steps"] <= theorem1["cells"]) and np.all(theorem1["stalled"] == 1)


def test_lower_bound_helpers_against_direct_computations():
    from signlab.experiments import lower_bounds as lbx
    from signlab.theory import bounds
    from signlab.theory import lowerbound as lb

    rows = lbx.bimodal_moments(0.05, [0.5], points=[0.0, 5.0], draws=100_000, seed=2)
    assert rows[0]["gradient"] == pytest.approx(-0.1) and rows[0]["bound"] == 0.25
    assert abs(rows[0]["mean"] + 0.1) <= 5 * rows[0]["se"]
    assert rows[0]["variance"] == pytest.approx(0.25, rel=0.1)
    assert rows[1]["variance"] < 1e-20 and rows[1]["mean"] == pytest.approx(rows[1]["gradient"])
    # the oracle's variance σ²g²/(2ε)² on the grid, 0 past it; the SE of the sample variance
    assert rows[0]["variance_exact"] == pytest.approx(0.25) and rows[1]["variance_exact"] == 0
    assert abs(rows[0]["variance"] - 0.25) <= 5 * rows[0]["variance_se"]
    q = 0.25 / (0.25 + 0.01)  # one draw: 0 w.p. q, else g/(1 − q)
    value = -0.1 / (1 - q)
    m4 = q * 0.1**4 + (1 - q) * (value + 0.1) ** 4  # fourth central moment
    assert rows[0]["variance_se"] == pytest.approx(np.sqrt((m4 - 0.25**2) / 100_000), rel=0.2)
    chain = lbx.chain_smoothness((2, 3))
    H = lb.ZeroChain(3).hessian(np.full(3, 0.75))
    assert chain["l2"][1] == pytest.approx(np.abs(np.linalg.eigvalsh(H)).max())
    assert chain["linf"][1] == pytest.approx(lb.cube_quadratic_max(H))
    table = lbx.complexity_table(10, 0.05, (1, 10))
    sig = np.r_[1.0, np.zeros(9)]
    assert table["phi"].tolist() == pytest.approx([0.1, 1.0])
    assert table["sgd"][0] == pytest.approx(bounds.sgd_complexity_lower(0.05, 1, 1, sig))
    assert table["sign_upper"][0] == pytest.approx(bounds.signsgd_complexity(0.05, 1, 1, sig))


def test_noise_moments_and_their_standard_errors(seed):
    from signlab.experiments import sparse_noise as sn
    from signlab.sim.noise import Gaussian, StudentT

    grad = torch.zeros(2_000, 3, dtype=torch.float64)
    sigma = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    # Student-t with ν = 12: the error of an estimated fourth moment needs eight moments
    models = {"g": Gaussian(sigma), "t": StudentT.with_std(sigma, nu=12.0)}
    runs = [sn.noise_moments(models, grad, 4, seed=seed + r) for r in range(120)]
    for name in models:
        sig = np.array([r[name]["sigma"] for r in runs])  # (repeats, 3)
        se = np.array([r[name]["sigma_se"] for r in runs]).mean(axis=0)
        # the delta-method error is the spread of σ̂·√B over independent repeats (to ~20%)
        np.testing.assert_allclose(sig.std(axis=0, ddof=1), se, rtol=0.25)
        np.testing.assert_allclose(sig.mean(axis=0), sigma.numpy(), rtol=0.01)
        means = np.array([r[name]["mean"] for r in runs])
        np.testing.assert_allclose(means.std(axis=0, ddof=1), runs[0][name]["mean_se"], rtol=0.25)
    one = sn.noise_moments({"g": Gaussian(sigma)}, grad[:1], 1)["g"]
    assert all(np.isnan(one[key]).all() for key in ("sigma", "sigma_se", "mean_se"))


def test_density_estimates_against_the_estimator_and_their_bias():
    from signlab.experiments import sparse_noise as sn
    from signlab.sim.noise import Gaussian, estimate_density

    sigma = torch.tensor([0.5, 1.0, 2.0, 2.0], dtype=torch.float64)
    est = sn.density_estimates(sigma, [4, 400], repeats=3, seed=7)
    # the same draws as the function makes, through estimate_density one repeat at a time
    gen = torch.Generator().manual_seed(7)
    draws = Gaussian(sigma).sample(torch.zeros(400, 3, 4, dtype=torch.float64), 1, gen)
    direct = [[estimate_density(draws[:n, r]) for n in (4, 400)] for r in range(3)]
    np.testing.assert_allclose(est["mean"], np.mean(direct, axis=0), rtol=1e-12)
    np.testing.assert_allclose(est["se"], np.std(direct, axis=0, ddof=1) / np.sqrt(3))
    np.testing.assert_allclose(est["over_n"], est["mean"], rtol=1e-12)
    assert est["true"] == pytest.approx((5.5**2) / (4 * 9.25))
    # the bias: dense σ, true φ = 1, n = 4: the mean φ̂ lies clearly below 1, more so for t noise
    dense = torch.ones(50, dtype=torch.float64)
    g = sn.density_estimates(dense, [4], repeats=40, seed=1)
    t = sn.density_estimates(dense, [4], repeats=40, nu=3.0, seed=1)
    assert g["mean"][0] + 5 * g["se"][0] < 1.0
    assert t["mean"][0] + 3 * t["se"][0] < g["mean"][0] - 3 * g["se"][0]
    with pytest.raises(ValueError, match="ns"):
        sn.density_estimates(sigma, [1, 4])
    with pytest.raises(ValueError, match="repeats"):
        sn.density_estimates(sigma, [4], repeats=1)


def test_loglog_fit_slope_and_its_uncertainties(rng):
    x = np.geomspace(1, 1e4, 6)
    p = rng.uniform(-2, 2)
    noise = rng.normal(scale=0.05, size=6)
    y = 3.0 * x**p * np.exp(noise)
    slope, se = experiments.loglog_fit(x, y)
    X = np.c_[np.ones(6), np.log(x)]
    beta, res, *_ = np.linalg.lstsq(X, np.log(y), rcond=None)
    cov = res[0] / (6 - 2) * np.linalg.inv(X.T @ X)
    assert slope == pytest.approx(beta[1]) and se == pytest.approx(math.sqrt(cov[1, 1]))
    reps = y[None] * np.exp(rng.normal(scale=0.1, size=(50, 6)))
    reps[3, 2] = np.inf  # a replicate with a missing value is left out
    slope_b, se_b = experiments.loglog_fit(x, y, reps)
    good = np.delete(reps, 3, axis=0)
    expected = np.std([np.polyfit(np.log(x), np.log(r), 1)[0] for r in good], ddof=1)
    assert slope_b == pytest.approx(slope) and se_b == pytest.approx(expected)
    with pytest.raises(ValueError, match="two finite"):
        experiments.loglog_fit([1, 2], [1, math.inf])
