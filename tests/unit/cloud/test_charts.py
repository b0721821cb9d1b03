"""The dashboard's server-drawn charts: what they say to a screen reader, and their shapes."""

from __future__ import annotations

from cloud_api.web import charts


def test_bars_say_what_they_show_and_draw_one_bar_per_day() -> None:
    chart = charts.bars("Cost per day", ["01/11", "02/11", "03/11"], [0.5, 1.25, 0.0], money=True)
    assert chart.svg.count('class="bar"') == 3
    assert 'role="img"' in chart.svg
    assert "total $1.75, highest $1.25 (02/11)" in chart.svg
    assert chart.rows == [("01/11", "$0.50"), ("02/11", "$1.25"), ("03/11", "$0.00")]


def test_the_sentiment_line_leaves_gaps_for_days_without_conversations() -> None:
    chart = charts.sentiment_line("Mood", ["a", "b", "c", "d"], [0.5, None, -0.25, -0.5])
    assert chart.svg.count("<polyline") == 2
    assert chart.svg.count("<circle") == 3
    assert "first +0.50, last -0.50" in chart.svg
    assert chart.rows[1] == ("b", "—")


def test_levels_count_members_and_escape_what_they_print() -> None:
    chart = charts.levels("Churn <risk>", {"low": 10, "critical": 2})
    assert "Churn &lt;risk&gt;" in chart.svg
    assert "low 10, critical 2 (of 12 members)" in chart.svg


def test_an_empty_chart_still_renders() -> None:
    assert "no data" in charts.bars("Nothing", [], []).svg


def test_churn_factors_read_in_words_in_both_shapes() -> None:
    from cloud_api.web.render import churn_factor

    assert churn_factor("membership_expiring") == "membership ends within 30 days"
    assert churn_factor({"factor": "no_visit_14_days", "weight": 0.3, "value": 20}) == (
        "has not come in for more than two weeks (20 days since the last visit, +0.3 to the risk)"
    )
