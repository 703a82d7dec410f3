"""numpy in, numpy out; torch in, torch out: how signlab's problems accept both kinds of array.

The simulation engine works on torch tensors (a whole population of runs at once), while a chapter
plotting a function passes numpy grids. :func:`numpy_or_torch` lets one torch implementation serve
both: numpy (and plain Python) inputs become float64 tensors and the result goes back to numpy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch


def is_torch(x: Any) -> bool:
    """True for a torch tensor (numpy arrays, lists and floats are not)."""
    return isinstance(x, torch.Tensor)


def to_tensor(x: Any) -> torch.Tensor:
    """``x`` as a floating-point tensor: tensors pass through, anything else becomes float64."""
    if is_torch(x):
        return x if x.is_floating_point() else x.double()
    return torch.from_numpy(np.asarray(x, dtype=float))


def numpy_or_torch(method: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate ``method(self, x, ...)`` written for tensors so that numpy ``x`` gives numpy back.

    Tensors go through unchanged (dtype and device kept); other inputs are converted to float64
    tensors and every tensor in the result (a tensor or a tuple of them) back to numpy.
    """

    @functools.wraps(method)
    def wrapper(self: Any, x: Any, *args: Any, **kwargs: Any) -> Any:
        if is_torch(x):
            return method(self, x, *args, **kwargs)
        out = method(self, to_tensor(x), *args, **kwargs)
        if isinstance(out, tuple):
            return tuple(o.numpy() if is_torch(o) else o for o in out)
        return out.numpy() if is_torch(out) else out

    return wrapper
