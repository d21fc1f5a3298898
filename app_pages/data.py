"""Data: the monthly upload (check → report → confirm), what is stored, undo and templates."""
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

import ui
from kpilib.channels import CHANNELS
from kpilib.ingest import IngestError, diff_line, ingest, preview
from kpilib.store import StoreError
from kpilib.schema import STATUSES, TABLES, WORDS, template_csv
from kpilib.export import neutralise
from kpilib.formatting import md_plain, month_words, plural

st.title("Data")
store, is_demo = ui.active_store()
target = ui.upload_store()
if ui.shared_mode():
    st.info("This is a shared link: the shop's data is read-only. Files you upload here are "
            "checked and shown to you only, in this browser tab, and deleted when you close it.")
elif is_demo:
    st.info("The dashboard shows the **demo shop** until you upload your own exports below. "
            "Your first upload starts your own store; the demo is then no longer shown.")

if not store.is_empty() and ui.currency() is None:
    st.info("Set your shop's currency in Settings: nothing uploaded says which, so amounts "
            "are shown without a symbol.", icon=":material/payments:")
for said in ui.outdated(where="below"):
    st.warning(said, icon=":material/update:")

st.subheader("Upload this month's exports")
st.caption("Shopify orders and products exports, GA4 reports, Google Ads and Meta spend "
           "reports (by campaign or by ad; without dates, say the month below), UCI Online "
           "Retail, Olist (all its CSVs together), any CSV with the template's columns; any "
           "other export (WooCommerce…) once you map its columns, which is then kept for next "
           "month. CSV (comma or semicolon, any encoding), Excel, Parquet or a .zip of them. "
           "Nothing is written until you confirm.")
n = st.session_state.setdefault("upload_round", 0)
files = st.file_uploader("Exports", type=["csv", "txt", "tsv", "xlsx", "parquet", "zip"],
                         accept_multiple_files=True, key=f"uploads_{n}")
left, right = st.columns(2)
spend_channel = left.selectbox(
    "Channel of ad-spend files", [None, *CHANNELS], key="spend_channel",
    # Short enough for a 390 px phone's box (~50 characters), which cut the longer wording.
    format_func=lambda c: "Google Ads: paid search; Meta: paid social"
    if c is None else ui.channel_label(c),
    help="Ad-platform reports do not name the marketing channel; it is taken from here.")
spend_month = left.text_input(
    "Month of ad reports without dates", key="spend_month", placeholder="YYYY-MM",
    help="A report by ad or campaign without a date column covers this month; its spend is "
         "spread evenly over the month's days.").strip() or None
partial = right.toggle("Store the valid rows and skip rejected ones", key="partial",
                       help="Off: one invalid row refuses its file, so nothing is stored "
                            "half-way. On: rejected rows are left out and listed.")
mappings: dict = st.session_state.setdefault("mappings", {})
save_as: dict = st.session_state.setdefault("save_mappings", {})


def run(dry_run: bool, progress=None):
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, up in enumerate(files):
            p = Path(tmp) / f"{i}{Path(up.name).suffix.lower()}"
            p.write_bytes(up.getvalue())
            paths.append((p, up.name))
        return ingest(target, paths, dry_run=dry_run, allow_partial=partial,
                      spend_channel=spend_channel, spend_month=spend_month,
                      mappings=mappings, save_mappings=save_as,
                      progress=progress)


def mapping_editor(err: IngestError):
    """Map an unrecognised file's columns by hand, or the statuses of a file refused for them
    (its columns as they were read); the mapping is saved with the upload."""
    up = next((u for u in files if err.file.startswith(u.name)), None)
    if up is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / f"x{Path(up.name).suffix.lower()}"
        p.write_bytes(up.getvalue())
        tables = preview(p, up.name)
    info = next((t for t in tables if t["name"] == err.file), tables[0])
    with st.container(border=True):
        st.markdown(f"**Map the columns of {md_plain(info['name'])}**")
        st.dataframe(neutralise(info["sample"]), hide_index=True, width="stretch")
        table = st.selectbox("This file holds", list(TABLES), key=f"map_table_{info['name']}",
                             index=list(TABLES).index(err.table) if err.table else 0,
                             format_func=lambda t: f"{t} — {TABLES[t].description}")
        spec = TABLES[table]
        chosen = {}
        cols = st.columns(3)
        for i, col in enumerate(spec.columns):
            label = col.name + ("" if col.required else " (optional)")
            options = [None, *info["columns"]]
            read = err.columns.get(col.name) if table == err.table else None
            pick = cols[i % 3].selectbox(label, options,
                                         index=options.index(read) if read in options else 0,
                                         key=f"map_{info['name']}_{table}_{col.name}")
            if pick:
                chosen[col.name] = pick
        statuses = {}
        if err.statuses and table == "orders":
            st.markdown("**Statuses the dashboard does not know**")
            cols = st.columns(3)
            for i, raw in enumerate(err.statuses):
                statuses[raw] = cols[i % 3].selectbox(
                    md_plain(raw), [None, *STATUSES], key=f"map_{info['name']}_status_{raw}",
                    format_func=lambda s: "choose…" if s is None else s.replace("_", " "))
        name = st.text_input("Save this mapping as", value=Path(up.name).stem,
                             key=f"map_name_{info['name']}",
                             help="Next month, a file with the same columns is read with it.")
        missing = [c for c in spec.required if c not in chosen] + \
            [f"status '{s}'" for s, canon in statuses.items() if not canon]
        if missing:
            st.caption(md_plain(f"Still to map: {', '.join(missing)}"))
        if st.button("Use this mapping", disabled=bool(missing), key=f"map_go_{info['name']}"):
            mappings[info["name"]] = (table, chosen, statuses)
            if name.strip():
                save_as[info["name"]] = name.strip()
            st.rerun()


if files:
    report, error = None, None
    try:
        report = run(dry_run=True)
    except (IngestError, StoreError) as e:
        error = e
    if error:
        if isinstance(error, IngestError) and error.unrecognised:
            # The mapping editor is right below, opened on the table the error names.
            st.error(f"Nothing can be stored yet. {md_plain(error.said, 2000)} Map its columns "
                     "below, or download a template at the foot of this page to see the "
                     "expected columns.")
        else:
            st.error(f"Nothing can be stored yet. {md_plain(error, 2000)}")
        if isinstance(error, IngestError) and (error.unrecognised or error.statuses):
            mapping_editor(error)
    else:
        st.markdown("**What was understood**")
        for f in report.files:
            with st.container(border=True):
                (st.info if f.unchanged else st.success)(md_plain(f.summary(), 2000))
                if f.mapping:
                    with st.expander("Columns used"):
                        # A static table wraps long sources ("Quantity × UnitPrice of …") on a
                        # phone, where a dataframe hides the "read as" column off screen; its
                        # cells are Markdown, so the file's headers are escaped.
                        st.table(pd.DataFrame({
                            "column in the file": [md_plain(v) for v in f.mapping.values()],
                            "read as": [md_plain(k) for k in f.mapping]}), hide_index=True)
                if f.rejected:
                    st.warning(md_plain(f"{plural(f.rejected, 'row')} rejected: "
                                        + "; ".join(f.rejections), 2000))
                    st.download_button("Download the rejected rows (CSV)", f.rejected_csv,
                                       file_name=f"rejected_{Path(f.name).stem}.csv",
                                       mime="text/csv", key=f"rejected_{f.name}")
        for w in report.warnings:
            st.warning(md_plain(w, 2000))
        if report.currency:
            st.info(md_plain(report.currency_note(), 2000))
        if report.timezone:
            # A first upload into a store on the default timezone: the zone of the files'
            # offsets is proposed; the check runs again in it.
            if st.button(f"Use {report.timezone} as the shop's timezone", key="adopt_timezone",
                         help="A guess from the files' UTC offsets; Settings lists every zone."):
                target.update_settings({"timezone": report.timezone})
                st.rerun()
        if report.diff and not report.changes_nothing:
            st.markdown("**Changes against what is stored**")
            st.dataframe(pd.DataFrame({"change": [diff_line(d) for d in report.diff]}),
                         hide_index=True, width="stretch")
            if st.button("Add to the store", type="primary", key="confirm"):
                bar = st.progress(0.0, text="Starting…")
                try:
                    done = run(dry_run=False, progress=lambda x, t: bar.progress(x, text=t))
                except IngestError as e:
                    st.error(f"Nothing was stored. {md_plain(e, 2000)}")
                except StoreError as e:   # another upload holds the store; a full disk
                    st.error(md_plain(f"Nothing was stored: {e}", 2000))
                else:
                    st.session_state["upload_round"] = n + 1
                    st.session_state["mappings"], st.session_state["save_mappings"] = {}, {}
                    st.session_state["last_upload"] = [diff_line(d) for d in done.diff]
                    st.rerun()
        else:
            st.info("Nothing to add: what these files hold is already stored, unchanged.")

if st.session_state.get("last_upload"):
    changes = st.session_state.pop("last_upload")
    st.success("Stored.\n\n" + "\n".join(f"- {c}" for c in changes[:15])
               + (f"\n- … and {plural(len(changes) - 15, 'more month')}"
                  if len(changes) > 15 else ""))

def parts_words(parts: dict[str, list[str]], chosen: tuple[str, str] = ("", "")) -> str:
    """"orders of Dec 2011, order lines of Nov and Dec 2011": the months an upload fills
    beside the one chosen."""
    out = []
    for table in sorted(parts, key=list(TABLES).index):
        rest = [m for m in parts[table] if (table, m) != chosen]
        if rest == ["all"]:
            out.append(WORDS[table])
        elif rest:
            words = [month_words(run[0]) if len(run) < 3 else
                     f"{month_words(run[0])} – {month_words(run[-1])}" for run in runs(rest)]
            out.append(f"{WORDS[table]} of "
                       + (words[0] if len(words) == 1 else
                          ", ".join(words[:-1]) + " and " + words[-1]))
    return "; ".join(out)


def runs(months: list[str]) -> list[list[str]]:
    """Months one after the other together, so that 18 of them read "May 2025 – Oct 2026";
    two stay apart ("Nov 2011 and Dec 2011")."""
    out: list[list[str]] = []
    for m in sorted(months):
        y, mo = map(int, m.split("-"))
        if out and out[-1][-1] == (f"{y - 1}-12" if mo == 1 else f"{y}-{mo - 1:02d}"):
            out[-1].append(m)
        else:
            out.append([m])
    return [r for run in out for r in ([run] if len(run) >= 3 else [[m] for m in run])]


def files_of(record: dict) -> str:
    # An importer names each table it writes "file.csv (orders)".
    return ", ".join(sorted({s["name"].split(" (")[0] for s in record["sources"]}))


def months_of(record: dict) -> str:
    return parts_words({t: sorted(ms) for t, ms in record["partitions"].items()})


def what_was(record: dict) -> str:
    """An upload or a deletion as the manager did it: "the upload of orders.csv", "the
    deletion of orders of Mar 2011"."""
    if record["sources"]:
        return "the upload of " + files_of(record)
    action = record.get("action") or ""
    if action.startswith("deleted the upload of "):
        return "the deletion of " + action.removeprefix("deleted ")
    return "the deletion of " + months_of(record)


st.subheader("What is stored")
shown = target if not target.is_empty() else store
if shown is store and is_demo:
    whose = "Demo shop"
elif ui.shared_mode():
    whose = "Your uploads" if shown is target else "The shop"
else:
    whose = "Your store"
# A shared link's viewers are not told where the server keeps its files.
where = "" if ui.shared_mode() else f"`{shown.path}` · "
st.caption(f"{whose}: {where}version {shown.version}")
grid = pd.DataFrame({t: shown.months(t) for t in TABLES if t != "products"}).sort_index()
if grid.empty:
    products = shown.months("products").get("all", 0)
    st.write(f"Products: {plural(products, 'SKU')}; nothing dated yet." if products
             else "Nothing yet.")
else:
    grid = grid.fillna(0).astype(int).rename(columns=WORDS)
    grid.index = grid.index.map(month_words)
    grid = grid.rename_axis("Month").reset_index()
    st.dataframe(grid, hide_index=True, width="stretch", column_config={
        t: st.column_config.NumberColumn(format="localized") for t in grid.columns[1:]})
    ui.scroll_hint(grid, "stored")
    products = shown.months("products").get("all", 0)
    st.caption(f"Rows per table and month. Products: {plural(products, 'SKU')}.")
    log = [{"when": i["at"].replace("T", " ")[:16],
            "what": (files_of(i) if i["sources"] else
                     "Deleted " + what_was(i).removeprefix("the deletion of ")),
            "tables and months": months_of(i)}
           for i in reversed(shown.manifest["ingests"])]
    with st.expander("Source files by table and month"):
        parts = pd.DataFrame([{"table": WORDS[t], "month": month_words(m), "rows": p["rows"],
                               "files": ", ".join(p["sources"])}
                              for t in TABLES for m, p in shown.manifest["tables"].get(
                                  t, {}).items()])
        st.dataframe(neutralise(parts), hide_index=True, width="stretch", column_config={
            "rows": st.column_config.NumberColumn(format="localized")})
        ui.scroll_hint(parts, "sources")
    with st.expander(f"Uploads ({len(log)})"):
        st.dataframe(neutralise(pd.DataFrame(log)), hide_index=True, width="stretch")
        ui.scroll_hint(pd.DataFrame(log), "uploads")


def undone(record: dict) -> str:
    """What an undo put back and took away, said once after it."""
    back = {t: [m for m, c in ms.items() if c["old"]] for t, ms in record["partitions"].items()}
    gone = {t: [m for m, c in ms.items() if not c["old"]] for t, ms in record["partitions"].items()}
    rows = sum(c["old_entry"]["rows"] for ms in record["partitions"].values()
               for c in ms.values() if c["old"])
    text = f"Undone: {what_was(record)}."
    if any(gone.values()):
        text += f" Removed: {parts_words({t: ms for t, ms in gone.items() if ms})}."
    if any(back.values()):
        text += (f" Back as before it: {parts_words({t: ms for t, ms in back.items() if ms})} "
                 f"({plural(rows, 'row')}).")
    return text


# A deletion or an undo, said once, under the button pressed: above the boxes, a phone's
# screen showed the Delete box and not the sentence, some 500 px higher.
done = st.session_state.pop("data_done", None)


def say_done(box: str) -> None:
    if done and done[0] == box:
        st.success(md_plain(done[1], 2000))


if not target.is_empty() or target.manifest["ingests"]:
    a, b = st.columns(2)
    with a.container(border=True):
        last = target.manifest["ingests"][-1] if target.manifest["ingests"] else None
        st.markdown("**Undo the last upload**")
        if last:
            st.caption(md_plain(f"{what_was(last)[0].upper()}{what_was(last)[1:]} "
                                f"({last['at'][:16].replace('T', ' ')}): every month it "
                                "changed goes back to what it was.", 2000))
            if st.button("Undo", key="undo"):
                try:
                    record = target.undo()
                except ValueError as e:   # nothing left that can be undone; the store busy
                    st.error(md_plain(f"Nothing was undone: {e}", 2000))
                else:
                    st.session_state["data_done"] = ("undo", undone(record))
                    st.rerun()
        say_done("undo")
    with b.container(border=True):
        st.markdown("**Delete a stored month**")
        t = st.selectbox("Table", [t for t in TABLES if target.months(t)], key="del_table",
                         format_func=lambda t: WORDS[t].capitalize())
        m = st.selectbox("Month", list(target.months(t)) if t else [], key="del_month",
                         format_func=month_words)
        upload, parts = target.upload_parts(t, m) if t and m else (None, {})
        whole = sum(map(len, parts.values())) > 1
        if whole:
            # One export's months go together, said once before the one click: orders without
            # their lines, or one month of a file without the other, would show figures the
            # export does not hold. Undo brings them all back.
            files = files_of(upload)
            st.caption(md_plain(
                f"{WORDS[t].capitalize()} of {month_words(m)} were stored by the "
                f"upload of {files} "
                f"({upload['at'][:16].replace('T', ' ')}), which also holds "
                f"{parts_words(parts, (t, m))}. Deleting removes the whole upload: one part "
                "of an export kept without the rest would show figures the export does not "
                "hold. Undo brings it all back.", 2000))
        if st.button("Delete the whole upload" if whole else "Delete", key="delete",
                     disabled=not (t and m)):
            rows = sum(target.manifest["tables"][table][month]["rows"]
                       for table, months in parts.items() for month in months)
            try:
                if whole:
                    target.delete_months(parts, f"deleted the upload of {files}")
                else:
                    target.delete_month(t, m)
            except ValueError as e:
                st.error(md_plain(f"Nothing was deleted: {e}", 2000))
            else:
                st.session_state["data_done"] = ("delete", (
                    f"Deleted: {f'the upload of {files}: ' if whole else ''}"
                    f"{parts_words(parts)} ({plural(rows, 'row')}). Undo brings "
                    f"{'it' if whole else 'them'} back."))
                st.rerun()
        say_done("delete")
else:
    say_done("undo")   # the first upload undone: nothing left, no box to say it in

st.subheader("Templates")
st.caption("Empty files with the expected column names, one per table.")
cols = st.columns(4)
for i, (name, spec) in enumerate(TABLES.items()):
    cols[i % 4].download_button(name, template_csv(name), file_name=f"{name}_template.csv",
                                mime="text/csv", key=f"template_{name}", help=spec.description)
