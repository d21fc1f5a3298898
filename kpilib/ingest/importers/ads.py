"""Ad-platform spend exports → marketing_spend. These files carry no channel: it is asked at
upload (``Context.spend_channel``), defaulting to the platform's usual one. Their currency is in
a column (Google Ads' "Currency code") or in the cost header (Meta's "Amount spent (EUR)")."""
from __future__ import annotations

from dataclasses import dataclass

from . import Columns, Context, emit


@dataclass(frozen=True)
class _Spend:
    name: str
    default_channel: str
    date: tuple[str, ...]
    campaign: tuple[str, ...]
    cost: tuple[str, ...]       # a prefix for Meta: "Amount spent (EUR)" → amount_spent_eur
    impressions: tuple[str, ...]
    clicks: tuple[str, ...]

    def _cost(self, c: Columns) -> str | None:
        return next((h for h in c.index for p in self.cost if h == p or h.startswith(p + "_")),
                    None)

    def match(self, headers: list[str]) -> bool:
        c = set(headers)
        return bool(c & set(self.date)) and bool(c & set(self.campaign)) and \
            any(h == p or h.startswith(p + "_") for h in headers for p in self.cost) and \
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

    def convert(self, con, raw, ctx: Context):
        c = Columns(raw)
        channel = ctx.spend_channel or self.default_channel
        day = c.first(*self.date)
        # Reports end with total rows ("Total: Account"); they are not days.
        sql = f"""
            select _row, {day} as date, $channel as channel,
                   coalesce({c.first(*self.campaign)}, '') as campaign,
                   {c[self._cost(c)]} as spend, {c.first(*self.impressions)} as impressions,
                   {c.first(*self.clicks)} as clicks
            from {raw.table}
            where not coalesce(lower({day}) like 'total%', false)
              and not coalesce(lower({c.first(*self.campaign)}) like 'total%', false)"""
        ctx.notes.append(f"{raw.name}: spend stored under channel '{channel}'")
        origin = {"date": c.name(*self.date), "campaign": c.name(*self.campaign),
                  "spend": c.name(self._cost(c)), "impressions": c.name(*self.impressions),
                  "clicks": c.name(*self.clicks)}
        return [("marketing_spend", emit(con, raw.name, sql, ["date", "channel", "campaign",
                                                               "spend", "impressions", "clicks"],
                                         {"channel": channel}, origin=origin,
                                         currencies=self._currencies(con, raw, c)))]


GOOGLE = _Spend("Google Ads report", "paid_search", ("day", "date"), ("campaign",),
                ("cost",), ("impr", "impressions"), ("clicks",))
META = _Spend("Meta ads report", "paid_social", ("reporting_starts", "day"),
              ("campaign_name",), ("amount_spent",), ("impressions",),
              ("link_clicks", "clicks_all"))
