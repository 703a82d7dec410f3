"""The book's page helpers: figures (:mod:`~signlab.book.viz`) and widgets (:mod:`~signlab.book.widgets`).

They only shape what a chapter shows; no mathematics lives here.
"""
