"""signlab: the library behind the book *When and why sign-based optimizers beat SGD*.

Submodules, one concept each (import them directly, e.g. ``from signlab.geometry import dualize``):

- ``signlab.geometry``: ℓ1/ℓ2/ℓ∞ norms, duals, steepest-descent directions, noise density.
- ``signlab.optim``: SGD-family update rules (functional core) and ``torch.optim`` wrappers.
- ``signlab.matrix``: the matrix sign (polar factor) by SVD and Newton–Schulz.
- ``signlab.noise``, ``signlab.problems``, ``signlab.simulate``, ``signlab.experiments``: simulations.
- ``signlab.bounds``, ``signlab.lowerbound``: the theorems, derived with sympy and constructed.
- ``signlab.gpt``: a scaled GPT-2 to compare the optimizers on real training.
"""

__version__ = "0.1.0"
