"""Simulation: test problems, gradient oracles (noise models), and the one engine that runs them.

- :mod:`signlab.sim.problems`: separable test functions with a curvature vector L.
- :mod:`signlab.sim.noise`: stochastic-gradient oracles (Gaussian, Student-t, heavy-tailed,
  bimodal, matrix Gaussian) and estimators of σ and φ.
- :mod:`signlab.sim.tails`: tail-index estimation and what averaging does to heavy tails.
- :mod:`signlab.sim.engine`: ``simulate``, the one step loop every run in the book goes through.
"""
