"""Tests for signlab.experiments.cnn: the bundled digits, the two CNN shapes, training, and φ along it."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("sklearn", reason="the CNN uses scikit-learn's bundled digits")

from signlab.experiments.cnn import CNNRun, DigitsCNN, cnn_density, load_digits, train_cnn  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def test_digits_are_split_and_scaled():
    x, y, xv, yv = load_digits(val_fraction=0.2, seed=0)
    assert x.shape[1:] == (1, 8, 8) and len(x) + len(xv) == 1797 and len(xv) == 359
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert set(y.tolist()) == set(range(10)) and y.dtype == torch.int64
    again = load_digits(val_fraction=0.2, seed=0)
    assert torch.equal(again[3], yv)  # seeded split


def test_parameter_counts_match_the_architectures():
    c = 16
    block = 2 * (9 * c * c) + 2 * (2 * c)  # two bias-free 3×3 convs and two batch norms
    resnet = 9 * c + 2 * c + 2 * block + (c * 10 + 10)
    plain = (9 * 16 + 16) + (9 * 16 * 32 + 32) + (512 * 64 + 64) + (64 * 10 + 10)
    assert sum(p.numel() for p in DigitsCNN("resnet").parameters()) == resnet
    assert sum(p.numel() for p in DigitsCNN("plain").parameters()) == plain
    assert DigitsCNN("resnet")(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    with pytest.raises(ValueError, match="arch"):
        DigitsCNN("vgg")


def test_seeded_initialisation_does_not_depend_on_global_state():
    torch.manual_seed(1)
    a = DigitsCNN("resnet", seed=4).state_dict()
    torch.manual_seed(2)
    b = DigitsCNN("resnet", seed=4).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("arch", ["resnet", "plain"])
def test_training_learns_and_logs_phi(arch):
    records = train_cnn(CNNRun(arch=arch, steps=150, density_every=50, density_samples=4))
    assert [r["step"] for r in records] == [0, 50, 100, 149]
    assert records[-1]["val_accuracy"] > 0.5  # chance is 0.1
    assert records[-1]["val_loss"] < records[0]["val_loss"]
    assert all(0 < r["phi"] <= 1 for r in records)
    assert set(records[0]["phi_layers"]) == {n for n, _ in DigitsCNN(arch).named_parameters()}


def test_cnn_density_uses_training_mode_gradients():
    model = DigitsCNN("resnet", seed=0)
    x, y, _, _ = load_digits()
    run = CNNRun(density_samples=3, batch_size=5)
    phi, layers, _ = cnn_density(model, x, y, run, seed=3)
    gen = torch.Generator().manual_seed(3)
    from signlab.gpt.density import coordinate_subsets

    coordinate_subsets({n: p.shape for n, p in model.named_parameters()}, 1 << 20, gen)
    grads = []
    model.train()
    for _ in range(3):
        idx = torch.randint(len(y), (5,), generator=gen)
        model.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        grads.append(model.head.weight.grad.flatten().clone())
    sigma = torch.stack(grads).double().std(0).numpy()
    expected = np.abs(sigma).sum() ** 2 / (sigma.size * (sigma**2).sum())
    assert layers["head.weight"] == pytest.approx(expected, rel=1e-6)
    assert 0 < phi <= 1


def test_bad_runs_are_refused():
    with pytest.raises(ValueError, match="lr"):
        CNNRun(lr=0.0)
    with pytest.raises(ValueError, match="density_samples"):
        CNNRun(density_samples=1)


def test_residual_block_with_zero_convolutions_is_relu():
    from signlab.experiments.cnn import ResidualBlock

    block = ResidualBlock(4).eval()
    with torch.no_grad():
        block.conv1.weight.zero_()
        block.conv2.weight.zero_()
    x = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(block(x), torch.relu(x))  # BN of zeros is its bias, 0


def test_evaluate_cnn_is_cross_entropy_and_accuracy_in_eval_mode():
    from signlab.experiments.cnn import evaluate_cnn

    model = DigitsCNN("resnet", seed=2)
    x, y, _, _ = load_digits()
    loss, acc = evaluate_cnn(model, x[:50], y[:50])
    model.eval()
    with torch.no_grad():
        logits = model(x[:50])
    assert loss == pytest.approx(float(F.cross_entropy(logits, y[:50])))
    assert acc == pytest.approx(float((logits.argmax(1) == y[:50]).float().mean()))
    model.train()
    evaluate_cnn(model, x[:5], y[:5])
    assert model.training
