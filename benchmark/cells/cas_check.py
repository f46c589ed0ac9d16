"""The CAS of a scored cell (`cgbench.scoring.cas`): label and attribute tasks.

Trained on one sample per scored test row (the first of its K, as the copying check draws
them), labelled with that row's condition; tested on real images of the validation split, so
the real-data ceiling (``ref_real``, whose samples are the scored test images) is never tested
on what it trained on. At most `TEST_ROWS` validation images, the first ones (a fixed set).
"""

import torch

from cgbench.cells.copy_check import first_samples
from cgbench.config import EVAL_DEFAULTS
from cgbench.scoring.cas import CAS_METRIC, cas
from cgbench.scoring.evaluate import evaluation_order

TEST_ROWS = 2000
KINDS = ("label", "attributes")


def _stack(dataset, rows) -> tuple[torch.Tensor, torch.Tensor]:
    pairs = [dataset[i] for i in rows]
    return torch.stack([p[0] for p in pairs]), torch.stack([torch.as_tensor(p[1]) for p in pairs])


def cas_scores(generator, scoring, cfg: dict) -> tuple[dict, dict]:
    """``({"cas": score}, {})``; ``({}, {})`` for image-conditioned tasks (not defined)."""
    dm = scoring.dm
    if dm.cond_kind not in KINDS:
        return {}, {}
    if dm.val_set is None or not len(dm.val_set):
        return {}, {CAS_METRIC: "no validation split to test the CAS classifier on"}
    max_batches = (EVAL_DEFAULTS | cfg["eval"])["max_batches"]
    rows = sorted(set(evaluation_order(dm, max_batches)))
    samples = first_samples(generator, dm, rows, cfg["seed"], scoring.task.paste_back)
    _, conditions = _stack(dm.test_set, rows)
    real_x, real_y = _stack(dm.val_set, range(min(TEST_ROWS, len(dm.val_set))))
    score = cas(samples.cpu().float(), conditions.float(), real_x, real_y.float(), dm.cond_kind)
    return {CAS_METRIC: score}, {}
