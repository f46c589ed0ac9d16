"""results/claims.md: every claim gets a verdict by its stated rule, traced to its records."""

import json

from cgbench import claims


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
    assert rows[0] == "| source | claim | full | standard | quick |"
    assert len(rows[1:]) == len(claims.CLAIMS)
    assert all(row.endswith("| not measured | not measured | not measured |") for row in rows[1:])


def test_acgan_rule_is_applied_per_profile_to_the_records_it_lists(tmp_path):
    pairwise = {"pairwise_ms_ssim": 0.46, "pairwise_ms_ssim_real": 0.44}
    write(tmp_path, *[record("mnist", "acgan", {"attr_acc": 0.97 + s / 100, **pairwise}, seed=s)
                      for s in range(3)])  # fmt: skip
    text = claims.render(tmp_path)
    assert "accuracy. | not measured | holds | not measured |" in text  # 3 seeds: no flag
    assert "`runs/mnist/acgan/standard/seed0`, `runs/mnist/acgan/standard/seed1`" in text
    assert "attr_acc 0.9800 ± 0.0100" in text  # mean ± sample sd over the seeds
    collapsed = {"attr_acc": 0.97, "pairwise_ms_ssim": 0.60, "pairwise_ms_ssim_real": 0.44}
    write(tmp_path, record("mnist", "acgan", collapsed, seed=0, profile="full"))
    text = claims.render(tmp_path)  # each profile keeps its own verdict; one seed is flagged
    assert "accuracy. | does not hold (1 seed) | holds | not measured |" in text
    assert "**full: does not hold (1 seed).**" in text and "acgan (full, 1 seed)" in text


def test_convergence_needs_curves_with_several_evaluations(tmp_path):
    for model in ("cgml", "cvae", "cgan"):
        write(tmp_path, record("completion", model, {"lpips": 0.2}, profile="quick",
                               train_seconds=10.0))  # fmt: skip
        folder = tmp_path / "runs" / "completion" / model / "quick" / "seed0"
        (folder / "val_curves.csv").write_text("batches,val/sample_l1\n20,0.3\n")
    text = claims.render(tmp_path)
    assert (
        "| Faster and more stable convergence. | not measured | not measured | not measured |"
        in text
    )
    assert "evaluations per curve: cgml 1, cvae 1, cgan 1" in text


def test_a_lone_record_never_breaks_the_rebuild(tmp_path):
    # e.g. a sweep's results folder: CSVAE without the CVAE contrast
    scores = {"leakage": 0.06, "leakage_max": 0.2, "attr_acc": 0.8}
    write(tmp_path, record("celeba", "csvae", scores, evaluator={"test_acc": 0.93}))
    text = claims.render(tmp_path)
    assert "z carries no label information. | not measured | does not hold (1 seed) |" in text
    assert "csvae (standard, 1 seed) leakage mean 0.0600, max 0.2000" in text
