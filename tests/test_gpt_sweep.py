"""Tests for signlab.gpt.sweep: steps to a target, the lr grid and its extension, the paired
ratios and the slope fit from logs, and a reduced sweep through its command line."""

import json

import numpy as np
import pytest

from signlab.gpt import sweep
from signlab.gpt.sweep import (
    SweepConfig,
    best_lr,
    fit_log_slope,
    neighbour_lr,
    run_dir,
    steps_to_target,
    summarize,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _log(pairs):
    return [{"step": s, "train_loss": 0.0, "val_loss": v} for s, v in pairs]


def _write_run(out, width, name, lr, seed, pairs, n_params=1000):
    d = run_dir(out, width, name, lr, seed)
    d.mkdir(parents=True)
    (d / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _log(pairs)))
    (d / "run.json").write_text(json.dumps({"n_params": n_params, "hardware": "test CPU"}))


def test_steps_to_target_is_the_first_crossing():
    log = _log([(9, 3.0), (19, 2.5), (29, 2.7), (39, 2.0)])
    log.insert(1, {"step": 12, "train_loss": 1.0})  # no val_loss: ignored
    assert steps_to_target(log, 2.6) == 20
    assert steps_to_target(log, 2.0) == 40
    assert steps_to_target(log, 1.0) is None


def test_neighbour_lr_walks_the_one_three_series():
    assert [neighbour_lr(x, up=True) for x in (0.03, 0.1, 0.3, 3e-3)] == [0.1, 0.3, 1.0, 0.01]
    assert [neighbour_lr(x, up=False) for x in (0.03, 0.1, 1.0, 1e-3)] == [0.01, 0.03, 0.3, 3e-4]
    with pytest.raises(ValueError, match="lr"):
        neighbour_lr(0.0, up=True)


def test_slope_fit_matches_numpy_least_squares():
    rng = np.random.default_rng(11)
    widths = np.repeat([32, 64, 128, 256], 3)
    ratios = np.exp(0.3 + 0.2 * np.log(widths) + rng.normal(0, 0.1, widths.size))
    b, se = fit_log_slope(widths, ratios)
    coef, cov = np.polyfit(np.log(widths), np.log(ratios), 1, cov=True)
    assert b == pytest.approx(coef[0]) and se == pytest.approx(np.sqrt(cov[0, 0]))
    exact, zero = fit_log_slope([2, 4, 8], [3.0, 6.0, 12.0])  # R ∝ d exactly
    assert exact == pytest.approx(1.0) and zero == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="at least 3 points"):
        fit_log_slope([2, 2, 2], [1.0, 2.0, 3.0])


def test_summary_from_logs_pairs_seeds_and_reports_censored_ones(tmp_path):
    for w, (sgd_steps, sign_steps) in {
        8: ((40, 60, None), (20, 20, 30)),
        16: ((30, 30, 40), (10, 15, 20)),
        32: ((50, 40, 60), (10, 10, 20)),
    }.items():
        for name, steps in (("sgd", sgd_steps), ("signsgd", sign_steps)):
            lr = 0.1 if name == "sgd" else 0.01
            for seed, s in enumerate(steps):
                pairs = [(9, 3.0), (99, 2.9)] if s is None else [(9, 3.0), (s - 1, 2.0)]
                _write_run(tmp_path, w, name, lr, seed, pairs, n_params=w * 100)
        _write_run(tmp_path, w, "sgd", 0.3, 0, [(9, 3.0), (199, 2.0)])  # a worse rate: S = 200
        _write_run(tmp_path, w, "signsgd", 0.003, 0, [(9, 3.0)])  # never reaches the target
    summary = summarize(tmp_path, target=2.5, budget=200)
    rows = {r["width"]: r for r in summary["rows"]}
    assert rows[8]["optimizers"]["sgd"]["lr"] == 0.1
    assert rows[8]["optimizers"]["sgd"]["tuning"] == {"0.1": 40, "0.3": 200}
    assert rows[8]["optimizers"]["signsgd"]["tuning"] == {"0.003": None, "0.01": 20}
    assert rows[16]["n_params"] == 1600 and rows[16]["hardware"] == "test CPU"
    fit = summary["ratios"]["signsgd"]
    by_width = {p["width"]: p for p in fit["per_width"]}
    assert by_width[8]["ratios"] == {0: 2.0, 1: 3.0} and by_width[8]["censored"] == [2]
    assert by_width[32]["ratios"] == {0: 5.0, 1: 4.0, 2: 3.0}
    widths = [w for w, p in by_width.items() for _ in p["ratios"]]
    ratios = [q for p in by_width.values() for q in p["ratios"].values()]
    coef = np.polyfit(np.log(widths), np.log(ratios), 1)
    assert fit["slope"] == pytest.approx(coef[0])
    assert set(fit["slope_per_seed"]) == {0, 1}  # seed 2 has only two uncensored widths
    table = sweep.sweep_table(summary).splitlines()
    assert table[:3] == [
        "d = 8, N = 800",
        "  sgd      lr 0.1    steps  40,  60, –",
        "  signsgd  lr 0.01   steps  20,  20,  30   sgd/signsgd 2.00, 3.00",
    ]


def test_best_lr_breaks_ties_by_the_lower_loss(tmp_path):
    _write_run(tmp_path, 8, "sgd", 0.1, 0, [(9, 3.0), (19, 2.4)])
    _write_run(tmp_path, 8, "sgd", 0.3, 0, [(9, 3.0), (19, 2.2)])
    _write_run(tmp_path, 8, "sgd", 1.0, 0, [(9, 3.0), (29, 2.0)])
    assert best_lr(tmp_path, 8, "sgd", target=2.5) == 0.3


def test_tuning_extends_the_grid_past_a_winning_edge(tmp_path, monkeypatch):
    calls = []

    def fake_point(cfg, width, optimizer, lr, seed):
        calls.append(lr)
        steps = {0.01: 90, 0.03: 70, 0.1: 50, 0.3: 40, 1.0: 45}[lr]  # best at 0.3
        _write_run(cfg.out, width, optimizer, lr, seed, [(steps - 1, 1.0)])
        return steps

    monkeypatch.setattr(sweep, "run_point", fake_point)
    cfg = SweepConfig(out=str(tmp_path), target=2.0, progress=False)
    assert sweep.tune_lr(cfg, 8, "sgd") == 0.3
    assert calls == [0.03, 0.1, 0.3, 1.0]  # 0.3 won at the edge, so 1.0 was tried, and lost


def test_bad_sweep_configs_are_refused():
    with pytest.raises(ValueError, match="widths"):
        SweepConfig(widths=(32,))
    with pytest.raises(ValueError, match="optimizer"):
        SweepConfig(optimizers=("sgd", "adam"))
    with pytest.raises(ValueError, match="target"):
        SweepConfig(target=-1.0)


def test_run_sweep_reuses_finished_runs(tmp_path, monkeypatch):
    cfg = SweepConfig(
        out=str(tmp_path),
        widths=(16, 24),
        seeds=2,
        target=5.3,
        steps=6,
        eval_every=2,
        progress=False,
    )
    first = sweep.run_sweep(cfg)
    calls = []
    monkeypatch.setattr(sweep, "train", lambda run: calls.append(run))
    assert sweep.run_sweep(cfg) == first and calls == []  # everything was finished


def test_reduced_sweep_command_writes_logs_and_summary(tmp_path, capsys):
    argv = ["--out", str(tmp_path), "--widths", "16,32,48", "--seeds", "2", "--steps", "8"]
    argv += ["--target", "5.3", "--eval-every", "2", "--no-progress"]
    assert sweep.main(argv) == 0
    with open(tmp_path / "summary.json") as f:
        saved = json.load(f)
    again = json.loads(json.dumps(summarize(tmp_path, 5.3, ("sgd", "signsgd"), 8)))
    assert saved == again  # the summary is a function of the logs alone
    assert [r["width"] for r in saved["rows"]] == [16, 32, 48]
    for row in saved["rows"]:
        for name in ("sgd", "signsgd"):
            opt = row["optimizers"][name]
            assert opt["seeds"] == [0, 1] and len(opt["tuning"]) >= 3
    assert not list(tmp_path.rglob("checkpoint.pt"))
    assert "slope of log(S_sgd / S_signsgd) on log d" in capsys.readouterr().out


def test_summaries_match_takes_float_noise_but_no_other_change():
    from signlab.gpt.sweep import summaries_match

    base = {"target": 2.4, "rows": [{"width": 32, "steps": [268, None], "slope": -0.0219}]}
    same = {"target": 2.4, "rows": [{"width": 32, "steps": [268, None], "slope": -0.0219}]}
    assert summaries_match(base, same)
    nudged = json.loads(json.dumps(base))
    nudged["rows"][0]["slope"] *= 1 + 1e-12
    assert summaries_match(base, nudged)
    for change in (
        lambda t: t["rows"][0].__setitem__("slope", -0.0219 * (1 + 1e-6)),
        lambda t: t["rows"][0]["steps"].__setitem__(0, 269),
        lambda t: t["rows"][0]["steps"].__setitem__(1, 0),
        lambda t: t["rows"][0]["steps"].append(1),
        lambda t: t.pop("target"),
        lambda t: t.__setitem__("target", True),
    ):
        other = json.loads(json.dumps(base))
        change(other)
        assert not summaries_match(base, other), other
