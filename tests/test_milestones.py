"""Anytime scoring: a run scored at FLOP milestones trains as one without, and each milestone
scores what a shorter run stopped there scores."""

import pytest

from cgbench.cells.train import run_one, weights_path
from cgbench.config import ConfigError, run_config

PLAIN = ("trainer.max_epochs=-1", "trainer.enable_checkpointing=false")


def _run(tmp_path, name, *overrides):
    return run_one(
        "synthetic_label", "cgan", 0, "quick", PLAIN + overrides, tmp_path / name, "none"
    )


def test_a_milestone_scores_what_a_shorter_run_scores_and_changes_nothing_else(tmp_path):
    probe = _run(tmp_path, "probe", "trainer.max_epochs=1")
    per_batch = probe["train_tflop"] / probe["global_steps"]  # a GAN: 2 optimiser steps a batch
    mark, budget = 1.5 * per_batch, 3.5 * per_batch  # passed after batch 2; the end after 4
    anytime = _run(
        tmp_path, "anytime", f"budget.train_tflop={budget}", f"budget.milestones=[{mark}]"
    )
    plain = _run(tmp_path, "plain", f"budget.train_tflop={budget}")
    shorter = _run(tmp_path, "shorter", f"budget.train_tflop={mark}")

    (entry,) = anytime["milestones"].values()
    assert entry["global_steps"] == shorter["global_steps"] < anytime["global_steps"]
    assert entry["train_tflop"] == pytest.approx(shorter["train_tflop"])
    assert entry["scores"] == pytest.approx(shorter["scores"])  # the same metrics, same values
    assert anytime["scores"] == pytest.approx(plain["scores"])  # scoring left training alone
    assert "milestones" not in plain
    cfg = run_config("synthetic_label", "cgan", 0, "quick", PLAIN + (
        f"budget.train_tflop={budget}", f"budget.milestones=[{mark}]"))  # fmt: skip
    assert weights_path(cfg, anytime["config_sha"], mark).exists()  # `rescore` can score it


@pytest.mark.parametrize("marks", ["[2.0]", "[0.5, 0.2]", "[0]"])
def test_milestones_must_rise_and_lie_under_the_budget(marks):
    with pytest.raises(ConfigError, match="budget.milestones"):
        run_config(
            "synthetic_label", "cgan", 0, "quick",
            ("budget.train_tflop=1", f"budget.milestones={marks}"),
        )  # fmt: skip
