"""Per-row values of the ranking metric (`scoring.items`) and the paired two-level bootstrap."""

import json
import shutil

import pytest
import torch

from cgbench.__main__ import main
from cgbench.metrics import METRICS
from cgbench.records import ITEMS, collect, read_items, run_path
from cgbench.scoring.standardised import STANDARDISED
from cgbench.summaries import bootstrap
from cgbench.summaries.ranking import p_better, p_over_seeds, sample
from cgbench.tasks import TASKS

SMOKE = ["--profile", "smoke", "--include-synthetic"]
TASK_KINDS = ("synthetic_label", "synthetic_attributes", "synthetic_image")


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
    """One smoke CVAE run per condition kind, with the references `run` scores beside it.

    Returns the results folder and the cache the run kept its weights in (a module fixture
    is set up before `conftest.isolated_cache` gives each test its own).
    """
    results = tmp_path_factory.mktemp("items") / "results"
    cache = tmp_path_factory.mktemp("items_cache")  # set up before any test's own cache
    args = ["--tasks", *TASK_KINDS, "--models", "cvae", "--results-dir", str(results)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CGBENCH_CACHE", str(cache))
        assert main(["run", *args, "--logger", "none", *SMOKE]) == 0
    return results, str(cache)


def _value(task: str, items: dict) -> float:
    """The metric's value on every kept row once: what the record's score must be."""
    weights = torch.ones(1, len(items["rows"]), dtype=torch.float64)
    return float(bootstrap.resampled_values(items["metric"], weights, items["values"].double()))


@pytest.mark.parametrize("task", TASK_KINDS)
def test_every_run_keeps_per_row_values_that_give_its_own_score(smoke_runs, task):
    run = run_path(smoke_runs[0], task, "cvae", "smoke", 0)
    record = json.loads((run / "metrics.json").read_text())
    items = read_items(str(run))
    primary = TASKS[task].primary
    assert record["items"] == {
        "file": ITEMS,
        "metric": primary,
        "shape": list(items["values"].shape),
    }
    assert items["metric"] == primary and len(items["rows"]) == len(items["values"])
    assert _value(task, items) == pytest.approx(record["scores"][primary], rel=1e-5)
    assert record["code"]["items"]  # the optional fingerprint part


def test_references_keep_them_on_the_models_rows(smoke_runs):
    model = read_items(str(run_path(smoke_runs[0], "synthetic_attributes", "cvae", "smoke", 0)))
    for kind in ("ref_constant", "ref_real", "ref_cond_mean"):
        run = run_path(smoke_runs[0], "synthetic_attributes", kind, "smoke", 0)
        items = read_items(str(run))
        record = json.loads((run / "metrics.json").read_text())
        assert torch.equal(items["rows"], model["rows"])  # paired row by row with the model
        assert _value("synthetic_attributes", items) == pytest.approx(
            record["scores"]["attr_balanced"], rel=1e-5
        )


def test_older_records_get_the_same_items_back_without_a_score_changing(
    smoke_runs, tmp_path, monkeypatch
):
    results = tmp_path / "results"
    shutil.copytree(smoke_runs[0], results)
    monkeypatch.setenv("CGBENCH_CACHE", smoke_runs[1])  # where the run kept its weights
    runs = [run_path(results, "synthetic_label", m, "smoke", 0) for m in ("cvae",)]
    runs.append(run_path(results, "synthetic_attributes", "ref_real", "smoke", 0))
    before = {}
    for run in runs:  # as a record made before items were kept
        record = json.loads((run / "metrics.json").read_text())
        before[run] = (read_items(str(run))["values"].clone(), dict(record["scores"]))
        (run / ITEMS).unlink()
        del record["items"], record["code"]["items"], record["code"]["standardised"]
        for key in STANDARDISED:  # ... and before the standardised distances
            del record["scores"][key], record["higher_is_better"][key]
        (run / "metrics.json").write_text(json.dumps(record))
    read_items.cache_clear()
    args = ["--results-dir", str(results), "--include-synthetic"]
    assert main(["items", "--tasks", "synthetic_label", "synthetic_attributes", *args]) == 0
    for run in runs:
        record = json.loads((run / "metrics.json").read_text())
        assert torch.equal(read_items(str(run))["values"], before[run][0])
        assert record["scores"] == pytest.approx(before[run][1], rel=1e-9)
        assert record["code"]["items"] and record["code"]["standardised"]
        assert not any(record["higher_is_better"][key] for key in STANDARDISED)


def test_standardised_distances_stand_beside_fid_eval(smoke_runs):
    """Every record whose task scores ``fid_eval`` carries them; real faces beat a constant."""
    for task in TASK_KINDS:
        scores = {}
        for model in ("cvae", "ref_real", "ref_constant"):
            run = run_path(smoke_runs[0], task, model, "smoke", 0)
            if not run.exists():  # image tasks have other floors
                continue
            scores[model] = json.loads((run / "metrics.json").read_text())["scores"]
            scored = set(STANDARDISED) <= set(scores[model])
            assert scored == ("fid_eval" in TASKS[task].metrics), (task, model)
        if "fid_eval" in TASKS[task].metrics:  # raw fid_eval is near 0 for all three here
            real = scores["ref_real"]["fid_evalz"]
            assert real < scores["ref_constant"]["fid_evalz"] and real < scores["cvae"]["fid_evalz"]


def test_resampled_rates_are_the_metric_s_own_value_on_the_drawn_rows():
    torch.manual_seed(0)
    seen, asked = (torch.rand(40, 3) > 0.5).double(), (torch.rand(40, 3) > 0.4).double()
    metric = METRICS["attr_balanced"].__new__(METRICS["attr_balanced"])  # value_of reads no state
    draw = torch.randint(0, 40, (40,))
    weights = torch.bincount(draw, minlength=40).double()[None]  # (1, R) counts
    got = bootstrap.resampled_values("attr_balanced", weights, torch.cat([seen, asked], 1))
    assert float(got) == pytest.approx(metric.value_of(torch.cat([seen, asked], 1)[draw]))
    values = torch.rand(40, 1, dtype=torch.float64)
    mean = bootstrap.resampled_values("ssim", weights, values)
    assert float(mean) == pytest.approx(float(values[draw].mean()))


def _side(values: list[torch.Tensor]) -> dict:
    return {"rows": torch.arange(len(values[0])), "values": values}


def test_two_level_p_sees_a_real_gap_and_not_a_row_or_seed_accident():
    torch.manual_seed(1)
    difficulty = torch.rand(200, 1, dtype=torch.float64)  # shared by both: pairing cancels it
    better = _side([difficulty + 0.05 + 0.01 * torch.randn(200, 1) for _ in range(3)])
    worse = _side([difficulty + 0.01 * torch.randn(200, 1) for _ in range(3)])
    assert bootstrap.p_two_level(better, worse, "ssim", higher=True) < 0.01
    assert bootstrap.p_two_level(worse, better, "ssim", higher=True) > 0.99
    same = _side([difficulty + 0.01 * torch.randn(200, 1) for _ in range(3)])
    assert 0.05 < bootstrap.p_two_level(same, worse, "ssim", higher=True) < 0.95
    # lower is better: the direction flips the test
    assert bootstrap.p_two_level(worse, better, "lpips", higher=False) < 0.01


def test_p_better_needs_both_the_seeds_and_the_rows_to_agree():
    rows = torch.arange(50)
    noisy = torch.linspace(0, 1, 50, dtype=torch.float64)[:, None]
    # seeds far apart in mean, but each row's values spread so widely that rows decide nothing
    a = {"_values": [0.60, 0.61, 0.62], "_items": {"rows": rows, "values": [noisy * 1.2] * 3}}
    b = {
        "_values": [0.50, 0.51, 0.52],
        "_items": {"rows": rows, "values": [noisy.flip(0)] * 3},
    }
    assert p_over_seeds(a, b, True) < 0.01
    assert p_better(a, b, True, "ssim") >= bootstrap.p_two_level(
        a["_items"], b["_items"], "ssim", True
    )
    assert p_better(a, b, True, "ssim") >= p_over_seeds(a, b, True)
    # runs scored on other rows are not paired: the seeds' test alone
    other = b | {"_items": {"rows": rows + 1, "values": b["_items"]["values"]}}
    assert p_better(a, other, True, "ssim") == p_over_seeds(a, other, True)


def test_only_final_scores_and_main_samples_carry_items(smoke_runs):
    from cgbench.summaries.budgets import at_milestones

    records = collect(smoke_runs[0])
    runs = [r for r in records if r["task"] == "synthetic_attributes" and r["model"] == "cvae"]
    assert sample(runs, "attr_balanced")["_items"] is not None
    assert sample(runs, "attr_tpr")["_items"] is None  # another metric: not its items
    fake = [r | {"milestones": {"0.001": {"scores": r["scores"], "train_tflop": 0.001,
                                          "train_seconds": 1.0}}} for r in runs]  # fmt: skip
    final = float(runs[0].get("budget_tflop") or runs[0]["train_tflop"])
    carried = {s["milestone_tflop"]: s["items"] is not None for s in at_milestones(fake)}
    assert carried == {0.001: False, final: True} or final == 0.001
    variant = runs[0] | {"variants": {"prior": {"scores": runs[0]["scores"]}}}
    from cgbench.records import variant_records

    assert all(v["items"] is None for v in variant_records(variant))
