"""Metrics read by the frozen evaluator classifier (AC-GAN's "Inception accuracy" analogue).

- ``attr_acc``: does the evaluator see the requested condition in each sample?
- ``attr_tpr`` / ``attr_tnr`` / ``attr_balanced``: per attribute, are requested-on attributes
  present and requested-off ones absent (macro means: a condition-ignoring generator gets 0.5)?
- ``edit_success`` / ``edit_preservation``: after an edit of a real image, does it see the target
  condition, and are the other attributes left as they were?
- ``y_flip``: for one prior sample drawn twice with the same noise, once under y and once with
  one attribute flipped (another class for labels), how much more often does the evaluator see
  the flipped value in the second? 0 for any generator that ignores its condition, 1 at best.
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
        if self.keep_items:
            self.items.append(items.cpu())
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


class AttributeRates(EvaluatorMetric):
    """Per attribute: is a requested-on attribute seen, and a requested-off one absent?

    For attribute ``a``, ``TPR_a`` is the share of samples asked for ``a`` that the evaluator sees
    with ``a``, ``TNR_a`` the share of samples asked for not-``a`` that it sees without it, and
    the balanced accuracy is their mean. The value is the macro mean over attributes (those with
    both requested values among the scored conditions), so a rare attribute weighs as much as a
    common one and a generator that ignores its condition scores 0.5 whatever it draws; pooled
    ``attr_acc`` instead rewards drawing the typical face. ``details()`` gives every attribute's
    value. The subclasses pick the rate: ``attr_tpr``, ``attr_tnr``, ``attr_balanced``.

    Args:
        classifier: Frozen evaluator mapping ``(N, C, H, W)`` in [-1, 1] to ``(N, A)`` logits.
        cond_kind: Must be ``"attributes"``.
        attribute_names: Names of the A columns, for ``details()``.
    """

    rate: str  # "tpr", "tnr" or "balanced"
    mean_of_items = False

    def __init__(self, classifier: nn.Module, cond_kind: str = "attributes", attribute_names=None):
        if cond_kind != "attributes":
            raise ValueError(f"{self.name} needs attribute conditions")
        super().__init__(classifier, cond_kind)
        self.attribute_names = list(attribute_names or [])
        for state in ("true_pos", "pos", "true_neg", "neg"):  # (A,) counts over K*B samples
            self.add_state(state, torch.zeros(0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, x_hat, x, y):
        k = x_hat.shape[0]
        seen = (self.classifier(x_hat.flatten(0, 1)) > 0).double()  # (K*B, A)
        target = y.repeat(k, 1).double()  # (K*B, A), sample-major like flatten(0, 1)
        counts = {"true_pos": seen * target, "pos": target,
                  "true_neg": (1 - seen) * (1 - target), "neg": 1 - target}  # fmt: skip
        for state, value in counts.items():
            total = getattr(self, state)
            setattr(self, state, value.sum(0) + (total if total.numel() else 0))
        self.count += seen.shape[0]
        if self.keep_items:  # (K*B, 2A): what was seen, what was asked
            self.items.append(torch.cat([seen, target], 1).cpu())

    def rates(self, true_pos, pos, true_neg, neg) -> torch.Tensor:
        """``(A,)`` rates from counts; NaN where an attribute never had the needed request."""
        nan = torch.tensor(float("nan"), dtype=torch.float64)
        tpr = torch.where(pos > 0, true_pos / pos.clamp(min=1), nan)
        tnr = torch.where(neg > 0, true_neg / neg.clamp(min=1), nan)
        return {"tpr": tpr, "tnr": tnr, "balanced": (tpr + tnr) / 2}[self.rate]

    def per_attribute(self) -> torch.Tensor:
        """``(A,)`` rates over everything scored so far."""
        return self.rates(self.true_pos, self.pos, self.true_neg, self.neg)

    def value_of(self, items: torch.Tensor) -> float:
        seen, target = items.double().chunk(2, dim=1)  # (N, A) each
        counts = ((seen * target).sum(0), target.sum(0),
                  ((1 - seen) * (1 - target)).sum(0), (1 - target).sum(0))  # fmt: skip
        return float(self.rates(*counts).nanmean())

    def compute(self) -> torch.Tensor:
        if self.count == 0:
            return torch.tensor(float("nan"))
        return self.per_attribute().nanmean().float()

    def details(self) -> dict[str, float]:
        rates = self.per_attribute() if self.count else torch.zeros(0)
        n = rates.numel()
        names = self.attribute_names if len(self.attribute_names) == n else map(str, range(n))
        return {name: round(float(r), 6) for name, r in zip(names, rates, strict=True)}


class AttributeTPR(AttributeRates):
    """Macro mean over attributes of the share of requested-on attributes the evaluator sees."""

    name, rate = "attr_tpr", "tpr"


class AttributeTNR(AttributeRates):
    """Macro mean over attributes of the share of requested-off attributes left absent."""

    name, rate = "attr_tnr", "tnr"


class AttributeBalanced(AttributeRates):
    """Macro balanced accuracy ((TPR + TNR) / 2 per attribute): CelebA's ranking metric."""

    name, rate = "attr_balanced", "balanced"


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


class YFlip(EvaluatorMetric):
    """Same noise, one condition changed: does the evaluator see the change?

    ``update(stack([x_source, x_target]), x, stack([y_source, y_target], 1))``: ``x_source``
    and ``x_target`` ``(B, C, H, W)`` are ``generate`` under the two conditions with the same
    generator state (`cgbench.evaluate.evaluate_flips`). Per item: [the evaluator reads the
    target value in ``x_target``] - [it reads the target value in ``x_source``], for the flipped
    attribute (attributes) or the target class (labels). A generator that ignores y draws the
    same image twice and scores 0 whatever it draws; one that follows y scores 1.
    """

    name = "y_flip"

    def hits(self, images: torch.Tensor, source: torch.Tensor, target: torch.Tensor):
        """``(B,)``: does the evaluator read the target condition where it differs?"""
        logits = self.classifier(images)  # (B, A)
        if self.cond_kind == "label":
            return (logits.argmax(1) == target.argmax(1)).float()
        changed = (source != target).float()
        hit = ((logits > 0).float() == target).float() * changed
        return hit.sum(1) / changed.sum(1).clamp(min=1)

    def scores(self, x_hat, x, y):
        source, target = y.unbind(1)
        return self.hits(x_hat[1], source, target) - self.hits(x_hat[0], source, target)
