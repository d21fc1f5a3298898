"""ui.components: what pages draw besides charts — the cards' sparklines, a long table cut to
its top rows and "Other"."""
import re

import pandas as pd

from ui import components as ui


def sparkline_path(html: str) -> str:
    """The SVG path of a card's sparkline image (ui.sparkline)."""
    import base64

    svg = base64.b64decode(re.search(r"base64,([^\"]+)", html).group(1)).decode()
    return re.search(r' d="([^"]+)"', svg).group(1)


def test_sparkline_is_an_svg_line_scaled_to_its_values():
    # 100 × 30 units; y = 28 − 26 × (v − lowest) / (highest − lowest): 1 → 28, 2 → 15, 3 → 2,
    # at x = 0, 50, 100.
    html = ui.sparkline([1.0, 2.0, 3.0], "#000", 'Net sales "by day" <b>')
    assert sparkline_path(html) == "M0.0,28.0 L50.0,15.0 L100.0,2.0"
    assert 'alt="Net sales &quot;by day&quot; &lt;b&gt;"' in html
    # A flat series and a single point: a level line through the middle (y = 15).
    assert sparkline_path(ui.sparkline([5.0, 5.0], "#000", "x")) == "M0.0,15.0 L100.0,15.0"
    assert sparkline_path(ui.sparkline([4.0], "#000", "x")) == "M0.0,15.0 L100.0,15.0"
    # Its colour is the delta's, as st.metric colours its own chart.
    colour = {d: ui._spark_colour({"delta": d, "delta_color": c})
              for d, c in (("+5 %", "normal"), ("-5 %", "normal"), ("+1 pp", "inverse"),
                           ("-1 pp", "inverse"), ("+2 %", "off"), ("0.0 %", "normal"),
                           (None, "normal"))}
    assert list(colour.values()) == [ui.SPARK_COLOURS[c] for c in (
        "good", "bad", "bad", "good", "off", "off", "off")]


def test_top_and_other_keeps_the_largest_and_adds_up_the_rest():
    df = pd.DataFrame({"category": list("abcde"), "sales": [3.0, 10.0, 2.0, 8.0, 5.0],
                       "orders": [1, 4, 1, 2, 5]})
    df["aov"] = df.sales / df.orders
    out = ui.top_and_other(df, "category", "sales", sums=("sales", "orders"),
                           ratio=("aov", "sales", "orders"), n=2)
    # b 10 and d 8 first; Other (3): c, a, e: sales 2 + 3 + 5 = 10, orders 1 + 1 + 5 = 7,
    # AOV 10 / 7 (not the mean of their AOVs).
    assert out.category.tolist() == ["b", "d", "Other (3)"]
    assert out.sales.tolist() == [10.0, 8.0, 10.0] and out.orders.tolist() == [4, 2, 7]
    assert out.aov.iloc[-1] == 10 / 7
    # One row more than the top is shown as it is: an "Other (1)" row would hide one name.
    assert ui.top_and_other(df.head(3), "category", "sales", n=2).category.tolist() == [
        "b", "a", "c"]


def test_a_reason_several_cards_share_is_said_once_with_their_names():
    """UCI's first month: four cards of five said the same 'Not compared: …' paragraph; the
    row says it once, naming the cards when not all of them."""
    from ui.components import shared_reasons
    why = "Not compared: 31 Jan – 1 Mar 2011 starts before the first stored order."
    cards = [{"label": "Net sales", "captions": [why]}, {"label": "Orders", "captions": [why]},
             {"label": "Cancellation rate", "captions": ["Not tracked: no status."]},
             {"label": "AOV", "captions": ["vs last year: –"]}]
    assert shared_reasons(cards) == {why: ["Net sales", "Orders"]}
    # A caption of one card, or one that is not a reason, stays under its card.
    assert shared_reasons(cards[2:]) == {}
    assert shared_reasons([{"label": "A", "captions": ["vs last year: –"]},
                           {"label": "B", "captions": ["vs last year: –"]}]) == {}
