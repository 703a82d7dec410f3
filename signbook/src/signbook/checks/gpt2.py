"""Checkers for the exercises of the chapter *Training a GPT-2*."""

from __future__ import annotations

from typing import Any

import torch

from signbook.checks import Feedback, close, register
from signlab.geometry import density
from signlab.gpt.density import sparse_example_density
from signlab.gpt.model import GPTConfig, flops_per_token
from signlab.gpt.presets import COLAB_T4
from signlab.gpt.sweep import fit_log_slope
from signlab.gpt.throughput import gpu_peak_flops, mfu


@register("ex-gpt2-1")
def parameter_count(answer: Any) -> Feedback:
    expected = GPTConfig(
        vocab_size=256, block_size=64, n_layer=2, n_head=2, n_embd=128
    ).num_params()
    return close(
        "ex-gpt2-1",
        answer,
        expected,
        rtol=0.0,
        atol=1e-6,
        hint="N = V·d + L·(12d² + 13d) + 2d, with V = 256, L = 2, d = 128 (no position embeddings).",
    )


@register("ex-gpt2-2")
def laplace_references(answer: Any) -> Feedback:
    laplace = torch.distributions.Laplace(
        torch.tensor(0.0, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64)
    )
    sigma = torch.full((1000,), float(laplace.stddev), dtype=torch.float64)  # equal σ_i
    # one draw: ‖ξ‖₁²/(d‖ξ‖₂²) → (E|ξ_i|)² / E[ξ_i²], with E|ξ_i| = the Laplace scale b
    one_draw = float(laplace.scale**2 / laplace.variance)
    expected = (float(density(sigma)), one_draw)
    return close(
        "ex-gpt2-2",
        answer,
        expected,
        rtol=1e-3,
        hint="answer (φ(σ) of the noise scales, the limit of one draw's density); every "
        "coordinate has the same law, and for one draw the limit is (E|ξ_i|)²/E[ξ_i²] "
        "under the density ½e^(−|x|).",
    )


def two_scale_density(n_rows: int, n_used: int, ratio: float, columns: int = 64) -> float:
    """φ of a noise-scale matrix whose used rows have σ = 1 and whose other rows have σ = ratio."""
    sigma = torch.ones(n_rows, columns, dtype=torch.float64)
    sigma[n_used:] = ratio
    return float(density(sigma.reshape(-1)))


@register("ex-gpt2-3")
def embedding_mixture(answer: Any) -> Feedback:
    expected = two_scale_density(256, 107, 0.1)
    return close(
        "ex-gpt2-3",
        answer,
        expected,
        rtol=1e-4,
        hint="φ = (Σσ_i)²/(D Σσ_i²): with k rows at scale 1 and V − k at scale r, "
        "φ = (k + (V − k) r)² / (V (k + (V − k) r²)).",
    )


@register("ex-gpt2-4")
def model_flops_utilisation(answer: Any) -> Feedback:
    model = COLAB_T4.model
    fpt = flops_per_token(model, model.num_params())
    peak = gpu_peak_flops("NVIDIA H100 80GB HBM3", "bf16")
    if peak is None:
        raise ValueError("signlab.gpt.throughput has no bf16 peak for the H100")
    expected = mfu(1.5e6, fpt, peak)
    return close(
        "ex-gpt2-4",
        answer,
        expected,
        rtol=1e-3,
        hint="MFU = tokens/s · (6N + 12·L·T·d) / 989e12 with colab-t4's N, L = 6, T = 512, d = 384.",
    )


@register("ex-gpt2-5")
def ratio_slope(answer: Any) -> Feedback:
    expected = fit_log_slope([32, 64, 128], [1.0, 1.2, 1.44])[0]
    return close(
        "ex-gpt2-5",
        answer,
        expected,
        rtol=1e-4,
        hint="R multiplies by 1.2 each time d doubles, so R ∝ d^b with 2^b = 1.2.",
    )


@register("ex-gpt2-6")
def estimator_bias_prediction(answer: Any) -> Feedback:
    # the run the prediction is checked against: the estimator on noise with true φ = 1
    expected = sparse_example_density(0.01, n=128, batch=16, seed=0)
    return close(
        "ex-gpt2-6",
        answer,
        expected,
        rtol=0.0,
        atol=0.03,
        hint="With 16 examples a minibatch coordinate is nonzero with probability ≈ 0.15; how "
        "many nonzero values does each coordinate get from 128 minibatches, and how unevenly "
        "does that spread σ̂?",
    )
