"""`cgbench reproduce`: a committed cell retrained from scratch lands within its seed spread."""

import pandas as pd
import pytest

from cgbench.__main__ import main
from cgbench.workflows.reproduce import compare, conclusions, summary_lines

CELL = ("--tasks synthetic_label --models cvae --profile smoke --include-synthetic").split()


def test_a_rerun_on_this_host_is_exact_and_leaves_the_record_untouched(tmp_path):
    assert (
        main(
            ["run", *CELL, "--seeds", "0", "1", "--logger", "none", "--results-dir", str(tmp_path)]
        )
        == 0
    )
    record = tmp_path / "runs" / "synthetic_label" / "cvae" / "smoke" / "seed0" / "metrics.json"
    before = record.read_bytes()
    assert main(["reproduce", *CELL, "--seeds", "0", "--results-dir", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "reproduce.csv", dtype={"seed": str})
    scored = table[table["test"] != "conclusion"]
    assert set(scored["test"]) == {"exact"} and set(scored["seed"]) == {"0"}
    assert "attr_acc" in set(scored["metric"]) and table["reproduces"].all()
    assert set(table[table["test"] == "conclusion"]["metric"]) == {"rank", "vs_floor"}
    assert record.read_bytes() == before  # the rerun trained in a scratch folder


def rec(seed, value, host=None, model="m", **extra):
    return {
        "task": "synthetic_label",
        "model": model,
        "profile": "quick",
        "seed": seed,
        "scores": {"attr_acc": value},
        "higher_is_better": {"attr_acc": True},
        "status": "ok",
        "host": host,
        **extra,
    }


def test_another_host_compares_seeds_as_samples():
    committed = [rec(0, 0.80), rec(1, 0.82), rec(2, 0.81)]  # no host: made before hosts
    near = compare(committed, [rec(0, 0.815), rec(1, 0.80), rec(2, 0.825)])
    assert set(near["test"]) == {"two-sample"} and near["reproduces"].all()
    assert "names no host" in near["why"].iloc[0]
    assert near["mdd80"].iloc[0] > 0.01  # three seeds each detect only large shifts
    one = compare(committed, [rec(0, 0.815)])  # one rerun seed: a prediction interval
    assert one["reproduces"].all() and one["seed"].iloc[0] == "0"
    far = compare(committed, [rec(0, 0.90), rec(1, 0.91), rec(2, 0.92)])
    assert not far["reproduces"].any() and far["delta"].iloc[0] == pytest.approx(0.10)


def test_the_same_host_demands_equal_scores():
    host = {"cpu": "x", "isa": [], "torch": "t", "torch_git": "g", "threads": 1}
    committed = [rec(0, 0.80, host), rec(1, 0.82, host)]
    same = compare(committed, [rec(0, 0.80, host)])
    assert list(same["test"]) == ["exact"] and same["reproduces"].all()
    moved = compare(committed, [rec(0, 0.8001, host)])  # inside the seed spread, still a fault
    assert not moved["reproduces"].any()
    other = compare(committed, [rec(0, 0.8001, host | {"cpu": "y"})])
    assert list(other["test"]) == ["two-sample"] and "cpu x -> y" in other["why"].iloc[0]


def test_a_floor_verdict_that_flips_is_reported():
    floor = rec(0, 0.50, model="ref_constant", reference="floor")
    committed = [floor, rec(0, 0.60), rec(1, 0.61), rec(2, 0.62)]
    rerun = [rec(0, 0.49), rec(1, 0.50), rec(2, 0.51)]
    table = conclusions(committed, rerun)
    verdict = table[table["metric"] == "vs_floor"].iloc[0]
    assert (verdict["record"], verdict["rerun"]) == (
        "above floor",
        "not distinguishable from floor",
    )
    assert not verdict["reproduces"]
    assert any("CONCLUSION CHANGED" in line for line in summary_lines(table))


def test_cells_without_a_record_say_so(tmp_path, capsys):
    assert main(["reproduce", *CELL, "--results-dir", str(tmp_path)]) == 1
    assert "no committed record" in capsys.readouterr().out
