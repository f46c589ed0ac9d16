"""The feature spaces a run's distribution metrics need, with the real reference features.

The reference is every test row the run scores (`scoring.evaluate.evaluation_order`), so it is
the same for every model, reference row and external submission of a task and profile. Its
features are cached in ``$CGBENCH_CACHE/features/`` by extractor, data checksum and rows.
"""

import hashlib
import json

import torch

from cgbench.config import EVAL_DEFAULTS, cache_dir, lookup
from cgbench.evaluators import frozen_network
from cgbench.metrics import METRICS
from cgbench.metrics.features import (
    INCEPTION_SHA256,
    FeatureSpace,
    evaluator_extractor,
    inception_extractor,
    load_inception,
)
from cgbench.scoring.evaluate import evaluation_order

INCEPTION_OFF = (
    "off in this profile: Inception costs about 0.3 s per image on 2 CPU cores; "
    "turn it on with --set eval.inception=true (the full profile does)"
)


def wanted_spaces(task) -> set[str]:
    """Feature spaces named by the task's metrics (``inception``, ``evaluator``)."""
    return {getattr(lookup(METRICS, n, "metric"), "space_name", None) for n in task.metrics} - {
        None
    }


def network_digest(net: torch.nn.Module) -> str:
    """SHA-256 over a network's parameters and buffers: identifies its feature space."""
    h = hashlib.sha256()
    for tensor in net.state_dict().values():
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def evaluator_space(task, dm, classifier) -> tuple[FeatureSpace | None, str]:
    """The evaluator's feature space (no reference set yet), or None and why not."""
    if classifier is None and task.features:
        loaded = frozen_network(task.features, dm.x_shape)
        classifier = loaded and loaded[0]
    if classifier is None:
        return None, "no evaluator for this task's images"
    classifier = classifier.eval()
    return FeatureSpace(
        "evaluator", evaluator_extractor(classifier), network_digest(classifier), batch_size=256
    ), ""


def _inception_space(cfg: dict) -> tuple[FeatureSpace | None, str]:
    if not (cfg.get("eval") or {}).get("inception"):
        return None, INCEPTION_OFF
    net, reason = load_inception()
    if net is None:
        return None, reason
    return FeatureSpace("inception", inception_extractor(net), INCEPTION_SHA256, 32), ""


def feature_spaces(task, dm, classifier, cfg: dict) -> tuple[dict, dict]:
    """``({space: FeatureSpace with its reference}, {space: why it is missing})``."""
    spaces, missing = {}, {}
    builders = {
        "evaluator": lambda: evaluator_space(task, dm, classifier),
        "inception": lambda: _inception_space(cfg),
    }
    wanted = wanted_spaces(task)
    if not wanted:
        return spaces, missing
    max_batches = (EVAL_DEFAULTS | cfg["eval"])["max_batches"]
    rows = sorted(set(evaluation_order(dm, max_batches)))
    x, y = None, None
    for name in sorted(wanted):
        space, reason = builders[name]()
        if space is None:
            missing[name] = reason
            continue
        key = json.dumps([space.digest, dm.data_checksum, task.name, rows])
        digest = hashlib.sha256(key.encode()).hexdigest()[:20]
        cache = cache_dir() / "features" / f"{name}-{digest}.pt"
        if x is None:
            x, y = (torch.stack(t) for t in zip(*(dm.test_set[i] for i in rows), strict=True))
        space.set_reference(x, y, cache)
        spaces[name] = space
    return spaces, missing
