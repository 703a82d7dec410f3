"""signbook: the machinery of the signlab book, kept apart from the signlab library.

- :mod:`signbook.sphinxext`: the Sphinx extension of the website (plotly output, offline assets).
- :mod:`signbook.checks`: the exercises' public checkers (``check("ex-geometry-1", answer)``).
- :mod:`signbook.edition`: the Colab edition and the student release (``python -m signbook.edition``),
  with :mod:`signbook.myst` (MyST → plain Jupyter Markdown) and :mod:`signbook.project` (URLs).
- :mod:`signbook.execute`: run a notebook alone in an empty folder, in a fresh kernel.
- :mod:`signbook.course`: the grader (``python -m signbook.course grade``) and the exercise table.

Installing the ``signlab`` library installs none of this; the book's build installs both.
"""

__version__ = "0.1.0"
