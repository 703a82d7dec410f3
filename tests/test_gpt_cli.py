"""Tests for ``python -m signlab.gpt``: help, bad names, a short run, and DDP under torchrun."""

import json
import os
import socket
import subprocess
import sys

import pytest

from signlab.gpt.__main__ import main


def test_help_lists_presets_and_optimizers(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in ("cpu-tiny", "colab-t4", "gpt2-124m", "sgd", "signsgd", "signum", "lion", "muon"):
        assert name in out


@pytest.mark.parametrize(
    ("args", "listed"),
    [(["--preset", "huge"], "'cpu-tiny', 'colab-t4'"), (["--optimizer", "adam"], "'signsgd'")],
)
def test_unknown_name_exits_listing_valid_ones(args, listed, capsys, tmp_path):
    assert main([*args, "--out", str(tmp_path)]) == 2
    assert listed in capsys.readouterr().err


def test_short_run_writes_jsonl(tmp_path):
    out = tmp_path / "run"
    assert main(["--steps", "3", "--out", str(out), "--no-progress", "--optimizer", "lion"]) == 0
    records = [json.loads(line) for line in open(out / "log.jsonl")]
    assert [r["step"] for r in records] == [0, 1, 2]
    assert all("train_loss" in r for r in records)


def test_default_output_is_under_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--steps", "1", "--no-progress", "--optimizer", "signsgd"]) == 0
    assert (tmp_path / "runs" / "cpu-tiny" / "signsgd" / "log.jsonl").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_gloo_ranks_match_one_process(tmp_path):
    common = [
        "--steps",
        "6",
        "--optimizer",
        "adamw",
        "--grad-accum",
        "2",
        "--no-progress",
        "--batch-size",
        "8",
        "--device",
        "cpu",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = tmp_path / "single"
    subprocess.run(
        [sys.executable, "-m", "signlab.gpt", *common, "--out", str(single)],
        check=True,
        env=env,
        timeout=300,
    )
    ddp = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=1",
        "--nproc_per_node=2",
        "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}",
        "-m",
        "signlab.gpt",
        *common,
        "--out",
        str(ddp),
    ]
    subprocess.run(cmd, check=True, env=env, timeout=300)
    one = [json.loads(line) for line in open(single / "log.jsonl")]
    two = [json.loads(line) for line in open(ddp / "log.jsonl")]
    assert [r["step"] for r in one] == [r["step"] for r in two] == list(range(6))
    for a, b in zip(one, two, strict=True):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-5)
        assert b["tokens"] == a["tokens"]
    assert json.loads((ddp / "run.json").read_text())["world_size"] == 2
