"""signlab.optim.spec: one table gives an optimizer's defaults, validation and signatures."""

import pytest

from signlab import _validate
from signlab.optim.spec import REQUIRED, Hyper, Spec, betas, dims, flag, integer_in, one_of


def toy_spec():
    def steps_need_a_mode(h):
        if h["steps"] > 3 and h["mode"] == "fast":
            raise ValueError("steps > 3 needs mode='slow'")

    return Spec(
        "toy",
        (
            Hyper("lr", REQUIRED, _validate.positive, "step size", class_default=0.5),
            Hyper("steps", 2, integer_in(0, 9), "how many"),
            Hyper("mode", "fast", one_of(("fast", "slow"), {None: "fast"}), "which"),
            Hyper("on", True, flag, "switch"),
            Hyper("axes", None, dims, "dims", where="rule"),
            Hyper("pair", (0.1, 0.2), betas, "two factors", where="class"),
        ),
        steps_need_a_mode,
    )


def test_rule_and_class_views_of_one_table():
    spec = toy_spec()
    assert spec.names == ("lr", "steps", "mode", "on", "axes")
    assert spec.defaults() == {"steps": 2, "mode": "fast", "on": True, "axes": None}
    assert spec.defaults("class") == {
        "lr": 0.5,
        "steps": 2,
        "mode": "fast",
        "on": True,
        "pair": (0.1, 0.2),
    }
    assert str(spec.rule_signature()) == (
        "(param, grad, state=None, /, *, lr, steps=2, mode='fast', on=True, axes=None, "
        "check_finite=True)"
    )
    assert str(spec.class_signature()) == (
        "(self, params, lr=0.5, *, steps=2, mode='fast', on=True, pair=(0.1, 0.2), "
        "foreach=None, check_finite=True)"
    )
    assert "lr (required): step size" in spec.doc() and "pair" not in spec.doc()


def test_validate_normalises_fills_defaults_and_checks_relations():
    spec = toy_spec()
    assert spec.validate({"lr": 1, "mode": None, "axes": [0, -1]}) == {
        "lr": 1.0,
        "steps": 2,
        "mode": "fast",
        "on": True,
        "axes": (0, -1),
    }
    assert spec.validate({}, "class")["pair"] == (0.1, 0.2)
    with pytest.raises(ValueError, match="steps > 3 needs mode='slow'"):
        spec.validate({"lr": 1.0, "steps": 5})
    assert spec.validate({"lr": 1.0, "steps": 5, "mode": "slow"})["steps"] == 5


@pytest.mark.parametrize(
    "hyper, match",
    [
        ({}, "lr is required for toy"),
        ({"lr": 0.0}, "lr must be a finite number > 0"),
        ({"lr": 1.0, "steps": 10}, r"steps must be an integer >= 0 and <= 9"),
        ({"lr": 1.0, "steps": True}, "steps must be an integer"),
        ({"lr": 1.0, "mode": "medium"}, "mode must be one of 'fast', 'slow'"),
        ({"lr": 1.0, "on": 1}, "on must be True or False"),
        ({"lr": 1.0, "axes": 0.5}, "axes must be None, an int or a tuple of ints"),
        ({"lr": 1.0, "axes": ()}, "axes must be None, an int or a tuple of ints"),
        ({"lr": 1.0, "pair": (0.1, 0.2)}, "toy has no hyperparameter pair"),
    ],
)
def test_bad_values_name_the_argument_and_the_range(hyper, match):
    with pytest.raises(ValueError, match=match):
        toy_spec().validate(hyper)


def test_betas_check():
    assert betas("betas", [0, 0.5]) == (0.0, 0.5)
    with pytest.raises(ValueError, match=r"betas\[1\] must lie in \[0, 1\)"):
        betas("betas", (0.5, 1.0))
    with pytest.raises(ValueError, match="must be a pair"):
        betas("betas", (0.1, 0.2, 0.3))
