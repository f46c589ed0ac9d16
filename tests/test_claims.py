"""results/claims.md: every claim gets a verdict by its stated rule, traced to its records."""

import json

from benchmark import claims


def record(task, model, scores, seed=0, profile="standard", **extra):
    return {"task": task, "model": model, "seed": seed, "profile": profile, "status": "ok",
            "scores": scores, "higher_is_better": {k: True for k in scores},
            "config_sha": "x", **extra}  # fmt: skip


def write(tmp_path, *records):
    for r in records:
        path = tmp_path / "runs" / r["task"] / r["model"] / r["profile"] / f"seed{r['seed']}"
        path = path / "metrics.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(r))


def test_every_claim_has_a_row_and_missing_runs_say_not_measured(tmp_path):
    text = claims.render(tmp_path)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "verdict" not in line]
    assert len(rows) == len(claims.CLAIMS)
    assert all(row.endswith("| not measured |") for row in rows)


def test_acgan_rule_reads_the_records_it_lists(tmp_path):
    write(tmp_path, *[record("mnist", "acgan", {"attr_acc": 0.97, "diversity": 0.46,
                                                "diversity_real": 0.44}, seed=s)
                      for s in range(3)])  # fmt: skip
    text = claims.render(tmp_path)
    assert "| AC-GAN | Samples as diverse" in text and "accuracy. | holds |" in text
    assert "`runs/mnist/acgan/standard/seed0`, `runs/mnist/acgan/standard/seed1`" in text
    collapsed = {"attr_acc": 0.97, "diversity": 0.60, "diversity_real": 0.44}
    write(tmp_path, record("mnist", "acgan", collapsed, seed=0, profile="full"))
    text = claims.render(tmp_path)  # the most thorough profile wins, and one seed is flagged
    assert "does not hold (1 seed: a single-run verdict)" in text and "acgan (full, 1 seed)" in text
