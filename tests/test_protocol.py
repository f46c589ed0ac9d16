"""Protocol v2 on the real data: floors and ceilings, per-attribute rates, paste-back, ranks."""

import json

import numpy as np
import pytest
import torch
from conftest import DATA_DIR

from cgbench.__main__ import main
from cgbench.cells import references
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
SLICE = ["--profile", "quick", "--set", "eval.max_batches=2"]  # 128 test faces: a small real slice


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
    assert set(table["reference"]) == {"floor", "ceiling"}


def test_real_faces_with_their_conditions_score_the_evaluators_own_rates(tmp_path):
    # The ceiling row over the whole test split, one sample each (the real face itself):
    # its balanced accuracy is the frozen evaluator's own, computed by its training code.
    results = tmp_path / "results"
    rates = "eval.metrics=[attr_balanced,attr_tpr,attr_tnr]"
    args = [
        *"--profile quick --set".split(),
        rates,
        *"--set eval.k_samples=1 --set eval.max_batches=null".split(),
    ]
    assert main(["references", "--tasks", "celeba", "--results-dir", str(results), *args]) == 0
    real = record(results, "celeba", "ref_real")
    own = frozen_record("celeba")
    for rate in ("attr_balanced", "attr_tpr", "attr_tnr"):
        assert real["scores"][rate] == pytest.approx(own[rate], abs=1e-6)
    assert real["evaluator"]["frozen"] and real["evaluator"]["sha256"] == own["sha256"]


def test_a_condition_ignoring_generator_ranks_below_one_that_conditions(tmp_path):
    # Real training faces that match the requested Male value and nothing else: a generator
    # that conditions on one attribute of ten. It beats both floors on attr_balanced and is
    # ranked; the shuffled-condition floor of perfect faces is not.
    results = tmp_path / "results"
    assert main(["references", "--tasks", "celeba", "--results-dir", str(results), *SLICE]) == 0
    dm, _, x, y = celeba_rows()
    pairs = [dm.train_set[i] for i in range(2000)]
    train_x, train_y = torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
    male = dm.attributes.index("Male")
    generator, samples = torch.Generator().manual_seed(0), []
    for want in y[:, male]:
        pool = torch.nonzero(train_y[:, male] == want).flatten()
        samples.append(train_x[pool[torch.randint(0, len(pool), (2,), generator=generator)]])
    path = tmp_path / "male_only.npz"
    np.savez(path, samples=torch.stack(samples).numpy())
    assert (
        main(
            [
                *"score --task celeba --samples".split(),
                str(path),
                *"--name male_only --results-dir".split(),
                str(results),
                *SLICE,
            ]
        )
        == 0
    )
    table = leaderboard.leaderboard_table(collect(results)).set_index("model")
    ours = table.loc["male_only"]
    assert ours["vs_floor"] == "above floor" and ours["rank"] == 1
    floors = table[table["reference"] == "floor"]
    assert (floors["attr_balanced_mean"] < ours["attr_balanced_mean"] - 0.02).all()
    # pooled attr_acc, the old ranking metric, cannot tell them apart this clearly
    assert table.loc["ref_constant", "attr_acc_mean"] > ours["attr_acc_mean"] - 0.02


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
