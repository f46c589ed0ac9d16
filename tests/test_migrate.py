"""`cgbench migrate`: old metric keys renamed in place, values and hashes untouched, idempotent."""

import json

from cgbench.__main__ import main
from cgbench.metrics import METRICS
from cgbench.workflows.migrate import RENAMED


def test_old_records_get_todays_keys_and_nothing_else_changes(tmp_path):
    run = tmp_path / "runs" / "completion" / "cvae" / "quick" / "seed0"
    run.mkdir(parents=True)
    old = {
        "task": "completion",
        "model": "cvae",
        "seed": 0,
        "profile": "quick",
        "config_sha": "abc",
        "scores": {"diversity": 0.9, "diversity@mask10": 0.8, "diversity_lpips": 0.1, "lpips": 0.2},
        "higher_is_better": {
            "diversity": False,
            "diversity@mask10": False,
            "diversity_lpips": True,
            "lpips": False,
            "diversity_real": False,
        },
        "variants": {"prior": {"scores": {"diversity_real": 0.4}}},
    }
    (run / "metrics.json").write_text(json.dumps(old))
    assert main(["migrate", "--results-dir", str(tmp_path)]) == 0
    new = json.loads((run / "metrics.json").read_text())
    assert new["scores"] == {
        "pairwise_ms_ssim": 0.9,
        "pairwise_ms_ssim@mask10": 0.8,
        "pairwise_lpips": 0.1,
        "lpips": 0.2,
    }
    assert new["higher_is_better"]["pairwise_lpips"] is True
    assert new["variants"]["prior"]["scores"] == {"pairwise_ms_ssim_real": 0.4}
    assert new["config_sha"] == "abc"
    text = (run / "metrics.json").read_text()
    assert main(["migrate", "--results-dir", str(tmp_path)]) == 0  # idempotent
    assert (run / "metrics.json").read_text() == text
    assert set(RENAMED.values()) <= set(METRICS) and not set(RENAMED) & set(METRICS)
