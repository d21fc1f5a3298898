"""Ad-platform spend exports → marketing_spend. These files carry no channel: it is asked at
upload (``Context.spend_channel``), defaulting to the platform's usual one. Their currency is in
a column (Google Ads' "Currency code") or in the cost header (Meta's "Amount spent (EUR)").

Reports by ad (or ad set, age band…) have several rows per day and campaign: their columns
other than the ones read go along as ``detail``, so that validation sums the rows they tell
apart (prepare._sum_finer_rows). A report without dates (Facebook's ad-level export of the
Kaggle "sales conversion optimization" data: ad_id, xyz_campaign_id, …, Spent,
Approved_Conversion) covers the month asked at upload (``Context.spend_month``): its rows are
dated on the month's first day and spread over the month's days after validation."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import IngestError
from . import Columns, Context, emit

# Headers that date a row: a report with one of them is not a report without dates.
DATED = ("date", "day", "reporting_starts", "reporting_ends", "date_start", "date_stop", "month",
         "week", "year")


@dataclass(frozen=True)
class _Spend:
    name: str
    default_channel: str | None
    date: tuple[str, ...]       # empty: the report has no dates (the month is asked)
    campaign: tuple[str, ...]
    cost: tuple[str, ...]       # a prefix for Meta: "Amount spent (EUR)" → amount_spent_eur
    impressions: tuple[str, ...]
    clicks: tuple[str, ...]
    conversions: tuple[str, ...] = ()
    ads: tuple[str, ...] = ()   # a column naming the ad: tells a report without dates

    def _cost(self, c: Columns) -> str | None:
        # "Cost" before "Cost / conv.": a prefix only for a currency ("Amount spent (EUR)").
        return next((p for p in self.cost if p in c.index), None) or \
            next((h for p in self.cost for h in c.index if h.startswith(p + "_")), None)

    def match(self, headers: list[str]) -> bool:
        c = set(headers)
        cost = any(h == p or h.startswith(p + "_") for h in headers for p in self.cost)
        if not self.date:
            return cost and not c & set(DATED) and bool(c & {*self.ads, *self.campaign}) \
                and bool(c & {*self.impressions, *self.clicks})
        return bool(c & set(self.date)) and bool(c & set(self.campaign)) and cost and \
            "channel" not in c

    def _currencies(self, con, raw, c: Columns) -> list[str]:
        if c.name("currency_code", "currency"):
            col = c.first("currency_code", "currency")
            return [r[0] for r in con.execute(
                f"select distinct upper({col}) from {raw.table} where {col} is not null "
                "order by 1").fetchall()]
        cost = self._cost(c)
        code = next((cost[len(p) + 1:] for p in self.cost if cost.startswith(p + "_")), "")
        return [code.upper()] if len(code) == 3 and code.isalpha() else []

    def _channel(self, raw, c: Columns, ctx: Context) -> str | None:
        channel = ctx.spend_channel or self.default_channel or \
            ("paid_social" if c.has("fb_campaign_id") else None)
        if channel is None and not c.has("channel"):
            raise IngestError(raw.name, "this ad report does not say which marketing channel "
                                        "it is: choose one in 'Channel of ad-spend files' on the "
                                        "Data page (or --spend-channel).")
        return channel

    def convert(self, con, raw, ctx: Context):
        c = Columns(raw)
        channel = self._channel(raw, c, ctx)
        cost = self._cost(c)
        read = [c.name(*self.date), c.name(*self.campaign), c.name(cost),
                c.name(*self.impressions), c.name(*self.clicks), c.name(*self.conversions),
                c.name("channel")]
        others = [f"c{i}" for i, h in enumerate(raw.columns) if h not in read]
        detail = f"[{', '.join(others)}]" if others else "cast(null as varchar)"
        if self.date:
            day = c.first(*self.date)
        elif ctx.spend_month:
            day = "$day"
            ctx.monthly.add(raw.name)
        else:
            raise IngestError(raw.name, "this ad report has no dates: say which month it covers "
                                        "in 'Month of ad reports without dates' on the Data page "
                                        "(or --spend-month YYYY-MM).")
        campaign = c.first(*self.campaign)
        # Reports end with total rows ("Total: Account"); they are not days.
        sql = f"""
            select _row, {day} as date, coalesce({c['channel']}, $channel) as channel,
                   coalesce({campaign}, '') as campaign, {c[cost]} as spend,
                   {c.first(*self.impressions)} as impressions, {c.first(*self.clicks)} as clicks,
                   {c.first(*self.conversions)} as conversions, {detail} as detail
            from {raw.table}
            where not coalesce(lower({day}) like 'total%', false)
              and not coalesce(lower({campaign}) like 'total%', false)"""
        params = {"channel": channel or ""}
        if not self.date:
            params["day"] = f"{ctx.spend_month}-01"
        if channel:
            ctx.notes.append(f"{raw.name}: spend stored under channel '{channel}'"
                             + (" where the file names none" if c.has("channel") else ""))
        origin = {"date": c.name(*self.date) or f"the month asked ({ctx.spend_month})",
                  "channel": c.name("channel"), "campaign": c.name(*self.campaign),
                  "spend": c.name(cost), "impressions": c.name(*self.impressions),
                  "clicks": c.name(*self.clicks), "conversions": c.name(*self.conversions)}
        return [("marketing_spend", emit(con, raw.name, sql, [
            "date", "channel", "campaign", "spend", "impressions", "clicks", "conversions",
            "detail"], params, origin=origin, currencies=self._currencies(con, raw, c)))]


GOOGLE = _Spend("Google Ads report", "paid_search", ("day", "date"), ("campaign",),
                ("cost",), ("impr", "impressions"), ("clicks",), ("conversions",))
META = _Spend("Meta ads report", "paid_social", ("reporting_starts", "day"),
              ("campaign_name",), ("amount_spent",), ("impressions",),
              ("link_clicks", "clicks_all"), ("purchases", "website_purchases"))
# Any ad report by ad or campaign without a date column; Facebook's when it has fb_campaign_id.
UNDATED = _Spend("ad report without dates", None, (),
                 ("campaign_name", "campaign", "campaign_id", "xyz_campaign_id",
                  "fb_campaign_id"),
                 ("amount_spent", "spent", "spend", "cost"), ("impressions", "impr"),
                 ("clicks", "link_clicks", "clicks_all"),
                 ("approved_conversion", "purchases", "website_purchases", "conversions"),
                 ("ad_id", "ad_name", "ad", "ad_set_name", "adset_id", "ad_set_id"))
