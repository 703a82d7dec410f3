"""A GPT-2 language model (Radford et al., 2019), sized by a config, fast enough for real training.

The network maps token ids ``x_1..x_T`` to next-token logits:

    h_0 = E[x] + P[1..T],   h_l = h_{l-1} + Attn(LN(h_{l-1})) + MLP(LN(h_{l-1} + Attn(...))),
    logits = LN(h_L) Eᵀ                                          (weight tying: the head is E)

with causal scaled-dot-product attention (``softmax(QKᵀ/√d_head + mask) V``, PyTorch's fused
kernel), a GELU MLP of width 4d and the GPT-2 initialisation: every weight ~ N(0, 0.02²), biases 0,
and the two residual projections per block scaled by 1/√(2L), so that the residual stream's
variance does not grow with depth.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from signlab import _validate

INIT_STD = 0.02


@dataclass(frozen=True)
class GPTConfig:
    """Shape of the network: vocabulary V, context T, depth L, heads H, width d (H divides d)."""

    vocab_size: int = 256
    block_size: int = 64
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 64
    dropout: float = 0.0
    bias: bool = True

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            _validate.integer(name, getattr(self, name))
        if self.n_embd % self.n_head:
            raise ValueError(
                f"n_embd must be a multiple of n_head (got n_embd={self.n_embd}, "
                f"n_head={self.n_head})"
            )
        _validate.unit_interval("dropout", self.dropout)

    def to_dict(self) -> dict:
        """The configuration as a plain dict (stored in run.json and checkpoints)."""
        return asdict(self)

    def num_params(self) -> int:
        """N counted in closed form, as :meth:`GPT.num_params` counts it (position embeddings excluded).

        With biases: V·d + L·(12d² + 13d) + 2d (per block 12d² matmul weights, 9d linear biases and
        4d LayerNorm gains and biases; the final LayerNorm 2d; the head is tied to the embedding).
        Without biases: V·d + L·(12d² + 2d) + d.
        """
        d, L, V = self.n_embd, self.n_layer, self.vocab_size
        if self.bias:
            return V * d + L * (12 * d * d + 13 * d) + 2 * d
        return V * d + L * (12 * d * d + 2 * d) + d


def causal_lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy −(1/BT) Σ log softmax(logits)[target], computed in fp32."""
    return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1))


def flops_per_token(config: GPTConfig, n_params: int) -> float:
    """Training FLOPs per token, 6N + 12·L·T·d (Kaplan et al., 2020; the PaLM MFU convention).

    6N counts the forward (2N) and backward (4N) matmuls of the N non-embedding-lookup weights;
    12·L·T·d counts the attention scores and their weighted sum (QKᵀ and AV, forward and backward).
    """
    return 6.0 * n_params + 12.0 * config.n_layer * config.block_size * config.n_embd


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention, softmax(QKᵀ/√d_h + causal mask)·V, heads concatenated."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head = config.n_head
        self.dropout = config.dropout
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attention outputs (B, T, d) of ``x`` (B, T, d): position t attends to positions ≤ t only
        (dropout on the attention weights in training mode)."""
        b, t, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)
        q, k, v = (z.view(b, t, self.n_head, d // self.n_head).transpose(1, 2) for z in (q, k, v))
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        return self.c_proj(y.transpose(1, 2).reshape(b, t, d))


class MLP(nn.Module):
    """Position-wise feed-forward map x ↦ W₂ GELU(W₁x), hidden width 4d."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """W₂ GELU(W₁x + b₁) + b₂ at every position (GELU's tanh approximation, as GPT-2)."""
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    """Pre-LayerNorm transformer block: h ← h + Attn(LN h); h ← h + MLP(LN h)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The block's residual updates of ``x`` (B, T, d), attention then MLP."""
        x = x + self.drop(self.attn(self.ln_1(x)))
        return x + self.drop(self.mlp(self.ln_2(x)))


class GPT(nn.Module):
    """GPT-2: token + position embeddings, L pre-LN blocks, final LN, tied output head.

    ``model(idx)`` returns logits of shape (B, T, V); ``model(idx, targets)`` returns
    ``(logits, loss)`` with ``loss = causal_lm_loss(logits, targets)``.
    """

    def __init__(self, config: GPTConfig, seed: int = 0):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight
        self.reset_parameters(seed)

    def reset_parameters(self, seed: int) -> None:
        """GPT-2 init from a private generator: N(0, 0.02²), residual projections over √(2L)."""
        gen = torch.Generator().manual_seed(_validate.integer("seed", seed, low=0))
        residual_std = INIT_STD / math.sqrt(2 * self.config.n_layer)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.endswith("bias"):
                    p.zero_()
                elif "ln_" in name:
                    p.fill_(1.0)
                else:
                    std = residual_std if name.endswith("c_proj.weight") else INIT_STD
                    p.copy_(torch.randn(p.shape, generator=gen) * std)

    def num_params(self, non_embedding: bool = True) -> int:
        """Number of parameters N (tied head counted once); position embeddings excluded by default.

        The token embedding stays in the count because, tied to the head, it does a matmul.
        """
        n = sum(p.numel() for p in self.parameters())
        return n - self.wpe.weight.numel() if non_embedding else n

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """Logits (B, T, V) of token ids ``idx`` (B, T), and the loss when ``targets`` are given.

        Raises ValueError when T exceeds ``block_size`` (there are no position embeddings past it).
        """
        t = idx.size(1)
        if t > self.config.block_size:
            raise ValueError(f"sequence length must be <= block_size={self.config.block_size}")
        pos = torch.arange(t, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        if targets is None:
            return logits
        return logits, causal_lm_loss(logits, targets)
