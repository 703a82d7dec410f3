"""signlab: the library behind the book *When and why sign-based optimizers beat SGD*.

Submodules, one concept each (import them directly, e.g. ``from signlab.geometry import dualize``):

- ``signlab.geometry``: ℓ1/ℓ2/ℓ∞ and spectral/nuclear norms, duals, ``dualize``, ``density``.
- ``signlab.steepest``, ``signlab.smoothness``: steepest descent under a norm (sympy), smoothness constants.
- ``signlab.optim``: update rules (``optim.functional``) and ``torch.optim`` wrappers.
- ``signlab.matrix``, ``signlab.matrix_problems``: the matrix sign by SVD and Newton–Schulz; matrix noise.
- ``signlab.noise``, ``signlab.problems``, ``signlab.simulate``, ``signlab.experiments``: simulations.
- ``signlab.bounds``, ``signlab.lowerbound``: the theorems, derived with sympy and constructed.
- ``signlab.tails``: heavy-tailed noise (tail index, averaging, sign flips).
- ``signlab.gpt``: a scaled GPT-2 to compare the optimizers on real training.
- ``signlab.viz``, ``signlab.widgets``, ``signlab.exercises``: figures, widgets and exercise checkers.
"""

__version__ = "0.1.0"
