"""The Overview's layout as the browser draws it: every element is sent and drawn again on each
click of the sidebar (bench/README.md, "where the browser's time goes"), so the page holds no
block that shows nothing."""
from pathlib import Path

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
