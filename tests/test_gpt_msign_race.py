"""signlab.gpt.msign_race: equal-wall-clock budgets, the race's logs and summary, and the rerun of a
committed run's first steps."""

import json

import pytest

from signlab.gpt.msign_race import (
    RaceConfig,
    equal_time_steps,
    rerun_prefix,
    run_dir,
    run_race,
    step_costs,
    summarize,
)
from signlab.gpt.train import read_log


def test_equal_time_steps_scales_only_what_costs_differently():
    costs = {"jordan": 0.020, "polar_express": 0.023, "svd": 0.025}
    steps = equal_time_steps(costs, 300, "jordan")
    # both schedules do the same three products per step: same budget whatever the noisy timing
    assert steps == {"jordan": 300, "polar_express": 300, "svd": round(300 * 0.020 / 0.025)}
    assert equal_time_steps(costs, 300, "svd")["jordan"] == round(300 * 0.025 / 0.020)
    with pytest.raises(ValueError, match="reference"):
        equal_time_steps(costs, 300, "cans")


def test_race_config_rejects_bad_settings():
    with pytest.raises(ValueError, match="variant"):
        RaceConfig(variants=("jordan", "septic"))
    with pytest.raises(ValueError, match="variants"):
        RaceConfig(variants=("jordan",))
    with pytest.raises(ValueError, match="seeds"):
        RaceConfig(seeds=1)


@pytest.mark.slow
def test_step_costs_are_positive_and_per_variant():
    costs = step_costs(variants=("jordan", "svd"), rounds=6)
    assert set(costs) == {"jordan", "svd"} and all(c > 0 for c in costs.values())


def test_a_tiny_race_writes_logs_that_summarize_and_rerun(tmp_path):
    cfg = RaceConfig(
        out=str(tmp_path / "race"),
        variants=("jordan", "svd"),
        lrs=(0.02,),
        seeds=2,
        steps=6,
        eval_every=3,
        cost_rounds=6,
        progress=False,
    )
    summary = run_race(cfg)
    costs = json.loads((tmp_path / "race" / "costs.json").read_text())
    assert summary["steps"] == costs["steps"] and summary["steps"]["jordan"] == 6
    for variant in cfg.variants:
        rates = summary["variants"][variant]
        assert list(rates) == ["0.02"] and rates["0.02"]["seeds"] == [0, 1]
        for seed, final in zip(rates["0.02"]["seeds"], rates["0.02"]["final"], strict=True):
            records = read_log(run_dir(cfg.out, variant, 0.02, seed))
            assert records[-1]["step"] + 1 == summary["steps"][variant]
            assert final == [r["val_loss"] for r in records if "val_loss" in r][-1]
    # a second call reuses the finished runs (no new measurement, same numbers)
    assert run_race(cfg) == summary == summarize(cfg.out)
    steps, committed, rerun = rerun_prefix(cfg.out, tmp_path / "again", "svd", 0.02, 1, steps=4)
    assert steps == [0, 2, 3] and committed == rerun  # same machine, one thread: exactly


def test_a_control_race_at_equal_steps_needs_no_costs(tmp_path):
    cfg = RaceConfig(
        out=str(tmp_path / "control"),
        variants=("svd",),
        lrs=(0.02,),
        seeds=2,
        steps=3,
        eval_every=3,
        equal_time=False,
        progress=False,
    )
    summary = run_race(cfg)
    assert summary["seconds_per_step"] is None and summary["steps"] == {"svd": 3}
    assert summary["variants"]["svd"]["0.02"]["seeds"] == [0, 1]
    with pytest.raises(ValueError, match="at least 2"):
        RaceConfig(variants=("svd",))
