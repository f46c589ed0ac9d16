"""End-to-end: the real runner on the offline synthetic tasks, through the command line."""

import json

import pytest

import cgbench.datamodules.mnist as mnist_module
from cgbench.__main__ import main
from cgbench.cells import references
from cgbench.metrics.distribution import DISTRIBUTION
from cgbench.models import MODELS
from cgbench.tasks import TASKS
from cgbench.workflows.matrix import pairs as matrix

SYNTHETIC = [name for name, task in TASKS.items() if task.synthetic]


def run(tmp_path, *extra):
    return main(
        [
            *"run --tasks".split(),
            *SYNTHETIC,
            *"--models all --profile smoke --logger none --results-dir".split(),
            str(tmp_path),
            *"--include-synthetic".split(),
            *extra,
        ]
    )


def test_matrix_pairs_only_matching_condition_kinds():
    for task, model in matrix(list(TASKS), list(MODELS)):
        assert TASKS[task].cond_kind in MODELS[model].cond_kinds


def generation_keys(task: str) -> set[str]:
    """The scores of a task's generation loop: its metrics and the ones derived from them."""
    keys = set(TASKS[task].metrics)
    if {"pairwise_ms_ssim", "pairwise_ms_ssim_real"} <= keys:
        keys.add("pairwise_ms_ssim_gap")
    return keys


def test_smoke_matrix_writes_records_and_leaderboard(tmp_path, capsys):
    assert run(tmp_path) == 0
    pairs = matrix(SYNTHETIC, list(MODELS))
    for task, model in pairs:
        run_dir = tmp_path / "runs" / task / model / "smoke" / "seed0"
        record = json.loads((run_dir / "metrics.json").read_text())
        expected = generation_keys(task)
        if hasattr(MODELS[model], "edit"):
            expected |= {
                m if m.startswith("edit_") else f"edit_{m}" for m in TASKS[task].edit_metrics
            }
        if hasattr(MODELS[model], "label_free_latent") and TASKS[task].cond_kind != "image":
            expected |= {"leakage", "leakage_max", "latent_auroc"}
        if TASKS[task].cond_kind != "image":  # same noise, one condition flipped
            expected.add("y_flip")
        expected.add("copy_rate")  # the copying check (cgbench.scoring.copying)
        if "fid_eval" in TASKS[task].metrics:  # beside it, on standardised features
            expected |= {"fid_evalz", "kid_evalz"}
        if TASKS[task].cond_kind != "image":
            expected.add("cas")  # classification accuracy score (cgbench.scoring.cas)
        expected -= set(record["unavailable"])  # LPIPS without weights: reason, no score
        assert set(record["scores"]) == expected
        assert set(record["higher_is_better"]) == expected
        assert all(v == v for v in record["scores"].values()), "no NaN scores"
        for key in (
            "git_sha",
            "config_sha",
            "data_checksum",
            "n_params",
            "train_seconds",
            "train_tflop",
            "samples_per_second",
            "evaluator",
            "metric_settings",
        ):
            assert key in record, key
        if "attr_acc" in TASKS[task].metrics:
            assert record["evaluator"]["sha256"] and 0 <= record["evaluator"]["test_acc"] <= 1
        assert (
            list(record["scores_ci95"]) == [TASKS[task].primary]
            or TASKS[task].primary in (record["unavailable"])
        )
        assert (run_dir / "config.yaml").exists() and (run_dir / "samples.png").exists()
        rows = record["grid_rows"]  # each grid row's condition, for the report's labels
        assert 1 <= len(rows) <= 10 and len(set(rows)) == len(rows)
        if TASKS[task].cond_kind == "label":
            assert rows[0] == "class 0"  # one-hot conditions, largest first
        for variant in MODELS[model].variants:  # scored and drawn like the main mode
            generation = generation_keys(task) - set(record["unavailable"])
            assert set(record["variants"][variant]["scores"]) == generation
            assert (run_dir / f"samples_{variant}.png").exists()
    out = capsys.readouterr().out
    assert f"run 1/{len(pairs)}: " in out and "done [" in out
    lines = (tmp_path / "leaderboard.csv").read_text().splitlines()
    n_variants = sum(len(MODELS[model].variants) for _, model in pairs)
    n_references = sum(len(references.kinds(TASKS[task])) for task in SYNTHETIC)
    assert len(lines) == 1 + len(pairs) + n_variants + n_references

    # A rerun with the same config skips; an override changes the config and reruns.
    assert run(tmp_path) == 0
    assert "skipped, record exists" in capsys.readouterr().out
    first = tmp_path / "runs" / "synthetic_label" / "cvae" / "smoke" / "seed0" / "metrics.json"
    sha = json.loads(first.read_text())["config_sha"]
    assert run(tmp_path, "--set", "models.cvae.latent_dim=3") == 0
    assert json.loads(first.read_text())["config_sha"] != sha


def test_unknown_names_exit_2_with_the_valid_choices(tmp_path, capsys):
    assert main(["run", "--models", "nope", "--results-dir", str(tmp_path)]) == 2
    assert "unknown model 'nope'; choose from: cvae" in capsys.readouterr().err
    assert main(["run", "--tasks", "nope", "--results-dir", str(tmp_path)]) == 2


def test_bad_override_key_names_the_config_block(tmp_path, capsys):
    assert run(tmp_path, "--set", "models.cvae.no_such_arg=1") == 2
    assert "models.cvae" in capsys.readouterr().err


def test_missing_data_stops_with_one_message_and_keeps_results(tmp_path, monkeypatch, capsys):
    assert run(tmp_path) == 0
    kept = {p: p.read_bytes() for p in tmp_path.glob("runs/**/metrics.json")}

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(mnist_module, "download_url", offline)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "empty"))
    code = main(["run", "--tasks", "mnist", "--models", "cvae", "--results-dir", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "DATA_DIR" in err
    assert {p: p.read_bytes() for p in tmp_path.glob("runs/**/metrics.json")} == kept
    # Data is checked before the matrix starts, even where every run would be skipped.
    assert main(["run", "--tasks", "colorization", "--results-dir", str(tmp_path)]) == 2
    assert "CelebA" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["list"])
def test_list_prints_the_matrix(command, capsys):
    assert main([command]) == 0
    assert "mnist" in capsys.readouterr().out


def test_refused_config_values_exit_2_before_any_run(tmp_path, capsys):
    code = main(
        [
            *"run --tasks synthetic_image --models cvae --results-dir".split(),
            str(tmp_path),
            *"--set models.cvae.likelihood=laplace".split(),
        ]
    )
    assert code == 2
    assert "models.cvae" in capsys.readouterr().err


def test_wandb_offline_run_holds_metrics_and_images(tmp_path, monkeypatch):
    import glob
    import subprocess
    import sys
    from pathlib import Path

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    args = [
        *(
            "run --tasks synthetic_label --models cvae --profile smoke --logger wandb --results-dir"
        ).split(),
        str(tmp_path),
        *"--include-synthetic".split(),
    ]
    assert main(args) == 0
    (log,) = glob.glob(
        str(tmp_path / "runs/synthetic_label/cvae/smoke/seed0/wandb/offline-run-*/run-*.wandb")
    )
    wandb_cli = Path(sys.executable).with_name("wandb")
    out = subprocess.run(
        [wandb_cli, "leet", "inspect", "--json", log], capture_output=True, text=True, check=True
    ).stdout
    history = {}
    for line in out.splitlines():
        record = json.loads(line)
        if record.get("type") == "history":
            history |= record["history"]["item"]
    assert 0 <= history["test/attr_acc"] <= 1
    assert history["samples._type"] == "images/separated"
    (board,) = glob.glob(
        str(tmp_path / "wandb/offline-run-*/run-*.wandb")
    )  # the leaderboard's own run
    assert (
        "leaderboard"
        in subprocess.run(
            [wandb_cli, "leet", "inspect", "--summary", board], capture_output=True, text=True
        ).stdout
    )


def test_image_tasks_record_a_shared_convergence_curve(tmp_path):
    args = [
        *(
            "run --tasks synthetic_image --models cvae cgan cgml "
            "--profile quick --logger csv --include-synthetic "
            "--results-dir"
        ).split(),
        str(tmp_path),
        *(
            "--set trainer.enable_progress_bar=false --set "
            "trainer.limit_train_batches=1 --set eval.max_batches=1"
        ).split(),
    ]
    assert main(args) == 0
    for model in ("cvae", "cgan", "cgml"):  # cgan has no validation step of its own
        curve = tmp_path / "runs" / "synthetic_image" / model / "quick" / "seed0" / "val_curves.csv"
        lines = curve.read_text().splitlines()
        assert lines[0] == "batches,epoch,val/sample_l1" and len(lines) == 1 + 2  # one an epoch
        assert [int(line.split(",")[0]) for line in lines[1:]] == [1, 2]  # one batch an epoch
        assert float(lines[-1].split(",")[-1]) > 0


def test_ddp_on_two_cpu_processes_matches_one_process(tmp_path):
    def scores(name, *extra):
        args = [
            *(
                "run --tasks synthetic_attributes --models cvae --profile "
                "smoke --logger none --include-synthetic --results-dir"
            ).split(),
            str(tmp_path / name),
            *extra,
        ]
        assert main(args) == 0
        path = tmp_path / name / "runs" / "synthetic_attributes" / "cvae" / "smoke" / "seed0"
        return json.loads((path / "metrics.json").read_text())

    one = scores("one")
    # Two gloo processes train; the main process gets rank 0's weights back and scores alone.
    two = scores("two", "--set", "trainer.devices=2", "--set", "trainer.strategy=ddp_spawn")
    assert two["status"] == "ok" and set(two["scores"]) == set(one["scores"])
    # Feature distances (fid_eval ...) on 16 samples move with any weight difference: left out.
    diffs = {
        k: abs(two["scores"][k] - v) for k, v in one["scores"].items() if k not in DISTRIBUTION
    }
    # 16 scored samples: one sample read differently moves a rate by 1/16.
    assert all(d <= 2 / 16 for d in diffs.values()), diffs


def test_full_profile_precision_is_auto_and_resolves_per_device(tmp_path):
    import torch

    from cgbench.cells.train import make_trainer
    from cgbench.config import run_config

    cfg = run_config("synthetic_label", "cvae", 0, "full")
    assert cfg["trainer"]["precision"] == "auto"
    trainer = make_trainer(cfg, tmp_path, False, "label")
    expected = "bf16-mixed" if torch.cuda.is_available() else "32-true"
    assert trainer.precision == expected


def test_a_models_own_batch_size_trains_with_it_but_scores_the_rows_of_the_others():
    from cgbench.cells.pipeline import make_datamodule
    from cgbench.config import run_config
    from cgbench.scoring.evaluate import evaluation_order

    base = run_config("synthetic_label", "cgan", 0, "smoke", ("eval.max_batches=2",))
    own = run_config(
        "synthetic_label",
        "cgan",
        0,
        "smoke",
        ("eval.max_batches=2", "models.cgan.data.batch_size=4"),
    )
    assert own["data"]["batch_size"] == 4 and "data" not in own["model_args"]
    assert own["eval"]["batch_size"] == base["data"].get("batch_size", 128) != 4
    _, dm_base = make_datamodule("synthetic_label", base)
    _, dm_own = make_datamodule("synthetic_label", own)
    assert next(iter(dm_own.train_dataloader()))[0].shape[0] == 4
    assert dm_own.eval_batch_size == dm_base.batch_size != 4
    assert evaluation_order(dm_own, 2) == evaluation_order(dm_base, 2)
