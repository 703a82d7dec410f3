"""Tests for signlab.gpt.compare: the curves read from logs, and (slow) the optimizer orderings the
GPT-2 chapter describes, which are exact on this CPU with one thread but not across hardware, so
they are checked here rather than asserted on the page."""

import pytest

from signlab.gpt.compare import (
    density_curve,
    embedding_split,
    final_val_loss,
    steps_to_reach,
    train_each,
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
    runs = train_each(OPTIMIZERS, tmp_path, density=())
    final = {name: final_val_loss(r) for name, r in runs.items()}
    to_sgd = steps_to_reach(runs, final["sgd"])
    sign = ("signsgd", "signum", "lion")
    assert all(final[o] < final["sgd"] and to_sgd[o] < to_sgd["sgd"] for o in sign), final
    assert final["adamw"] < min(final[o] for o in sign), final
    assert final["muon"] == min(final.values()), final
