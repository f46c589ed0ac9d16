"""Expected best-of-k (Tang et al. 2020): the mean best over every k-subset of the trials."""

import itertools

import numpy as np
import pandas as pd
import pytest

from cgbench.summaries.best_of_k import expected_best, markdown


@pytest.mark.parametrize("higher", [True, False])
def test_expected_best_is_the_mean_best_over_all_subsets(higher):
    scores = list(np.random.default_rng(0).normal(size=7))
    pick = max if higher else min
    for k in range(1, 8):
        subsets = list(itertools.combinations(scores, k))
        brute = sum(pick(s) for s in subsets) / len(subsets)
        assert expected_best(scores, k, higher) == pytest.approx(brute)
    assert expected_best(scores, 1, higher) == pytest.approx(np.mean(scores))


def test_k_outside_the_trials_is_refused():
    with pytest.raises(ValueError, match="k must be in 1..3"):
        expected_best([1.0, 2.0, 3.0], 4)


def test_the_table_gives_each_model_its_curve(tmp_path):
    (tmp_path / "tuning").mkdir()
    rows = [
        {"task": "t", "model": m, "trial": i, "score_metric": "acc", "score": s,
         "higher_is_better": True}
        for m, scores in {"a": [0.1, 0.2, 0.3], "b": [0.5, 0.5, 0.5]}.items()
        for i, s in enumerate(scores)
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "tuning" / "t.csv", index=False)
    text = markdown(tmp_path)
    assert "| a | 3 | 0.2000 | 0.2667 | 0.3000 |" in text
    assert "| b | 3 | 0.5000 | 0.5000 | 0.5000 |" in text
