"""Your own model and task without editing the repo; one `cgbench` package beside a user's own."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest
import yaml

from cgbench.__main__ import main
from cgbench.models import MODELS

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ["--profile", "smoke", "--logger", "none", "--include-synthetic"]
OUTSIDE_MODEL = '''
import torch
from torch import nn

from cgbench.models import ConditionalGenerator


class TinyGen(ConditionalGenerator):
    """A user's generator living outside the repo: a linear map from y to an image."""

    cond_kinds = frozenset({"label", "attributes"})

    def __init__(self, x_shape, y_shape, hidden: int = 4, lr: float = 1e-3):
        super().__init__(x_shape, y_shape)
        self.save_hyperparameters()
        n = 1
        for s in x_shape:
            n *= s
        self.net = nn.Sequential(nn.Linear(y_shape[0], hidden), nn.Linear(hidden, n))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return (self.net(y).view_as(x).tanh() - x).abs().mean()

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)

    def generate(self, y, generator=None):
        return self.net(y).view(len(y), *self.x_shape).tanh()


class NotAModel:
    pass
'''


@pytest.fixture
def outside(plugin_module):
    """The user's module in a folder outside the repo; the registries restored afterwards."""
    return plugin_module("my_generators", OUTSIDE_MODEL)


def test_an_outside_model_runs_with_set_overrides(tmp_path, outside):
    args = [
        *(
            "run --tasks synthetic_label --model "
            "mine=my_generators:TinyGen --set models.mine.hidden=7 "
            "--results-dir"
        ).split(),
        str(tmp_path / "r"),
        *SMOKE,
    ]
    assert main(args) == 0
    run = tmp_path / "r" / "runs" / "synthetic_label" / "mine" / "smoke" / "seed0"
    record = json.loads((run / "metrics.json").read_text())
    assert record["status"] == "ok" and record["model_class"] == "my_generators:TinyGen"
    assert yaml.safe_load((run / "config.yaml").read_text())["model_args"]["hidden"] == 7
    assert "attr_acc" in record["scores"]
    assert "| mine |" in (tmp_path / "r" / "leaderboard.md").read_text()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("cvae=my_generators:TinyGen", "already taken"),
        ("my_generators:NotAModel", "not a cgbench.models.ConditionalGenerator subclass"),
        ("my_generators:Missing", "cannot import"),
        ("my_generators.TinyGen", "write it as pkg.module:Class"),
        ("Bad-Key=my_generators:TinyGen", "lower case letters"),
    ],
)
def test_a_bad_outside_model_gets_one_clear_error(tmp_path, capsys, outside, spec, message):
    args = ["run", "--tasks", "synthetic_label", "--model", spec, "--results-dir", str(tmp_path)]
    assert main([*args, *SMOKE]) == 2
    assert message in capsys.readouterr().err
    assert MODELS["cvae"].__name__ == "CVAE"  # a built-in is never replaced


def test_a_task_file_outside_the_package(tmp_path, capsys, outside):
    task = tmp_path / "few_classes.yaml"
    task.write_text("base: synthetic_label\ndata:\n  num_classes: 3\n")
    args = ["run", "--task-config", str(task), "--models", "cvae", "--results-dir", str(tmp_path)]
    assert main([*args, *SMOKE]) == 0
    config = tmp_path / "runs" / "few_classes" / "cvae" / "smoke" / "seed0" / "config.yaml"
    assert yaml.safe_load(config.read_text())["data"]["num_classes"] == 3
    (tmp_path / "orphan.yaml").write_text("data: {}\n")
    assert main(["run", "--task-config", str(tmp_path / "orphan.yaml"), *SMOKE]) == 2
    assert "needs `base: <task>`" in capsys.readouterr().err


def test_the_wheel_installs_beside_a_package_that_ships_its_own_models(tmp_path):
    """A fresh venv holds the cgbench wheel and a dummy `models` package; both import."""
    dist, source = tmp_path / "dist", tmp_path / "source"  # setuptools builds in the tree
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("benchmark", "models", "datamodules", "metrics"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(source)],
        check=True,
        cwd=tmp_path,
    )
    dummy = tmp_path / "dummy"
    (dummy / "models").mkdir(parents=True)
    (dummy / "models" / "__init__.py").write_text("WHO = 'dummy'\n")
    (dummy / "pyproject.toml").write_text(
        textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "dummy-models"
        version = "1.0"
        [tool.setuptools]
        packages = ["models"]
    """)
    )
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(dummy)],
        check=True,
        cwd=tmp_path,
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    # Dependencies (torch, ...) come from this environment's site-packages, after the venv's own.
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    python = venv / "bin" / "python"
    wheels = sorted(str(p) for p in dist.glob("*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), *wheels], check=True)
    outside_repo = {**os.environ, "PYTHONPATH": ""}
    check = subprocess.run(
        [
            str(python),
            "-c",
            "import models, cgbench.models, cgbench.metrics, cgbench; "
            "print(models.WHO, sorted(cgbench.models.MODELS), cgbench.__file__)",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=outside_repo,
        check=True,
    )
    assert check.stdout.startswith("dummy ['acgan', 'cgan', 'cgml', 'csvae', 'cvae', 'lc']")
    assert str(site) in check.stdout  # the wheel's copy, not the repo's
    configs = site / "cgbench" / "configs"
    assert (configs / "mnist.yaml").exists()  # task YAMLs ship as package data
    script = site / "bin" / "cgbench"
    helped = subprocess.run(
        [str(python), str(script), "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=outside_repo,
        check=True,
    )
    assert "conditions" in helped.stdout and "score" in helped.stdout
