"""The app's default view on the bench's large shop (data to 31 October 2026: October, since a
month's last day opens on that month) against the bench's "last 30 days" (2 – 31 October):
each page's set as the app asks for it under each, warm, another view's set in between.

    python bench/default_view.py [page ...]      (bench/README.md, *The default view*)
"""
import statistics
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import END, PAGE_NAMES, ROOT, VIEWS, page_set, record  # noqa: E402

from kpilib import Filters, Store  # noqa: E402

REPEAT = 15

if __name__ == "__main__":
    pages = tuple(sys.argv[1:]) or PAGE_NAMES
    store = Store(ROOT / "bench" / ".stores" / "scale-1")
    views = {"last 30 days": VIEWS["last 30 days"], "October": Filters(date(2026, 10, 1), END)}
    sets = record(store, views, pages)
    con = store.connect()
    for page in pages:
        out = []
        for v, other in zip(views, reversed(views)):
            page_set(con, sets[(page, v)])
            warm = []
            for _ in range(REPEAT):
                page_set(con, sets[(page, other)])
                warm.append(page_set(con, sets[(page, v)]))
            out.append(f"{v}: {len(sets[(page, v)])} calls, {statistics.median(warm) * 1000:.0f} ms")
        print(f"{page:10s} " + " | ".join(out), flush=True)
