"""signlab.stats: estimates with standard errors, checked against formulas written here."""

import numpy as np
import pytest

from signlab import stats


def test_mean_se_is_the_sample_mean_and_s_over_root_n():
    x = [1.0, 2.0, 4.0, 7.0]
    e = stats.mean_se(x)
    s = np.sqrt(sum((v - 3.5) ** 2 for v in x) / 3)
    assert e.value == 3.5 and e.se == pytest.approx(s / 2) and e.n == 4
    assert f"{e:.2f}" == f"3.50 ± {s / 2:.2f}"
    assert e.interval(2) == pytest.approx((3.5 - s, 3.5 + s))
    with pytest.raises(ValueError, match="at least 2"):
        stats.mean_se([1.0])
    with pytest.raises(ValueError, match="finite"):
        stats.mean_se([1.0, np.nan])


def test_standard_error_covers_the_truth_at_its_nominal_rate(rng):
    # 2000 experiments of 50 draws from N(1, 2²): the 2-SE interval holds the mean ~95% of the time
    hits = [
        lo <= 1.0 <= hi
        for lo, hi in (stats.mean_se(rng.normal(1, 2, 50)).interval(2) for _ in range(2000))
    ]
    assert 0.93 < np.mean(hits) < 0.97


def test_ratio_by_the_delta_method():
    a, b = stats.Estimate(6.0, 0.3, 10), stats.Estimate(2.0, 0.2, 12)
    r = stats.ratio(a, b)
    assert r.value == 3.0 and r.se == pytest.approx(3.0 * np.hypot(0.05, 0.1)) and r.n == 10
    assert stats.ratio(a, 2.0).se == pytest.approx(0.15)  # an exact denominator
    assert stats.ratio(stats.Estimate(0.0, 0.4), 2.0).se == pytest.approx(0.2)
    with pytest.raises(ValueError, match="b must be nonzero"):
        stats.ratio(a, 0.0)
    with pytest.raises(ValueError, match="a must be an Estimate or a number"):
        stats.ratio("x", b)


def test_bootstrap_se_of_a_mean_matches_s_over_root_n(rng):
    x = rng.normal(size=400)
    e = stats.bootstrap(x, np.mean, replicates=2000, seed=1)
    assert e.value == pytest.approx(x.mean())
    assert e.se == pytest.approx(x.std(ddof=1) / 20, rel=0.1)
    rows = rng.normal(size=(30, 5))  # rows are seeds: a statistic of a whole run
    assert stats.bootstrap(rows, lambda r: r.mean(axis=0).max(), replicates=50).n == 30
    with pytest.raises(ValueError, match="at least 2 rows"):
        stats.bootstrap([1.0], np.mean)


def test_comparisons_respect_the_spread():
    a, b = stats.Estimate(10.0, 1.0), stats.Estimate(5.0, 1.0)
    assert stats.clearly_greater(a, b, z=3)  # 5 > 3·√2
    assert not stats.clearly_greater(a, b, z=4)  # 5 < 4·√2
    assert not stats.clearly_greater(b, a)
    assert stats.consistent(a, b, z=4) and not stats.consistent(a, b, z=3)
    # a tie is never "clearly greater", whichever way the last bit falls
    x = 0.44332675525065013
    assert not stats.clearly_greater(stats.Estimate(x, 1e-12), stats.Estimate(x - 5e-17, 1e-12))
    assert stats.consistent(3.0, stats.Estimate(3.1, 0.05), z=2.5)
    assert not stats.consistent(3.0, stats.Estimate(3.1, 0.05), z=1.5)
    with pytest.raises(ValueError, match="z must be"):
        stats.consistent(a, b, z=-1)
