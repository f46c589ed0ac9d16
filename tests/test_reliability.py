"""Reliability: resume after SIGKILL, corrupt records, concurrent rebuilds, determinism."""

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import torch

from cgbench.__main__ import main
from cgbench.summaries import leaderboard

ROOT = Path(__file__).resolve().parents[1]
# A matrix long enough to be killed part-way: 10 short epochs per run, a checkpoint each epoch.
SLOW_MATRIX = (
    "run --tasks synthetic_label --models cvae cgan --profile "
    "quick --logger none --include-synthetic --set "
    "trainer.max_epochs=10 --set "
    "trainer.enable_checkpointing=true --set "
    "trainer.enable_progress_bar=false --set "
    "trainer.enable_model_summary=false"
).split()


def start(results: Path, cache: Path) -> subprocess.Popen:
    env = os.environ | {"CGBENCH_CACHE": str(cache), "OMP_NUM_THREADS": "2"}
    return subprocess.Popen(
        [sys.executable, "-m", "cgbench", *SLOW_MATRIX, "--results-dir", str(results)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    return out


def test_killed_matrix_resumes_to_the_same_tables(tmp_path):
    cache = tmp_path / "cache"  # shared: the evaluator trains once
    finish(start(tmp_path / "whole", cache))

    cut = tmp_path / "cut"
    first = cut / "runs" / "synthetic_label" / "cvae" / "quick" / "seed0" / "metrics.json"
    second = cut / "runs" / "synthetic_label" / "cgan" / "quick" / "seed0"
    proc = start(cut, cache)
    deadline = time.time() + 240
    while not list(second.glob("checkpoints/*/last.ckpt")) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # mid-run: the second run has trained one epoch of 10
    proc.wait()
    (ckpt,) = second.glob("checkpoints/*/last.ckpt")
    epoch = torch.load(ckpt, map_location="cpu", weights_only=False)["epoch"]
    assert epoch < 9, f"the first checkpoint came after epoch {epoch}: not saved each epoch"
    assert first.exists() and not (second / "metrics.json").exists()
    mtime = first.stat().st_mtime_ns

    out = finish(start(cut, cache))
    assert "skipped, record exists" in out and "resuming from" in out
    assert first.stat().st_mtime_ns == mtime, "a finished record was rewritten"
    assert not (second / "checkpoints").exists(), "checkpoints are deleted once recorded"
    whole = (tmp_path / "whole" / "scores.csv").read_text()
    assert (cut / "scores.csv").read_text() == whole


def test_same_seed_gives_identical_scores(tmp_path):
    args = (
        "run --tasks synthetic_attributes --models csvae --profile "
        "smoke --logger none --include-synthetic"
    ).split()
    scores = []
    for name in ("a", "b"):
        assert main([*args, "--results-dir", str(tmp_path / name)]) == 0
        scores.append((tmp_path / name / "scores.csv").read_text())
    assert scores[0] == scores[1] and "attr_acc" in scores[0]


def test_corrupt_record_is_named_and_left_out(tmp_path, capsys):
    args = [
        *(
            "run --tasks synthetic_label --models cvae cgan --profile "
            "smoke --logger none --include-synthetic --results-dir"
        ).split(),
        str(tmp_path),
    ]
    assert main(args) == 0
    broken = tmp_path / "runs" / "synthetic_label" / "cgan" / "smoke" / "seed0" / "metrics.json"
    broken.write_text('{"task": "synthetic_label", "scores": {')  # cut off mid-write
    board = ["leaderboard", "--results-dir", str(tmp_path), "--include-synthetic"]
    assert main(board) == 0
    assert f"{broken} is corrupt" in capsys.readouterr().err
    rows = (tmp_path / "leaderboard.csv").read_text()
    assert "cvae" in rows and "cgan" not in rows
    assert main(args) == 0  # the matrix reruns the corrupt run instead of trusting it
    assert json.loads(broken.read_text())["status"] == "ok"


def test_table_rebuilds_wait_for_each_other(tmp_path):
    assert (
        main(
            [
                *(
                    "run --tasks synthetic_label --models cvae --profile smoke "
                    "--logger none --include-synthetic --results-dir"
                ).split(),
                str(tmp_path),
            ]
        )
        == 0
    )
    (tmp_path / "leaderboard.md").unlink()
    with open(tmp_path / ".leaderboard.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process is rebuilding
        rebuild = threading.Thread(target=leaderboard.write, args=(tmp_path,))
        rebuild.start()
        rebuild.join(0.5)
        assert rebuild.is_alive() and not (tmp_path / "leaderboard.md").exists()
    rebuild.join(30)
    assert (tmp_path / "leaderboard.md").exists()


def test_two_matrices_sharing_results_lose_no_record(tmp_path):
    env = os.environ | {"CGBENCH_CACHE": str(tmp_path / "cache")}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                *"-m cgbench run --tasks".split(),
                task,
                *(
                    "--models cvae --profile smoke --logger none --include-synthetic --results-dir"
                ).split(),
                str(tmp_path),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for task in ("synthetic_label", "synthetic_attributes")
    ]
    for proc in procs:  # a hang guard, not a speed target: two smoke matrices on a busy host
        assert proc.wait(timeout=900) == 0, proc.stderr.read()
    rows = (tmp_path / "leaderboard.csv").read_text()
    assert "synthetic_label,cvae" in rows and "synthetic_attributes,cvae" in rows
