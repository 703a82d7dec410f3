"""signbook: the machinery of the signlab book, kept apart from the signlab library.

- :mod:`signbook.sphinxext`: the Sphinx extension of the website (plotly output, offline assets).
- :mod:`signbook.checks`: the exercises' checkers (``check("ex-geometry-1", answer)``).

Installing the ``signlab`` library installs none of this; the book's build installs both.
"""

__version__ = "0.1.0"
