"""signlab: the library behind the book *When and why sign-based optimizers beat SGD*.

Submodules, one concept each (import them directly, e.g. ``from signlab.geometry import dualize``):

- ``signlab.geometry``: ℓ1/ℓ2/ℓ∞ and spectral/nuclear norms, duals, ``dualize``, ``density``.
- ``signlab.geometry.steepest``, ``signlab.geometry.smoothness``: steepest descent under a norm (sympy), smoothness constants.
- ``signlab.optim``: update rules (``optim.functional``) and ``torch.optim`` wrappers.
- ``signlab.geometry.matrix``: the matrix sign by SVD and Newton–Schulz, spectral and nuclear norms.
- ``signlab.sim.noise``, ``signlab.sim.problems``, ``signlab.sim.engine``, ``signlab.experiments``: simulations
  (``signlab.sim.noise`` has the vector oracles and the matrix noise ``MatrixGaussian``).
- ``signlab.theory.bounds``, ``signlab.theory.lowerbound``: the theorems, derived with sympy and constructed.
- ``signlab.sim.tails``: heavy-tailed noise (tail index, averaging, sign flips).
- ``signlab.gpt``: a scaled GPT-2 to compare the optimizers on real training.
- ``signlab.book.viz``, ``signlab.book.widgets``, ``signbook.checks``: figures, widgets and exercise checkers.
"""

__version__ = "0.1.0"
