"""`cgbench rescore`: kept weights scored again give the same scores, and say so."""

import json

from cgbench.__main__ import main
from cgbench.records import run_path

SMOKE = ["--profile", "smoke", "--include-synthetic"]


def test_rescoring_kept_weights_reproduces_the_scores_and_keeps_provenance(tmp_path):
    results = tmp_path / "results"
    args = ["--tasks", "synthetic_label", "--models", "cvae", "--results-dir", str(results)]
    assert main(["run", *args, "--logger", "none", *SMOKE]) == 0
    path = run_path(results, "synthetic_label", "cvae", "smoke", 0) / "metrics.json"
    trained = json.loads(path.read_text())
    assert main(["rescore", *args, *SMOKE]) == 0
    rescored = json.loads(path.read_text())
    assert rescored["scores"] == trained["scores"]  # same weights, same code: same numbers
    assert rescored["rescored"]["at"] and rescored["train_seconds"] == trained["train_seconds"]
    assert rescored["git_sha"] == trained["git_sha"]  # training provenance kept


def test_runs_without_kept_weights_are_named_not_rescored(tmp_path, isolated_cache, capsys):
    results = tmp_path / "results"
    args = ["--tasks", "synthetic_label", "--models", "cvae", "--results-dir", str(results)]
    assert main(["run", *args, "--logger", "none", *SMOKE]) == 0
    for weights in (isolated_cache / "weights").glob("*.pt"):
        weights.unlink()
    assert main(["rescore", *args, *SMOKE]) == 0
    assert "no kept weights" in capsys.readouterr().out


def test_run_rescores_instead_of_retraining_when_only_the_scoring_changed(tmp_path, capsys):
    """`make benchmark` after a metric change: the kept weights are scored, nothing retrains."""
    results = tmp_path / "results"
    args = ["--tasks", "synthetic_label", "--models", "cvae", "--results-dir", str(results)]
    assert main(["run", *args, "--logger", "none", *SMOKE]) == 0
    path = run_path(results, "synthetic_label", "cvae", "smoke", 0) / "metrics.json"
    record = json.loads(path.read_text())
    record["code"]["scoring"] = "an older one"  # as if metrics/ changed since
    path.write_text(json.dumps(record))
    capsys.readouterr()
    assert main(["run", *args, "--logger", "none", *SMOKE]) == 0
    assert "rescored (kept weights)" in capsys.readouterr().out
    after = json.loads(path.read_text())
    assert after["rescored"] and after["created"] == record["created"]
    assert after["code"]["scoring"] != "an older one"
