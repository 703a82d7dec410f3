"""Checkpoints that resume a run exactly and load without unpickling: :func:`save` and :func:`load`.

A checkpoint holds the weights, the optimizer, scheduler and gradient-scaler states, the step,
the data generator's state and every rank's torch (and CUDA) RNG state. Every RNG state is stored
as the uint8 tensor torch itself uses, and everything else is plain numbers, strings, lists and
dicts, so the file loads with ``torch.load(path, weights_only=True)``: opening a checkpoint that
someone sent you never runs their code. Files are written atomically
(:func:`signlab._io.atomic_write`: a temporary file, then ``os.replace``), so an interrupted save
never leaves a truncated checkpoint behind.
"""

from __future__ import annotations

import os
from typing import TypedDict

import torch

from signlab._io import atomic_write

CHECKPOINT_NAME = "checkpoint.pt"


class _RngState(TypedDict):
    torch: torch.Tensor
    cuda: torch.Tensor | None


def rng_state(device: torch.device) -> _RngState:
    """This process's random states: torch's CPU generator and, on CUDA, the device's."""
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return {"torch": torch.get_rng_state(), "cuda": cuda}


def set_rng_state(state: _RngState, device: torch.device) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"].cpu())
    if device.type == "cuda" and state["cuda"] is not None:
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)


def save(path: str | os.PathLike, state: dict) -> None:
    """Write ``state`` to ``path`` atomically: a failed save leaves the previous checkpoint intact."""
    with atomic_write(path, "wb") as f:
        torch.save(state, f)


def load(path: str | os.PathLike, device: torch.device | str = "cpu") -> dict:
    """Read a checkpoint with ``weights_only=True`` (tensors and plain containers only)."""
    with open(path, "rb") as f:
        return torch.load(f, map_location=device, weights_only=True)
