"""The customer rollups updated for the customers an upload touched (:class:`_Customers`)."""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from ..schema import TABLES
from ..rollups import (CUSTOMER_FIRST_OF, CUSTOMER_NO_STEP, CUSTOMER_ORDERS_CONTINUED,
                       CUSTOMER_ORDERS_OF, ROLLUPS)
from .connection import _PARTS, _scratch, empty_select, read_stored
from .manifest import UNPARTITIONED
from .views import current

if TYPE_CHECKING:
    from . import Store

# Rebuilt for the customers an upload touched only (_Customers); valid_refunds is read too.
CUSTOMER_ROLLUPS = ("customer_first", "customer_orders", "customer_orders_daily", "rfm_daily",
                    "cohort_orders")
# The columns of customer_orders a daily sum of it reads (those not named read them all).
SUMS_READ = {"customer_orders_daily": "day, channel, prev_day, prev2_day, n"}
# The columns of orders the customer rollups read (through the views orders and valid_orders).
ORDER_COLUMNS = {"order_id", "ordered_at", "customer_id", "channel", "status", "gross_sales",
                 "discounts"}
# Customers an upload may touch and still have them updated one by one, if above a quarter of
# the shop's (_Customers._touch).
TOUCHED_AT_MOST = 10_000


def note_ids(con, entry: dict, written: dict[str, str]) -> None:
    """Keep in each written month's manifest entry of customer_first the range of its
    customer ids and their numbers, [lowest id, highest id, its number, its number]
    (numbers rise with ids): a later upload reads only the months whose range holds a new
    customer's id (_Customers._neighbours)."""
    if not written:
        return
    for path, lo, hi, lo_no, hi_no in con.execute(
            "select filename, min(customer_id), max(customer_id), min(customer_no), "
            "max(customer_no) from read_parquet($f, filename = true, hive_partitioning = false)"
            " group by filename", {"f": list(written.values())}).fetchall():
        [month] = [m for m, p in written.items() if p == path]
        entry[month]["ids"] = [lo, hi, lo_no, hi_no]


class _Customers:
    """The customer rollups of an upload (an undo, a deletion) of orders or refunds, updated
    for the customers it touched instead of built again for every customer: a customer's first
    order, number, ranks, previous and next orders, running sums and cohort depend on that
    customer's orders (and their refunds) alone. Touched: an order in a changed month of
    orders, in the stored file or the new one, or an order a changed month of refunds refunds.
    Their rows are computed again from their orders; every other customer's rows are kept, and
    the months of customer_orders they have no row in keep their files (customer_orders_daily
    and rfm_daily, sums by day of it, are rebuilt in the months it rewrote). cohort_orders
    counts distinct customers per group, one group per customer and month: the touched
    customers' rows before are taken out of it and their rows after added. A build from
    scratch gives the same rows (tests/test_rollups.py), customer numbers aside: a new customer
    is numbered between its neighbours (CUSTOMER_NO_STEP), and when two neighbours have no
    number left between them, everything is built again (numbered afresh)."""

    def __init__(self, store: "Store", old: dict[str, dict], before: dict, after: dict,
                 changed: dict[str, set[str]], stale: set[str]):
        self.store, self.old, self.changed = store, old, changed
        self.before, self.after = before["tables"], after["tables"]
        self.stale = stale
        self.appended = self._appended()
        self.touched = False
        self.failed = False
        self.rewritten: set[str] | None = None   # the months of customer_orders rewritten
        self.sums: dict[str, set[str]] = {}      # of them, those each daily sum rebuilds

    @classmethod
    def of(cls, store: "Store", before: dict | None, after: dict,
           changed: dict[str, set[str]], stale: set[str], ok: dict,
           settings: dict) -> "_Customers | None":
        """None when they are built whole: no manifest before (a first write, a refresh), a
        change to no orders or refunds, or a customer rollup not stored (or redefined)."""
        if before is None or not {"orders", "refunds"} & set(changed):
            return None
        old = current(before, settings)
        need = {*CUSTOMER_ROLLUPS, "valid_refunds"}
        if not (need <= set(old) and need <= set(ok) and stale & set(CUSTOMER_ROLLUPS)):
            return None
        return cls(store, old, before, after, changed, stale)

    def _appended(self) -> bool:
        """An upload of orders alone, every month of it after every stored one: a touched
        customer's stored rows are then as they were (their first order, number, ranks and
        sums up to their last stored order), and their new rows follow from those and the
        new orders alone, however many customers it touches (a 1 M-row month)."""
        months, stored = self.changed.get("orders"), self.before.get("orders")
        return bool(months) and "refunds" not in self.changed and \
            not (stored and min(months) <= max(stored))

    def _path(self, file: str, tmp: dict) -> str:
        return str(tmp.get(file, self.store.path / file))

    def _old(self, name: str) -> list[str]:
        return [str(self.store.path / p["file"]) for _, p in sorted(self.old[name].items())]

    def stage(self, con, name: str, entry: dict, read: dict, read_fresh: dict, tmp: dict,
              staging: Path, txn: str, moves: list) -> bool:
        """Stage rollup ``name`` for the touched customers; False when it is to be built
        whole."""
        if name not in CUSTOMER_ROLLUPS or name not in self.stale or self.failed:
            return False
        if name not in ("customer_first", "customer_orders") and self.rewritten is None:
            return False   # customer_orders was built whole
        if not self.touched:
            self._touch(con, tmp)
            if self.failed:
                return False
        return getattr(self, "_" + name)(con, name, entry, read, read_fresh, tmp, staging, txn,
                                         moves)

    def _touch(self, con, tmp: dict) -> None:
        """The touched customers' ids: temporary table ``_touched``."""
        self.touched = True

        def files(section: dict, table: str, months) -> list[str]:
            return [self._path(section[table][m]["file"], tmp)
                    for m in sorted(months) if m in section.get(table, {})]
        before, after = self.before, self.after
        orders = files(before, "orders", self.changed.get("orders", ())) + \
            files(after, "orders", self.changed.get("orders", ()))
        refunds = files(before, "refunds", self.changed.get("refunds", ())) + \
            files(after, "refunds", self.changed.get("refunds", ()))
        parts, params = [], {}
        if orders:
            parts.append(f"select customer_id from read_parquet($orders, {_PARTS})")
            params["orders"] = orders
        if refunds:
            parts.append(f"select o.customer_id from read_parquet($all_orders, {_PARTS}) o "
                         f"semi join read_parquet($refunds, {_PARTS}) r using (order_id)")
            params["refunds"] = refunds
            params["all_orders"] = sorted({*orders, *(self._path(p["file"], tmp) for p in
                                                      after.get("orders", {}).values())})
        con.execute("create or replace temp table _touched as select distinct customer_id from ("
                    + " union all ".join(parts or ["select null::varchar as customer_id"])
                    + ") where customer_id is not null", params)
        # A month touching most customers (a 1 M-row month of a shop of 1.2 M customers) costs
        # more customer by customer than built whole; the threshold is a guess, not measured.
        touched = con.execute("select count(*) from _touched").fetchall()[0][0]
        customers = sum(p["rows"] for p in self.old["customer_first"].values())
        # No customer stored (a shop of guests): nothing to keep, built whole.
        if not customers or \
                (touched > max(TOUCHED_AT_MOST, customers / 4) and not self.appended):
            self.failed = True
            return
        # Their orders, read once for customer_first and customer_orders (each read every
        # order of the shop for them: ~0.3 s of CPU at the large shop); of an appended month,
        # its orders only (their earlier rows are as stored).
        files = [self._path(p["file"], tmp) for m, p in sorted(after.get("orders", {}).items())
                 if not self.appended or m in self.changed["orders"]]
        if files:
            # The columns customer_first and customer_orders read only, the others null
            # (every column of every order read cost ~0.1 s more at the large shop; a build
            # from scratch, compared in tests/test_rollups.py, reads them all). Of an
            # appended month, every customer in its orders is touched: no join (0.1 s).
            rows = read_stored(con, files, "_orders")
            rows = rows.filter("customer_id is not null") if self.appended else \
                rows.join(con.table("_touched"), "customer_id", how="semi")
            rows.project(", ".join(
                c.name if c.name in ORDER_COLUMNS else f"null::{c.type} as {c.name}"
                for c in TABLES["orders"].columns)).create_view("_touched_rows")
        else:
            con.sql(empty_select("orders")).create_view("_touched_rows")
        con.execute("create or replace temp table _touched_orders as from _touched_rows")

    def _customer_first(self, con, name, entry, read, read_fresh, tmp, staging, txn, moves):
        store = self.store
        old = self._old(name)
        with _scratch(con):
            store._open(store._files(read, tmp), store._files(read_fresh, tmp),
                        only=CUSTOMER_FIRST_OF, con=con)
            con.table("_touched_orders").create_view("_orders")   # theirs only
            con.sql(CUSTOMER_FIRST_OF).create("_t_new" if self.appended else "_t")
            if old:
                # The touched customers' stored rows only (every stored row cost ~0.3 s to
                # read at the large shop, and the as-of joins over them ~0.4 s).
                stored = con.read_parquet(old)
                stored.join(con.table("_touched"), "customer_id", how="semi").create("_old")
            else:   # no customer stored yet (guests only)
                con.table("_t_new" if self.appended else "_t").limit(0).create("_old")
            cols = ", ".join(con.table("_old").columns)
            if self.appended:   # the customers new to the store alone: a stored customer's
                # first order is the stored one, and their row is kept where it is (carrying
                # the 850 k stored rows a 1 M-row month touches through the numbering and
                # comparisons below cost ~0.3 s)
                con.execute(f"create table _t as select {cols} from _t_new "
                            "anti join _old using (customer_id)")
            con.execute("create or replace temp table _old_nos as select customer_no from _old")
            self._neighbours(con, entry)
            # Numbers for customers new to the store, between their numbered neighbours'
            # (in id order, found by as-of joins: a window over every customer costs 15×):
            # k of them in a gap (lo, hi) get lo + (hi - lo) · i / (k + 1), after the last
            # one lo + i · CUSTOMER_NO_STEP. Neighbours among the customers stored before,
            # those this change removes (an undo) included: a gap between them lies within
            # the gap between the customers kept.
            con.execute(f"""
                create table _numbers as
                with t as (select t.customer_id, o.customer_no
                           from _t t left join _old o using (customer_id)),
                g as (select n.customer_id, coalesce(a.customer_no, 0) as lo,
                             b.customer_no as hi
                      from (from t where customer_no is null) n
                      asof left join _near a on n.customer_id >= a.customer_id
                      asof left join _near b on n.customer_id <= b.customer_id),
                r as (select *, row_number() over (partition by lo order by customer_id) as i,
                             count(*) over (partition by lo) as k
                      from g)
                select customer_id, hi is not null and hi - lo <= k as cramped,
                       case when hi is null then lo + i * {CUSTOMER_NO_STEP}
                            else lo + ((hi - lo)::hugeint * i // (k + 1))::bigint
                       end as customer_no
                from r
                union all
                select customer_id, false, customer_no from t where customer_no is not null""")
            if con.execute("select bool_or(cramped) from _numbers").fetchall()[0][0]:
                self.failed = True
                return False
            con.execute(f"""create table _new as
                            select {cols} from (select t.* exclude (customer_no), n.customer_no
                                                from _t t join _numbers n using (customer_id))""")
            # The months (of first orders) where a touched customer's row changed: a new
            # customer's, a first order moved or restated. Those months' files are written
            # again: their other customers' rows kept, the touched customers' new rows.
            # Of an appended month, the new customers' rows alone are new (the others are
            # the stored rows): not compared (0.7 s for a 1 M-row month).
            changes = "(select {cols} from _new anti join _old using (customer_id))" \
                if self.appended else """(
                    (select {cols} from _old except all select {cols} from _new)
                    union all
                    (select {cols} from _new except all select {cols} from _old))"""
            months = sorted({m for (m,) in con.execute(
                "select distinct strftime(first_day, '%Y-%m') from "
                + changes.format(cols=cols) + " where first_day is not null").fetchall()})
            if months:
                con.execute("create table _months as select unnest($m) as m", {"m": months})
                files = [str(store.path / entry[m]["file"]) for m in months if m in entry]
                rel = con.table("_new").filter(
                    "strftime(first_day, '%Y-%m') in (select m from _months)")
                if files:
                    rel = con.read_parquet(files).project(cols).join(
                        con.table("_touched"), "customer_id", how="anti").union(rel)
                for m in months:
                    entry.pop(m, None)
                written = store._stage_rollup_months(rel, name, entry, staging, txn, moves,
                                                     months)
                note_ids(con, entry, written)
        return True

    def _neighbours(self, con, entry: dict) -> None:
        """Table ``_near`` (customer_id, customer_no): enough stored customers to find each
        new customer's neighbours by as-of joins. A month of customer_first whose range of
        ids (``ids`` in its manifest entry, :func:`note_ids`) lies wholly below or above
        every new id gives its two ends only (the one of its customers nearest to any new
        id); the others, and months stored before ranges were kept, are read. New ids
        usually rise with time: an upload reads no month at all."""
        lo, hi = con.execute("select min(customer_id), max(customer_id) from _t "
                             "anti join _old using (customer_id)").fetchall()[0]
        if lo is None:   # no new customer: nothing to number
            con.execute("create table _near (customer_id varchar, customer_no bigint)")
            return
        ends = [{"m": m, "lo": p["ids"][0], "hi": p["ids"][1], "lo_no": p["ids"][2],
                 "hi_no": p["ids"][3]} for m, p in self.old["customer_first"].items()
                if p.get("ids")]
        apart = set()
        if ends:
            con.execute("create table _ends as select unnest($e, recursive := true)",
                        {"e": ends})
            apart = {m for (m,) in con.execute(
                "select m from _ends where hi < $lo or lo > $hi", {"lo": lo, "hi": hi}
            ).fetchall()}
        files = [str(self.store.path / p["file"])
                 for m, p in sorted(self.old["customer_first"].items()) if m not in apart]
        ends_of = "from _ends where list_contains($apart, m)"
        parts = [f"select lo as customer_id, lo_no as customer_no {ends_of}",
                 f"select hi, hi_no {ends_of}"] if apart else []
        params: dict = {"apart": sorted(apart)} if apart else {}
        if files:
            parts.append(f"select customer_id, customer_no from read_parquet($f, {_PARTS})")
            params["f"] = files
        if not parts:   # no customer stored (a shop of guests until now)
            parts = ["select null::varchar as customer_id, null::bigint as customer_no limit 0"]
        con.execute("create table _near as " + " union all ".join(parts), params)

    def _since(self) -> str | None:
        """The first month whose rows of customer_orders an upload of orders alone may
        change: the earliest month of orders it changed (a re-dated order's both months
        among them). A row depends on its customer's orders up to it, their refunds, and the
        customer's number and acquisition channel: before that month none of these changed
        (an existing customer with an order before it keeps that first order and number).
        None (every month): a change to refunds, whose orders may lie in any month."""
        if "refunds" in self.changed or not self.changed.get("orders"):
            return None
        return min(self.changed["orders"])

    def _customer_orders(self, con, name, entry, read, read_fresh, tmp, staging, txn, moves):
        store = self.store
        since = self._since()
        if not con.execute("select count(*) from duckdb_tables() "
                           "where temporary and table_name = '_old_nos'").fetchall()[0][0]:
            con.execute("create or replace temp table _old_nos as select customer_no from "
                        f"read_parquet($f, {_PARTS}) semi join _touched using (customer_id)",
                        {"f": self._old("customer_first")})
        sql = CUSTOMER_ORDERS_OF
        if self.appended:
            # Each touched customer's last stored row, to continue their history from.
            con.execute(f"""
                create or replace temp table _last_rows as
                select customer_no, max(nth) as nth, arg_max(day, nth) as day,
                       arg_max(prev_day, nth) as prev_day, arg_max(cum_net, nth) as cum_net,
                       arg_max(cum_refunded, nth) as cum_refunded
                from read_parquet($f, {_PARTS}) semi join _old_nos using (customer_no)
                group by customer_no""", {"f": self._old(name)})
            sql = CUSTOMER_ORDERS_CONTINUED
        with _scratch(con):
            store._open(store._files(read, tmp), store._files(read_fresh, tmp),
                        only=CUSTOMER_ORDERS_OF, con=con)
            con.table("_touched_orders").create_view("_orders")   # theirs only
            con.execute(f"create or replace temp table _new_t as {sql}")
        if since:   # the rows before it are as stored: neither read nor compared
            con.execute("delete from _new_t where day < $d",
                        {"d": date.fromisoformat(since + "-01")})
        old = self.old[name]
        files = [str(store.path / p["file"]) for m, p in sorted(old.items())
                 if not since or m >= since]
        if files:
            con.execute(f"create or replace temp table _old_t as from read_parquet($f, {_PARTS})"
                        " semi join _old_nos using (customer_no)", {"f": files})
        else:   # no customer's order stored in those months yet (an appended month)
            con.execute("create or replace temp table _old_t as from _new_t limit 0")
        # The months whose rows of touched customers changed (a rank, a running sum…),
        # and for each daily sum of them, the months whose columns it reads changed.
        def changed(cols: str) -> set[str]:
            if not files:   # every row is new (0.9 s compared for a 1 M-row month)
                return {m for (m,) in con.execute("select distinct strftime(day, '%Y-%m') "
                                                  "from _new_t where day is not null"
                                                  ).fetchall()}
            return {m for (m,) in con.execute(
                f"select distinct strftime(day, '%Y-%m') from ("
                f"(select {cols} from _old_t except all select {cols} from _new_t) union all "
                f"(select {cols} from _new_t except all select {cols} from _old_t))"
                " where day is not null").fetchall()}
        months = sorted(changed("*"))
        self.rewritten = set(months)
        self.sums = {n: changed(cols) for n, cols in SUMS_READ.items()}
        if not months:
            return True
        con.execute("create or replace temp table _months as select unnest($m) as m",
                    {"m": months})
        files = [str(store.path / old[m]["file"]) for m in months if m in old]
        rel = con.table("_new_t").filter(
            "strftime(day, '%Y-%m') in (select m from _months)")
        if files:
            rel = con.read_parquet(files).join(con.table("_old_nos"), "customer_no",
                                               how="anti").union(rel)
        for m in months:
            entry.pop(m, None)
        store._stage_rollup_months(rel, name, entry, staging, txn, moves, months)
        return True

    def _by_month(self, con, name, entry, read, read_fresh, tmp, staging, txn, moves):
        """A rollup summing customer_orders by day: its months customer_orders rewrote."""
        store, rollup = self.store, ROLLUPS[name]
        months = self.sums.get(name, self.rewritten)
        for m in months:
            entry.pop(m, None)
        if months:
            fresh = {**read_fresh, "customer_orders": {
                m: p for m, p in read_fresh["customer_orders"].items() if m in months}}
            with _scratch(con):
                store._open(store._files(read, tmp), store._files(fresh, tmp), only=rollup.sql,
                            con=con)
                store._stage_rollup_months(con.sql(rollup.sql), name, entry, staging, txn,
                                           moves, sorted(months))
        return True

    _customer_orders_daily = _rfm_daily = _by_month

    def _cohort_orders(self, con, name, entry, read, read_fresh, tmp, staging, txn, moves):
        """The touched customers' groups before taken out, after added (a customer counts
        once in the group of their acquisition channel, first-order day and order month)."""
        [old] = self._old(name)
        old_first = self._old("customer_first")
        [old_refunds] = self._old("valid_refunds")
        fresh = self.store._files(read_fresh, tmp)
        new_first, [new_refunds] = fresh["customer_first"], fresh["valid_refunds"]
        if not new_first:   # no customer left (an undo): built whole, from nothing
            return False
        stored = con.read_parquet([old])
        typed = ", ".join(f"{c}::{t} as {c}" for c, t in zip(stored.columns, stored.types))

        def groups(rows: str, first: str, refunds: str, sign: str) -> str:
            # rows, first and refunds: code constants (a table, a parameter's name).
            return f"""
                select co.channel, f.first_day, date_trunc('month', co.day)::date as month,
                       {sign}count(distinct co.customer_no) as active,
                       {sign}sum(co.gross_sales - co.discounts - coalesce(r.refunded, 0))
                           as revenue
                from {rows} co join read_parquet(${first}, {_PARTS}) f using (customer_no)
                left join (select order_id, sum(amount) as refunded
                           from read_parquet(${refunds}, {_PARTS}) semi join {rows}
                             using (order_id)
                           group by all) r using (order_id)
                group by all"""
        con.execute(f"""
            create or replace temp table _cohort as
            with d as (select channel, first_day, month, sum(active) as active,
                              sum(revenue) as revenue
                       from ({groups('_new_t', 'new_first', 'new_refunds', '')}
                             union all
                             {groups('_old_t', 'old_first', 'old_refunds', '-')})
                       group by all),
            m as (select coalesce(c.channel, d.channel) as channel,
                         coalesce(c.first_day, d.first_day) as first_day,
                         coalesce(c.month, d.month) as month,
                         coalesce(c.active, 0) + coalesce(d.active, 0) as active,
                         coalesce(c.revenue, 0) + coalesce(d.revenue, 0) as revenue
                  from read_parquet($old, {_PARTS}) c full join d
                    on c.channel is not distinct from d.channel
                   and c.first_day is not distinct from d.first_day
                   and c.month is not distinct from d.month)
            select {typed} from m where active > 0""",
                    {"old": old, "new_first": new_first, "new_refunds": new_refunds,
                     "old_first": old_first, "old_refunds": old_refunds})
        entry.clear()
        self.store._stage_rollup_part(con.table("_cohort"), name, UNPARTITIONED, entry,
                                      staging, txn, moves)
        return True
