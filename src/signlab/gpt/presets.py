"""Named training recipes: a model shape, a data source, a batch and schedule, a learning rate per
optimizer.

- ``cpu-tiny``: 2 layers, width 64, byte-level ``pydoc_data`` text; one run takes seconds on 2 CPU
  cores, and the optimizers still separate. Used by the book build and the tests.
- ``colab-t4``: 6 layers, width 384, GPT-2 BPE on FineWeb-Edu; fits a free Colab T4 (16 GB, fp16).
- ``gpt2-124m``: GPT-2 small (12 layers, 12 heads, width 768, context 1024) with the paper's
  recipe: 10% warmup then cosine, weight decay 0.1, clipping 1.0, bf16, SignSGD lr 1e-4 and SGD
  (momentum 0.9) lr 1e-2 (Tao et al., 2026); ~262k tokens per step. Needs an A100/H100.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from signlab import _validate
from signlab.gpt.model import GPTConfig

OPTIMIZERS = ("sgd", "signsgd", "signum", "lion", "adamw", "muon")


@dataclass(frozen=True)
class Preset:
    """Everything a run needs except the optimizer's name; ``lr[name]`` is that optimizer's default.

    One optimizer step sees ``batch_size · grad_accum`` sequences of ``model.block_size`` tokens
    (across all ranks together under DDP). ``cpu_threads`` caps torch's CPU threads during a run
    (one thread is fastest for tiny matmuls, and much faster on a busy machine).
    """

    name: str
    model: GPTConfig
    data: str  # "bytes" (offline pydoc_data) or "web" (FineWeb-Edu, GPT-2 BPE)
    batch_size: int
    grad_accum: int
    steps: int
    warmup_frac: float
    min_lr_frac: float
    weight_decay: float
    grad_clip: float
    eval_every: int
    eval_batches: int
    lr: dict = field(default_factory=dict)
    muon_adamw_lr: float = 3e-4
    data_tokens: int = 0
    compile: bool = False
    cpu_threads: int | None = None


PRESETS = {
    "cpu-tiny": Preset(
        name="cpu-tiny",
        model=GPTConfig(vocab_size=256, block_size=64, n_layer=2, n_head=2, n_embd=64),
        data="bytes",
        batch_size=16,
        grad_accum=1,
        steps=300,
        warmup_frac=0.1,
        min_lr_frac=0.1,
        weight_decay=0.0,
        grad_clip=1.0,
        eval_every=25,
        eval_batches=4,
        lr={  # best of a 3-point grid per optimizer (final val loss of one 300-step run)
            "sgd": 0.1,
            "signsgd": 3e-3,
            "signum": 1e-3,
            "lion": 1e-3,
            "adamw": 3e-3,
            "muon": 0.02,
        },
        muon_adamw_lr=1e-2,
        cpu_threads=1,
    ),
    "colab-t4": Preset(
        name="colab-t4",
        model=GPTConfig(vocab_size=50304, block_size=512, n_layer=6, n_head=6, n_embd=384),
        data="web",
        batch_size=16,
        grad_accum=8,
        steps=3000,
        warmup_frac=0.1,
        min_lr_frac=0.1,
        weight_decay=0.1,
        grad_clip=1.0,
        eval_every=100,
        eval_batches=20,
        lr={
            "sgd": 1e-2,
            "signsgd": 1e-4,
            "signum": 1e-4,
            "lion": 1e-4,
            "adamw": 1e-3,
            "muon": 0.02,
        },
        muon_adamw_lr=1e-3,
        data_tokens=200_000_000,
        compile=True,
    ),
    "gpt2-124m": Preset(
        name="gpt2-124m",
        model=GPTConfig(vocab_size=50304, block_size=1024, n_layer=12, n_head=12, n_embd=768),
        data="web",
        batch_size=32,
        grad_accum=8,
        steps=10_000,
        warmup_frac=0.1,
        min_lr_frac=0.1,
        weight_decay=0.1,
        grad_clip=1.0,
        eval_every=250,
        eval_batches=40,
        lr={
            "sgd": 1e-2,
            "signsgd": 1e-4,
            "signum": 1e-4,
            "lion": 1e-4,
            "adamw": 6e-4,
            "muon": 0.02,
        },
        muon_adamw_lr=6e-4,
        data_tokens=2_700_000_000,
        compile=True,
    ),
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; an unknown name raises ``ValueError`` listing the valid ones."""
    return PRESETS[_validate.choice("preset", name, PRESETS)]


def with_width(preset: Preset, n_embd: int, n_head: int | None = None) -> Preset:
    """The same recipe at another width d (heads kept, or set), for width sweeps."""
    heads = preset.model.n_head if n_head is None else n_head
    model = replace(preset.model, n_embd=n_embd, n_head=heads)
    return replace(preset, name=f"{preset.name}-d{n_embd}", model=model)
