"""Faults under the pool and the executors: a worker killed mid-training loses only its cell."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cgbench.records import run_path

ROOT = Path(__file__).resolve().parents[1]
# Three cells long enough to be killed part-way: 10 short epochs each, a checkpoint each epoch.
MATRIX = ["run", "--tasks", "synthetic_label", "--models", "cvae", "cgan", "csvae",
          "--profile", "quick", "--logger", "none", "--include-synthetic",
          "--set", "trainer.max_epochs=10", "--set", "trainer.enable_checkpointing=true",
          "--set", "trainer.enable_progress_bar=false",
          "--set", "trainer.enable_model_summary=false"]  # fmt: skip
VICTIM = "cgan"
EXECUTORS = {
    "workers": ["--workers", "2"],
    "subprocess": ["--executor", "subprocess", "--job-dir", "{jobs}"],
}


def start(results: Path, cache: Path, extra: list[str]) -> subprocess.Popen:
    # one thread everywhere: the pool's workers, the jobs and a rerun's single process alike,
    # so an interrupted and an uninterrupted run compute the same floats
    env = os.environ | {"CGBENCH_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "cgbench", *MATRIX, *extra, "--results-dir",
                             str(results)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip


def victim_pid(output: list[str], jobs: Path) -> int | None:
    """The process training the victim cell, from its ``training <run dir> (process N)`` line."""
    lines = list(output) + [line for log in jobs.glob("*/*_log.out")
                            for line in log.read_text().splitlines()]  # fmt: skip
    pattern = re.compile(rf"training \S*/{VICTIM}/quick/seed0 \(process (\d+)\)")
    found = [int(m.group(1)) for line in lines if (m := pattern.search(line))]
    return found[0] if found else None


def scores(results: Path, model: str) -> dict:
    path = run_path(results, "synthetic_label", model, "quick", 0) / "metrics.json"
    return json.loads(path.read_text())["scores"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The matrix run once without faults (the pool), and its shared cache."""
    root = tmp_path_factory.mktemp("whole")
    proc = start(root / "results", root / "cache", ["--workers", "2"])
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    return root


@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_a_killed_worker_loses_only_its_cell(tmp_path, executor, uninterrupted):
    jobs = tmp_path / "jobs"
    extra = [a.format(jobs=jobs) for a in EXECUTORS[executor]]
    results, cache = tmp_path / "results", uninterrupted / "cache"
    victim = run_path(results, "synthetic_label", VICTIM, "quick", 0)
    proc = start(results, cache, extra)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True)
    reader.start()
    deadline, killed = time.time() + 300, None
    while killed is None and time.time() < deadline and proc.poll() is None:
        pid = victim_pid(output, jobs)
        if pid and list(victim.glob("checkpoints/*/last.ckpt")):  # mid-training
            os.kill(pid, signal.SIGKILL)
            killed = pid
        time.sleep(0.05)
    proc.wait(timeout=600)
    reader.join(10)
    text = "".join(output)
    assert killed, f"the {VICTIM} cell was never seen training:\n{text}"
    assert not (victim / "metrics.json").exists(), "killed after it finished: make it longer"
    assert proc.returncode == 1, text
    assert f"synthetic_label × {VICTIM} × seed 0:" in text  # the exit names the lost cell
    for model in ("cvae", "csvae"):  # the other cells landed
        assert scores(results, model) == scores(uninterrupted / "results", model)

    rerun = start(results, cache, extra)
    out, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, out
    if executor == "subprocess":  # a job's output is in its log
        assert "1 job(s) submitted" in out
    else:  # only that cell trains, from the checkpoint it left
        assert out.count("  training ") == 1 and "resuming from" in out
    assert scores(results, VICTIM) == scores(uninterrupted / "results", VICTIM)
