"""The registry is the one place a KPI is declared: complete, runnable, documented."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import FEB
from kpilib import KPIS, get, run
from kpilib.kpi import UNITS
from kpilib.registry import glossary_markdown

ROOT = Path(__file__).resolve().parent.parent
ISSUE_3 = {"sessions", "conversion_rate", "orders", "gross_sales", "net_sales", "aov",
           "customers", "new_customers", "returning_customer_rate", "spend", "roas"}


def test_foundation_kpis_are_registered():
    assert ISSUE_3 <= KPIS.keys()


@pytest.fixture(scope="module")
def tiny_con(tiny_store):
    # One connection for every KPI: opening one costs more than the tiny shop's queries.
    return tiny_store.connect()


@pytest.mark.parametrize("name", KPIS)
def test_every_kpi_is_declared_fully_and_runs(tiny_con, name):
    k = KPIS[name]
    assert k.label and k.definition.endswith(".") and len(k.definition) > 30
    assert k.unit in UNITS
    # Only code constants are substituted: the grouping and its first day (kpi.GROUPINGS,
    # kpi.GROUP_STARTS); never a value.
    assert not re.search(r"\{(?!key\}|group_start\})", k.sql + k.base), k.name
    df = run(tiny_con, k, FEB)
    if k.table:
        assert len(df.columns) >= 2 and "key" not in df.columns
    else:
        assert list(df.columns) == (["value", "numerator", "denominator"] if k.ratio
                                    else ["value"])
    for by in k.by:
        grouped = run(tiny_con, k, FEB, by)
        assert ("period" if by in ("day", "week", "month") else by) in grouped.columns


def test_list_command_shows_every_kpi():
    out = subprocess.run([sys.executable, "-m", "kpilib", "list"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    for k in KPIS.values():
        assert f"{k.name} ({k.unit}) - {k.label}: {k.definition}" in out


def test_readme_glossary_is_the_registry():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert glossary_markdown() in readme, "run `python -m kpilib glossary` and paste it"


def test_every_table_a_kpi_reads_is_in_its_cache_key():
    """A KPI's cached result is dropped when a table it reads changes (store.READS): a view
    missing from READS would keep a stale figure after an upload."""
    from kpilib.store import READS
    for kpi in KPIS.values():
        sql = re.sub(r"--[^\n]*", "", kpi.sql + kpi.base)
        ctes = set(re.findall(r"\b([a-z_0-9]+)\s+as\s*(?:not\s+)?(?:materialized\s*)?\(",
                              sql))
        for name in set(re.findall(r"\b(?:from|join)\s+([a-z_]+)", sql)) - ctes - {"base"}:
            assert name in READS, (kpi.name, name)


def test_definitions_say_the_convention_for_cancelled_orders_in_force():
    """A KPI reading valid orders or refunds (through any view or rollup) ends its definition
    with the store's convention; one that never reads them, or counts every order (the
    cancellation rate), does not."""
    from kpilib.registry import CANCELLED, definition, follows_cancelled

    for name in ("orders", "net_sales", "returns", "cohort_ltv", "units_sold", "roas"):
        assert follows_cancelled(get(name)), name
        assert definition(get(name), "shopify").endswith(CANCELLED["shopify"])
        assert definition(get(name), "excluded").endswith(CANCELLED["excluded"])
    for name in ("sessions", "spend", "cancellation_rate", "orders_by_status"):
        assert not follows_cancelled(get(name)), name
        assert definition(get(name), "shopify") == get(name).definition
    assert definition(get("orders")) == get("orders").definition   # no store: the bare one
    assert "| Orders † | `orders` |" in glossary_markdown()
    assert "| Sessions | `sessions` |" in glossary_markdown()
