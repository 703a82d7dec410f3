"""Tests for signlab.gpt.train and the optimizers by name: learning, resume, divergence, logs."""

import json
import math

import pytest
import torch

from signlab.gpt.model import GPT, GPTConfig
from signlab.gpt.optimizers import decay_groups, make_optimizer
from signlab.gpt.presets import OPTIMIZERS, PRESETS, get_preset, with_width
from signlab.gpt.train import DivergenceError, RunConfig, autocast_dtype, read_log, train

pytestmark = pytest.mark.usefixtures("one_thread")


def _cfg(tmp_path, **kw):
    base = dict(
        preset="cpu-tiny", out=str(tmp_path / "run"), progress=False, steps=20, eval_every=10
    )
    return RunConfig(**{**base, **kw})


def test_tiny_model_learns_the_byte_corpus(tmp_path):
    records = train(_cfg(tmp_path, optimizer="adamw", steps=60, eval_every=30))
    vals = [r["val_loss"] for r in records if "val_loss" in r]
    assert len(vals) == 2
    assert records[0]["train_loss"] == pytest.approx(math.log(256), abs=0.1)
    assert vals[-1] < 0.65 * math.log(256)  # well below the uniform guess over bytes


def test_log_is_jsonl_with_step_and_train_loss(tmp_path):
    records = train(_cfg(tmp_path, optimizer="sgd", steps=6, log_every=2, eval_every=3))
    lines = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    logged = [json.loads(line) for line in lines]
    assert logged == records == read_log(tmp_path / "run")
    assert [r["step"] for r in logged] == [0, 2, 4, 5]
    assert all(isinstance(r["train_loss"], float) for r in logged)
    assert [r["step"] for r in logged if "val_loss" in r] == [2, 5]
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["n_params"] == GPT(get_preset("cpu-tiny").model).num_params()
    assert info["dtype"] == "float32" and info["hardware"].startswith("CPU")


@pytest.mark.parametrize("optimizer", ["signum", "muon"])
def test_resume_equals_uninterrupted(tmp_path, optimizer):
    full = train(_cfg(tmp_path / "a", optimizer=optimizer, steps=16, eval_every=8))
    first = train(_cfg(tmp_path / "b", optimizer=optimizer, steps=16, eval_every=8, stop_at=7))
    assert [r["step"] for r in first] == list(range(7))
    rest = train(_cfg(tmp_path / "b", optimizer=optimizer, steps=16, eval_every=8, resume=True))
    keys = ("step", "train_loss", "lr", "val_loss")
    assert [[r.get(k) for k in keys] for r in rest] == [[r.get(k) for k in keys] for r in full]
    assert read_log(tmp_path / "b" / "run") == rest


def test_divergence_stops_with_message_and_keeps_checkpoint(tmp_path):
    cfg = _cfg(tmp_path, optimizer="sgd", lr=1e30, steps=50, checkpoint_every=1)
    with pytest.raises(DivergenceError, match=r"diverged at step (\d+)") as err:
        train(cfg)
    bad_step = int(err.value.args[0].split("step ")[1].split(":")[0])
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    assert 1 <= state["step"] <= bad_step
    assert all(v.isfinite().all() for v in state["model"].values())
    last = read_log(tmp_path / "run")[-1]
    assert last["step"] == bad_step and last["train_loss"] is None and "diverged" in last


def test_unknown_names_list_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="'cpu-tiny', 'colab-t4', 'gpt2-124m'"):
        _cfg(tmp_path, preset="gpt5")
    with pytest.raises(ValueError, match="'sgd', 'signsgd', 'signum', 'lion', 'adamw', 'muon'"):
        _cfg(tmp_path, optimizer="adam")
    with pytest.raises(ValueError, match="lr"):
        _cfg(tmp_path, lr=-1.0)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_steps_with_preset_lr(name):
    model = GPT(GPTConfig(n_layer=1, n_embd=16, n_head=2), seed=0)
    before = [p.detach().clone() for p in model.parameters()]
    opt = make_optimizer(name, model, PRESETS["cpu-tiny"].lr[name], weight_decay=0.1)
    x = torch.randint(256, (2, 64), generator=torch.Generator().manual_seed(1))
    model(x, x)[1].backward()
    opt.step()
    assert all(not torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))


def test_signsgd_step_is_lr_times_sign():
    model = GPT(GPTConfig(n_layer=1, n_embd=16, n_head=2), seed=0)
    opt = make_optimizer("signsgd", model, 0.01)
    x = torch.randint(256, (2, 64), generator=torch.Generator().manual_seed(2))
    model(x, x)[1].backward()
    expected = model.ln_f.weight.detach() - 0.01 * model.ln_f.weight.grad.sign()
    opt.step()
    torch.testing.assert_close(model.ln_f.weight.detach(), expected)


def test_weight_decay_only_on_matrices():
    model = GPT(GPTConfig(n_layer=1, n_embd=16, n_head=2))
    decayed, plain = decay_groups(model, 0.1)
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert {p.dim() for p in decayed["params"]} == {2} and {p.dim() for p in plain["params"]} == {1}
    assert len(decayed["params"]) + len(plain["params"]) == len(list(model.parameters()))


def test_presets_are_consistent():
    for name, preset in PRESETS.items():
        assert set(preset.lr) == set(OPTIMIZERS), name
        assert preset.model.n_embd % preset.model.n_head == 0
    big = PRESETS["gpt2-124m"]
    d, layers, vocab = big.model.n_embd, big.model.n_layer, big.model.vocab_size
    assert 120e6 < vocab * d + layers * (12 * d * d + 13 * d) + 2 * d < 130e6
    assert big.batch_size * big.grad_accum * big.model.block_size == 262_144
    assert with_width(PRESETS["cpu-tiny"], 32).model.n_embd == 32


def test_cpu_runs_in_fp32():
    assert autocast_dtype(torch.device("cpu")) is None


def test_load_corpus_and_evaluate_on_the_offline_corpus():
    from signlab.gpt.data import byte_corpus
    from signlab.gpt.presets import Preset
    from signlab.gpt.train import evaluate, load_corpus

    preset = get_preset("cpu-tiny")
    assert isinstance(preset, Preset)
    train_tokens, val_tokens = load_corpus(preset, RunConfig(preset="cpu-tiny", optimizer="sgd"))
    assert len(train_tokens) + len(val_tokens) == len(byte_corpus())
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=256, block_size=16, n_layer=1, n_head=2, n_embd=16))
    loss = evaluate(model, val_tokens, 16, 4, 3, torch.device("cpu"), lambda: torch.no_grad())
    again = evaluate(model, val_tokens, 16, 4, 3, torch.device("cpu"), lambda: torch.no_grad())
    assert loss == again  # fixed validation batches
    assert abs(loss - math.log(256)) < 0.5  # an untrained model is near the uniform guess
    assert model.training  # evaluate restores the training mode
