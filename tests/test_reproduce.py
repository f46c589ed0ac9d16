"""`cgbench reproduce`: a committed cell retrained from scratch lands within its seed spread."""

import pandas as pd
import pytest

from cgbench.__main__ import main
from cgbench.reproduce import compare

CELL = ["--tasks", "synthetic_label", "--models", "cvae", "--profile", "smoke",
        "--include-synthetic"]  # fmt: skip


def test_a_rerun_reproduces_its_record_and_leaves_it_untouched(tmp_path):
    assert main(["run", *CELL, "--seeds", "0", "1", "--logger", "none",
                 "--results-dir", str(tmp_path)]) == 0  # fmt: skip
    record = tmp_path / "runs" / "synthetic_label" / "cvae" / "smoke" / "seed0" / "metrics.json"
    before = record.read_bytes()
    assert main(["reproduce", *CELL, "--seeds", "0", "--results-dir", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "reproduce.csv")
    assert set(table["seed"]) == {0} and "attr_acc" in set(table["metric"])
    assert table["reproduces"].all()
    assert record.read_bytes() == before  # the rerun trained in a scratch folder


def test_a_rerun_outside_the_seed_spread_does_not_reproduce():
    def rec(seed, value):
        return {"task": "t", "model": "m", "profile": "quick", "seed": seed,
                "scores": {"acc": value}}  # fmt: skip

    committed = [rec(0, 0.80), rec(1, 0.82), rec(2, 0.81)]  # sd 0.01
    near, far = compare(committed, [rec(0, 0.815)]), compare(committed, [rec(0, 0.90)])
    assert near["reproduces"].all() and not far["reproduces"].any()
    assert far["delta"].iloc[0] == pytest.approx(0.10)


def test_cells_without_a_record_say_so(tmp_path, capsys):
    assert main(["reproduce", *CELL, "--results-dir", str(tmp_path)]) == 1
    assert "no committed record" in capsys.readouterr().out
