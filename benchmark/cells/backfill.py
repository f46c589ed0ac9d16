"""Optional parts for records scored before they existed (``cgbench items``).

A record made before `cgbench.scoring.items` has no ``items.pt``, so its comparisons run over
seeds only; one made before `cgbench.scoring.standardised` has no ``fid_evalz``/``kid_evalz``.
Its scores need not change to get them: the samples are drawn again (references from the data,
trained runs from their kept weights); the ranking metric is recomputed per row and the file
kept only where it gives the record's own score back (`pipeline.primary_items`), and the
standardised distances are added beside the other scores. Nothing else in the record changes
but those fields and their fingerprint parts.
"""

from pathlib import Path

import torch

from cgbench.cells.pipeline import as_scored, items_field, prepare, primary_items
from cgbench.cells.references import reference_config, reference_generator
from cgbench.cells.standardised_check import standardised_scores
from cgbench.cells.train import make_model, weights_path
from cgbench.config import run_config
from cgbench.provenance import STANDARDISED_PART, code_fingerprint, staleness
from cgbench.records import ITEMS, amend_run, items_bytes, iter_runs, read_run
from cgbench.scoring.items import ITEMS_PART
from cgbench.tasks import TASKS


def _generator(record: dict, scorings: dict, results_dir: Path):
    """``(generator, scoring, cfg)`` that draws the record's samples again, or a reason."""
    task, profile = record["task"], record["profile"]
    overrides = tuple(record.get("overrides") or ())
    if record.get("reference"):
        cfg = reference_config(task, record["model"], profile, overrides)
    else:
        cfg = run_config(task, record["model"], record["seed"], profile, overrides)
    key = (task, profile, overrides)
    if key not in scorings:  # one datamodule and evaluator per task and profile
        scorings[key] = prepare(task, cfg, results_dir)
    scoring = scorings[key]
    if record.get("reference"):
        return reference_generator(record["model"], scoring, cfg)[0], scoring, cfg
    weights = weights_path(cfg, record.get("weights_sha", record["config_sha"]))
    if not weights.exists():
        return f"no kept weights at {weights}", None, None
    torch.manual_seed(cfg["seed"])
    model = make_model(cfg, scoring.dm)
    model.load_state_dict(torch.load(weights, weights_only=True))
    return model, scoring, cfg


def add_items(run_dir: Path, scorings: dict, results_dir: Path) -> str:
    """Add ``items.pt`` and the standardised distances to one run folder where missing.

    Returns what happened, in a few words.
    """
    record = read_run(run_dir)
    if not record or record.get("external"):
        return "not a trained run or a reference"
    code = record.get("code", {})
    need_items = not (record.get("items") or {}).get("file")
    need_standardised = STANDARDISED_PART not in code
    if not (need_items or need_standardised):
        return "has items"
    if record.get("status") != "ok" or record["task"] not in TASKS or staleness(record):
        return "not current: rerun or rescore it instead"
    generator, scoring, cfg = _generator(record, scorings, results_dir)
    if isinstance(generator, str):
        return generator
    now, done, files = code_fingerprint(record["task"], record["model"]), [], {}
    if need_items:
        items, why_not = primary_items(scoring, cfg, generator, record["scores"])
        if items is None:
            done.append(why_not)
        else:
            record = record | items_field(items, "")
            code, files = code | {ITEMS_PART: now[ITEMS_PART]}, {ITEMS: items_bytes(items)}
            done.append("items added")
    if need_standardised:
        extra, why_not = standardised_scores(as_scored(generator, scoring.task), scoring, cfg)
        record = record | {
            "scores": record["scores"] | extra,
            "higher_is_better": record.get("higher_is_better", {}) | dict.fromkeys(extra, False),
            "unavailable": record.get("unavailable", {}) | why_not,
        }
        code = code | {STANDARDISED_PART: now[STANDARDISED_PART]}
        done.append("standardised added" if extra else "no standardised distances")
    amend_run(run_dir, record | {"code": code}, files)
    return "; ".join(done)


def backfill(results_dir: Path, tasks=None, models=None) -> dict[str, str]:
    """`add_items` on every matching run under ``results_dir``; ``{run folder: outcome}``."""
    outcomes, scorings = {}, {}
    for run in iter_runs(results_dir):
        record = read_run(run) or {}
        if (tasks and record.get("task") not in tasks) or (
            models and record.get("model") not in models
        ):
            continue
        outcomes[str(run)] = add_items(run, scorings, Path(results_dir))
        print(f"{run}: {outcomes[str(run)]}", flush=True)
    return outcomes
