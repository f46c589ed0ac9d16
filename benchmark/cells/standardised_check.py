"""`fid_evalz` and `kid_evalz` of a scored cell (`cgbench.scoring.standardised`).

Wherever the task scores ``fid_eval``: one sample per scored test row (the first of its K;
completion pasted back), the scored rows' real test images and the training split, all in the
evaluator's feature space (its real and training features cached as the other checks').
"""

from cgbench.cells.copy_check import first_samples, training_features
from cgbench.config import EVAL_DEFAULTS
from cgbench.scoring.evaluate import evaluation_order
from cgbench.scoring.spaces import feature_spaces
from cgbench.scoring.standardised import STANDARDISED, standardised_distances

BESIDE = "fid_eval"  # the raw-feature metric these stand beside


def standardised_scores(generator, scoring, cfg: dict) -> tuple[dict, dict]:
    """``({"fid_evalz": ..., "kid_evalz": ...}, {})``; ``({}, {})`` where no ``fid_eval``."""
    if BESIDE not in scoring.task.metrics:
        return {}, {}
    spaces, missing = feature_spaces(scoring.task, scoring.dm, scoring.classifier, cfg)
    if "evaluator" not in spaces:
        return {}, dict.fromkeys(STANDARDISED, missing.get("evaluator", "no evaluator"))
    space = spaces["evaluator"]
    max_batches = (EVAL_DEFAULTS | cfg["eval"])["max_batches"]
    rows = sorted(set(evaluation_order(scoring.dm, max_batches)))
    samples = first_samples(generator, scoring.dm, rows, cfg["seed"], scoring.task.paste_back)
    train = training_features(space, scoring.dm)
    scores, _ = standardised_distances(space(samples), space.real, train)
    return scores, {}
