"""Traffic KPIs, from the daily `traffic` table."""
from .kpi import Kpi

WHERE = ("where day between $start and $end and in_filter(channel, $channels) "
         "and in_filter(device, $devices)")

SESSIONS = Kpi(
    name="sessions", label="Sessions", unit="count",
    definition="Visits to the shop in the period (sum of daily sessions from the analytics "
               "export).",
    sql=f"select {{key}} as key, sum(sessions) as value from traffic {WHERE} group by all",
    by=("day", "week", "month", "channel", "device"), additive=True,
)
USERS = Kpi(
    name="users", label="Users", unit="count",
    definition="Sum of daily users as the analytics tool reports them (a person visiting on two "
               "days counts twice). Empty when the export has no users column.",
    sql=f"select {{key}} as key, sum(users) as value from traffic {WHERE} group by all",
    by=("day", "week", "month", "channel", "device"), empty=None, additive=True,
)
NEW_USERS = Kpi(
    name="new_users", label="New users", unit="count",
    definition="Sum of daily first-time users as the analytics tool reports them. Empty when the "
               "export has no new-users column.",
    sql=f"select {{key}} as key, sum(new_users) as value from traffic {WHERE} group by all",
    by=("day", "week", "month", "channel", "device"), empty=None, additive=True,
)
CONVERSION_RATE = Kpi(
    name="conversion_rate", label="Conversion rate (analytics)", unit="ratio",
    definition="Sessions that ended in a purchase ÷ sessions, both from the analytics export, "
               "summed over the period (a ratio of sums, not an average of daily rates); orders "
               "from the orders export ÷ sessions is the blended conversion rate, which differs "
               "where the two tools count purchases differently. A change between two periods "
               "is called beyond noise when a two-proportion z-test on purchases and sessions "
               "gives p < 0.05 (95 %).",
    sql=f"""select {{key}} as key, sum(purchases) as numerator, sum(sessions) as denominator,
                   sum(purchases) / nullif(sum(sessions), 0) as value
            from traffic {WHERE} group by all""",
    by=("day", "week", "month", "channel", "device"),
    ratio=True, empty=None, additive=True,
)

KPIS = (SESSIONS, USERS, NEW_USERS, CONVERSION_RATE)
