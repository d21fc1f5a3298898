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


def test_a_bars_label_has_three_digits():
    """What a waterfall's bar says on a phone: 534,626 → 535 thousand, 28,080 → 28.1 k,
    1,234,567 → 1.23 M; below a thousand the amount as a card writes it."""
    from kpilib.formatting import label
    assert [label(v, "money") for v in (534_626, -28_080, 17_179, 1_234_567, -950.5)] == [
        "€535 k", "-€28.1 k", "€17.2 k", "€1.23 M", "-€950.50"]
    assert label(534_626, "money", "CHF") == "CHF 535 k"
    assert label(0.1234, "ratio") == "12.34 %"
