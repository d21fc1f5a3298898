"""Traffic KPIs, from the daily `traffic` table."""
from .dimensions import Measure
from .measures import ratio, total

BY = ("day", "week", "month", "channel", "device")

SESSIONS = total(
    "sessions", "Sessions", "count",
    "Visits to the shop in the period (sum of daily sessions from the analytics export).",
    Measure("traffic", "sessions"), by=BY)
USERS = total(
    "users", "Users", "count",
    "Sum of daily users as the analytics tool reports them (a person visiting on two "
    "days counts twice). Empty when the export has no users column.",
    Measure("traffic", "users"), by=BY, empty=None)
NEW_USERS = total(
    "new_users", "New users", "count",
    "Sum of daily first-time users as the analytics tool reports them. Empty when the "
    "export has no new-users column.", Measure("traffic", "new_users"), by=BY, empty=None)
CONVERSION_RATE = ratio(
    "conversion_rate", "Conversion rate (analytics)",
    Measure("traffic", "purchases"), Measure("traffic", "sessions"),
    "Sessions that ended in a purchase ÷ sessions, both from the analytics export, "
    "summed over the period (a ratio of sums, not an average of daily rates); orders "
    "from the orders export ÷ sessions is the blended conversion rate, which differs "
    "where the two tools count purchases differently. A change between two periods "
    "is called beyond noise when a two-proportion z-test on purchases and sessions "
    "gives p < 0.05 (95 %).", by=BY)

KPIS = (SESSIONS, USERS, NEW_USERS, CONVERSION_RATE)
