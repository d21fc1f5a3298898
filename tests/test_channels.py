"""kpilib.channels: a platform's channel label, or a GA4/UTM source and medium, mapped to the
channel list of the data contract (KPIS.md) by the SQL every importer uses."""
import duckdb
import pytest

from kpilib.channels import CHANNELS, KNOWN, label_sql, source_medium_sql


def one(sql: str, a=None, b=None):
    """``sql`` of the columns a and b, on one row."""
    # A connection of its own: a result left unfetched on DuckDB's default connection blocks
    # every later use of it in this process (another test's duckdb.read_parquet).
    with duckdb.connect() as con:
        [(value,)] = con.execute(f"select {sql} from (select $1::varchar as a, "
                                 "$2::varchar as b)", [a, b]).fetchall()
    return value


@pytest.mark.parametrize("label,channel", [
    ("Organic Search", "organic_search"), ("SEO", "organic_search"),
    ("Paid-Social", "paid_social"),          # spaces and hyphens → _
    ("  E-mail ", "email"),                  # trimmed, then "e_mail"
    ("(direct)", "direct"), ("Unassigned", "other"), ("SMS", "sms"),
    ("TikTok Shop", "tiktok_shop"),          # unknown: kept, normalised (the report lists it)
    ("", "unknown"), (None, "unknown"),
])
def test_labels(label, channel):
    assert one(label_sql("a"), label) == channel


@pytest.mark.parametrize("source,medium,channel", [
    ("facebook", "cpc", "paid_social"),      # an ad on Facebook, not paid search
    ("Google", " CPC ", "paid_search"),      # case and spaces do not matter
    ("instagram", "referral", "organic_social"),   # before the referral rule
    ("amazon", "referral", "marketplace"),
    ("blog.example.com", "referral", "referral"),
    ("klaviyo", "flow", "email"), ("attentive", "", "sms"),
    ("(direct)", "(none)", "direct"), ("google", "organic", "organic_search"),
    ("foo", "bar", "other"),                 # a pair no rule knows
    ("", "", "unknown"), (None, None, "unknown"),
])
def test_source_medium_pairs(source, medium, channel):
    assert one(source_medium_sql("a", "b"), source, medium) == channel


def test_every_mapped_channel_is_known():
    assert set(CHANNELS) <= KNOWN and {"unknown", "app"} <= KNOWN
