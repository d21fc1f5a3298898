"""How values and their changes are written on cards, in reports and on charts."""
import pytest

from kpilib.formatting import change, is_flat


@pytest.mark.parametrize("now, before, unit, text", [
    (100, 80, "money", "+25.0 %"),        # 20 / 80
    (80, 100, "count", "-20.0 %"),        # −20 / 100
    (0.30, 0.25, "ratio", "+5.00 pp"),    # (0.30 − 0.25) × 100 points
    (2.5, 3.0, "times", "-0.50×"),
    # Changes that round to nothing have no sign (a "-0.0 %" showed as a red fall):
    (99.96, 100, "money", "0.0 %"),       # −0.04 %
    (100.04, 100, "money", "0.0 %"),      # +0.04 %
    (0.25, 0.25, "ratio", "0.00 pp"),
    (0.24999, 0.25, "ratio", "0.00 pp"),  # −0.001 points
    (2.0, 2.001, "times", "0.00×"),
    (5, 0, "money", None),                # nothing to compare a rise from
    (None, 3, "money", None), (3, None, "ratio", None),
])
def test_change(now, before, unit, text):
    assert change(now, before, unit) == text


def test_is_flat():
    assert is_flat("0.0 %") and is_flat("0.00 pp")
    assert not is_flat("+0.1 %") and not is_flat("-0.01 pp") and not is_flat(None)
