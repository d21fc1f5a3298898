"""Data: what is stored, and the monthly upload of exports."""
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

import ui
from kpilib import Store
from kpilib.ingest import IngestError, ingest
from kpilib.schema import TABLES, template_csv
from kpilib.settings import store_path

st.title("Data")
store, is_demo = ui.active_store()
if is_demo:
    st.info("The dashboard shows the **demo shop** until you upload your own exports below. "
            "Your first upload starts your own store; the demo is then no longer shown.")

st.subheader("Upload exports")
st.caption("CSV (comma or semicolon, any encoding), Excel (.xlsx) or Parquet, one canonical "
           "table per file or sheet. Files are checked first: if one is not valid, nothing is "
           "written and the message says which file, column and rows to fix. Uploading the same "
           "file again changes nothing; rows with the same key replace the stored ones.")
files = st.file_uploader("Exports", type=["csv", "txt", "xlsx", "parquet"],
                         accept_multiple_files=True, key="uploads")
if files and st.button("Check and add to the store", type="primary", key="ingest"):
    target = Store(store_path())
    with tempfile.TemporaryDirectory() as tmp, st.spinner("Checking and storing…"):
        paths = []
        for i, up in enumerate(files):
            p = Path(tmp) / f"{i}{Path(up.name).suffix.lower()}"
            p.write_bytes(up.getvalue())
            paths.append((p, up.name))
        try:
            reports = ingest(target, paths)
        except IngestError as e:
            st.error(f"Nothing was stored. {e}")
        else:
            for r in reports:
                (st.info if r.unchanged else st.success)(r.summary())

st.subheader("What is stored")
st.caption(f"Store: `{store.path}` · version {store.version}")
grid = pd.DataFrame({t: store.months(t) for t in TABLES if t != "products"}).sort_index()
if grid.empty:
    st.write("Nothing yet.")
else:
    st.dataframe(grid.fillna(0).astype(int).rename_axis("Month").reset_index(), hide_index=True,
                 width="stretch", column_config={
                     t: st.column_config.NumberColumn(format="localized") for t in grid.columns})
    products = store.months("products").get("all", 0)
    st.caption(f"Rows per table and month. Products: {products:,} SKUs.")

st.subheader("Templates")
st.caption("Empty files with the expected column names, one per table.")
cols = st.columns(4)
for i, (name, spec) in enumerate(TABLES.items()):
    cols[i % 4].download_button(name, template_csv(name), file_name=f"{name}_template.csv",
                                mime="text/csv", key=f"template_{name}", help=spec.description)
