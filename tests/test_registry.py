"""signlab.optim.registry: one entry per optimizer, read by the engine, the classes' rules, the GPT
factory and the presets; the properties an entry claims (a step affine in lr) hold."""

from dataclasses import replace

import pytest
import torch

from signlab import optim
from signlab.gpt import presets
from signlab.gpt.model import GPT, GPTConfig
from signlab.gpt.optimizers import make_optimizer
from signlab.optim import functional as F
from signlab.optim.registry import NETWORK_OPTIMIZERS, REGISTRY, Entry, learning_rates
from signlab.sim import engine
from signlab.sim.problems import SeparableQuadratic


def test_every_reader_takes_its_names_from_the_registry():
    assert list(engine.METHODS) == list(REGISTRY)
    for name, method in engine.METHODS.items():
        entry = REGISTRY[name]
        assert method.rule is entry.rule and method.defaults == dict(entry.engine)
        assert (method.separable, method.lr_affine) == (entry.separable, entry.lr_affine)
    assert presets.OPTIMIZERS == NETWORK_OPTIMIZERS == ("sgd", "signsgd", "signum", "lion",
                                                         "adamw", "muon")  # fmt: skip
    for preset in presets.PRESETS.values():
        if preset.name in ("cpu-tiny", "colab-t4", "gpt2-124m"):
            assert preset.lr == learning_rates(preset.name)
            assert list(preset.lr) == list(presets.OPTIMIZERS)


def test_each_class_applies_the_rule_of_its_entry():
    classes = {
        "signsgd": optim.SignSGD,
        "signum": optim.Signum,
        "lion": optim.Lion,
        "normalized_sgd": optim.NormalizedSGD,
        "muon": optim.Muon,
    }
    for name, cls in classes.items():
        assert cls.rule is REGISTRY[name].rule is getattr(F, name)


def test_every_entrys_rule_is_a_rule_with_its_spec():
    for name, entry in REGISTRY.items():
        assert isinstance(entry.rule, F.Rule), name
        assert entry.rule.spec.optimizer == name and callable(entry.rule.unchecked)
    assert not isinstance(lambda p, g, s=None: (p, s), F.Rule)  # no spec, no unchecked update


@pytest.mark.parametrize("name", NETWORK_OPTIMIZERS)
def test_the_gpt_factory_builds_each_entrys_network_optimizer(name):
    model = GPT(GPTConfig(vocab_size=16, block_size=8, n_layer=1, n_head=2, n_embd=8), seed=0)
    opt = make_optimizer(name, model, 0.01, weight_decay=0.1)
    expected = {
        "sgd": torch.optim.SGD,
        "signsgd": optim.SignSGD,
        "signum": optim.Signum,
        "lion": optim.Lion,
        "adamw": torch.optim.AdamW,
        "muon": optim.MuonWithAdamW,
    }[name]
    assert type(opt) is expected
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))


def _problem_inputs(name, generator):
    shape = (3, 4, 5) if name == "muon" else (3, 6)
    x = torch.randn(shape, generator=generator, dtype=torch.float64)
    grads = [torch.randn(shape, generator=generator, dtype=torch.float64) for _ in range(3)]
    return x, grads


@pytest.mark.parametrize("name", list(REGISTRY))
def test_a_step_is_affine_in_lr_where_the_entry_says_so(name, generator):
    """rule(x, g; η) = x + η·(rule(x, g; 1) − x), the state the same, three steps in a row: the
    identity that lets tune() run a grid of step sizes as one population."""
    entry = REGISTRY[name]
    assert entry.lr_affine
    x, grads = _problem_inputs(name, generator)
    eta = 0.37
    hyper = {**entry.rule.spec.defaults(), **entry.engine, "weight_decay": 0.1}
    hyper = {k: v for k, v in hyper.items() if k in entry.rule.spec.names}
    if "dim" in entry.rule.spec.names:
        hyper["dim"] = (-1,)
    at_eta = entry.rule.spec.validate({**hyper, "lr": eta})
    at_one = entry.rule.spec.validate({**hyper, "lr": 1.0})
    s_eta = s_one = None
    for g in grads:
        new, s_eta = entry.rule.unchecked(x, g, s_eta, **at_eta)
        unit, s_one = entry.rule.unchecked(x, g, s_one, **at_one)
        torch.testing.assert_close(new, x + eta * (unit - x), rtol=1e-12, atol=1e-12)
        assert s_eta.keys() == s_one.keys()
        for key in s_eta:
            torch.testing.assert_close(s_eta[key], s_one[key], rtol=0, atol=0)
        x = new


def test_a_method_not_affine_in_lr_refuses_one_step_size_per_run():
    problem = SeparableQuadratic(torch.ones(3, dtype=torch.float64))
    x0 = torch.ones(2, 3, dtype=torch.float64)
    method = replace(engine.METHODS["signsgd"], name="not_affine", lr_affine=False)
    engine.simulate(problem, None, method, x0, lr=0.1, steps=2)  # one step size: fine
    with pytest.raises(ValueError, match="not affine in lr"):
        engine.simulate(problem, None, method, x0, lr=[0.1, 0.2], steps=2)
    with pytest.raises(ValueError, match="gradients_per_step"):
        replace(method, gradients_per_step=0.0)


def test_an_entry_checks_itself():
    with pytest.raises(ValueError, match="names the rule of 'signsgd'"):
        Entry("signum", F.signsgd)
    with pytest.raises(ValueError, match="takes no colour"):
        Entry("signsgd", F.signsgd, engine={"colour": 1})
    with pytest.raises(ValueError, match="no network factory"):
        Entry("signsgd", F.signsgd, lr={"cpu-tiny": 0.1})
