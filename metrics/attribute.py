"""Metrics read by the frozen evaluator classifier (AC-GAN's "Inception accuracy" analogue).

- ``attr_acc``: does the evaluator see the requested condition in each sample?
- ``edit_success`` / ``edit_preservation``: after an edit of a real image, does it see the target
  condition, and are the other attributes left as they were?
"""

from typing import Any

import torch
from torch import nn

from cgbench.metrics.base import BenchMetric


class EvaluatorMetric(BenchMetric):
    """Base of the metrics that read images with the frozen evaluator classifier.

    Args:
        classifier: Frozen evaluator mapping ``(N, C, H, W)`` in [-1, 1] to ``(N, A)`` logits.
        cond_kind: ``"label"`` or ``"attributes"``.
    """

    higher_is_better = True

    def __init__(self, classifier: nn.Module, cond_kind: str = "label"):
        super().__init__()
        if cond_kind not in ("label", "attributes"):
            raise ValueError(f"{self.name} needs label or attribute conditions, got {cond_kind!r}")
        self.classifier = classifier.eval().requires_grad_(False)
        self.cond_kind = cond_kind

    @property
    def settings(self) -> dict[str, Any]:
        return {"cond_kind": self.cond_kind}


class AttributeAccuracy(EvaluatorMetric):
    """Fraction of samples whose condition the evaluator classifier recovers.

    Label conditions (one-hot y) count a sample as correct when the classifier's argmax is the
    requested class. Attribute conditions (multi-hot y) score each sample by the fraction of
    attributes whose sigmoid decision matches. Every one of the K samples counts.
    ``details()`` gives the accuracy per attribute (or per requested class).

    Args:
        classifier: Frozen evaluator mapping ``(N, C, H, W)`` in [-1, 1] to ``(N, A)`` logits.
        cond_kind: ``"label"`` or ``"attributes"``.
        attribute_names: Names of the A columns, for ``details()``.
    """

    name = "attr_acc"

    def __init__(self, classifier: nn.Module, cond_kind: str = "label", attribute_names=None):
        super().__init__(classifier, cond_kind)
        self.attribute_names = list(attribute_names or [])
        self.add_state("column_hits", torch.zeros(0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("column_count", torch.zeros(0, dtype=torch.float64), dist_reduce_fx="sum")

    def judge(self, logits: torch.Tensor, target: torch.Tensor):
        """Per-item scores ``(N,)``, and per-column hits and counts ``(N, A)`` each."""
        if self.cond_kind == "label":
            right = (logits.argmax(1) == target.argmax(1)).double()  # (K*B,)
            return right, right[:, None] * target, target
        match = ((logits > 0).double() == target).double()  # (K*B, A)
        return match.mean(1), match, torch.ones_like(match)

    def update(self, x_hat, x, y):
        k = x_hat.shape[0]
        logits = self.classifier(x_hat.flatten(0, 1))  # (K*B, A)
        target = y.repeat(k, 1).double()  # (K*B, A), sample-major like flatten(0, 1)
        items, hits, counts = self.judge(logits, target)
        self.total += items.sum()
        self.count += items.numel()
        if self.column_hits.numel() == 0:
            self.column_hits = torch.zeros_like(hits[0])
            self.column_count = torch.zeros_like(hits[0])
        self.column_hits += hits.sum(0)
        self.column_count += counts.sum(0)

    def details(self) -> dict[str, float]:
        n = self.column_hits.numel()
        names = self.attribute_names if len(self.attribute_names) == n else map(str, range(n))
        accuracy = self.column_hits / self.column_count.clamp(min=1)
        return {name: round(float(a), 6) for name, a in zip(names, accuracy, strict=True)}


class AttributeRecall(AttributeAccuracy):
    """Attribute conditions: the share of requested-on attributes the evaluator sees.

    The protocol of the CSVAE replication's table (samples asked for an attribute, fraction
    classified positive), where ``attr_acc`` also rewards absent attributes left absent.
    Pooled over every requested-on (sample, attribute) pair; ``details()`` per attribute.
    """

    name = "attr_recall"

    def __init__(self, classifier: nn.Module, cond_kind: str = "attributes", attribute_names=None):
        if cond_kind != "attributes":
            raise ValueError("attr_recall needs attribute conditions")
        super().__init__(classifier, cond_kind, attribute_names)

    def judge(self, logits, target):
        seen = (logits > 0).double() * target  # (K*B, A): requested and seen
        return seen[target.bool()], seen, target


class EditSuccess(EvaluatorMetric):
    """Edits of real images: does the evaluator see the target condition after the edit?

    ``update(x_edit[None], x, y)`` with ``y = stack([y_source, y_target], dim=1)``, ``(B, 2, A)``.
    Labels: the edited image is classified as the target class. Attributes: the fraction of the
    changed attributes the evaluator reads as their target value.
    """

    name = "edit_success"

    def scores(self, x_hat, x, y):
        source, target = y.unbind(1)
        logits = self.classifier(x_hat[0])  # (B, A)
        if self.cond_kind == "label":
            return (logits.argmax(1) == target.argmax(1)).float()
        changed = (source != target).float()
        hit = ((logits > 0).float() == target).float() * changed
        return hit.sum(1) / changed.sum(1).clamp(min=1)


class EditPreservation(EvaluatorMetric):
    """Edits of real images: fraction of the unchanged attributes the edit leaves as they were.

    Compares the evaluator's decisions on the edited and the source image, so the evaluator's
    own errors on the source do not count against the model. Attribute conditions only.
    """

    name = "edit_preservation"

    def __init__(self, classifier: nn.Module, cond_kind: str = "attributes"):
        if cond_kind != "attributes":
            raise ValueError("edit_preservation needs attribute conditions")
        super().__init__(classifier, cond_kind)

    def scores(self, x_hat, x, y):
        source, target = y.unbind(1)
        kept = (source == target).float()
        same = ((self.classifier(x_hat[0]) > 0) == (self.classifier(x) > 0)).float()
        return (same * kept).sum(1) / kept.sum(1).clamp(min=1)
