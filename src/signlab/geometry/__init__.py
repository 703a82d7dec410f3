"""Geometry: norms and their duals, steepest descent, smoothness constants, the matrix sign.

- :mod:`signlab.geometry.norms`: ℓ1/ℓ2/ℓ∞ and spectral/nuclear norms, ``dual_norm``, ``dualize``
  (the steepest-descent direction of a norm, the book's central map), ``steepest_step`` and the
  density φ.
- :mod:`signlab.geometry.matrix`: ``msign`` (the spectral ``dualize``) by SVD and Newton–Schulz.
- :mod:`signlab.geometry.steepest`: steepest descent under a norm, derived with sympy.
- :mod:`signlab.geometry.smoothness`: smoothness constants of quadratics in ℓ2 and ℓ∞.

The norms' functions are importable from here directly (``from signlab.geometry import dualize``).
"""

from signlab.geometry.norms import (
    DUAL,
    KINDS,
    MATRIX_KINDS,
    density,
    dual_norm,
    dualize,
    norm,
    steepest_step,
    unit_circle,
)

__all__ = [
    "DUAL",
    "KINDS",
    "MATRIX_KINDS",
    "density",
    "dual_norm",
    "dualize",
    "norm",
    "steepest_step",
    "unit_circle",
]
