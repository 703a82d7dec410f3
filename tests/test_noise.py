"""Noise models have the σ they claim; the σ and φ estimators recover known values."""

import numpy as np
import pytest
import torch

from signlab import geometry
from signlab.sim import noise

N = 40_000


def fresh_rng() -> np.random.Generator:
    return np.random.default_rng()


def fresh_generator() -> torch.Generator:
    return torch.Generator().manual_seed(int(fresh_rng().integers(2**62)))


def plain_std(x: np.ndarray) -> np.ndarray:
    return np.sqrt(((x - x.mean(axis=0)) ** 2).sum(axis=0) / (x.shape[0] - 1))


def test_density_is_the_geometry_function():
    assert noise.density is geometry.density


def test_dense_and_sparse_sigma():
    rng = fresh_rng()
    d = int(rng.integers(2, 50))
    k = int(rng.integers(1, d + 1))
    scale = float(rng.uniform(0.1, 5))
    dense = noise.dense_sigma(d, scale).numpy()
    sparse = noise.sparse_sigma(d, k, scale).numpy()
    assert np.all(dense == scale)
    assert np.count_nonzero(sparse) == k and np.all(sparse[:k] == scale)
    phi = lambda s: np.abs(s).sum() ** 2 / (len(s) * (s**2).sum())
    assert float(noise.density(sparse)) == pytest.approx(k / d)
    assert phi(sparse) == pytest.approx(k / d) and phi(dense) == pytest.approx(1.0)
    assert noise.Gaussian(torch.tensor(sparse)).density == pytest.approx(k / d)
    assert noise.StudentT(torch.tensor(dense), nu=4.0).density == pytest.approx(1.0)


def _check_moments(draws: np.ndarray, grad: np.ndarray, std: np.ndarray) -> None:
    mean_se = std / np.sqrt(draws.shape[0])
    assert np.all(np.abs(draws.mean(axis=0) - grad) <= 5 * mean_se + 1e-9)
    np.testing.assert_allclose(plain_std(draws), std, rtol=0.06, atol=1e-9)


@pytest.mark.parametrize("batch", [1, 4])
def test_gaussian_has_sigma_over_sqrt_batch(batch):
    rng = fresh_rng()
    d = 5
    sigma = rng.uniform(0.1, 3, size=d) * (rng.random(d) < 0.7)
    grad = np.tile(rng.normal(size=d), (N, 1))
    g = noise.gaussian_gradient(torch.tensor(grad), sigma, batch, fresh_generator()).numpy()
    _check_moments(g, grad[0], sigma / np.sqrt(batch))
    model = noise.Gaussian(torch.tensor(sigma))
    g = model.gradient(torch.tensor(grad), batch, fresh_generator()).numpy()
    _check_moments(g, grad[0], sigma / np.sqrt(batch))
    assert np.all(g[:, sigma == 0] == grad[:, sigma == 0])


@pytest.mark.parametrize("batch", [1, 3])
def test_student_t_has_sigma_and_heavy_tails(batch):
    rng = fresh_rng()
    sigma = rng.uniform(0.5, 2, size=3)
    grad = np.tile(rng.normal(size=3), (N, 1))
    model = noise.StudentT(torch.tensor(sigma), nu=6.0)
    g = model.gradient(torch.tensor(grad), batch, fresh_generator()).numpy()
    _check_moments(g, grad[0], sigma / np.sqrt(batch))
    if batch == 1:
        z = (g - grad) / sigma
        excess_kurtosis = (z**4).mean() / (z**2).mean() ** 2 - 3
        assert excess_kurtosis > 1.0  # 3 in theory for nu = 6; Gaussian gives 0


@pytest.mark.parametrize("scale", [None, 1.5])
def test_bimodal_oracle_is_unbiased_with_variance_sigma(scale):
    rng = fresh_rng()
    d, batch = 4, 2
    sigma = rng.uniform(0.2, 1.5, size=d)
    g0 = rng.uniform(0.5, 2, size=d) * rng.choice([-1, 1], size=d)
    grad = np.tile(g0, (N, 1))
    draws = noise.bimodal_gradient(torch.tensor(grad), sigma, batch, fresh_generator(), scale=scale)
    draws = draws.numpy()
    a = np.abs(g0) if scale is None else scale
    _check_moments(draws, g0, sigma * np.abs(g0) / a / np.sqrt(batch))
    single = noise.Bimodal(torch.tensor(sigma), scale=scale)
    one = single.gradient(torch.tensor(grad), 1, fresh_generator()).numpy()
    q = sigma**2 / (sigma**2 + a**2)
    np.testing.assert_allclose((one == 0).mean(axis=0), q, atol=0.02)
    assert np.all(noise.bimodal_gradient(torch.zeros(3, d), sigma, 1, None).numpy() == 0)


def test_estimate_sigma_matches_plain_formula_numpy_and_torch():
    rng = fresh_rng()
    samples = rng.normal(size=(int(rng.integers(2, 30)), 3, 4)) * rng.uniform(0, 2, size=(3, 4))
    want = plain_std(samples)
    np.testing.assert_allclose(noise.estimate_sigma(samples), want, rtol=1e-12)
    got = noise.estimate_sigma(torch.tensor(samples))
    assert isinstance(got, torch.Tensor)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


def test_estimate_density_recovers_phi_of_known_sigma():
    rng = fresh_rng()
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
        (lambda: noise.gaussian_gradient(torch.zeros(2), [1.0, -1.0], 1, None), "sigma"),
        (lambda: noise.StudentT(torch.ones(3), nu=2.0), "nu"),
        (lambda: noise.student_t_gradient(torch.zeros(3), torch.ones(3), 1.5, 1, None), "nu"),
        (lambda: noise.gaussian_gradient(torch.zeros(3), torch.ones(3), 0, None), "batch"),
        (lambda: noise.gaussian_gradient(torch.zeros(3), torch.ones(2), 1, None), "sigma"),
        (lambda: noise.Bimodal(torch.ones(3), scale=0.0), "scale"),
        (lambda: noise.estimate_sigma(np.ones((1, 3))), "samples"),
        (lambda: noise.estimate_sigma(np.array([1.0, np.nan, 2.0])[:, None]), "samples"),
    ],
)
def test_bad_input_raises_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_heavy_tailed_is_unbiased_with_the_right_tail():
    """σ·t_ν draws: mean 0 for ν > 1, and P(|X| > x) ≈ 2·P(t_ν > x/σ) from the Student-t density."""
    import math

    from signlab.sim.noise import HeavyTailed

    nu, scale = 1.5, 2.0
    noise = HeavyTailed(torch.full((4000,), scale, dtype=torch.float64), nu=nu)
    gen = torch.Generator().manual_seed(int(np.random.default_rng().integers(2**31)))
    draws = torch.cat(
        [noise.gradient(torch.zeros(4000, dtype=torch.float64), 1, gen) for _ in range(50)]
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
        HeavyTailed(torch.ones(3), nu=1.0)
