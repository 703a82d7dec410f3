"""The book's seed (signlab.book.seed) and style (signlab.book.style)."""

import plotly.graph_objects as go
import plotly.io as pio
import pytest

from signlab.book import seed, style


def test_chapter_seed_reads_the_environment(monkeypatch):
    monkeypatch.delenv(seed.SEED_ENV, raising=False)
    assert seed.chapter_seed() == 0
    monkeypatch.setenv(seed.SEED_ENV, " 7 ")
    assert seed.chapter_seed() == 7
    for bad in ("-1", "one", "1.5", str(2**32)):
        monkeypatch.setenv(seed.SEED_ENV, bad)
        with pytest.raises(ValueError, match=r"SIGNLAB_SEED must be an integer in \[0, 2\*\*32\)"):
            seed.chapter_seed()


def test_every_optimizer_has_one_colour_found_from_its_legend_name():
    assert len(set(style.COLORS.values())) == len(style.COLORS)
    for name, key in [
        ("SignSGD", "signsgd"),
        ("sign descent (ℓ∞)", "signsgd"),
        ("SignSGD, B = 16", "signsgd"),
        ("gradient descent (ℓ2)", "sgd"),
        ("SGD", "sgd"),
        ("Normalized SGD", "normalized_sgd"),
        ("AdamW", "adamw"),
        ("Muon: exact msign", "muon"),
        ("sign-MVR", "sign_mvr"),
    ]:
        assert style.color(name) == style.COLORS[key], name
    with pytest.raises(ValueError, match="name must name one of sgd, signsgd"):
        style.color("Adagrad")
    with pytest.raises(ValueError, match="name must be a string"):
        style.color(3)


def test_use_makes_the_book_template_the_default():
    before = pio.templates.default
    try:
        style.use()
        fig = go.Figure(go.Scatter(y=[1, 10]), layout=dict(yaxis_type="log"))
        full = fig.layout.template.layout
        assert list(full.colorway) == list(style.COLORS.values())
        assert full.yaxis.exponentformat == "power" and full.xaxis.exponentformat == "power"
        assert style.template().layout.yaxis.showexponent == "all"
    finally:
        pio.templates.default = before
