"""`python -m cgbench.studies.time_to_quality`: a curve row per point: seconds, FLOPs, value."""

import pandas as pd

from cgbench.studies import time_to_quality
from cgbench.summaries import report


def test_one_point_gives_one_row_with_its_cost_and_the_report_draws_it(tmp_path):
    out = tmp_path / "time_to_quality" / "synthetic_label.csv"
    args = ["--task", "synthetic_label", "--models", "cvae", "--points", "0"]
    time_to_quality.main([*args, "--profile", "smoke", "--eval-rows", "16", "--out", str(out)])
    table = pd.read_csv(out)
    assert list(table["model"]) == ["cvae"] and table["metric"][0] == "attr_acc"
    assert table["batches"][0] == 1 and table["train_flops"][0] > 0
    # seconds: present and unrounded, never asserted on (a fast host trains a batch in 1 ms)
    assert 0 <= table["value"][0] <= 1 and table["train_seconds"][0] >= 0
    assert set(table["split"]) == {"val"}  # choices are made here: never on test rows
    chart = report.quality_chart(tmp_path, "synthetic_label", tmp_path)
    assert chart is not None and chart.stat().st_size > 0


def test_a_variant_adds_its_curve_and_a_model_block_may_set_its_own_batch(tmp_path):
    out = tmp_path / "synthetic_label.csv"
    base = [
        *(
            "--task synthetic_label --models cvae --points 0 --profile smoke --eval-rows 16 --out"
        ).split(),
        str(out),
    ]
    time_to_quality.main(base)
    time_to_quality.main([*base, "--set", "models.cvae.data.batch_size=4", "--label", "b4"])
    time_to_quality.main([*base, "--set", "models.cvae.data.batch_size=4", "--label", "b4"])
    table = pd.read_csv(out, keep_default_na=False)
    assert sorted(table["label"]) == ["", "b4"]  # the rerun replaced its own curve only
    assert dict(zip(table["label"], table["images_seen"], strict=True))["b4"] == 4


def test_a_curve_stops_once_it_reaches_its_target(tmp_path):
    out = tmp_path / "synthetic_label.csv"
    args = [
        *(
            "--task synthetic_label --models cvae --points 0 0 0 "
            "--profile smoke --eval-rows 16 --out"
        ).split(),
        str(out),
        *"--stop-at 0".split(),
    ]
    time_to_quality.main(args)
    assert len(pd.read_csv(out)) == 1  # any accuracy is >= 0: the first point ends it
