"""Tests for signlab.gpt.recipe, the GPT-2 chapter's GPU scale, run on the CPU at a toy size: the
scale switch, the budget plan, the sweep's choice, resuming after an interruption, reading back."""

import dataclasses
import json

import pytest

from signlab.gpt import recipe as rc
from signlab.gpt.runlog import read_log

pytestmark = pytest.mark.usefixtures("one_thread")

TOY = dataclasses.replace(
    rc.STANDIN,
    optimizers=("sgd", "signsgd"),
    lr_grids={"sgd": (0.01, 0.1), "signsgd": (1e-3, 1e-2)},
    corpus_bytes=40_000,
    vocab_size=300,
    evaluations=3,
    density_points=2,
)


def write_plan(out, sweep=12, final=18, per_step=0.4):
    # per_step sets the checkpoint interval: STANDIN checkpoints every 0.02 min = every 3 steps
    out.mkdir(parents=True, exist_ok=True)
    plan = rc.BudgetPlan(per_step, 0.0, sweep, final, "a test CPU")
    (out / "plan.json").write_text(json.dumps(dataclasses.asdict(plan)))
    return plan


def test_scale_follows_the_runtime_and_the_environment(monkeypatch):
    monkeypatch.delenv(rc.SCALE_ENV, raising=False)
    assert rc.chapter_scale(cuda=False) == "cpu"
    assert rc.chapter_scale(cuda=True) == "gpu"
    monkeypatch.setenv(rc.SCALE_ENV, "standin")
    assert rc.chapter_scale(cuda=False) == "standin"
    monkeypatch.setenv(rc.SCALE_ENV, "tpu")
    with pytest.raises(ValueError, match="SIGNLAB_GPT_SCALE must be one of"):
        rc.chapter_scale()


def test_default_recipe_is_the_colab_t4_shape():
    r = rc.GPURecipe()
    assert r.vocab == 50304 and r.tokens_per_step == 16 * 8 * 512
    assert r.model.num_params() == 29_964_288  # the colab-t4 count (exercise 4)
    assert rc.GPURecipe(corpus="stdlib").vocab == 8192
    assert "30.0M parameters" in r.describe() and "120 minutes" in r.describe()
    preset = r.preset(500)
    assert preset.steps == 500 and preset.eval_every == 25 and preset.data == "web"
    assert preset.lr["sgd"] == 1e-2 and preset.lr["signsgd"] == 1e-4  # the grids' middles


def test_bad_recipes_are_refused():
    with pytest.raises(ValueError, match="corpus must be one of"):
        rc.GPURecipe(corpus="c4")
    with pytest.raises(ValueError, match="lr_grids must give rates"):
        rc.GPURecipe(optimizers=("sgd",), lr_grids={})
    with pytest.raises(ValueError, match="minutes must be"):
        rc.GPURecipe(minutes=0)


def test_budget_plan_spends_the_minutes():
    r = rc.GPURecipe(minutes=100, sweep_share=0.25)
    plan = rc.plan_budget(r, seconds_per_step=0.5, seconds_per_run=20)
    per_step = 0.5 * (1 + r.evaluations * r.eval_batches / 3 / r.grad_accum / 1000)
    # written out: 12 sweep runs share 25 minutes, 4 final runs share 75, each run starts in 20 s
    assert plan.sweep_steps == int((25 * 60 / 12 - 20) / per_step)
    assert plan.final_steps == int((75 * 60 / 4 - 20) / per_step)
    spent = plan.minutes(r)
    assert 99 < spent["sweep"] + spent["final"] <= 100


def test_a_budget_too_small_says_what_would_do():
    with pytest.raises(ValueError, match=r"minutes must give every run at least 10 steps"):
        rc.plan_budget(rc.GPURecipe(minutes=1), seconds_per_step=1.0)
    loose = rc.plan_budget(rc.STANDIN, seconds_per_step=1.0, seconds_per_run=5.0)
    assert (loose.sweep_steps, loose.final_steps) == (10, 10)  # the stand-in runs anyway


def test_default_out_is_drive_when_mounted(tmp_path, monkeypatch):
    from signlab.gpt import data

    monkeypatch.setattr(data, "DRIVE_DIR", tmp_path / "MyDrive")
    assert rc.default_out("gpu").as_posix() == "runs/gpt2-gpu"
    (tmp_path / "MyDrive").mkdir()
    assert rc.default_out("gpu") == tmp_path / "MyDrive" / "signlab_runs" / "gpt2-gpu"


def test_recipe_sweeps_chooses_trains_and_reads_back(tmp_path):
    out = tmp_path / "r"
    plan = write_plan(out)
    result = rc.run_recipe(TOY, out, progress=False)
    # the sweep's choice, recomputed from the logs: the lowest last validation loss
    for name in TOY.optimizers:
        last = {}
        for lr in TOY.lr_grids[name]:
            records = read_log(rc.sweep_dir(out, name, lr))
            assert records[-1]["step"] + 1 == plan.sweep_steps
            last[lr] = [r["val_loss"] for r in records if "val_loss" in r][-1]
        assert result["sweep"][name]["chosen"] == min(last, key=last.get)
        assert rc.choose_rates(out, TOY)[name]["losses"] == {f"{k:g}": v for k, v in last.items()}
        assert result["info"][name]["lr"] == min(last, key=last.get)
        assert result["runs"][name][-1]["step"] + 1 == plan.final_steps
    assert any("phi" in r for r in result["runs"]["sgd"])
    assert not any("phi" in r for r in result["runs"]["signsgd"])
    assert result["hardware"].startswith("CPU")
    assert rc.read_recipe(out)["runs"] == result["runs"]
    assert rc.read_recipe(tmp_path / "nothing") is None
    # a second call trains nothing: every log is left as it was
    logs = sorted(out.rglob("log.jsonl"))
    before = [p.stat().st_mtime_ns for p in logs]
    rc.run_recipe(TOY, out, progress=False)
    assert [p.stat().st_mtime_ns for p in logs] == before


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path, monkeypatch):
    from signlab.gpt import train as gtrain

    whole, cut = tmp_path / "whole", tmp_path / "cut"
    write_plan(whole)
    write_plan(cut)
    expected = rc.run_recipe(TOY, whole, progress=False)["runs"]

    step = gtrain.Trainer.step
    calls = {"n": 0}

    def interrupted(self):
        calls["n"] += 1
        if self.cfg.out_dir.parent.name == "final" and calls["n"] > 70:
            raise KeyboardInterrupt  # the reader stops the cell mid-run
        return step(self)

    monkeypatch.setattr(gtrain.Trainer, "step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        rc.run_recipe(TOY, cut, progress=False)
    partial = {p.parent.name: read_log(p.parent) for p in (cut / "final").glob("*/log.jsonl")}
    assert partial["sgd"][-1]["step"] + 1 == 18  # finished before the interruption
    assert partial["signsgd"][-1]["step"] + 1 < 18  # stopped mid-run, after a checkpoint:
    assert (cut / "final" / "signsgd" / "checkpoint.pt").exists()
    monkeypatch.setattr(gtrain.Trainer, "step", step)
    resumed = rc.run_recipe(TOY, cut, progress=False)["runs"]
    keys = ("step", "train_loss", "val_loss", "phi")
    for name in TOY.optimizers:  # the same curves as the uninterrupted recipe
        got = [{k: r[k] for k in keys if k in r} for r in resumed[name]]
        want = [{k: r[k] for k in keys if k in r} for r in expected[name]]
        assert got == want, name


def test_calibration_writes_the_plan_once(tmp_path):
    r = dataclasses.replace(TOY, minutes=5.0, calibration_steps=6)
    plan = rc.calibrate(r, tmp_path)
    assert plan.seconds_per_step > 0 and plan.final_steps >= 10
    assert json.loads((tmp_path / "plan.json").read_text())["final_steps"] == plan.final_steps
    assert rc.calibrate(r, tmp_path) == plan  # read back, not measured again


def test_without_a_sweep_every_optimizer_trains_at_its_middle_rate(tmp_path):
    r = dataclasses.replace(
        TOY, sweep_share=0.0, lr_grids={"sgd": (0.01, 0.05, 0.1), "signsgd": (1e-3,)}
    )
    plan = rc.plan_budget(r, seconds_per_step=0.01)
    assert plan.sweep_steps == 0
    out = tmp_path / "r"
    write_plan(out, sweep=0, final=10)
    result = rc.run_recipe(r, out, progress=False)
    assert not (out / "sweep").exists()
    assert {n: i["lr"] for n, i in result["info"].items()} == {"sgd": 0.05, "signsgd": 1e-3}


def test_command_line_runs_the_recipe_and_exports_logs_without_checkpoints(tmp_path, capsys):
    out, dest = tmp_path / "r", tmp_path / "gpu"
    write_plan(out, sweep=10, final=12)
    assert rc.main(["--standin", "--out", str(out), "--export", str(dest)]) == 0
    printed = capsys.readouterr().out
    assert "device: CPU" in printed and "exported" in printed
    assert not list(dest.rglob("*.pt")) and list(out.rglob("*.pt"))
    assert rc.read_recipe(dest)["runs"] == rc.read_recipe(out)["runs"]
    assert (dest / "plan.json").exists() and (dest / "sweep.json").exists()
    again = rc.export_logs(out, tmp_path / "again")
    assert all(p.suffix in (".json", ".jsonl") for p in again)
    assert not any(p.parts[0] == "calibration" for p in again)
