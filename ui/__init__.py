"""The UI layer, by job: which store the app reads (session), the sidebar filters and the URL
(filters), the query plan (plan), cards, tables and formatting (components), Plotly figures
(charts) and the "Why?" view (why). Pages hold no SQL and no business rules.

What pages use is named here too, so that a page reads ``ui.metrics(...)``; the modules are
where each thing lives."""
from ui.session import (PAGE_FAILED, active_store, can_change, connection, currency,
                        error_boundary, facts, goals, has, maturity, missing, pinned_store,
                        reason, setting, shared_mode, signed_in, unknown_path, unmatched_refunds,
                        up_to_date, upload_store)
from ui.filters import (current_filters, data_end, data_start, fmt_range, history,
                        months, only, open_why, require_filters, sidebar_filters)
from ui.plan import alerts_judged_from, kpi, pacing, step_counts, unusual_days, value
from ui.components import (SPARK_COLOURS, by_channel_table, cancelled_words, categorised,
                           change, change_value, channel_label, definition, downloads, fmt,
                           fmt_count, fmt_money, grain, grain_default, has_categories, header,
                           help_text, later,
                           mark_final, metric, metrics, missing_note, need, not_final, pace_text,
                           scroll_hint, show_sql, sparkline, split_by, table, top_and_other,
                           verdict)
from ui.components import NARROW_CSS
from ui.charts import (bar_text, chart, cohort_curves, draw_chart, part_periods_note,
                       period_axis, styled, tick_format, trend)
from ui.why import why_view
from ui.session import outdated
from ui.session import importers

