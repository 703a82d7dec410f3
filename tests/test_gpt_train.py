"""Tests for signlab.gpt.train and the optimizers by name: learning, resume, checkpoints that load
without unpickling, divergence, early stopping, and the GPU path's pieces that run on a CPU (fp16
loss scaling with the divergence check, autocast dtype selection, torch.compile)."""

import dataclasses
import json
import math
import warnings

import pytest
import torch

from signlab.gpt import checkpoint
from signlab.gpt.data import byte_corpus, split_tokens
from signlab.gpt.model import GPT, GPTConfig
from signlab.gpt.optimizers import decay_groups, make_optimizer
from signlab.gpt.presets import OPTIMIZERS, PRESETS, get_preset, with_width
from signlab.gpt.train import (
    DivergenceError,
    RunConfig,
    Trainer,
    autocast_dtype,
    choose_autocast,
    divergence,
    read_log,
    train,
)

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
    state = checkpoint.load(tmp_path / "run" / "checkpoint.pt")
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


HYPER = {
    "sgd": {"momentum": 0.9, "nesterov": False},
    "signum": {"momentum": 0.9},
    "lion": {"betas": (0.9, 0.99)},
    "adamw": {"betas": (0.9, 0.95)},
    "muon": {"momentum": 0.95, "nesterov": True},
}
"""The optimizers' settings in GPT runs, written out (the module docstring's): a change of a spec's
default that would silently change the GPT experiments fails here."""


@pytest.mark.parametrize("name", HYPER)
def test_gpt_optimizers_use_the_documented_hyperparameters(name):
    model = GPT(GPTConfig(n_layer=1, n_embd=16, n_head=2), seed=0)
    opt = make_optimizer(name, model, 0.01, weight_decay=0.1)
    for group in opt.param_groups:
        if group.get("use_muon") is False:  # Muon's AdamW part: β = (0.9, 0.95), lr 3e-4, no decay
            assert (group["betas"], group["lr"], group["weight_decay"]) == ((0.9, 0.95), 3e-4, 0)
            continue
        assert {k: group[k] for k in HYPER[name]} == HYPER[name]
        assert group["lr"] == 0.01 and group["weight_decay"] in (0.1, 0.0)


@pytest.mark.parametrize(
    "msign, method, coefficients",
    [
        ("jordan", "newton_schulz", (3.4445, -4.775, 2.0315)),
        ("polar_express", "newton_schulz", 8),
        ("svd", "svd", (3.4445, -4.775, 2.0315)),
    ],
)
def test_muon_runs_take_their_matrix_sign(msign, method, coefficients):
    """RunConfig.msign reaches Muon's groups: the schedule (8 triples for Polar Express) or SVD,
    with the Newton–Schulz dtype asked for; an unknown name fails naming the option."""
    model = GPT(GPTConfig(n_layer=1, n_embd=16, n_head=2), seed=0)
    opt = make_optimizer("muon", model, 0.01, msign=msign, ns_dtype=torch.float32)
    groups = [g for g in opt.param_groups if g["use_muon"]]
    for group in groups:
        assert group["method"] == method and group["dtype"] == torch.float32
        got = group["ns_coefficients"]
        assert got == coefficients if isinstance(coefficients, tuple) else len(got) == coefficients
    with pytest.raises(ValueError, match="msign"):
        make_optimizer("muon", model, 0.01, msign="septic")
    with pytest.raises(ValueError, match="msign"):
        RunConfig(optimizer="muon", msign="septic")


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
    from signlab.gpt.presets import CPU_TINY, GPT2_124M, Preset

    with pytest.raises(TypeError):  # every field of a Preset must be given: nothing hides
        Preset(name="x", model=CPU_TINY.model, data="bytes")
    assert PRESETS["gpt2-124m"] is GPT2_124M and GPT2_124M.model.block_size == 512  # the paper's
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
    from signlab.gpt.train import evaluate, load_corpus

    preset = get_preset("cpu-tiny")
    train_tokens, val_tokens = load_corpus(preset, RunConfig(preset="cpu-tiny", optimizer="sgd"))
    assert len(train_tokens) + len(val_tokens) == len(byte_corpus())
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=256, block_size=16, n_layer=1, n_head=2, n_embd=16))
    loss = evaluate(model, val_tokens, 16, 4, 3, torch.device("cpu"), lambda: torch.no_grad())
    again = evaluate(model, val_tokens, 16, 4, 3, torch.device("cpu"), lambda: torch.no_grad())
    assert loss == again  # fixed validation batches
    assert abs(loss - math.log(256)) < 0.5  # an untrained model is near the uniform guess
    assert model.training  # evaluate restores the training mode


def _plain(obj) -> bool:
    """True when ``obj`` holds only tensors, numbers, strings, None and lists/tuples/dicts of them."""
    if isinstance(obj, dict):
        return all(isinstance(k, (str, int)) and _plain(v) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return all(_plain(v) for v in obj)
    return obj is None or isinstance(obj, (torch.Tensor, int, float, str, bool))


@pytest.mark.parametrize("optimizer", ["sgd", "muon", "lion"])
def test_checkpoint_loads_with_weights_only(tmp_path, optimizer):
    train(_cfg(tmp_path, optimizer=optimizer, steps=3))
    path = tmp_path / "run" / "checkpoint.pt"
    state = torch.load(path, weights_only=True)  # raises if anything needs unpickling
    assert _plain(state) and state["step"] == 3
    assert state["data_rng"].dtype == torch.uint8 and state["rng"][0]["torch"].dtype == torch.uint8
    assert state["rng"][0]["cuda"] is None


def test_target_loss_stops_at_the_first_evaluation_below_it(tmp_path):
    full = train(_cfg(tmp_path / "a", optimizer="adamw", steps=40, eval_every=5))
    vals = [(r["step"], r["val_loss"]) for r in full if "val_loss" in r]
    target = vals[3][1] + 1e-9  # the fourth evaluation's loss: reached at step 19 at the latest
    first = next(s for s, v in vals if v <= target)
    early = train(
        _cfg(tmp_path / "b", optimizer="adamw", steps=40, eval_every=5, target_loss=target)
    )
    assert early[-1]["step"] == first and early[-1]["val_loss"] <= target
    assert [r["train_loss"] for r in early] == [r["train_loss"] for r in full[: first + 1]]
    assert checkpoint.load(tmp_path / "b" / "run" / "checkpoint.pt")["step"] == first + 1


@pytest.mark.parametrize(
    ("device", "precision", "bf16", "expected"),
    [
        ("cuda", "auto", True, torch.bfloat16),  # A100, H100
        ("cuda", "auto", False, torch.float16),  # T4: fp16 with a gradient scaler
        ("cpu", "auto", True, None),
        ("mps", "auto", False, None),
        ("cpu", "fp16", False, torch.float16),
        ("cuda", "fp32", True, None),
        ("cpu", "bf16", False, torch.bfloat16),
    ],
)
def test_autocast_dtype_selection(device, precision, bf16, expected):
    assert choose_autocast(device, precision, bf16) is expected


def test_divergence_rules():
    assert divergence(2.0, 1.0, loss_scaling=False) is None
    assert divergence(float("nan"), 1.0, loss_scaling=True) == "train loss = nan"
    assert divergence(2.0, float("inf"), loss_scaling=False) == "gradient norm = inf"
    assert divergence(2.0, float("inf"), loss_scaling=True) is None  # the scaler skips the step


def test_fp16_run_on_cpu_uses_the_scaler_and_learns(tmp_path):
    records = train(_cfg(tmp_path, optimizer="sgd", steps=12, eval_every=6, precision="fp16"))
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["dtype"] == "float16"
    losses = [r["train_loss"] for r in records]
    assert all(math.isfinite(x) for x in losses) and losses[-1] < losses[0] - 0.5
    state = checkpoint.load(tmp_path / "run" / "checkpoint.pt")
    assert state["scaler"]["scale"] > 0  # a live, enabled scaler was saved


def test_fp16_overflow_skips_the_step_instead_of_diverging(tmp_path):
    from signlab.gpt.data import byte_corpus, split_tokens
    from signlab.gpt.schedule import lr_multiplier, warmup_steps

    cfg = _cfg(tmp_path, optimizer="sgd", precision="fp16", device="cpu")
    trainer = Trainer(cfg, *split_tokens(byte_corpus(), 0.1))
    trainer.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**120)  # fp16 grads overflow
    before = [p.detach().clone() for p in trainer.model.parameters()]
    lr = [trainer.optimizer.param_groups[0]["lr"]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's false scheduler-order warning is not shown
        result = trainer.step()
    lr.append(trainer.optimizer.param_groups[0]["lr"])
    assert trainer.scheduler.last_epoch == 1  # the schedule kept pace with the step count
    preset = PRESETS[cfg.preset]
    warm = warmup_steps(cfg.steps, preset.warmup_frac)
    expected = [lr_multiplier(t, cfg.steps, warm, preset.min_lr_frac) for t in (0, 1)]
    assert lr == pytest.approx([preset.lr["sgd"] * m for m in expected])
    assert math.isfinite(result.train_loss) and not math.isfinite(result.grad_norm)
    assert divergence(result.train_loss, result.grad_norm, trainer.scaler.is_enabled()) is None
    assert all(torch.equal(a, p) for a, p in zip(before, trainer.model.parameters(), strict=True))
    assert trainer.scaler.get_scale() == 2.0**119  # backed off by half, as on a GPU


@pytest.mark.slow
def test_compile_on_and_off_give_the_same_first_step(tmp_path):
    """torch.compile on CPU (inductor, C++ codegen) takes ~50 s here on a cold cache: slow."""
    plain = train(_cfg(tmp_path / "a", optimizer="sgd", steps=2, eval_every=2, compile=False))
    compiled = train(_cfg(tmp_path / "b", optimizer="sgd", steps=2, eval_every=2, compile=True))
    for a, b in zip(plain, compiled, strict=True):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4)
    assert compiled[-1]["val_loss"] == pytest.approx(plain[-1]["val_loss"], rel=1e-4)


def test_the_config_resolves_the_preset_and_the_overrides():
    cfg = RunConfig(preset="cpu-tiny", optimizer="lion", grad_accum=4, n_embd=32, lr=0.5)
    resolved = cfg.resolved()
    assert resolved == dataclasses.replace(
        cfg,
        steps=300,
        batch_size=16,
        eval_every=25,
        warmup_frac=0.1,
        min_lr_frac=0.1,
        data="bytes",
    )
    assert resolved.resolved() == resolved
    assert resolved.model == with_width(PRESETS["cpu-tiny"], 32).model
    assert resolved.tokens_per_step == 16 * 4 * 64
    plain = RunConfig(preset="cpu-tiny", optimizer="lion").resolved()
    assert (plain.lr, plain.n_embd, plain.grad_accum) == (PRESETS["cpu-tiny"].lr["lion"], 64, 1)
    tokens = split_tokens(byte_corpus(), 0.1)
    one = Trainer(cfg, *tokens)  # world > 1 needs a process group: see test_gpt_cli
    assert one.local_accum == 4 and one.cfg == resolved and one.amp is None
    with pytest.raises(ValueError, match="multiple of the world size 3"):
        Trainer(cfg, *tokens, rank=0, world=3)


def test_one_step_reports_the_scheduled_lr_and_moves_the_weights():
    from signlab.gpt.data import byte_corpus, split_tokens
    from signlab.gpt.schedule import lr_multiplier, warmup_steps
    from signlab.gpt.train import StepResult

    cfg = RunConfig(preset="cpu-tiny", optimizer="signsgd", steps=50, device="cpu")
    trainer = Trainer(cfg, *split_tokens(byte_corpus(), 0.1))
    before = trainer.model.ln_f.weight.detach().clone()
    result = trainer.step()
    assert set(vars(result)) == {f.name for f in dataclasses.fields(StepResult)}
    assert result.seconds > 0
    assert result.lr == pytest.approx(3e-3 * lr_multiplier(0, 50, warmup_steps(50, 0.1)))
    moved = (trainer.model.ln_f.weight.detach() - before).abs()
    assert torch.allclose(moved[moved > 0], torch.tensor(result.lr), rtol=1e-3)  # a sign step of lr


def test_rng_state_round_trip():
    state = checkpoint.rng_state(torch.device("cpu"))
    first = torch.rand(3)
    torch.rand(5)
    checkpoint.set_rng_state(state, torch.device("cpu"))
    assert torch.equal(torch.rand(3), first)
    assert state["cuda"] is None and state["torch"].dtype == torch.uint8


def test_torch_threads_caps_and_restores():
    from signlab._threads import torch_threads

    torch.set_num_threads(2)
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with pytest.raises(RuntimeError), torch_threads(1):
        raise RuntimeError("inside")
    assert torch.get_num_threads() == 2
    with torch_threads(None):
        assert torch.get_num_threads() == 2
