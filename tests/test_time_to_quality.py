"""`python -m cgbench.time_to_quality`: a curve row per point, with seconds, FLOPs and value."""

import pandas as pd

from cgbench import report, time_to_quality


def test_one_point_gives_one_row_with_its_cost_and_the_report_draws_it(tmp_path):
    out = tmp_path / "time_to_quality" / "synthetic_label.csv"
    args = ["--task", "synthetic_label", "--models", "cvae", "--points", "0"]
    time_to_quality.main([*args, "--profile", "smoke", "--eval-rows", "16", "--out", str(out)])
    table = pd.read_csv(out)
    assert list(table["model"]) == ["cvae"] and table["metric"][0] == "attr_acc"
    assert table["batches"][0] == 1 and table["train_flops"][0] > 0
    assert 0 <= table["value"][0] <= 1 and table["train_seconds"][0] > 0
    chart = report.quality_chart(tmp_path, "synthetic_label", tmp_path)
    assert chart is not None and chart.stat().st_size > 0
