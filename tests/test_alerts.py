"""The anomaly band: same weekday over the previous 8 weeks, mean ± 3 standard deviations
(at least ± 30 %); unusual days grouped by day and ranked."""
from datetime import date, timedelta

import pandas as pd

from kpilib.alerts import first_days, history_start, outside_band, unusual_days

START, END = date(2025, 3, 3), date(2025, 3, 16)


def series(values_by_day: dict) -> pd.DataFrame:
    days = pd.date_range(history_start(START), END, freq="D")
    # Weekly pattern: Mondays 200, other days 100, with a little wobble so bands have width.
    base = [200 if d.day_of_week == 0 else 100 for d in days]
    wobble = [(i % 3) - 1 for i in range(len(days))]
    v = pd.Series([b + w for b, w in zip(base, wobble)], index=days)
    for d, x in values_by_day.items():
        v[pd.Timestamp(d)] = x
    return pd.DataFrame({"period": v.index.date, "value": v.values})


def test_planted_outlier_is_found_and_the_weekly_pattern_is_not():
    got = outside_band(series({date(2025, 3, 12): 150}), START, END)
    # Mondays at 200 are normal for Mondays; the Wednesday at 150 is not.
    assert got["day"].tolist() == [date(2025, 3, 12)]
    row = got.iloc[0]
    assert row["direction"] == "above" and 99 <= row["expected"] <= 101
    # Wednesdays 99–101: the ± 30 % floor is wider than 3 sd, so the band is about 70–130 and
    # 150 lies (150 − 100) / 30 − 1 ≈ 0.67 half-widths beyond its edge.
    assert row["low"] < 100 < row["high"] < 150 and 0.6 < row["distance"] < 0.75


def test_a_drop_is_found():
    got = outside_band(series({date(2025, 3, 10): 20}), START, END)
    assert got[["day", "direction"]].values.tolist() == [[date(2025, 3, 10), "below"]]


def test_days_without_eight_weeks_of_history_are_not_judged():
    s = series({})
    s = s[s["period"] >= START - timedelta(days=14)]     # only 2 weeks of history
    assert outside_band(s, START, END).empty


def _by_loop(daily: pd.DataFrame, start: date, end: date, first=None) -> pd.DataFrame:
    """The band day by day in plain pandas, as defined: the oracle for outside_band."""
    s = pd.Series(daily["value"].to_numpy(dtype=float), index=pd.to_datetime(daily["period"]))
    if first:
        s = s[s.index >= pd.Timestamp(first)]
    rows = []
    for day in pd.date_range(start, end, freq="D"):
        if day not in s.index or pd.isna(s[day]):
            continue
        past = s.reindex([day - pd.Timedelta(weeks=w) for w in range(1, 9)]).dropna()
        if len(past) < 8 or past.std() == 0:
            continue
        half = max(3 * past.std(), 0.3 * abs(past.mean()))
        low, high = past.mean() - half, past.mean() + half
        if not low <= s[day] <= high:
            rows.append({"day": day.date(), "value": s[day], "expected": past.mean(),
                         "low": low, "high": high,
                         "direction": "above" if s[day] > high else "below",
                         "distance": abs(s[day] - past.mean()) / half - 1})
    return pd.DataFrame(rows, columns=["day", "value", "expected", "low", "high", "direction",
                                       "distance"])


def test_the_band_on_random_series_with_gaps_matches_a_day_by_day_loop():
    import numpy as np
    rng = np.random.default_rng(5)
    start, end = date(2025, 3, 3), date(2025, 6, 30)
    days = pd.date_range(history_start(start), end, freq="D")
    for trial in range(5):
        v = rng.normal(100, 12, len(days)) * np.where(days.day_of_week == 5, 1.6, 1.0)
        v[rng.random(len(days)) < 0.03] = np.nan                 # days with no value
        v[rng.random(len(days)) < 0.03] *= 4                     # spikes
        if trial == 1:
            # A history that never varies is not judged, even under a day three times it.
            v[:70] = 100.0
            v[60] = 300.0
        daily = pd.DataFrame({"period": days.date, "value": v})
        if trial == 2:
            daily = daily.iloc[20:]                              # starts late: some unjudged
        # Stored from 1 April: what comes before is not the shop's.
        first = date(2025, 4, 1) if trial == 4 else None
        got, want = outside_band(daily, start, end, first), _by_loop(daily, start, end, first)
        assert len(want) > 0 or trial == 2
        pd.testing.assert_frame_equal(got.reset_index(drop=True), want, check_dtype=False,
                                      rtol=1e-9)


def weeks(start: date, end: date, first: date | None = None, planted: dict | None = None):
    """A daily series from history_start(start) to end: 90 on every day of even weeks
    (counted from history_start), 110 on odd weeks, so any day's 8 past weekdays are four 90s
    and four 110s: mean 100, sd = sqrt(8 × 10² / 7) = 10.69, half-width max(3 × 10.69, 30 % ×
    100) = 32.07, band 67.93 – 132.07. Days before ``first`` read 0, as a KPI's daily series
    does before the first stored day."""
    days = pd.date_range(history_start(start), end, freq="D")
    v = pd.Series([90.0 if (i // 7) % 2 == 0 else 110.0 for i in range(len(days))], index=days)
    if first:
        v[v.index < pd.Timestamp(first)] = 0.0
    for d, x in (planted or {}).items():
        v[pd.Timestamp(d)] = x
    return pd.DataFrame({"period": v.index.date, "value": v.values})


def test_a_history_that_starts_mid_window_is_not_judged():
    # Stored from Monday 3 Feb 2025; days before it read 0. Judged from Monday 31 March, the
    # first day whose 8 weeks back (3 Feb … 24 March) are all stored.
    start, end, first = date(2025, 3, 3), date(2025, 4, 6), date(2025, 2, 3)
    planted = {date(2025, 3, 3): 250, date(2025, 3, 30): 250, date(2025, 4, 2): 150}
    daily = weeks(start, end, first, planted)
    # Read with the zeros, Monday 3 March's past is 110, 90, 110, 90 and four 0: mean 50, sd
    # sqrt((60² + 40² + 60² + 40² + 4 × 50²) / 7) = 53.98, band −111.9 – 211.9: 250 is out.
    assert date(2025, 3, 3) in set(outside_band(daily, start, end)["day"])
    # Sunday 30 March still reaches back to Sunday 2 Feb, not stored: not judged either.
    # Wednesday 2 April: past 5 Feb … 26 March, band 67.93 – 132.07, 150 is above it.
    got = outside_band(daily, start, end, first)
    assert got["day"].tolist() == [date(2025, 4, 2)]
    assert round(got["distance"].iat[0], 3) == 0.559           # 50 / 32.07 − 1
    # Through unusual_days, the first day comes from the KPI's own table.
    series = {"orders": daily, "net_sales": daily}
    got = unusual_days(series, {"orders": first, "net_sales": None}, start, end)
    assert got[["day", "kpi"]].values.tolist() == [[date(2025, 4, 2), "orders"]]


def test_first_days_come_from_each_kpis_table(tiny_store):
    # Orders from 5 Jan 2025 (o1; refund r1 on 20 Jan does not move it), traffic from 3 Feb.
    assert first_days(tiny_store.connect()) == {
        "net_sales": date(2025, 1, 5), "orders": date(2025, 1, 5),
        "sessions": date(2025, 2, 3), "conversion_rate": date(2025, 2, 3)}


START2, END2 = date(2025, 3, 3), date(2025, 3, 9)     # a week of 90s (week 8), band 67.93 – 132.07
FIRST = {"net_sales": START2 - timedelta(days=56), "orders": START2 - timedelta(days=56)}


def test_two_kpis_unusual_on_one_day_make_one_alert_day():
    tue = date(2025, 3, 4)
    got = unusual_days({"net_sales": weeks(START2, END2, planted={tue: 200}),
                        "orders": weeks(START2, END2, planted={tue: 40})}, FIRST, START2, END2)
    # Net sales 200: (200 − 100) / 32.07 − 1 = 2.118 beyond; orders 40: (100 − 40) / 32.07 − 1
    # = 0.871 below. One day, rank 1, the larger first.
    assert got["day"].nunique() == 1
    assert got[["rank", "kpi", "direction", "good"]].values.tolist() == [
        [1, "net_sales", "above", True], [1, "orders", "below", False]]
    assert got["distance"].round(3).tolist() == [2.118, 0.871]
    assert got["page"].tolist() == ["sales?period=Custom&dates=2025-03-04&dates=2025-03-04"] * 2


def test_days_are_ranked_by_how_far_outside_the_usual_range():
    mon, wed, fri = date(2025, 3, 3), date(2025, 3, 5), date(2025, 3, 7)
    # Net sales: Monday 200 ((200 − 100) / 32.07 − 1 = 2.118 beyond), Wednesday 150 (0.559),
    # Friday 170 (70 / 32.07 − 1 = 1.183). Orders: Wednesday 250 (150 / 32.07 − 1 = 3.677),
    # Friday 175 (75 / 32.07 − 1 = 1.339). A day ranks by its largest: Wednesday 3.677, Monday
    # 2.118, Friday 1.339 (its two together, 2.522, would have put it before Monday).
    got = unusual_days({"net_sales": weeks(START2, END2, planted={mon: 200, wed: 150, fri: 170}),
                        "orders": weeks(START2, END2, planted={wed: 250, fri: 175})},
                       FIRST, START2, END2, channels=("email",))
    assert got[["rank", "day", "kpi"]].values.tolist() == [
        [1, wed, "orders"], [1, wed, "net_sales"], [2, mon, "net_sales"], [3, fri, "orders"],
        [3, fri, "net_sales"]]
    assert got["distance"].round(3).tolist() == [3.677, 0.559, 2.118, 1.339, 1.183]
    assert got["page"].iat[0] == "sales?period=Custom&dates=2025-03-05&dates=2025-03-05" \
                                 "&channels=email"
    # Low is never below 0 (no watched KPI is usually negative); here it is 67.93 anyway.
    assert got["low"].round(2).tolist() == [67.93] * 5 and (got["high"].round(2) == 132.07).all()


def test_no_unusual_day_is_an_empty_frame_with_the_columns():
    got = unusual_days({"net_sales": weeks(START2, END2), "orders": weeks(START2, END2)},
                       FIRST, START2, END2)
    assert got.empty and "rank" in got and "page" in got


def test_an_ordinary_month_of_the_demo_shop_has_a_handful_of_unusual_days(demo_store):
    from kpilib import Filters, get, run
    from kpilib.alerts import WATCHED
    from kpilib.periods import data_span

    con = demo_store.connect()
    first, last = data_span(con)
    series = {n: run(con, get(n), Filters(first, last), "day") for n in WATCHED}
    days = set(unusual_days(series, first_days(con), first, last)["day"])
    by_month = pd.Series(1, index=pd.to_datetime(sorted(days))).resample("MS").sum()
    # November holds Black Friday and the season's jump; every other month at most 5 days
    # (with mean ± 2 sd, at least ± 15 %, up to 16).
    assert by_month[by_month.index.month != 11].max() <= 5
    assert {date(2025, 11, 26) + timedelta(days=i) for i in range(6)} <= days


def test_a_period_without_alerts_says_which_of_its_days_were_judged():
    """Days are judged from 8 weeks after the first stored day (1 May 2026 + 56 days = 26 Jun
    2026): a period after it found nothing; one across it names the days judged; one before
    it says none could be; targets are named only where some are set."""
    from kpilib.alerts import judged_from, quiet_text

    since = judged_from({"net_sales": date(2026, 5, 1), "sessions": date(2026, 5, 3),
                         "orders": None})
    assert since == date(2026, 6, 26)
    assert quiet_text(since, date(2026, 10, 25), date(2026, 10, 31), False) == \
        "No alerts: no day of these dates left its weekday's usual range."
    assert quiet_text(since, date(2026, 6, 1), date(2026, 7, 31), True) == (
        "No alerts: no day of 26 Jun – 31 Jul 2026 left its weekday's usual range and no KPI "
        "is behind its month's target (before 26 Jun, less than 8 weeks of data: not judged).")
    assert quiet_text(since, date(2026, 5, 1), date(2026, 5, 31), False).startswith(
        "No unusual days can be found in these dates yet")
    assert judged_from({"net_sales": None}) is None
