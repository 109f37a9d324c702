"""The evaluation page's headline: the figures a person reads first, in words with units."""

from __future__ import annotations

from aco_assets.reporting.evaluation_summary import headline


def _row(metric: str, value: float) -> dict:
    return {"method": "production", "metric": metric, "subset": "all", "value": value}


def test_the_headline_gives_alarms_a_day_recall_precision_and_auc_with_units():
    rows = [
        _row("event_recall", 0.6571),
        _row("n_events", 71.0),
        _row("detection_precision", 0.7412),
        _row("auc", 0.90577),
        {"method": "np", "metric": "auc", "subset": "all", "value": 0.5},  # another method
    ]
    text = headline(1, 15, 74, rows)
    assert text == (
        "model v1 over 15 day(s): 74 detections, 4.9 alarms a day; 66 % of 71 catalogued events "
        "detected, 74 % of detections true, window AUC 0.91"
    )


def test_without_a_catalog_the_headline_says_why_there_is_no_recall():
    text = headline(2, 0, 0, [])
    assert text.startswith("model v2 over 0 day(s): 0 detections, 0.0 alarms a day")
    assert "no ground-truth catalog" in text
