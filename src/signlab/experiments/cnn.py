"""The image side of the paper's CNN-vs-LLM contrast: a small CNN on handwritten digits.

Tao et al. (2026, Figure 2) measure the noise density φ of the gradient along SGD's trajectory
for GPT-2 (φ ≈ 0.3 falling to ≈ 0.03) and for ResNet-20 on CIFAR-10 (settling near 0.7). CIFAR-10
is a download; this module uses the 1,797 8×8 digit images that scikit-learn ships inside its
package (``sklearn.datasets.load_digits``, no network), and a small network
trained by SGD with momentum 0.9 on the cross-entropy loss, with the GPT presets' schedule (10%
linear warmup, cosine to 10%). Every ``density_every`` steps φ is measured with exactly the
estimator and sample count the tiny GPT uses (:func:`signlab.gpt.density.stacked_gradients`,
then :func:`~signlab.gpt.density.gradient_density`), so the two curves differ only in the network
and the data.

Two shapes (:class:`DigitsCNN`): ``resnet`` keeps the ingredients of the paper's ResNet-20
(convolutions with batch normalisation, residual blocks, global average pooling), ``plain`` is a
conv-pool network whose parameters sit mostly in one dense layer. Measured here, the two differ
a lot (see the chapter), so "a CNN" is not one value of φ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from signlab import _validate
from signlab._threads import torch_threads
from signlab.gpt.density import gradient_density, stacked_gradients, subsample_densities
from signlab.gpt.schedule import lr_multiplier, warmup_steps


def load_digits(val_fraction: float = 0.2, seed: int = 0):
    """(x_train, y_train, x_val, y_val): scikit-learn's digits as float32 (N, 1, 8, 8) tensors in
    [0, 1] and int64 labels, split at random (seeded) into a training and a validation part."""
    from signlab.gpt.data import require

    datasets = require("sklearn.datasets", "the CNN on digits", install="pip install scikit-learn")
    digits = datasets.load_digits()
    x = torch.tensor(digits.images / 16.0, dtype=torch.float32).unsqueeze(1)
    y = torch.tensor(digits.target, dtype=torch.int64)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_val = int(round(_validate.unit_interval("val_fraction", val_fraction) * len(y)))
    val, tr = order[:n_val], order[n_val:]
    return x[tr], y[tr], x[val], y[val]


ARCHITECTURES = ("resnet", "plain")


def _init_(module: nn.Module, seed: int) -> None:
    """PyTorch's default weight scale U(±1/√fan_in) from a private generator; biases 0, norm gains 1."""
    gen = torch.Generator().manual_seed(_validate.integer("seed", seed, low=0))
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() > 1:
                bound = 1.0 / np.sqrt(p[0].numel())
                p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) * bound)
            else:
                gain = "norm" in name and name.endswith("weight")
                p.fill_(1.0 if gain else 0.0)


class ResidualBlock(nn.Module):
    """x ↦ ReLU(x + BN(conv(ReLU(BN(conv x))))): the basic block of a ResNet (He et al., 2016)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ReLU(x + BN(conv₂(ReLU(BN(conv₁ x))))), the shape (B, C, H, W) kept."""
        h = F.relu(self.norm1(self.conv1(x)))
        return F.relu(x + self.norm2(self.conv2(h)))


class DigitsCNN(nn.Module):
    """A small CNN for 1×8×8 digits, in one of two shapes.

    - ``resnet``: the ingredients of the paper's ResNet-20 at toy size: a 3×3 convolution to 16
      channels with batch normalisation, two residual blocks, global average pooling, a linear
      classifier (~9.5k parameters, almost all in convolutions).
    - ``plain``: two 3×3 convolutions (16, 32 channels), a 2×2 max-pool, a 512→64 dense layer
      and the classifier (~38k parameters, 85% of them in the dense layer). The control: same
      data, another architecture.
    """

    def __init__(self, arch: str = "resnet", seed: int = 0):
        super().__init__()
        self.arch = _validate.choice("arch", arch, ARCHITECTURES)
        if arch == "resnet":
            self.stem = nn.Conv2d(1, 16, 3, padding=1, bias=False)
            self.norm = nn.BatchNorm2d(16)
            self.blocks = nn.Sequential(ResidualBlock(16), ResidualBlock(16))
            self.head = nn.Linear(16, 10)
        else:
            self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
            self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
            self.fc1 = nn.Linear(32 * 4 * 4, 64)
            self.head = nn.Linear(64, 10)
        _init_(self, seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, 10) of images ``x`` of shape (B, 1, 8, 8)."""
        if self.arch == "resnet":
            h = self.blocks(F.relu(self.norm(self.stem(x))))
            return self.head(h.mean(dim=(2, 3)))
        h = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        return self.head(F.relu(self.fc1(h.flatten(1))))


@dataclass(frozen=True)
class CNNRun:
    """One SGD run of the digits CNN with φ measured along it (defaults match the tiny GPT's run:
    300 steps, minibatches of 16, φ every 30 steps from 16 minibatch gradients)."""

    arch: str = "resnet"
    steps: int = 300
    lr: float = 0.05
    momentum: float = 0.9
    batch_size: int = 16
    density_every: int = 30
    density_samples: int = 16
    density_subsamples: tuple[int, ...] = ()
    seed: int = 0
    threads: int | None = 1  # torch CPU threads during the run (one is fastest for this size)

    def __post_init__(self):
        _validate.choice("arch", self.arch, ARCHITECTURES)
        for name in ("steps", "batch_size", "density_every"):
            _validate.integer(name, getattr(self, name))
        _validate.integer("density_samples", self.density_samples, low=2)
        for n in self.density_subsamples:
            _validate.integer("density_subsamples", n, low=2, high=self.density_samples)
        _validate.positive("lr", self.lr)
        _validate.unit_interval("momentum", self.momentum)
        _validate.integer("seed", self.seed, low=0)


def _batch(x, y, batch_size, gen):
    idx = torch.randint(len(y), (batch_size,), generator=gen)
    return x[idx], y[idx]


def cnn_density(model: nn.Module, x, y, run: CNNRun, seed: int):
    """(overall φ, per-tensor φ, {n: overall φ from the first n draws}) of the CNN's minibatch
    gradient at its current weights (n from ``run.density_subsamples``)."""

    def loss(gen: torch.Generator) -> torch.Tensor:
        xb, yb = _batch(x, y, run.batch_size, gen)
        return F.cross_entropy(model(xb), yb)

    stacks = stacked_gradients(model, loss, run.density_samples, seed, train_mode=True)
    phi, layers = gradient_density(stacks)
    return phi, layers, subsample_densities(stacks, run.density_subsamples)


def evaluate_cnn(model: nn.Module, x, y) -> tuple[float, float]:
    """(cross-entropy, accuracy) on ``(x, y)`` in eval mode (batch norm's running averages)."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = model(x)
        out = float(F.cross_entropy(logits, y)), float((logits.argmax(1) == y).float().mean())
    model.train(was_training)
    return out


def train_cnn(run: CNNRun = CNNRun()) -> list[dict]:
    """Train the digits CNN; one record per φ measurement: step, train loss, val loss and
    accuracy, ``phi`` and ``phi_layers`` (the same keys as a GPT log's density records)."""
    with torch_threads(run.threads):
        return _train_cnn(run)


def _train_cnn(run: CNNRun) -> list[dict]:
    x, y, xv, yv = load_digits(seed=run.seed)
    model = DigitsCNN(run.arch, seed=run.seed)
    opt = torch.optim.SGD(model.parameters(), lr=run.lr, momentum=run.momentum)
    warm = warmup_steps(run.steps, 0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda t: lr_multiplier(min(t, run.steps - 1), run.steps, warm, 0.1)
    )
    gen = torch.Generator().manual_seed(run.seed)
    records = []
    for step in range(run.steps):
        xb, yb = _batch(x, y, run.batch_size, gen)
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % run.density_every == 0 or step == run.steps - 1:
            phi, layers, by_n = cnn_density(model, x, y, run, seed=run.seed + 10_000 + step)
            val_loss, val_accuracy = evaluate_cnn(model, xv, yv)
            records.append(
                {
                    "step": step,
                    "train_loss": float(loss.detach()),
                    "val_loss": val_loss,
                    "val_accuracy": val_accuracy,
                    "phi": phi,
                    "phi_layers": layers,
                }
                | ({"phi_n": by_n} if by_n else {})
            )
    return records
