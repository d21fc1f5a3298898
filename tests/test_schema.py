"""kpilib.schema: the data contract's tables — what a hand-made file must have, and a
declaration that ingest can read one way only."""
from kpilib.schema import MONEY, STATUSES, TABLES, template_csv


def test_refunds_by_hand():
    refunds = TABLES["refunds"]
    # KPIS.md: a refund needs its order, its day and its amount; the rest may be missing.
    assert refunds.required == ("order_id", "refunded_at", "amount")
    assert refunds.column("amount").type == MONEY and not refunds.column("sku").required
    assert template_csv("refunds") == (
        "refund_id,order_id,refunded_at,amount,shipping,tax,sku,quantity,reason,refund_country\n")


def test_keys_and_partitions_are_columns_of_their_table():
    for t in TABLES.values():
        assert set(t.key) <= set(t.names), t.name
        assert t.date_column is None or t.date_column in t.names, t.name


def test_a_header_names_one_column_of_its_table():
    """Ingest maps a file's header by name and aliases, case aside: one meaning each."""
    for t in TABLES.values():
        spellings = [s.lower() for c in t.columns for s in (c.name, *c.aliases)]
        assert len(spellings) == len(set(spellings)), t.name


def test_statuses_are_the_contracts():
    assert "cancelled" in STATUSES and len(set(STATUSES)) == len(STATUSES) == 8
