"""Customer KPIs. First orders come from the whole history (the `customer_first` view), never
from the filtered window; guest orders (no customer id) are left out; the channel filter selects
customers by acquisition channel (the channel of their first valid order)."""
from .kpi import Kpi

WHERE = "where day between $start and $end and in_filter(channel, $channels)"

# One row per customer and group: did the customer's orders in the group include their first?
PER_CUSTOMER = f"""select {{key}} as key, customer_id, bool_or(is_first) as has_first
                   from customer_orders {WHERE} group by all"""

CUSTOMERS = Kpi(
    name="customers", label="Customers", unit="count",
    definition="Distinct identified customers with a valid order in the period (guest orders "
               "excluded). The channel filter selects customers by acquisition channel.",
    sql=f"select key, count(*) as value from ({PER_CUSTOMER}) group by all",
)
NEW_CUSTOMERS = Kpi(
    name="new_customers", label="New customers", unit="count",
    definition="Customers whose first valid order ever (whole history, not just the period) was "
               "placed in the period.",
    sql=f"select key, count(*) filter (where has_first) as value from ({PER_CUSTOMER}) "
        "group by all",
)
RETURNING_CUSTOMERS = Kpi(
    name="returning_customers", label="Returning customers", unit="count",
    definition="Customers with a valid order in the period who had ordered before it (Shopify's "
               "'returning customer').",
    sql=f"select key, count(*) filter (where not has_first) as value from ({PER_CUSTOMER}) "
        "group by all",
)
RETURNING_CUSTOMER_RATE = Kpi(
    name="returning_customer_rate", label="Returning-customer rate", unit="ratio",
    definition="Returning customers ÷ customers in the period: the share of the period's "
               "customers who had ordered before it (Shopify's definition).",
    sql=f"""select key, count(*) filter (where not has_first) as numerator,
                   count(*) as denominator,
                   count(*) filter (where not has_first) / nullif(count(*), 0) as value
            from ({PER_CUSTOMER}) group by all""",
    ratio=True, empty=None,
)

GUEST_ORDERS = Kpi(
    name="guest_orders", label="Guest orders", unit="count",
    definition="Valid orders without a customer id (guest checkouts): counted in order KPIs, "
               "left out of customer KPIs.",
    sql=f"""select {{key}} as key, count(*) as value from valid_orders {WHERE}
            and customer_id is null group by all""",
)

KPIS = (CUSTOMERS, NEW_CUSTOMERS, RETURNING_CUSTOMERS, RETURNING_CUSTOMER_RATE, GUEST_ORDERS)
