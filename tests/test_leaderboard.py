import shutil
from pathlib import Path

import pandas as pd
import pytest

from cgbench.provenance import annotate, load_records
from cgbench.summaries import leaderboard
from cgbench.tasks import TASKS, Task

GOLDEN = Path(__file__).parent / "data"


def write(results, **kwargs):
    """Rebuild the tables from records annotated for today's code, as `cgbench leaderboard`."""
    return leaderboard.write(results, records=load_records(results), **kwargs)


@pytest.fixture
def results(tmp_path):
    shutil.copytree(GOLDEN / "runs", tmp_path / "runs")
    return tmp_path


def test_golden_rebuild_matches_expected_text(results):
    write(results)
    for name in ("scores.csv", "leaderboard.csv", "leaderboard.md"):
        assert (results / name).read_text() == (GOLDEN / name).read_text(), name


def test_rebuild_is_byte_identical(results):
    write(results)
    first = {p.name: p.read_bytes() for p in results.glob("*.*")}
    for p in results.glob("*.*"):
        p.unlink()
    write(results)
    assert {p.name: p.read_bytes() for p in results.glob("*.*")} == first


def test_rank_follows_the_primary_metrics_direction(results, monkeypatch):
    records = load_records(results)
    table = leaderboard.leaderboard_table(records).dropna(subset=["rank"])
    # cvae's records are stale (made-up config hashes): shown, never ranked
    assert table.set_index("model")["rank"].to_dict() == {"toy": 1, "worse": 2}
    lower_first = Task(
        "mnist", TASKS["mnist"].datamodule, "label", ("pairwise_ms_ssim",), "pairwise_ms_ssim"
    )
    monkeypatch.setitem(TASKS, "mnist", lower_first)  # diversity: lower is better
    table = leaderboard.leaderboard_table(records).dropna(subset=["rank"])
    assert table.set_index("model")["rank"].to_dict() == {"worse": 1, "toy": 1}  # CIs overlap


def test_synthetic_tasks_stay_out_of_the_published_tables(results):
    synthetic = results / "runs" / "synthetic_label" / "cvae" / "quick" / "seed0"
    synthetic.mkdir(parents=True)
    text = (results / "runs" / "mnist" / "cvae" / "quick" / "seed0" / "metrics.json").read_text()
    (synthetic / "metrics.json").write_text(text.replace('"mnist"', '"synthetic_label"'))
    assert set(write(results)["task"]) == {"mnist"}
    assert set(write(results, include_synthetic=True)["task"]) == {
        "mnist",
        "synthetic_label",
    }


def test_diverged_runs_show_their_status_and_no_rank(results):
    table = write(results).set_index("model")
    assert table.loc["unstable", "status"] == "diverged 1/1"
    assert table["rank"].isna()["unstable"] and table.loc["worse", "status"] == "ok"


def test_variants_are_rows_of_their_own_but_never_ranked(results):
    table = leaderboard.leaderboard_table(load_records(results)).set_index("model")
    assert table.loc["toy[prior]", "attr_acc_mean"] == pytest.approx(0.31)
    assert table.loc["toy[prior]", "variant_of"] == "toy"
    assert pd.isna(table.loc["toy[prior]", "rank"]) and table.loc["toy", "rank"] == 1
    assert table.loc["toy", "train_stages"] == "vae 100 (cached) + latent 20"


def test_drift_check_fails_on_a_hand_edited_table(results, capsys):
    from cgbench.__main__ import main

    write(results)
    assert main(["leaderboard", "--check", "--results-dir", str(results)]) == 0
    table = results / "leaderboard.md"
    table.write_text(table.read_text().replace("0.9850", "0.9990"))
    assert main(["leaderboard", "--check", "--results-dir", str(results)]) == 1
    assert "leaderboard.md differs" in capsys.readouterr().err
    write(results)
    assert main(["leaderboard", "--check", "--results-dir", str(results)]) == 0


def test_confidence_interval_and_adapted_marks(results):
    table = leaderboard.leaderboard_table(load_records(results)).set_index("model")
    # Two seeds: t(0.975, 1) = 12.706 times the standard error.
    expected = 12.706 * table.loc["toy", "attr_acc_std"] / 2**0.5
    assert table.loc["toy", "attr_acc_ci95"] == pytest.approx(expected, rel=1e-3)
    assert pd.isna(table.loc["worse", "attr_acc_ci95"])  # one seed: no interval

    def adapted(task, model):
        return annotate({"task": task, "model": model, "seed": 0, "profile": "quick"})["adapted"]

    assert adapted("mnist", "lc") and adapted("celeba", "acgan")
    assert not adapted("celeba", "lc") and not adapted("mnist", "cvae")


def test_report_has_tables_charts_and_grids(results):
    from cgbench.summaries import report

    grid = results / "runs" / "mnist" / "toy" / "quick" / "seed0" / "samples.png"
    grid.write_bytes(b"\x89PNG\r\n\x1a\n")  # the report links grids; it does not decode them
    (grid.parent / "curves.csv").write_text("epoch,train/loss\n0,2.0\n1,1.5\n")
    text = report.write(results).read_text()
    assert "mnist_curves.png" in text
    assert "<table" in text and "mnist_metrics.png" in text
    assert (results / "report" / "mnist_metrics.png").stat().st_size > 1000
    assert "runs/mnist/toy/quick/seed0/samples.png" in text


def test_a_record_whose_config_no_longer_resolves_is_marked_stale(results):
    # The golden cvae records carry made-up config hashes: today's YAML resolves another config.
    table = write(results).set_index("model")
    assert table.loc["cvae", "status"] == "stale: config 2/2"
    assert table.loc["worse", "status"] == "ok"  # an unknown model: never called stale


def test_report_draws_quality_against_compute_and_names_each_grid_row(results):
    import json

    import torch

    from cgbench.records import png_bytes
    from cgbench.summaries import report

    run = results / "runs" / "mnist" / "toy" / "quick" / "seed0"
    record = json.loads((run / "metrics.json").read_text())
    primary = TASKS["mnist"].primary
    record |= {"train_tflop": 2.0, "budget_tflop": 2.0, "train_seconds": 2.0}
    half = {"train_tflop": 1.0, "train_seconds": 1.0, "global_steps": 5}
    record["milestones"] = {"1.0": half | {"scores": {primary: 0.5}}}
    record["grid_rows"] = [f"digit {i}" for i in range(10)]
    (run / "metrics.json").write_text(json.dumps(record))
    (run / "samples.png").write_bytes(png_bytes(torch.rand(3, 10 * 30, 8 * 30)))

    text = report.write(results).read_text()
    assert (results / "report" / "mnist_budget.png").stat().st_size > 1000
    assert "report/mnist_budget.png" in text
    assert "report/mnist_toy_samples.png" in text  # the labelled copy, not the bare grid
    assert (results / "report" / "mnist_toy_samples.png").stat().st_size > 1000
