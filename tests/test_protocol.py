"""The protocol on real data: floors, ceilings, copies, per-attribute rates, paste-back, gates."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import DATA_DIR

from cgbench.__main__ import main
from cgbench.cells import no_learning, references
from cgbench.cells.external import scored_rows
from cgbench.cells.pipeline import load_evaluator, make_datamodule
from cgbench.config import EVAL_DEFAULTS, load_config
from cgbench.evaluators import frozen_record
from cgbench.records import collect, run_path
from cgbench.summaries import leaderboard

pytestmark = pytest.mark.skipif(
    not (DATA_DIR / "celeba").exists() or frozen_record("celeba") is None,
    reason=f"real CelebA under DATA_DIR={DATA_DIR} and the frozen evaluators are needed",
)
# 128 test faces, a small real slice; CAS (tests/test_cas.py) off: 200 steps per scored row set
NO_CAS = ["--set", "eval.cas=false"]
SLICE = ["--profile", "quick", "--set", "eval.max_batches=2", *NO_CAS]


def record(results, task, model, profile="quick"):
    return json.loads((run_path(results, task, model, profile, 0) / "metrics.json").read_text())


def celeba_rows(*overrides):
    cfg = {"eval": EVAL_DEFAULTS | {"max_batches": 2}, "data": load_config("celeba")["data"]}
    task, dm = make_datamodule("celeba", cfg)
    classifier, _ = load_evaluator(task, dm, {"evaluator": {}})
    _, _, x, y = scored_rows(dm, 2)
    return dm, classifier, x, y


def test_floor_rows_score_what_a_hand_computation_gives(tmp_path):
    # The best constant image on 128 real test faces: attr_acc is the share of condition
    # entries its evaluator reading agrees with, and every balanced rate is exactly 0.5.
    results = tmp_path / "results"
    assert main(["references", "--tasks", "celeba", "--results-dir", str(results), *SLICE]) == 0
    dm, classifier, x, y = celeba_rows()
    constant = references.best_constant(classifier, dm, y)
    seen = (classifier(constant[None]) > 0).float()  # (1, A)
    scores = record(results, "celeba", "ref_constant")["scores"]
    assert scores["attr_acc"] == pytest.approx(float((y == seen).float().mean()), abs=1e-6)
    assert scores["attr_balanced"] == pytest.approx(0.5, abs=1e-9)
    shuffled = record(results, "celeba", "ref_shuffled")["scores"]
    assert abs(shuffled["attr_balanced"] - 0.5) < 0.05  # real faces, conditions ignored
    table = leaderboard.leaderboard_table(collect(results)).set_index("model")
    assert table["rank"].isna().all()  # references are shown, never ranked
    assert set(table["reference"]) == {"floor", "ceiling", "copy"}


def test_real_faces_with_their_conditions_score_the_evaluators_own_rates(tmp_path):
    # The ceiling row over the whole test split, one sample each (the real face itself):
    # its balanced accuracy is the frozen evaluator's own, computed by its training code.
    results = tmp_path / "results"
    rates = "eval.metrics=[attr_balanced,attr_tpr,attr_tnr]"
    args = [
        *"--profile quick --set".split(),
        rates,
        *"--set eval.k_samples=1 --set eval.max_batches=null".split(),
        *NO_CAS,
    ]
    assert main(["references", "--tasks", "celeba", "--results-dir", str(results), *args]) == 0
    real = record(results, "celeba", "ref_real")
    own = frozen_record("celeba")
    for rate in ("attr_balanced", "attr_tpr", "attr_tnr"):
        assert real["scores"][rate] == pytest.approx(own[rate], abs=1e-6)
    assert real["evaluator"]["frozen"] and real["evaluator"]["sha256"] == own["sha256"]


def score_external(results, tmp_path, name, samples):
    path = tmp_path / f"{name}.npz"
    np.savez(path, samples=samples.numpy())
    args = ["score", "--task", "celeba", "--samples", str(path), "--name", name]
    assert main([*args, "--results-dir", str(results), *SLICE]) == 0


def test_neither_a_copy_of_the_training_set_nor_a_prototype_ranks_on_celeba(tmp_path):
    # Two external submissions that beat every no-learning floor on attr_balanced: training
    # faces with the nearest attributes (a copy), and one validation face per condition, the
    # nearest in attributes, for both samples (a prototype: no diversity). The gate stops both.
    results = tmp_path / "results"
    assert main(["references", "--tasks", "celeba", "--results-dir", str(results), *SLICE]) == 0
    dm, _, _, y = celeba_rows()
    generator = torch.Generator().manual_seed(0)
    train_x, train_y = no_learning.split_tensors(dm)
    copies = train_x[no_learning.nearest_conditions(y, train_y, 2, generator)]
    val_x, val_y = no_learning.split_tensors(dm, "val")
    nearest = val_x[no_learning.nearest_conditions(y, val_y, 1, generator)[:, 0]]
    score_external(results, tmp_path, "copies", copies)
    score_external(results, tmp_path, "prototype", nearest[:, None].repeat(1, 2, 1, 1, 1))
    table = leaderboard.leaderboard_table(collect(results)).set_index("model")
    floors = table[table["reference"] == "floor"]
    for name, gate in (("copies", "copies"), ("prototype", "prototype")):
        ours = table.loc[name]
        assert ours["attr_balanced_mean"] > floors["attr_balanced_mean"].max()
        assert ours["gate"] == gate and pd.isna(ours["rank"]), name
    assert table.loc["copies", "copy_rate_mean"] == 1.0
    assert table.loc["ref_real", "copy_rate_mean"] < 0.6  # real test faces are not copies


def test_paste_back_makes_a_copy_of_the_input_score_exactly_the_floor(tmp_path):
    # Samples with noise where the input is visible and the input's zeros in the holes: after
    # paste-back they are the masked input itself, so they score exactly its floor row.
    results = tmp_path / "results"
    args = ["--results-dir", str(results), "--profile", "quick", "--set", "eval.max_batches=1"]
    assert main(["references", "--tasks", "completion_mnist", *args]) == 0
    cfg = {
        "eval": EVAL_DEFAULTS | {"max_batches": 1},
        "data": load_config("completion_mnist")["data"],
    }
    _, dm = make_datamodule("completion_mnist", cfg)
    _, _, _, y = scored_rows(dm, 1)
    k = load_config("completion_mnist")["eval"]["k_samples"]
    noise = torch.rand(len(y), k, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    hole = y[:, None, 1:]
    samples = (noise * (1 - hole)).numpy()  # visible: noise; holes: 0, as the input
    path = tmp_path / "copy.npz"
    np.savez(path, samples=samples)
    assert (
        main(
            [
                *"score --task completion_mnist --samples".split(),
                str(path),
                *"--name copy_input".split(),
                *args,
            ]
        )
        == 0
    )
    copied = record(results, "completion_mnist", "copy_input")["scores"]
    floor = record(results, "completion_mnist", "ref_input")["scores"]
    assert copied == floor
    assert (
        floor["psnr_hole"] < record(results, "completion_mnist", "ref_real")["scores"]["psnr_hole"]
    )
