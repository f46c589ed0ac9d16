"""Rescore without retraining: today's metrics on the weights a run kept.

Every trained run keeps its final weights in the cache (`cgbench.cells.train.weights_path`, keyed by
the config hash it trained under). ``cgbench rescore`` loads them into a freshly built model and
scores it with today's metrics, evaluator and evaluation rows, so a new metric does not cost a
retrain. Only the scoring may differ: a record whose training config (trainer, data, model,
seed) no longer matches today's must be rerun instead. A rescored record keeps its training
provenance (git commit, seconds, steps) and says when and by which commit it was rescored.
"""

import datetime as dt
from pathlib import Path

import torch
import yaml

from cgbench.cells.pipeline import prepare, score_cell
from cgbench.cells.train import make_model, weights_path
from cgbench.config import TRAINING_KEYS, config_sha, run_config
from cgbench.provenance import code_fingerprint, evaluator_summary, git_sha, staleness
from cgbench.records import iter_runs, read_run
from cgbench.tasks import TASKS

RESCORED = ("scoring", "items")  # the fingerprint parts a rescore brings up to date


def rescorable(run_dir: Path, record: dict, cfg: dict) -> bool:
    """Whether a record differs from today's only in its scoring and its weights are kept.

    Then it is rescored (`rescore_run`) instead of retrained: same task version, training
    config (`config.TRAINING_KEYS`), model and data code; new metrics or evaluation settings.
    """
    if record.get("status") != "ok" or staleness(record) not in ("config", "code (scoring)"):
        return False
    if record.get("task_version", 1) != TASKS[record["task"]].version:
        return False
    old_code, now = record.get("code") or {}, code_fingerprint(record["task"], record["model"])
    if any(old_code.get(part) != now[part] for part in ("model", "data")):
        return False
    old = yaml.safe_load((run_dir / "config.yaml").read_text())
    if any(old.get(k) != cfg.get(k) for k in TRAINING_KEYS):
        return False
    return weights_path(old, record.get("weights_sha", record["config_sha"])).exists()


def rescore_run(run_dir: Path, results_dir: Path) -> str:
    """Rescore one run folder in place; return what happened, in a few words."""
    record = read_run(run_dir)
    if not record or record.get("external") or record.get("reference"):
        return "not a trained run"
    if record.get("status") != "ok":
        return f"status {record.get('status')}: nothing to score"
    old_cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    try:
        cfg = run_config(
            record["task"],
            record["model"],
            record["seed"],
            record["profile"],
            tuple(record.get("overrides") or ()),
        )
    except (ValueError, KeyError) as err:
        return f"today's config cannot be resolved ({err}): rerun it"
    changed = [k for k in TRAINING_KEYS if old_cfg.get(k) != cfg.get(k)]
    if changed:
        return f"training config changed ({', '.join(changed)}): rerun it"
    weights = weights_path(old_cfg, record.get("weights_sha", record["config_sha"]))
    if not weights.exists():
        return f"no kept weights at {weights}: rerun it"
    scoring = prepare(record["task"], cfg, results_dir)
    torch.manual_seed(cfg["seed"])
    model = make_model(cfg, scoring.dm)
    model.load_state_dict(torch.load(weights, weights_only=True))
    base = record | {  # the training provenance stays; the scoring's is today's
        "task_version": scoring.task.version,
        "evaluator": scoring.info and evaluator_summary(scoring.info),
        "config_sha": config_sha(cfg),
        "weights_sha": record.get("weights_sha", record["config_sha"]),
        "code": record.get("code", {})  # what scoring recomputes: the metrics, the rows' values
        | {k: v for k, v in code_fingerprint(scoring.task.name, "").items() if k in RESCORED},
        "rescored": {
            "git_sha": git_sha(),
            "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        },
    }
    score_cell(scoring, cfg, model, run_dir, {}, base=base)
    return "rescored"


def rescore(results_dir: Path, tasks=None, models=None, profile: str | None = None) -> dict:
    """Rescore every matching run under ``results_dir``; ``{run folder: outcome}``."""
    outcomes = {}
    for run in iter_runs(results_dir):
        record = read_run(run) or {}
        task, model, run_profile = (record.get(k) for k in ("task", "model", "profile"))
        if (tasks and task not in tasks) or (models and model not in models):
            continue
        if (profile and run_profile != profile) or task not in TASKS:
            continue
        outcomes[str(run)] = rescore_run(run, Path(results_dir))
        print(f"{run}: {outcomes[str(run)]}", flush=True)
    return outcomes
