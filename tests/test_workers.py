"""`cgbench run --workers`: cells in parallel processes give the sequential run's records."""

import json

import pytest

from cgbench.__main__ import main
from cgbench.records import run_path
from cgbench.workflows import workers

SMOKE = ["--profile", "smoke", "--include-synthetic", "--logger", "none"]


def test_plan_gives_every_core_a_single_thread_worker(monkeypatch):
    monkeypatch.setattr(workers.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(workers.os, "sched_getaffinity", lambda _: {0, 1, 2, 3})
    assert workers.plan("auto", 10) == (4, 1)
    assert workers.plan("auto", 3) == (3, 1)  # never more workers than cells
    assert workers.plan("2", 10) == (2, 2)
    monkeypatch.setattr(workers.torch.cuda, "is_available", lambda: True)
    assert workers.plan("auto", 10) == (1, 4)
    with pytest.raises(ValueError, match="--workers 0"):
        workers.plan("0", 10)


def scores_of(results, model):
    path = run_path(results, "synthetic_label", model, "smoke", 0) / "metrics.json"
    return json.loads(path.read_text())["scores"]


def test_parallel_workers_write_the_sequential_records(tmp_path):
    cells = ["--tasks", "synthetic_label", "--models", "cvae", "cgan"]
    scores = {}
    for n in ("1", "2"):
        results = tmp_path / n
        assert main(["run", *cells, "--results-dir", str(results), "--workers", n, *SMOKE]) == 0
        scores[n] = {model: scores_of(results, model) for model in ("cvae", "cgan")}
    for model, values in scores["1"].items():
        for key, value in values.items():
            expected = pytest.approx(value, rel=1e-3, abs=1e-4, nan_ok=True)
            assert scores["2"][model][key] == expected, (model, key)
