"""Usage analytics figures count whole things: a page-view axis never ticks fractions."""
from __future__ import annotations

from components.analytics import page_views_figure


def test_few_page_views_get_whole_number_ticks():
    fig = page_views_figure([{"page": "/dashboard", "role": "manager", "views": 1},
                             {"page": "/alerts", "role": "manager", "views": 1}])
    # Plotly's automatic ticks were 0, 0.2, 0.4 … 1 for one view per page.
    assert (fig.layout.xaxis.tick0, fig.layout.xaxis.dtick) == (0, 1)


def test_many_page_views_keep_automatic_ticks():
    fig = page_views_figure([{"page": "/dashboard", "role": "manager", "views": 1_500}])
    assert fig.layout.xaxis.dtick is None


def test_satisfaction_legend_sits_above_the_plot_not_on_the_week_axis():
    import datetime as dt

    from components.analytics import satisfaction_figure

    weeks = [{"week": dt.date(2026, 11, 2) + dt.timedelta(weeks=i), "agreement": 0.9, "feedback": 10,
              "avg_rating": None, "ratings": 0} for i in range(6)]
    fig = satisfaction_figure(weeks)
    # below the plot (y=-0.28) it covered "Week (starting Monday)" once the tick labels turned
    assert fig.layout.legend.y > 1 and fig.layout.legend.yanchor == "bottom"
    assert fig.layout.margin.t >= 80
