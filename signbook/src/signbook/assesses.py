"""What each exercise of the book assesses: the skill or idea, in one sentence, keyed by its label.

The instructor page's table (:func:`signbook.course.exercise_table`) shows these beside each
exercise's title, so an instructor can pick exercises by what they test rather than by reading
every question. Each sentence was written from the exercise *and* its solution; it names the idea,
never the answer. ``tests/test_course.py`` checks that every exercise in the book has one and that
no label here is stale, so a new exercise cannot reach the page without its description.
"""

from __future__ import annotations

ASSESSES: dict[str, str] = {
    # ---- 1. geometry -----------------------------------------------------------------------------
    "ex-geometry-1": "Computing a dual norm: the dual of ℓ∞ is ℓ1, attained at sign(g), the step "
    "direction of sign descent.",
    "ex-geometry-2": "The density φ of a vector with k non-zero entries of equal magnitude: k/d, "
    "whatever the magnitude.",
    "ex-geometry-3": "Telling the ℓ∞ smoothness constant (the sum of the curvatures) from the "
    "Euclidean one (their maximum) for a separable quadratic.",
    "ex-geometry-4": "The steepest-descent step under ℓ∞ as a scaled sign of the gradient: sign "
    "descent is steepest descent in ℓ∞.",
    "ex-geometry-5": "When ℓ1 and ℓ2 norms are as far apart as they can be (equality in "
    "Cauchy–Schwarz): all magnitudes equal, density 1.",
    "ex-geometry-6": "Predicting how a rotation of the Hessian changes the ℓ∞ smoothness constant "
    "(a corner of the square meets the stiff direction), and checking the prediction by computing "
    "it: why sign descent loses its advantage on a rotated problem.",
    # ---- 2. upper bounds -------------------------------------------------------------------------
    "ex-upper-bounds-1": "Reading Theorem 1's prescribed step size and evaluating it for given "
    "constants.",
    "ex-upper-bounds-2": "Theorem 1's best batch size, and that only the noise's ℓ1 norm enters it, "
    "not how the noise is spread over coordinates.",
    "ex-upper-bounds-3": "Choosing the right branch of the derived complexity bound for a small "
    "target and evaluating the gradient count.",
    "ex-upper-bounds-4": "That the noise terms of SGD's lower bound and SignSGD's upper bound differ "
    "by 1/φ, with φ = k/d for k equally noisy coordinates.",
    "ex-upper-bounds-5": "Muon's noise scale as the nuclear norm of the noise matrix, unchanged by "
    "rotations.",
    "ex-upper-bounds-6": "Building the curvature of SGD's noise-term instance (half of L∞ on the "
    "noisy coordinates in proportion to σ², half on the noiseless ones) and comparing its "
    "(Σσ√L)² with the Cauchy–Schwarz maximum, which leaves the noiseless coordinates out of f.",
    "ex-upper-bounds-7": "Why the Cauchy–Schwarz maximiser of SGD's bound is no instance (f cannot "
    "depend on coordinates without curvature), and that the 1/φ needs curvature on the noisy "
    "coordinates and on the flat ones.",
    "ex-upper-bounds-8": "Predicting how SGD's step count on its hard instance scales with the "
    "number of noisy coordinates, with the curvature aligned with the noise and isotropic, and "
    "checking the prediction against the proven count.",
    # ---- 3. lower bounds -------------------------------------------------------------------------
    "ex-lower-bounds-1": "The bimodal oracle of the lower bound: the probability that one draw "
    "returns zero, from σ and ε.",
    "ex-lower-bounds-2": "Sizing the hard instance: its number of cells and the paper's gradient "
    "threshold, from ε and σ.",
    "ex-lower-bounds-3": "SignSGD's stall on the hard instance as a binomial tail: the exact "
    "probability of never leaving the grid.",
    "ex-lower-bounds-4": "How a batch changes the bimodal oracle: a step moves unless every draw in "
    "the batch is zero.",
    "ex-lower-bounds-5": "That the Muon embedding turns the ℓ1 norm of the gradient into the nuclear "
    "norm of the embedded one (its singular values are the gradient's magnitudes).",
    "ex-lower-bounds-6": "Recognising which term of Theorem 3 an instance exercises (the noiseless "
    "one) and how its proven bound grows with the dimension.",
    "ex-lower-bounds-7": "Separating the noise term from its control: how the proven bound on SGD "
    "grows as φ falls with noise, and that it does not grow without noise.",
    "ex-lower-bounds-8": "Predicting, from the mechanism, how SGD's and SignSGD's counts change when "
    "the noise concentrates on fewer stiff coordinates, checked by a run: (d − k)/k for SGD, "
    "nothing for SignSGD.",
    "ex-lower-bounds-9": "Predicting that the noise level barely moves SignSGD's stall curve when the "
    "budget is measured in units of its threshold N*, checked exactly and by a run.",
    # ---- 4. sparse noise -------------------------------------------------------------------------
    "ex-sparse_noise-1": "Computing the noise density φ(σ) of a concrete noise-scale vector.",
    "ex-sparse_noise-2": "Inverting the 1/φ = d/k gap between the bounds: how sparse the noise must "
    "be for a given factor.",
    "ex-sparse_noise-3": "Estimating φ from sampled gradients: per-coordinate standard deviations "
    "first, then the density of that vector, and seeing it fall a little below the true φ.",
    "ex-sparse_noise-4": "The bimodal oracle's construction: the zero-draw probability and the "
    "non-zero value that keep it unbiased with variance σ².",
    "ex-sparse_noise-5": "Reading N(ε), the gradients needed to reach a target, off a recorded run "
    "with the library, counting B gradients per step.",
    "ex-sparse_noise-6": "Running the noiseless control of an experiment and judging whether a gain "
    "that grows as φ falls is a noise effect or a curvature effect.",
    "ex-sparse_noise-7": "Predicting from a mechanism (the noisy coordinates' share of the gradient) "
    "where SignSGD's count jumps at a target not shown, then checking the prediction with a run.",
    # ---- 5. Muon ---------------------------------------------------------------------------------
    "ex-muon-1": "The pairing of a matrix with its msign is its nuclear norm (spectral and nuclear "
    "norms are dual), on a symmetric matrix.",
    "ex-muon-2": "Computing msign(G) = G(GᵀG)^(−1/2) by hand for a matrix with orthogonal columns.",
    "ex-muon-3": "How Newton–Schulz iterations grow a small singular value, and why the quintic's "
    "large linear coefficient needs far fewer steps than the cubic.",
    "ex-muon-4": "The nuclear norm and the matrix density of low-rank noise (the density is the "
    "rank over the size).",
    "ex-muon-5": "Muon's shape-dependent step scaling: the original rule and Moonlight's, for a "
    "rectangular weight.",
    "ex-muon-6": "Predicting, then checking by a run, how the interval a minimax Newton–Schulz "
    "schedule is built for decides how many steps it needs.",
    # ---- 6. heavy tails --------------------------------------------------------------------------
    "ex-heavy-tails-1": "How averaging shrinks α-stable noise (B to the power 1/α − 1), more slowly "
    "than Gaussian noise.",
    "ex-heavy-tails-2": "Inverting the heavy-tailed averaging law: the batch SGD needs for a "
    "ten-fold reduction.",
    "ex-heavy-tails-3": "That the probability of a wrong sign stays finite, and below one half, "
    "under Cauchy noise that has no mean.",
    "ex-heavy-tails-4": "Carrying out one Lion update by hand (interpolate, take the sign) and "
    "seeing that the memory can move a coordinate against its current gradient.",
    "ex-heavy-tails-5": "Which moments of Student-t noise exist (orders below ν): a finite mean "
    "without a finite variance.",
    "ex-heavy-tails-6": "The exact scale of an exponential moving average of α-stable noise, against "
    "its β → 1 approximation and a batch mean.",
    "ex-heavy-tails-7": "That SignSGD with batch one settles where the median of the stochastic "
    "gradient is zero, not its mean, under skewed noise.",
    "ex-heavy-tails-8": "The expected sign of a batch mean under skewed two-point noise, and the "
    "smallest batch that stops SignSGD's drift.",
    "ex-heavy-tails-9": "That neither momentum nor a batch shrinks Cauchy noise: any average of "
    "Cauchy draws with weights summing to one has the same scale.",
    "ex-heavy-tails-10": "A prediction checked by a run: SGD's stationary spread under heavy tails "
    "is an EMA scale that a smaller step barely lowers (η to the power 1 − 1/α), while SignSGD's "
    "shrinks like √η whatever the tails.",
    # ---- 7. GPT-2 --------------------------------------------------------------------------------
    "ex-gpt2-1": "Counting a GPT-2's parameters from its shape, with the output head tied to the "
    "embedding.",
    "ex-gpt2-2": "Telling φ of the noise scales (1 for any isotropic noise) from the density of one "
    "draw, which depends on the distribution's shape.",
    "ex-gpt2-3": "How putting coordinates of two noise scales into one vector lowers φ of the whole, "
    "as dead vocabulary does in an embedding.",
    "ex-gpt2-4": "Computing model FLOPs utilisation from a throughput, the FLOPs per token and the "
    "device's peak.",
    "ex-gpt2-5": "Reading the slope of a log–log fit of a speed-up against width, as the width "
    "sweep reports it.",
    "ex-gpt2-6": "Predicting how the bias of the noise-density estimate from few minibatches "
    "shrinks with more draws when per-example gradients are sparse, checked against a run.",
}
