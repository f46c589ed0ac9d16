"""Faults under the pool and the executors: a worker killed mid-training loses only its cell."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cgbench.records import run_path

ROOT = Path(__file__).resolve().parents[1]
# The victim: CGAN that, when CGBENCH_TEST_BARRIER names a file, writes its process id there at
# the start of its second epoch (the first epoch's checkpoint is saved) and waits to be
# killed. Mid-training by construction, on a host of any speed; without the variable it is
# CGAN itself.
VICTIM_MODEL = """
import os
import time

from cgbench.models.cgan import CGAN


class StoppableCGAN(CGAN):
    def on_train_epoch_start(self):
        barrier = os.environ.get("CGBENCH_TEST_BARRIER")
        if barrier and self.current_epoch == 1:
            with open(barrier + ".tmp", "w") as f:
                f.write(str(os.getpid()))
            os.replace(barrier + ".tmp", barrier)
            while True:
                time.sleep(1)
        super().on_train_epoch_start()
"""
VICTIM = "victim"
MATRIX = [
    *"run --tasks synthetic_label --models cvae csvae --model".split(),
    f"{VICTIM}=victim_model:StoppableCGAN",
    *(
        "--profile quick --logger none --include-synthetic --set "
        "trainer.max_epochs=3 --set trainer.enable_checkpointing=true "
        "--set trainer.enable_progress_bar=false --set "
        "trainer.enable_model_summary=false"
    ).split(),
]
EXECUTORS = {
    "workers": ["--workers", "2"],
    "subprocess": ["--executor", "subprocess", "--job-dir", "{jobs}"],
}


def start(root: Path, results: Path, extra: list[str], barrier: Path | None = None):
    # one thread everywhere: the pool's workers, the jobs and a rerun's single process alike,
    # so an interrupted and an uninterrupted run compute the same floats
    env = os.environ | {
        "CGBENCH_CACHE": str(root / "cache"),
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(root),
    }
    env.pop("CGBENCH_TEST_BARRIER", None)
    if barrier:
        env["CGBENCH_TEST_BARRIER"] = str(barrier)
    return subprocess.Popen(
        [sys.executable, "-m", "cgbench", *MATRIX, *extra, "--results-dir", str(results)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def scores(results: Path, model: str) -> dict:
    path = run_path(results, "synthetic_label", model, "quick", 0) / "metrics.json"
    return json.loads(path.read_text())["scores"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The victim's module, the matrix run once without faults (the pool), and its cache."""
    root = tmp_path_factory.mktemp("whole")
    (root / "victim_model.py").write_text(VICTIM_MODEL)
    out, _ = (proc := start(root, root / "results", ["--workers", "2"])).communicate(timeout=600)
    assert proc.returncode == 0, out
    return root


@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_a_killed_worker_loses_only_its_cell(tmp_path, executor, uninterrupted):
    extra = [a.format(jobs=tmp_path / "jobs") for a in EXECUTORS[executor]]
    results, barrier = tmp_path / "results", tmp_path / "victim.pid"
    proc = start(uninterrupted, results, extra, barrier)
    deadline = time.time() + 600  # a bound on a hang, not a timing: the barrier waits
    while not barrier.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    assert barrier.exists(), proc.communicate()[0]
    os.kill(int(barrier.read_text()), signal.SIGKILL)  # mid-training: epoch 1 of 3
    out, _ = proc.communicate(timeout=600)
    victim = run_path(results, "synthetic_label", VICTIM, "quick", 0)
    assert proc.returncode == 1, out
    assert f"synthetic_label × {VICTIM} × seed 0:" in out  # the exit names the lost cell
    assert not (victim / "metrics.json").exists() and list(victim.glob("checkpoints/*/*.ckpt"))
    for model in ("cvae", "csvae"):  # the other cells landed
        assert scores(results, model) == scores(uninterrupted / "results", model)

    rerun = start(uninterrupted, results, extra)
    out, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, out
    if executor == "subprocess":  # a job's output is in its log
        assert "1 job(s) submitted" in out
    else:  # only that cell trains, from the checkpoint it left
        assert out.count("  training ") == 1 and "resuming from" in out
    assert scores(results, VICTIM) == scores(uninterrupted / "results", VICTIM)
