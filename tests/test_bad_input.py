"""The bad-input catalogue: each fault gives one clear message and exit code 2, no traceback.

Data faults use copies of the real files in ``DATA_DIR`` (linked, then one damaged).
"""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA_DIR

import cgbench.datamodules.mnist as mnist_module
from cgbench.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ["--profile", "smoke", "--logger", "none", "--include-synthetic"]


def fails(capsys, *args) -> str:
    """Run the command line; assert exit code 2 and a single error line; return that line."""
    assert main(list(args)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def real_copy(tmp_path: Path, dataset: str) -> Path:
    """``tmp_path/data/<dataset>`` with every real file linked; returns that folder."""
    source = DATA_DIR / dataset
    if not source.exists():
        pytest.skip(f"real {dataset} not found under DATA_DIR={DATA_DIR}")
    folder = tmp_path / "data" / dataset
    folder.mkdir(parents=True)
    for item in source.iterdir():
        (folder / item.name).symlink_to(item)
    return folder


def small_celeba(tmp_path: Path, n: int = 40) -> Path:
    """A CelebA folder with the first ``n`` real images and the real list files (linked)."""
    folder = real_copy(tmp_path, "celeba")
    (folder / "img_align_celeba").unlink()
    images = folder / "img_align_celeba"
    images.mkdir()
    for path in sorted((DATA_DIR / "celeba" / "img_align_celeba").glob("*.jpg"))[:n]:
        (images / path.name).symlink_to(path)
    return folder


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--tasks", "nope"], "unknown task 'nope'; choose from: mnist"),
        (["--models", "nope"], "unknown model 'nope'; choose from: cvae"),
        (["--set", "eval.metrics=[psnr]"], "unknown metric 'psnr' in eval.metrics"),
        (["--set", "nope.x=1"], "unknown config block 'nope'"),
        (["--set", "eval.k=3"], "unknown key eval.k"),
        (["--set", "evaluator.depth=3"], "unknown key evaluator.depth"),
        (["--set", "models.vae.lr=1"], "unknown key models.vae"),
        (["--set", "models.cvae.no_such_arg=1"], "models.cvae"),
        (["--set", "eval.k_samples=1"], "needs at least 2"),
        (["--seeds", "-1"], "seed '-1' is not an integer"),
        (["--seeds", "one"], "seed 'one' is not an integer"),
    ],
)
def test_bad_names_keys_and_values(tmp_path, capsys, args, expected):
    base = ["run", "--tasks", "synthetic_label", "--models", "cvae", *SMOKE]
    err = fails(capsys, *base, "--results-dir", str(tmp_path), *args)
    assert expected in err
    assert not (tmp_path / "runs").exists(), "refused before any work"


def test_a_value_the_model_refuses(tmp_path, capsys):
    args = ["--tasks", "synthetic_attributes", "--models", "csvae", "--results-dir", str(tmp_path)]
    err = fails(capsys, "run", *args, *SMOKE, "--set", "models.csvae.adversary_steps=0")
    assert "adversary_steps must be at least 1" in err and "adversary_steps=1 or more" in err


def test_unknown_profile_lists_the_profiles(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["run", "--profile", "huge"])
    assert stop.value.code == 2
    assert "invalid choice: 'huge'" in capsys.readouterr().err


def test_mask_larger_than_the_image(tmp_path, capsys):
    err = fails(
        capsys,
        "run",
        "--tasks",
        "completion_mnist",
        "--results-dir",
        str(tmp_path),
        "--set",
        "data.train_areas=[0.1,1.5]",
    )
    assert "does not fit a 28x28 image" in err


def test_data_dir_that_is_not_a_readable_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "a_file"))
    (tmp_path / "a_file").write_text("not a folder")
    err = fails(capsys, "run", "--tasks", "mnist", "--results-dir", str(tmp_path))
    assert "is not a readable folder" in err


def test_corrupt_idx_file(tmp_path, capsys, monkeypatch):
    folder = real_copy(tmp_path, "mnist")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b garbage")
    monkeypatch.setattr(mnist_module, "download_url", lambda *a, **k: 1 / 0)  # offline
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    err = fails(capsys, "run", "--tasks", "mnist", "--results-dir", str(tmp_path))
    assert "'t10k-labels-idx1-ubyte.gz' is missing or corrupt" in err and "DATA_DIR" in err


def fails_on_celeba(capsys, tmp_path) -> str:
    """One CVAE smoke run on the (broken) CelebA copy: its one-line error."""
    return fails(
        capsys, *"run --tasks celeba --models cvae".split(), *SMOKE, "--results-dir", str(tmp_path)
    )


def test_corrupt_jpeg(tmp_path, capsys, monkeypatch):
    folder = small_celeba(tmp_path)
    broken = sorted((folder / "img_align_celeba").iterdir())[3]
    broken.unlink()
    broken.write_bytes(b"\xff\xd8\xff not a jpeg")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    err = fails_on_celeba(capsys, tmp_path)
    assert f"cannot read image {broken}" in err


def test_truncated_attribute_file(tmp_path, capsys, monkeypatch):
    folder = small_celeba(tmp_path)
    lines = (DATA_DIR / "celeba" / "list_attr_celeba.txt").read_text().splitlines()
    (folder / "list_attr_celeba.txt").unlink()
    (folder / "list_attr_celeba.txt").write_text("\n".join(lines[:30]) + "\n" + lines[30][:40])
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    err = fails_on_celeba(capsys, tmp_path)
    assert "list_attr_celeba.txt is truncated or corrupt" in err


def test_no_traceback_unless_debug(tmp_path):
    def stderr(*extra):
        cmd = [sys.executable, "-m", "cgbench", "run", "--models", "nope", *extra]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        assert done.returncode in (1, 2)
        return done.stderr

    quiet = stderr()
    assert "Traceback" not in quiet and "unknown model" in quiet
    assert "Traceback" in stderr("--debug")


@pytest.mark.parametrize(
    ("argv", "extra"),
    [
        (["report"], "report"),
        (["run", "--tasks", "synthetic_label", *SMOKE, "--logger", "wandb"], "wandb"),
    ],
)
def test_a_missing_optional_dependency_names_its_extra(tmp_path, capsys, monkeypatch, argv, extra):
    import importlib.util

    real = importlib.util.find_spec

    def find_spec(name, *args):  # as if the extras were not installed
        return None if name in ("wandb", "matplotlib") else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert main([*argv, "--results-dir", str(tmp_path)]) == 2
    assert f"pip install 'cgbench[{extra}]'" in capsys.readouterr().err


@pytest.mark.parametrize("override", ["trainer.bogus", "models.cvae.bogus=1"])
def test_time_to_quality_names_a_bad_override_in_one_line(override, capsys):
    from cgbench.studies import time_to_quality

    with pytest.raises(SystemExit) as stop:
        time_to_quality.main(["--task", "synthetic_label", "--models", "cvae", "--set", override])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
