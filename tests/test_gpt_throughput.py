"""Tests for signlab.gpt.throughput: MFU arithmetic, the GPU peak table, the timed matmul, and the
all-optimizer benchmark run (on CPU, where no data-sheet peak exists)."""

import json

import pytest
import torch

from signlab.gpt import throughput
from signlab.gpt.throughput import (
    benchmark_runs,
    gpu_peak_flops,
    matmul_flops,
    mfu,
    steady_tokens_per_s,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_mfu_is_achieved_over_peak():
    assert mfu(1e6, 6 * 124e6, 989e12) == pytest.approx(1e6 * 744e6 / 989e12)
    with pytest.raises(ValueError, match="peak_flops"):
        mfu(1.0, 1.0, 0.0)


def test_peak_table_lookup():
    assert gpu_peak_flops("NVIDIA H100 80GB HBM3", "bf16") == 989e12
    assert gpu_peak_flops("NVIDIA H100 PCIe", "bf16") == 756e12  # the specific name wins
    assert gpu_peak_flops("NVIDIA H200", "bf16") == 989e12
    assert gpu_peak_flops("Tesla T4", "fp16") == 65e12
    assert gpu_peak_flops("Tesla T4", "bf16") is None
    assert gpu_peak_flops("Some CPU", "fp32") is None


def test_matmul_rate_is_flops_over_the_best_time(monkeypatch):
    ticks = iter(range(0, 10_000, 1))
    times = {"t": 0.0}

    def clock():  # each timed matmul takes 0.25 s, except the third, which takes 0.125 s
        k = next(ticks)
        times["t"] += 0.125 if k == 5 else 0.25
        return times["t"]

    monkeypatch.setattr(throughput.time, "perf_counter", clock)
    rate = matmul_flops(torch.device("cpu"), n=32, repeats=3)
    assert rate == pytest.approx(2 * 32**3 / 0.125)


def test_steady_rate_skips_the_compile_steps():
    records = [{"step": i, "tokens_per_s": r} for i, r in enumerate([1.0, 2.0, 10.0, 11.0, 12.0])]
    assert steady_tokens_per_s(records, skip_frac=0.4) == 11.0
    assert steady_tokens_per_s(records, skip_frac=0.0) == 10.0
    with pytest.raises(ValueError, match="tokens_per_s"):
        steady_tokens_per_s([{"step": 0, "val_loss": 1.0}])


def test_benchmark_runs_every_optimizer_and_writes_the_summary(tmp_path):
    rows = benchmark_runs(
        tmp_path,
        preset="cpu-tiny",
        optimizers=("sgd", "muon"),
        steps=6,
        device="cpu",
        progress=False,
    )
    assert [r["optimizer"] for r in rows] == ["sgd", "muon"]
    for r in rows:
        log = [json.loads(x) for x in open(tmp_path / r["optimizer"] / "log.jsonl")]
        assert [x["step"] for x in log] == list(range(6)) and "val_loss" in log[-1]
        assert r["mfu"] is None and r["dtype"] == "fp32" and r["hardware"].startswith("CPU")
        assert r["final_train_loss"] < r["first_train_loss"]
        assert r["model_tflops"] == pytest.approx(
            r["tokens_per_s"]
            * json.load(open(tmp_path / r["optimizer"] / "run.json"))["flops_per_token"]
            / 1e12
        )
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["rows"] == json.loads(json.dumps(rows)) and summary["skipped"] == []
    table = (tmp_path / "summary.md").read_text().splitlines()
    assert table[0].startswith("| optimizer |") and len(table) == 4
    assert not list(tmp_path.rglob("checkpoint.pt"))


def test_benchmark_skips_what_the_time_budget_leaves_out(tmp_path):
    rows = benchmark_runs(
        tmp_path,
        preset="cpu-tiny",
        optimizers=("sgd", "signsgd"),
        steps=5,
        device="cpu",
        time_budget_s=0.0,
        progress=False,
    )
    assert [r["optimizer"] for r in rows] == ["sgd"]
    assert json.loads((tmp_path / "summary.json").read_text())["skipped"] == ["signsgd"]
    assert "Skipped" in (tmp_path / "summary.md").read_text()


@pytest.mark.slow
def test_colab_t4_shape_trains_one_step_on_offline_bytes(tmp_path):
    """The GPU check's model (vocabulary 50304, context 512, 6 × 384) on the byte corpus, one
    microbatch of one sequence on CPU: the path runs end to end without a download."""
    from signlab.gpt.config import RunConfig
    from signlab.gpt.train import train

    cfg = RunConfig(
        preset="colab-t4",
        optimizer="muon",
        out=str(tmp_path),
        steps=2,
        data="bytes",
        batch_size=1,
        grad_accum=1,
        eval_every=100,
        device="cpu",
        checkpoint=False,
        progress=False,
    )
    records = train(cfg)
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["model_config"]["vocab_size"] == 50304 and info["tokens_per_step"] == 512
    assert len(records) == 2 and all(r["train_loss"] > 0 for r in records)


def test_run_summary_uses_the_data_sheet_peak_of_the_named_gpu(tmp_path):
    from signlab.gpt.runlog import write_records
    from signlab.gpt.throughput import run_summary

    records = [{"step": i, "train_loss": 5.0 - i, "tokens_per_s": 1e6} for i in range(4)]
    records[-1]["val_loss"] = 1.5
    write_records(tmp_path / "log.jsonl", records)
    info = {
        "config": {"optimizer": "muon"},
        "hardware": "NVIDIA H200",
        "dtype": "bfloat16",
        "flops_per_token": 2e8,
    }
    (tmp_path / "run.json").write_text(json.dumps(info))
    row = run_summary(tmp_path, seconds=12.0)
    assert row["mfu"] == pytest.approx(1e6 * 2e8 / 989e12) and row["peak_tflops"] == 989.0
    assert row["dtype"] == "bf16" and row["steps"] == 4 and row["final_val_loss"] == 1.5
    assert (row["first_train_loss"], row["final_train_loss"]) == (5.0, 2.0)
