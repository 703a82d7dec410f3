"""Named training recipes: a model shape, a data source, a batch and schedule, a learning rate per
optimizer. Each value carries the reason it was chosen.

- ``CPU_TINY`` (``cpu-tiny``): 2 layers, width 64, byte-level ``pydoc_data`` text; one run takes
  seconds on 2 CPU cores and the optimizers still separate. Used by the book build and the tests.
- ``COLAB_T4`` (``colab-t4``): 6 layers, width 384, GPT-2 BPE on FineWeb-Edu; fits a free Colab T4
  (16 GB, fp16).
- ``GPT2_124M`` (``gpt2-124m``): GPT-2 small (12 layers, 12 heads, width 768) in the *shape* of
  the paper's run (Tao et al., 2026): context 512, 512 sequences per step, 10k steps, 10% warmup
  then cosine, weight decay 0.1, clipping 1.0, bf16, SignSGD lr 1e-4 and SGD (momentum 0.9)
  lr 1e-2. It is not the paper's run: the paper trained on C4, this preset streams FineWeb-Edu.
  Needs an A100/H100-class GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from signlab import _validate
from signlab.gpt.model import GPTConfig
from signlab.optim.registry import NETWORK_OPTIMIZERS, learning_rates

OPTIMIZERS = NETWORK_OPTIMIZERS
"""The optimizers a GPT trains with: those of :data:`signlab.optim.registry.REGISTRY` that train
networks, each with its learning rate in every preset there (``Entry.lr``)."""
DATA_SOURCES = ("bytes", "web", "stdlib")


@dataclass(frozen=True)
class Preset:
    """Everything a run needs except the optimizer's name; ``lr[name]`` is that optimizer's default.

    One optimizer step sees ``batch_size · grad_accum`` sequences of ``model.block_size`` tokens
    (across all ranks together under DDP). ``cpu_threads`` caps torch's CPU threads during a run
    (one thread is fastest for tiny matmuls, and much faster on a busy machine).
    """

    name: str
    model: GPTConfig
    data: str  # "bytes" (pydoc_data), "web" (FineWeb-Edu, GPT-2 BPE), "stdlib" (own BPE)
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
    corpus_bytes: int | None = None  # "stdlib": read at most this many characters (None: all)
    compile: bool = False
    cpu_threads: int | None = None


CPU_TINY = Preset(
    name="cpu-tiny",
    # 2 × 64 wide, 64-byte context: ~0.12M parameters, ~30 ms a step on one CPU thread
    model=GPTConfig(vocab_size=256, block_size=64, n_layer=2, n_head=2, n_embd=64),
    data="bytes",  # offline: the book build and the tests never download
    batch_size=16,  # 1024 tokens a step: small, so the gradient noise is visible
    grad_accum=1,
    steps=300,  # long enough for every optimizer to leave the uniform guess ln 256 far behind
    warmup_frac=0.1,  # the paper's 10% warmup, then cosine
    min_lr_frac=0.1,
    weight_decay=0.0,  # too short a run for decay to matter; keeps the comparison to the rules
    grad_clip=1.0,  # the paper's clipping
    eval_every=25,
    eval_batches=4,
    lr=learning_rates("cpu-tiny"),  # best of a 3-point grid per optimizer (registry)
    muon_adamw_lr=1e-2,  # AdamW's rate for Muon's embeddings, gains and biases: the AdamW best
    cpu_threads=1,  # measured ~20x faster than 2 threads on the shared 2-core machine
)

COLAB_T4 = Preset(
    name="colab-t4",
    # 6 × 384, context 512, GPT-2's padded BPE vocabulary: ~30M parameters, fits a T4 in fp16
    model=GPTConfig(vocab_size=50304, block_size=512, n_layer=6, n_head=6, n_embd=384),
    data="web",
    batch_size=16,  # what fits a 16 GB T4 at context 512 with activations in fp16
    grad_accum=8,  # 128 sequences, 65k tokens a step
    steps=3000,  # ~200M tokens, one pass over the cached corpus
    warmup_frac=0.1,
    min_lr_frac=0.1,
    weight_decay=0.1,  # the paper's
    grad_clip=1.0,
    eval_every=100,
    eval_batches=20,
    lr=learning_rates("colab-t4"),  # the paper's SGD and SignSGD rates; the others untuned
    muon_adamw_lr=1e-3,
    data_tokens=200_000_000,
    compile=True,  # on CUDA only (see RunConfig.compile)
)

GPT2_124M = Preset(
    name="gpt2-124m",
    # GPT-2 small; context 512 as in the paper's run (GPT-2 itself used 1024)
    model=GPTConfig(vocab_size=50304, block_size=512, n_layer=12, n_head=12, n_embd=768),
    data="web",  # FineWeb-Edu; the paper used C4
    batch_size=32,
    grad_accum=16,  # 512 sequences × 512 tokens = 262k tokens a step, as in the paper
    steps=10_000,  # the paper's 10k steps, ~2.6B tokens
    warmup_frac=0.1,
    min_lr_frac=0.1,
    weight_decay=0.1,
    grad_clip=1.0,
    eval_every=250,
    eval_batches=40,
    lr=learning_rates("gpt2-124m"),  # SGD 1e-2 and SignSGD 1e-4 are the paper's
    muon_adamw_lr=6e-4,
    data_tokens=2_700_000_000,
    compile=True,
)

PRESETS = {p.name: p for p in (CPU_TINY, COLAB_T4, GPT2_124M)}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; an unknown name raises ``ValueError`` listing the valid ones."""
    return PRESETS[_validate.choice("preset", name, PRESETS)]


def with_width(preset: Preset, n_embd: int, n_head: int | None = None) -> Preset:
    """The same recipe at another width d (heads kept, or set), for width sweeps."""
    heads = preset.model.n_head if n_head is None else n_head
    model = replace(preset.model, n_embd=n_embd, n_head=heads)
    return replace(preset, name=f"{preset.name}-d{n_embd}", model=model)
