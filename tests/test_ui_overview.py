"""The Overview's layout as the browser draws it: every element is sent and drawn again on each
click of the sidebar (bench/README.md, "where the browser's time goes"), so the page holds no
block that shows nothing."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def blocks(node):
    """Every block and element under ``node``, depth first."""
    for child in getattr(node, "children", {}).values():
        yield child
        yield from blocks(child)


def test_overview_cards_are_their_bordered_columns_and_alert_buttons_one_row(demo_store,
                                                                             monkeypatch):
    monkeypatch.setenv("KPILIB_STORE", str(demo_store.path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    nodes = list(blocks(at.main))
    # Each of the ten cards is drawn in its column, bordered, not in a bordered container
    # inside a plain column (ten more blocks).
    columns = [n for n in nodes if n.type == "column"]
    cards = [c for c in columns if any(e.type == "metric" for e in blocks(c))]
    assert len(cards) == len(at.metric) == 10
    assert all(c.proto.show_border for c in cards)
    assert not [n for n in nodes if n.type == "flex_container"
                and any(e.type == "metric" for e in blocks(n))
                and n.proto.flex_container.border]
    # The alerts' "Why?" buttons of a day sit in one row: no column of their own, and no
    # empty ones beside them.
    assert [c for c in columns if c not in cards] == []
    why = [b for b in at.button if b.label.startswith("Why? ")]
    assert why


def test_overview_trend_margins_are_fixed_with_room_for_its_labels(demo_store, monkeypatch):
    """The trend chart's margins are fixed (Plotly then lays it out once a redraw, not twice)
    and as wide as Plotly made them itself: in Chromium, on data/demo-store's last 30 days, it
    gave the chart l = 58 px for its widest y tick label ("€10,000": 14 + 6.5 × 7 characters =
    59.5 → 60 here) and b = 79 px for the dates and the legend under them."""
    import json

    monkeypatch.setenv("KPILIB_STORE", str(demo_store.path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    spec = next(json.loads(e.proto.spec) for e in at.get("plotly_chart")
                if "by day" in json.loads(e.proto.spec)["layout"]["title"]["text"])
    margin = spec["layout"]["margin"]
    assert margin.get("autoexpand") is False
    assert margin["b"] == 79 and margin["t"] == 40
    # The widest tick label is at least as long as the largest value written as the axis
    # writes it (net sales: "€" and whole euros with thousands separators).
    top = max(v for trace in spec["data"] for v in decoded(trace["y"]) if v == v)
    assert margin["l"] >= 14 + 6.5 * len(f"€{top:,.0f}")


def decoded(y) -> list[float]:
    """A trace's y as Plotly's JSON holds it: a list, or base64-packed (plotly.py 6+)."""
    if isinstance(y, dict):
        import base64

        import numpy as np
        return np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]).tolist()
    return [v for v in y if v is not None]


def test_the_sections_below_the_alerts_keep_their_place_with_or_without_alerts(demo_store,
                                                                               monkeypatch):
    """The alerts come and go with the filters; the trend, the channel table and the report
    below them stay at the same place in the page, so the browser updates them in place
    instead of drawing them anew on a switch between a period with alerts and one without."""
    from datetime import date

    monkeypatch.setenv("KPILIB_STORE", str(demo_store.path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()

    def places(period):
        """Whether the alerts show, the number of top-level places and the trend's."""
        at.sidebar.selectbox(key="period").set_value(period).run()
        assert not at.exception, [e.value for e in at.exception]
        top = list(at.main.children.values())
        trend = next(i for i, n in enumerate(top)
                     if any(e.type == "selectbox" and e.label == "Trend" for e in blocks(n)))
        return any(e.label.startswith("Alerts:") for e in at.expander), len(top), trend

    # The demo shop's last 30 days hold unusual days; its last 7 days none.
    busy, quiet = places("Last 30 days"), places("Last 7 days")
    assert busy[0] and not quiet[0]
    assert busy[1:] == quiet[1:]
    # Its first month: the cards compared with nothing, said under each row, a note above
    # the second (ui.metrics keeps a place for each).
    at.sidebar.selectbox(key="period").set_value("Custom").run()
    at.sidebar.date_input(key="dates").set_value((date(2025, 5, 1), date(2025, 5, 28))).run()
    assert [c for c in at.caption if c.value.startswith("Not compared")] and at.info
    top = list(at.main.children.values())
    assert (len(top), next(i for i, n in enumerate(top) if any(
        e.type == "selectbox" and e.label == "Trend" for e in blocks(n)))) == busy[1:]


def test_trends_are_drawn_from_zero(demo_store, monkeypatch):
    """A trend's y axis starts at 0: over a week the Overview's scale began near the lowest
    day, and a dip of a fifth read as a fall to nothing. The Overview's trend at 7 days, the
    returning-customer rate (one line, Customers) and ROAS by month (Marketing)."""
    import json

    monkeypatch.setenv("KPILIB_STORE", str(demo_store.path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["period"] = "Last 7 days"
    at.run()
    assert not at.exception, [e.value for e in at.exception]

    def y_axes(at) -> dict[str, dict]:
        specs = [json.loads(e.proto.spec) for e in at.get("plotly_chart")]
        return {s["layout"]["title"]["text"]: s["layout"].get("yaxis", {}) for s in specs}

    [overview] = [a for t, a in y_axes(at).items() if "by day" in t]
    assert overview.get("rangemode") == "tozero"
    at = at.switch_page("app_pages/loyalty.py").run()
    [rate] = [a for t, a in y_axes(at).items() if t.startswith("Returning-customer rate")]
    assert rate.get("rangemode") == "tozero"
    at = at.switch_page("app_pages/marketing.py").run()
    [roas] = [a for t, a in y_axes(at).items() if t.startswith("ROAS by month")]
    assert roas.get("rangemode") == "tozero"


def test_the_alerts_explain_only_the_kinds_that_can_be_shown(demo_store, tmp_path,
                                                             monkeypatch):
    """The demo shop sets no target: its alerts over the last 90 days are unusual days only,
    and their footnote no longer explains what "behind target" means. With a target set,
    it does."""
    import shutil

    from kpilib import Store

    def footnote(store) -> str:
        monkeypatch.setenv("KPILIB_STORE", str(store.path))
        at = AppTest.from_file(APP, default_timeout=60)
        at.query_params["period"] = "Last 90 days"
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        [alerts] = [e for e in at.expander if e.label.startswith("Alerts: ")]
        return " ".join(c.value for c in alerts.caption)

    text = footnote(demo_store)
    assert "Unusual day: its net sales" in text and "Behind target" not in text
    store = Store(shutil.copytree(demo_store.path, tmp_path / "store"))
    store.update_settings({"targets": [
        {"kpi": "net_sales", "month": "2026-10", "channel": None, "value": 1000.0}]})
    assert "Behind target: the month-to-date pace" in footnote(store)


def test_a_row_of_fewer_cards_leaves_one_empty_column(uci_month_store, monkeypatch):
    """UCI's month has three cards in a row of five columns, and one in the next: a phone
    stacks columns, and the two (four) empty ones were a 50–80 px gap. The room left is one
    column as wide as the empty ones were: the cards keep their width on a wide screen."""
    monkeypatch.setenv("KPILIB_STORE", str(uci_month_store.path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    rows = [n for n in blocks(at.main) if n.type == "flex_container"
            and any(c.type == "column" and any(e.type == "metric" for e in blocks(c))
                    for c in n.children.values())]
    assert rows
    for row in rows:
        columns = list(row.children.values())
        empty = [c for c in columns if not any(e.type == "metric" for e in blocks(c))]
        assert len(empty) == 1, len(columns)
        # Weights as fractions of the row: a card a fifth, the rest the room left.
        widths = [c.weight for c in columns]
        assert widths[:-1] == pytest.approx([0.2] * (len(columns) - 1))
        assert widths[-1] == pytest.approx(1 - 0.2 * (len(columns) - 1))


def test_a_period_without_alerts_says_so_and_why(demo_store, uci_month_store, monkeypatch):
    """Over the demo shop's last 7 days no day is unusual: the alerts' box vanished, which
    read as alerts switched off. A line says none was found. UCI's one month of orders (from
    1 Nov 2011) has no 8 weeks of data before any of its days: no day could be judged, which
    is said instead of "no alerts" (8 weeks after 1 Nov is 27 Dec 2011)."""
    from test_app_trust import opened

    def quiet(store, **params) -> list[str]:
        at = opened(store, monkeypatch, **params)
        assert not [e for e in at.expander if e.label.startswith("Alerts: ")]
        return [c.value for c in at.caption if "notifications_none" in c.value]

    assert quiet(demo_store, period="Last 7 days") == [
        ":material/notifications_none: No alerts: no day of these dates left its weekday's "
        "usual range."]
    assert quiet(uci_month_store) == [
        ":material/notifications_none: No unusual days can be found in these dates yet: a day "
        "is judged against the same weekday over the 8 weeks before it, and these dates have "
        "less stored data before them (days from 27 Dec 2011 on are judged)."]
