"""Tests for signlab.gpt.sweep: steps to a target loss, the common target, a reduced sweep."""

import json

import pytest

from signlab.gpt.__main__ import main
from signlab.gpt.sweep import common_target, steps_to_target, summarize_width

pytestmark = pytest.mark.usefixtures("one_thread")


def _log(pairs):
    return [{"step": s, "train_loss": 0.0, "val_loss": v} for s, v in pairs]


def test_steps_to_target_is_the_first_crossing():
    log = _log([(9, 3.0), (19, 2.5), (29, 2.7), (39, 2.0)])
    log.insert(1, {"step": 12, "train_loss": 1.0})  # no val_loss: ignored
    assert steps_to_target(log, 2.6) == 20
    assert steps_to_target(log, 2.0) == 40
    assert steps_to_target(log, 1.0) is None


def test_summary_uses_the_loss_both_reach():
    logs = {"sgd": _log([(9, 3.0), (19, 2.6), (29, 2.4)]), "signsgd": _log([(9, 2.5), (19, 2.1)])}
    assert common_target(logs) == 2.4
    row = summarize_width(logs, n_params=1000)
    assert row["steps"] == {"sgd": 30, "signsgd": 20}
    assert row["ratio"] == 1.5 and row["n_params"] == 1000 and row["target"] == 2.4


def test_reduced_sweep_command_writes_logs_and_summary(tmp_path):
    argv = [
        "--sweep",
        "--preset",
        "cpu-tiny",
        "--widths",
        "16,32",
        "--steps",
        "10",
        "--out",
        str(tmp_path),
        "--no-progress",
    ]
    assert main(argv) == 0
    rows = [json.loads(x) for x in open(tmp_path / "summary.jsonl")]
    assert [r["width"] for r in rows] == [16, 32]
    assert rows[0]["n_params"] < rows[1]["n_params"]
    for row in rows:
        w = row["width"]
        logs = {
            o: [json.loads(x) for x in open(tmp_path / f"d{w}" / o / "log.jsonl")]
            for o in ("sgd", "signsgd")
        }
        best = {o: min(r["val_loss"] for r in recs if "val_loss" in r) for o, recs in logs.items()}
        assert row["target"] == max(best.values())
        assert row["ratio"] == row["steps"]["sgd"] / row["steps"]["signsgd"]
        run = json.loads((tmp_path / f"d{w}" / "sgd" / "run.json").read_text())
        assert run["model_config"]["n_embd"] == w and run["steps"] == 10


def test_run_sweep_returns_the_summary_rows(tmp_path):
    from signlab.gpt.sweep import run_sweep

    rows = run_sweep("cpu-tiny", [16], ["sgd", "signsgd"], tmp_path, steps=6, progress=False)
    assert [r["width"] for r in rows] == [16]
    assert (tmp_path / "summary.jsonl").read_text().count("\n") == 1
