"""`--executor subprocess|slurm` (workflows.cluster): cells as submitit jobs, the same tables."""

from pathlib import Path

import pandas as pd
import pytest

from cgbench.__main__ import main
from cgbench.config import ConfigError
from cgbench.workflows import cluster

pytest.importorskip("submitit")

FAILING_MODEL = '''
from torch import nn

from cgbench.models import ConditionalGenerator


class Boom(ConditionalGenerator):
    """A generator whose training step fails: one broken cell in a matrix."""

    cond_kinds = frozenset({"label"})

    def __init__(self, x_shape, y_shape):
        super().__init__(x_shape, y_shape)
        self.net = nn.Linear(1, 1)

    def training_step(self, batch, batch_idx):
        raise RuntimeError("boom: this cell fails on purpose")

    def configure_optimizers(self):
        import torch

        return torch.optim.Adam(self.parameters())

    def generate(self, y, generator=None):
        raise NotImplementedError
'''
CELLS = ("run --tasks synthetic_label --profile smoke --logger none --include-synthetic").split()
TIMING = ("train_seconds", "samples_per_second", "train_stages")  # differ between any two runs


@pytest.fixture
def failing(plugin_module):
    """A model module the job processes can import; the registries restored after."""
    plugin_module("failing_models", FAILING_MODEL)
    return "boom=failing_models:Boom"


def table(results: str) -> pd.DataFrame:
    board = pd.read_csv(f"{results}/leaderboard.csv")
    return board.drop(columns=[c for c in board if c.startswith(TIMING)])


def test_jobs_in_parallel_processes_give_the_sequential_tables(tmp_path, capsys):
    models = ["--models", "cvae", "cgan", "acgan"]
    assert main([*CELLS, *models, "--results-dir", str(tmp_path / "seq")]) == 0
    jobs = ["--executor", "subprocess", "--job-dir", str(tmp_path / "jobs")]
    assert main([*CELLS, *models, *jobs, "--results-dir", str(tmp_path / "par")]) == 0
    assert "3 job(s) submitted (subprocess)" in capsys.readouterr().out
    # equal up to float summation order (a job runs 1 thread, this process the default)
    close = {"check_exact": False, "rtol": 1e-3, "atol": 1e-5}
    # (the synthetic tasks score no CAS, whose classifier float rounding moves by whole images)
    seq, par = (pd.read_csv(tmp_path / d / "scores.csv") for d in ("seq", "par"))
    pd.testing.assert_frame_equal(seq, par, **close)
    pd.testing.assert_frame_equal(table(tmp_path / "seq"), table(tmp_path / "par"), **close)
    assert main([*CELLS, *models, *jobs, "--results-dir", str(tmp_path / "par")]) == 0
    assert "job(s) submitted" not in capsys.readouterr().out  # finished cells: never resubmitted


def test_a_failing_job_is_reported_with_its_log_and_the_others_land(tmp_path, capsys, failing):
    args = [
        *CELLS,
        *"--models cvae --model".split(),
        failing,
        *"--executor subprocess --job-dir".split(),
        str(tmp_path / "jobs"),
        *"--results-dir".split(),
        str(tmp_path / "r"),
    ]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "1 run(s) failed; the others landed" in captured.err
    assert "boom: this cell fails on purpose" in captured.err
    log = captured.err.split("(log ")[1].split(")")[0]
    assert "boom: this cell fails on purpose" in Path(log).read_text()  # the job's own log
    runs = tmp_path / "r" / "runs" / "synthetic_label"
    assert (runs / "cvae" / "smoke" / "seed0" / "metrics.json").exists()
    assert not (runs / "boom" / "smoke" / "seed0" / "metrics.json").exists()
    assert main(args) == 1  # a rerun resubmits only the missing cell
    assert "1 job(s) submitted" in capsys.readouterr().out


def test_cluster_settings_merge_the_config_block_and_flags_and_are_checked(tmp_path):
    params = cluster.settings(
        {"timeout_min": 60, "slurm_partition": "cpu"}, ["timeout_min=120", "gpus_per_node=1"]
    )
    assert params == {"timeout_min": 120, "slurm_partition": "cpu", "gpus_per_node": 1}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        cluster.settings(None, ["timeout_min"])
    with pytest.raises(ConfigError, match="cluster settings"):
        cluster._executor("subprocess", tmp_path, {"walltime": 5})  # not a submitit parameter


def test_tuning_trials_as_jobs_score_as_the_local_ones(tmp_path):
    tune = ["tune", "--tasks", "synthetic_attributes", "--models", "cvae"]
    assert main([*tune, "--results-dir", str(tmp_path / "seq")]) == 0
    jobs = ["--executor", "subprocess", "--job-dir", str(tmp_path / "jobs")]
    assert main([*tune, *jobs, "--results-dir", str(tmp_path / "par")]) == 0
    seq, par = (
        pd.read_csv(tmp_path / d / "tuning" / "synthetic_attributes.csv") for d in ("seq", "par")
    )
    assert list(seq["search"].fillna("")) == list(par["search"].fillna(""))
    assert list(par["score"]) == pytest.approx(list(seq["score"]), rel=1e-3, abs=1e-5)
