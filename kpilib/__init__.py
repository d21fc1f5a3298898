"""E-commerce KPIs computed by DuckDB over a store of monthly exports. Never imports streamlit."""
from .filters import Filters
from .kpi import (FilterNotApplicable, Kpi, Read, from_daily, prepare, run, run_many,
                  run_together, script)
from .registry import KPIS, get
from .store import Store

__all__ = ["KPIS", "FilterNotApplicable", "Filters", "Kpi", "Read", "Store", "from_daily", "get",
           "prepare", "run", "run_many", "run_together", "script"]
