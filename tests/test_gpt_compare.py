"""Tests for signlab.gpt.compare: the curves read from logs, the seed-by-seed statistics of the
GPT-2 chapter, and (slow) its orderings at seed 0 on this CPU with one thread."""

import pytest

from signlab.gpt.compare import (
    density_curve,
    density_dip,
    embedding_split,
    final_gaps,
    final_losses,
    final_val_loss,
    paired_gap,
    run_parallel,
    steps_estimates,
    steps_to_reach,
    train_each,
    train_seeds,
    val_curve,
)
from signlab.gpt.presets import OPTIMIZERS

pytestmark = pytest.mark.usefixtures("one_thread")

RECORDS = [
    {"step": 0, "train_loss": 5.0, "phi": 0.3, "phi_layers": {"a": 0.1, "b": 0.5}},
    {"step": 4, "train_loss": 4.0, "val_loss": 4.5},
    {"step": 9, "train_loss": 3.0, "val_loss": 3.5, "phi": 0.2, "phi_layers": {"a": 0.2, "b": 0.4}},
]


def test_curves_are_read_from_the_records():
    assert val_curve(RECORDS) == ([5, 10], [4.5, 3.5])
    assert density_curve(RECORDS) == ([1, 10], [0.3, 0.2])
    assert density_curve(RECORDS, key="b") == ([1, 10], [0.5, 0.4])
    assert final_val_loss(RECORDS) == 3.5
    assert steps_to_reach({"x": RECORDS, "y": RECORDS[:2]}, 4.0) == {"x": 10, "y": None}


def test_train_each_runs_every_optimizer_from_the_same_start(tmp_path):
    runs = train_each(
        ("sgd", "signsgd"),
        tmp_path,
        density=("sgd",),
        steps=4,
        eval_every=2,
        density_every=2,
        density_samples=2,
    )
    assert set(runs) == {"sgd", "signsgd"}
    assert runs["sgd"][0]["train_loss"] == runs["signsgd"][0]["train_loss"]  # same init, batch
    assert "phi" in runs["sgd"][0] and "phi" not in runs["signsgd"][0]
    assert (tmp_path / "sgd" / "checkpoint.pt").exists()
    from signlab.gpt.data import byte_corpus
    from signlab.gpt.density import embedding_density_split
    from signlab.gpt.train import load_model

    tokens = byte_corpus()[:3000]
    split = embedding_split(tmp_path / "sgd", tokens, n_samples=3, batch_size=2, seed=1)
    assert split == embedding_density_split(load_model(tmp_path / "sgd"), tokens, 3, 2, 1)


@pytest.mark.slow
def test_the_chapter_orderings_on_this_cpu(tmp_path):
    # what the chapter asserts over three seeds, here at seed 0 alone on this CPU: SignSGD and
    # AdamW end below SGD and reach SGD's final loss sooner, Muon ends lowest of all
    runs = train_each(OPTIMIZERS, tmp_path, density=())
    final = {name: final_val_loss(r) for name, r in runs.items()}
    to_sgd = steps_to_reach(runs, final["sgd"])
    for name in ("signsgd", "adamw"):
        assert final[name] < final["sgd"] and to_sgd[name] < to_sgd["sgd"], final
    assert final["muon"] == min(final.values()), final


def _run(losses, steps=(10, 20, 30), phi=None):
    """Log records with the given validation losses (and φ) at the given steps done."""
    records = []
    for k, (s, v) in enumerate(zip(steps, losses, strict=True)):
        r = {"step": s - 1, "train_loss": v + 0.1, "val_loss": v}
        if phi is not None:
            r["phi"], r["phi_layers"] = phi[k], {}
        records.append(r)
    return records


RUNS = {
    "sgd": [_run([3.0, 2.8, 2.6]), _run([3.1, 2.9, 2.7])],
    "signsgd": [_run([2.9, 2.6, 2.4]), _run([3.0, 2.8, 2.4])],
}


def test_paired_gaps_and_final_losses_are_seed_by_seed():
    gap = paired_gap(RUNS, "sgd")["signsgd"]
    assert gap["steps"] == [10, 20, 30]
    assert gap["mean"] == pytest.approx([-0.1, -0.15, -0.25])
    # the se of the paired differences (−0.1, −0.1), (−0.2, −0.1), (−0.2, −0.3)
    assert gap["se"] == pytest.approx([0.0, 0.05, 0.05])
    assert paired_gap(RUNS, "sgd")["sgd"]["mean"] == [0.0, 0.0, 0.0]
    final = final_losses(RUNS)
    assert final["sgd"].value == pytest.approx(2.65) and final["sgd"].se == pytest.approx(0.05)
    assert final_gaps(RUNS, "sgd")["signsgd"].value == pytest.approx(0.25)
    one = final_losses({"sgd": RUNS["sgd"][:1]})["sgd"]
    assert (one.value, one.se) == (2.6, 0.0)


def test_steps_estimates_keep_the_seeds_that_miss():
    got = steps_estimates(RUNS, 2.5)
    assert got["sgd"] == {"seeds": [None, None], "mean": None}
    assert got["signsgd"]["seeds"] == [30, 30] and got["signsgd"]["mean"].value == 30


def test_density_dip_places_the_lowest_phi_on_the_loss_curve():
    r = _run([3.0, 2.8, 2.6], phi=[0.3, 0.05, 0.2])
    assert density_dip(r) == {"step": 20, "phi": 0.05, "val_loss": 2.8}


def test_run_parallel_gives_the_sequential_results():
    jobs = [1, 2, 3]
    assert run_parallel(abs, jobs, workers=1) == run_parallel(abs, jobs, workers=2) == jobs
    with pytest.raises(ValueError, match="workers must be an integer >= 1"):
        run_parallel(abs, jobs, workers=0)


def test_train_seeds_pairs_seeds_and_passes_the_schedule(tmp_path):
    runs = train_seeds(
        ("sgd", "signsgd"),
        tmp_path,
        seeds=(3, 4),
        steps=6,
        eval_every=3,
        density_every=3,
        density_samples=4,
        density_subsamples=(2,),
        warmup_frac=0.0,
        min_lr_frac=1.0,
    )
    assert [len(v) for v in runs.values()] == [2, 2]
    # the same seed: the same start and batch for both optimizers; another seed: another
    assert runs["sgd"][0][0]["train_loss"] == runs["signsgd"][0][0]["train_loss"]
    assert runs["sgd"][0][0]["train_loss"] != runs["sgd"][1][0]["train_loss"]
    lrs = {r["lr"] for r in runs["sgd"][0] if "lr" in r}
    assert lrs == {0.1}  # constant: no warmup, floor 1
    assert set(runs["sgd"][0][0]["phi_n"]) == {"2"}
    assert density_curve(runs["sgd"][0], n=2)[0] == density_curve(runs["sgd"][0])[0]
    assert (tmp_path / "signsgd" / "s4" / "log.jsonl").exists()
