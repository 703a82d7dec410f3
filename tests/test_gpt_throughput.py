"""Tests for signlab.gpt.throughput: MFU arithmetic, GPU peak table, measured matmul rate."""

import pytest
import torch

from signlab.gpt.throughput import gpu_peak_flops, matmul_flops, mfu


def test_mfu_is_achieved_over_peak():
    assert mfu(1e6, 6 * 124e6, 989e12) == pytest.approx(1e6 * 744e6 / 989e12)
    with pytest.raises(ValueError, match="peak_flops"):
        mfu(1.0, 1.0, 0.0)


def test_peak_table_lookup():
    assert gpu_peak_flops("NVIDIA H100 80GB HBM3", "bf16") == 989e12
    assert gpu_peak_flops("Tesla T4", "fp16") == 65e12
    assert gpu_peak_flops("Tesla T4", "bf16") is None
    assert gpu_peak_flops("Some CPU", "fp32") is None


def test_matmul_rate_is_plausible():
    rate = matmul_flops(torch.device("cpu"), n=128, repeats=3)
    assert 1e7 < rate < 1e13
