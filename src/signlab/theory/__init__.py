"""The theorems: bounds derived with sympy, and the lower-bound constructions built and run.

- :mod:`signlab.theory.bounds`: Theorems 1, 3 and 4 as derivations and as numbers.
- :mod:`signlab.theory.lowerbound`: the hard instances of Theorems 2 and 5 and the zero chain.
"""
