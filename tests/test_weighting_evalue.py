"""E-values against the published example and the closed forms of VanderWeele & Ding."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mace_outcomes as mo


def test_published_example():
    # VanderWeele & Ding (2017), breastfeeding and infections: RR 3.9 (1.8 to 8.7)
    # has E-value 7.26 and 3.0 for the lower limit.
    ev = mo.e_value(3.9, 1.8, 8.7, measure="RR")
    assert ev.e_value == pytest.approx(7.26, abs=0.005)
    assert ev.e_value_ci == pytest.approx(3.0, abs=1e-12)


def test_protective_hr_rare_and_common():
    hr, lo, hi = 0.56, 0.46, 0.69
    rare = mo.e_value(hr, lo, hi, measure="HR", rare=True)
    inv = 1 / hr
    assert rare.e_value == pytest.approx(inv + math.sqrt(inv * (inv - 1)))
    assert rare.e_value_ci == pytest.approx(1 / hi + math.sqrt(1 / hi * (1 / hi - 1)))
    common = mo.e_value(hr, lo, hi, measure="HR", outcome_risk=0.3)
    rr = (1 - 0.5 ** math.sqrt(hr)) / (1 - 0.5 ** math.sqrt(1 / hr))
    assert not common.rare and common.rr == pytest.approx(rr)
    assert common.e_value == pytest.approx(1 / rr + math.sqrt(1 / rr * (1 / rr - 1)))
    assert common.e_value < rare.e_value  # the common-outcome conversion shrinks towards 1


def test_interval_crossing_one_and_odds_ratio():
    assert mo.e_value(1.4, 0.8, 2.5, rare=True).e_value_ci == 1.0
    ev = mo.e_value(4.0, measure="OR", rare=False)
    assert ev.rr == pytest.approx(2.0) and ev.e_value == pytest.approx(2 + math.sqrt(2))
    assert ev.e_value_ci is None
    with pytest.raises(mo.InputError, match="rare"):
        mo.e_value(2.0)
    with pytest.raises(mo.InputError, match="positive"):
        mo.e_value(float("inf"), rare=True)


@given(st.floats(1e-3, 1e3))
def test_properties(rr):
    ev = mo.e_value(rr, measure="RR").e_value
    assert ev >= max(rr, 1 / rr) - 1e-9
    assert ev == pytest.approx(mo.e_value(1 / rr, measure="RR").e_value, rel=1e-9)
    # the E-value solves RR = E^2 / (2E - 1) (the bounding factor equals the observed RR)
    r = max(rr, 1 / rr)
    assert ev * ev / (2 * ev - 1) == pytest.approx(r, rel=1e-9)
