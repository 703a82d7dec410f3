"""Noise models have the σ they claim; the σ and φ estimators recover known values."""

import numpy as np
import pytest
import torch

from signlab.sim import noise

N = 40_000


def plain_std(x: np.ndarray) -> np.ndarray:
    return np.sqrt(((x - x.mean(axis=0)) ** 2).sum(axis=0) / (x.shape[0] - 1))


def test_dense_and_sparse_sigma(rng):
    d = int(rng.integers(2, 50))
    k = int(rng.integers(1, d + 1))
    scale = float(rng.uniform(0.1, 5))
    dense = noise.dense_sigma(d, scale).numpy()
    sparse = noise.sparse_sigma(d, k, scale).numpy()
    assert np.all(dense == scale)
    assert np.count_nonzero(sparse) == k and np.all(sparse[:k] == scale)
    phi = lambda s: np.abs(s).sum() ** 2 / (len(s) * (s**2).sum())
    assert phi(sparse) == pytest.approx(k / d) and phi(dense) == pytest.approx(1.0)
    assert noise.Gaussian(torch.tensor(sparse)).density == pytest.approx(k / d)
    assert noise.StudentT(torch.tensor(dense), nu=4.0).density == pytest.approx(1.0)
    assert noise.Bimodal(torch.tensor(sparse)).support.tolist() == list(range(k))


def _check_moments(draws: np.ndarray, grad: np.ndarray, std: np.ndarray) -> None:
    mean_se = std / np.sqrt(draws.shape[0])
    assert np.all(np.abs(draws.mean(axis=0) - grad) <= 5 * mean_se + 1e-9)
    np.testing.assert_allclose(plain_std(draws), std, rtol=0.06, atol=1e-9)


@pytest.mark.parametrize("batch", [1, 4])
def test_gaussian_has_sigma_over_sqrt_batch(batch, rng, generator):
    d = 5
    sigma = rng.uniform(0.1, 3, size=d) * (rng.random(d) < 0.7)
    grad = np.tile(rng.normal(size=d), (N, 1))
    model = noise.Gaussian(torch.tensor(sigma))
    g = model.sample(torch.tensor(grad), batch, generator).numpy()
    _check_moments(g, grad[0], sigma / np.sqrt(batch))
    assert np.all(g[:, sigma == 0] == grad[:, sigma == 0])


@pytest.mark.parametrize("batch", [1, 3])
def test_student_t_with_std_has_sigma_and_heavy_tails(batch, rng, generator):
    sigma = rng.uniform(0.5, 2, size=3)
    grad = np.tile(rng.normal(size=3), (N, 1))
    model = noise.StudentT.with_std(torch.tensor(sigma), nu=6.0)
    g = model.sample(torch.tensor(grad), batch, generator).numpy()
    _check_moments(g, grad[0], sigma / np.sqrt(batch))
    if batch == 1:
        z = (g - grad) / sigma
        excess_kurtosis = (z**4).mean() / (z**2).mean() ** 2 - 3
        assert excess_kurtosis > 1.0  # 3 in theory for nu = 6; Gaussian gives 0


@pytest.mark.parametrize("scale", [None, 1.5])
def test_bimodal_oracle_is_unbiased_with_variance_sigma(scale, rng, generator):
    d, batch = 4, 2
    sigma = rng.uniform(0.2, 1.5, size=d)
    g0 = rng.uniform(0.5, 2, size=d) * rng.choice([-1, 1], size=d)
    grad = np.tile(g0, (N, 1))
    oracle = noise.Bimodal(torch.tensor(sigma), scale=scale)
    draws = oracle.sample(torch.tensor(grad), batch, generator).numpy()
    a = np.abs(g0) if scale is None else scale
    _check_moments(draws, g0, sigma * np.abs(g0) / a / np.sqrt(batch))
    np.testing.assert_allclose(oracle.variance(g0).numpy(), (sigma * g0 / a) ** 2)
    one = oracle.sample(torch.tensor(grad), 1, generator).numpy()
    q = sigma**2 / (sigma**2 + a**2)
    np.testing.assert_allclose((one == 0).mean(axis=0), q, atol=0.02)
    if scale is not None:
        np.testing.assert_allclose(oracle.zero_probability.numpy(), q)
    assert np.all(oracle.sample(torch.zeros(3, d, dtype=torch.float64)).numpy() == 0)


def test_bimodal_scale_can_differ_per_coordinate(generator):
    sigma, scale = torch.tensor([1.0, 1.0]), torch.tensor([0.5, 2.0])
    oracle = noise.Bimodal(sigma, scale=scale)
    draws = oracle.sample(torch.ones(20_000, 2, dtype=torch.float64), 1, generator).numpy()
    np.testing.assert_allclose((draws == 0).mean(axis=0), [1 / 1.25, 1 / 5], atol=0.015)


def test_matrix_gaussian_has_covariance_sigma_squared(rng, generator):
    m, n = 3, 5
    Sigma = noise.low_rank_sigma(m, 2, 2.0, seed=int(rng.integers(2**31)))
    oracle = noise.MatrixGaussian(Sigma)
    N_ = oracle.sample(torch.zeros(20_000, m, n, dtype=torch.float64), 1, generator)
    second = torch.einsum("kij,klj->il", N_, N_).numpy() / len(N_)
    np.testing.assert_allclose(second, (Sigma @ Sigma).numpy(), atol=0.05)
    assert noise.matrix_density(Sigma) == pytest.approx(2 / 3)
    assert float(torch.linalg.matrix_norm(Sigma)) == pytest.approx(2.0)


def test_estimate_sigma_matches_plain_formula_numpy_and_torch(rng):
    samples = rng.normal(size=(int(rng.integers(2, 30)), 3, 4)) * rng.uniform(0, 2, size=(3, 4))
    want = plain_std(samples)
    np.testing.assert_allclose(noise.estimate_sigma(samples), want, rtol=1e-12)
    got = noise.estimate_sigma(torch.tensor(samples))
    assert isinstance(got, torch.Tensor)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


def test_estimate_density_recovers_phi_of_known_sigma(rng):
    d = 50
    sigma = rng.uniform(0, 1, size=d) ** 3
    phi = np.abs(sigma).sum() ** 2 / (d * (sigma**2).sum())
    samples = rng.normal(size=(4000, d)) * sigma + rng.normal(size=d)
    assert noise.estimate_density(samples) == pytest.approx(phi, rel=0.05)
    sparse = rng.normal(size=(4000, d)) * noise.sparse_sigma(d, 5, 2.0).numpy()
    phi_hat = noise.estimate_density(torch.tensor(sparse))
    assert phi_hat <= 5 / d + 1e-12 and phi_hat == pytest.approx(5 / d, rel=0.02)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: noise.dense_sigma(0, 1.0), "d"),
        (lambda: noise.sparse_sigma(5, 6, 1.0), "k"),
        (lambda: noise.sparse_sigma(5, 2, -1.0), "scale"),
        (lambda: noise.Gaussian(torch.tensor([1.0, -0.5])), "sigma"),
        (lambda: noise.StudentT(torch.ones(3), nu=1.0), "nu"),
        (lambda: noise.StudentT.with_std(torch.ones(3), nu=2.0), "nu"),
        (lambda: noise.Gaussian(torch.ones(3)).sample(torch.zeros(3), 0), "batch"),
        (lambda: noise.Gaussian(torch.ones(2)).sample(torch.zeros(3)), "sigma"),
        (lambda: noise.Bimodal(torch.ones(3), scale=0.0), "scale"),
        (lambda: noise.Bimodal(torch.ones(3)).zero_probability, "scale"),
        (lambda: noise.MatrixGaussian(torch.tensor([[1.0, 2.0], [0.0, 1.0]])), "Sigma"),
        (lambda: noise.MatrixGaussian(-torch.eye(2)), "Sigma"),
        (lambda: noise.student_t((3,), 0.0, 1), "nu"),
        (lambda: noise.estimate_sigma(np.ones((1, 3))), "samples"),
        (lambda: noise.estimate_sigma(np.array([1.0, np.nan, 2.0])[:, None]), "samples"),
    ],
)
def test_bad_input_raises_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_heavy_tailed_student_t_is_unbiased_with_the_right_tail(generator):
    """σ·t_ν draws: mean 0 for ν > 1, and P(|X| > x) ≈ 2·P(t_ν > x/σ) from the Student-t density."""
    import math

    nu, scale = 1.5, 2.0
    model = noise.StudentT(torch.full((4000,), scale, dtype=torch.float64), nu=nu)
    draws = torch.cat(
        [model.sample(torch.zeros(4000, dtype=torch.float64), 1, generator) for _ in range(50)]
    )
    x = draws.numpy()
    assert abs(np.median(x)) < 0.03 * scale
    # exact two-sided tail 2·P(t_ν > u) by quadrature of the Student-t density (s = 1/t)
    c0 = math.gamma((nu + 1) / 2) / (math.sqrt(nu * math.pi) * math.gamma(nu / 2))
    u = 30.0
    s = np.linspace(1e-9, 1 / u, 200_001)
    density = c0 * (1 + (1 / s) ** 2 / nu) ** (-(nu + 1) / 2) / s**2
    expected = 2 * np.trapezoid(density, s)
    observed = np.mean(np.abs(x) > u * scale)
    assert observed == pytest.approx(expected, rel=0.15)
    with pytest.raises(ValueError, match="nu must be > 1"):
        noise.StudentT(torch.ones(3), nu=1.0)


def test_student_t_draws_are_reproducible_from_a_seed_or_a_generator():
    a = noise.student_t((5, 3), 1.5, 7)
    np.testing.assert_array_equal(a.numpy(), np.random.default_rng(7).standard_t(1.5, (5, 3)))
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    torch.testing.assert_close(noise.student_t((4,), 3.0, g1), noise.student_t((4,), 3.0, g2))


def test_a_separable_noise_subclass_draws_only_its_noisy_coordinates(generator):
    class Uniform(noise.SeparableNoise):
        additive = True

        def sample(self, grad, batch=1, generator=None, *, x=None):
            draw = lambda shape: 2 * torch.rand(shape, generator=generator) - 1  # noqa: E731
            return self._add_on_support(grad, draw)

    sigma = torch.tensor([0.0, 2.0, 0.0, 1.0], dtype=torch.float64)
    out = Uniform(sigma).sample(torch.ones(10_000, 4, dtype=torch.float64), 1, generator).numpy()
    assert np.all(out[:, [0, 2]] == 1.0)
    np.testing.assert_allclose(np.abs(out[:, [1, 3]] - 1).max(axis=0), [2.0, 1.0], atol=1e-3)
    assert Uniform(sigma).density == pytest.approx(9 / (4 * 5))
