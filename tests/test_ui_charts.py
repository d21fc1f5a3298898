"""ui.charts: the style every chart shares — values written as the axis writes them, titles a
phone shows whole, the legend under the plot."""
import plotly.express as px

from ui import charts


def test_bar_values_are_written_as_the_axis_writes_them(monkeypatch):
    monkeypatch.setattr(charts, "currency", lambda: "EUR")
    fig = px.bar(x=["email", "direct"], y=[1200.5, 80.0])
    charts.bar_text(fig, "money")
    assert fig.data[0].texttemplate == "€%{y:,.0f}"
    across = px.bar(x=[0.25, 0.5], y=["email", "direct"], orientation="h")
    charts.bar_text(across, "ratio")
    assert across.data[0].texttemplate == "%{x:.1%}"
    assert charts.tick_format("times") == {"ticksuffix": "×", "tickformat": ",.1f"}


def test_a_long_title_is_cut_at_a_space_before_42_characters():
    # 51 characters; the last space before the 42nd is the 39th, after "from".
    title = "Net sales by acquisition channel, from first orders"
    fig = charts.styled(px.bar(x=["a"], y=[1], title=title))
    assert fig.layout.title.text == ("Net sales by acquisition channel, from<br>first orders")
    assert fig.layout.legend.orientation == "h" and fig.data[0].textangle == 0
    # A short title, or one already cut, as it is.
    assert charts.styled(px.bar(x=["a"], y=[1], title="Orders")).layout.title.text == "Orders"
    assert charts.styled(px.bar(x=["a"], y=[1], title=title.replace(", ", "<br>"))
                         ).layout.title.text == title.replace(", ", "<br>")
    # Marketing's payback title (95 characters): three lines, none over 42, each with its
    # room at the top (its second line of 52 was cut at 390 px).
    title = "Affiliate: revenue per acquired customer (line) against CAC (dotted), by month " \
        "of acquisition"
    fig = charts.styled(px.bar(x=["a"], y=[1], title=title))
    lines = fig.layout.title.text.split("<br>")
    assert " ".join(lines) == title and len(lines) == 3
    assert max(map(len, lines)) < charts.TITLE_LINE and fig.layout.margin.t == 88


def test_the_legend_starts_under_an_x_axis_title_not_over_it():
    bare = charts.styled(px.line(x=[0, 1], y=[1, 2], color=["a", "b"]).update_xaxes(title=None))
    titled = charts.styled(px.line(x=[0, 1], y=[1, 2], color=["a", "b"]).update_xaxes(
        title="Months since the first order"))
    assert bare.layout.legend.y == -0.12 and titled.layout.legend.y < bare.layout.legend.y
