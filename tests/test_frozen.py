"""Frozen evaluators and code staleness: the metric is fixed, and a code change is visible."""

import json

import pytest

from cgbench import evaluators
from cgbench.__main__ import main
from cgbench.config import ConfigError
from cgbench.evaluators import frozen_paths, frozen_record, load_frozen, train_frozen
from cgbench.provenance import staleness
from cgbench.records import run_path


class Data:
    """What the evaluator loader reads of a DataModule."""

    data_checksum = "not the committed data"
    x_shape, y_shape = (1, 28, 28), (10,)


def test_a_frozen_evaluator_is_never_replaced_without_force(capsys):
    assert frozen_record("mnist"), "the mnist evaluator is committed"
    with pytest.raises(ConfigError, match="--force"):
        train_frozen("mnist", Data(), {"epochs": 1})  # refused before any training


def test_other_data_or_a_corrupt_file_is_refused_with_the_fix(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="retrain with `cgbench evaluators --tasks mnist"):
        load_frozen("mnist", Data())
    weights, record = frozen_paths("mnist")
    (tmp_path / "mnist.pt").write_bytes(weights.read_bytes()[:-1] + b"x")
    (tmp_path / "mnist.json").write_text(record.read_text())
    monkeypatch.setattr(evaluators, "FROZEN_DIR", tmp_path)
    with pytest.raises(ConfigError, match="fails its SHA-256"):
        load_frozen("mnist", Data())


SMOKE_RUN = (
    "run --tasks synthetic_label --models cvae --profile smoke --logger none --include-synthetic"
).split()


def smoke_run(results) -> int:
    return main([*SMOKE_RUN, "--results-dir", str(results)])


def test_a_changed_code_digest_marks_the_record_stale(tmp_path):
    results = tmp_path / "results"
    assert smoke_run(results) == 0
    path = run_path(results, "synthetic_label", "cvae", "smoke", 0) / "metrics.json"
    record = json.loads(path.read_text())
    assert set(record["code"]) == {
        "model",
        "data",
        "scoring",
        "copying",
        "cas",
        "composite",
        "items",
        "standardised",
    }
    assert staleness(record) == ""
    record["code"]["scoring"] = "0" * 12  # as if the metrics had changed since
    assert staleness(record) == "code (scoring)"
    record["code"]["copying"] = "0" * 12  # a part the record has counts when it changes
    assert staleness(record) == "code (scoring, copying)"
    del record["code"]["copying"]  # ... and a record from before the check is not stale
    assert staleness(record) == "code (scoring)"
    record["task_version"] = 1
    assert staleness(record) == "task"
    path.write_text(json.dumps(record))  # a stale record is rerun, not skipped
    assert smoke_run(results) == 0
    assert staleness(json.loads(path.read_text())) == ""
