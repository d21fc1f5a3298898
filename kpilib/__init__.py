"""E-commerce KPIs computed by DuckDB over a store of monthly exports. Never imports streamlit."""
from .filters import Filters
from .kpi import Kpi, run
from .registry import KPIS, get
from .store import Store

__all__ = ["Filters", "Kpi", "KPIS", "Store", "get", "run"]
