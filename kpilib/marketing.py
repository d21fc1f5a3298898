"""Marketing KPIs, from `marketing_spend` and `orders`."""
from .kpi import Kpi

WHERE = "where day between $start and $end and in_filter(channel, $channels)"

SPEND = Kpi(
    name="spend", label="Ad spend", unit="money",
    definition="Advertising spend in the period, from the ad platforms' exports.",
    sql=f"select {{key}} as key, sum(spend) as value from marketing_spend {WHERE} group by all",
    better=None,
)
ATTRIBUTED_REVENUE = Kpi(
    name="attributed_revenue", label="Attributed revenue", unit="money",
    definition="Gross sales − discounts of valid orders whose channel is the channel (last-touch "
               "as the order export records it).",
    sql=f"""select {{key}} as key, sum(gross_sales - discounts) as value
            from valid_orders {WHERE} group by all""",
)
ROAS = Kpi(
    name="roas", label="ROAS", unit="times",
    definition="Return on ad spend: attributed revenue ÷ spend, per channel. Totals add up only "
               "channels that had spend; a channel with orders but no spend has no ROAS, a "
               "channel with spend and no orders has ROAS 0.",
    sql=f"""with sp as (select {{key}} as key, channel, sum(spend) as spend
                        from marketing_spend {WHERE} group by all),
                 rev as (select {{key}} as key, channel,
                                sum(gross_sales - discounts) as revenue
                         from valid_orders {WHERE} group by all)
            select key, sum(coalesce(revenue, 0)) as numerator, sum(spend) as denominator,
                   sum(coalesce(revenue, 0)) / nullif(sum(spend), 0) as value
            from sp left join rev using (key, channel) group by key""",
    ratio=True, empty=None,
)

KPIS = (SPEND, ATTRIBUTED_REVENUE, ROAS)
