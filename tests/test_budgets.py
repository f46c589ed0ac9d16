"""The leaderboard at each FLOP milestone: every milestone is its own budget, references at all."""

from cgbench.summaries import budgets
from cgbench.summaries.leaderboard import leaderboard_table


def test_each_milestone_is_a_budget_of_its_own_with_the_references_beside_it():
    def run(seed, early, final):
        return {
            "task": "mnist", "model": "cvae", "seed": seed, "profile": "standard",
            "status": "ok", "stale": "", "scores": {"attr_acc": final},
            "higher_is_better": {"attr_acc": True}, "train_tflop": 28.0, "budget_tflop": 28.0,
            "train_seconds": 100.0,
            "milestones": {"3.0": {"scores": {"attr_acc": early}, "train_tflop": 3.0,
                                   "train_seconds": 10.0}},
        }  # fmt: skip

    floor = {
        "task": "mnist", "model": "ref_cond_mean", "seed": 0, "profile": "standard",
        "reference": "floor", "status": "ok", "stale": "", "scores": {"attr_acc": 0.7},
        "higher_is_better": {"attr_acc": True},
    }  # fmt: skip
    records = [run(s, 0.5 + s / 100, 0.9 + s / 100) for s in range(3)] + [floor]
    expanded = budgets.at_milestones(records)
    assert sorted(r["profile"] for r in expanded if r["model"] == "ref_cond_mean") == [
        "standard@28",
        "standard@3",
    ]
    rows = budgets.milestone_rows(leaderboard_table(expanded), lambda t: "attr_acc")
    cvae = rows[rows["model"] == "cvae"].set_index("tflop")
    assert cvae.loc[3.0, "mean"] == 0.51 and cvae.loc[28.0, "mean"] == 0.91
    assert cvae.loc[3.0, "vs_floor"] == "below floor"  # under the floor early ...
    assert cvae.loc[28.0, "vs_floor"] == "above floor"  # ... above it at the budget
    assert "| cvae | 0.5100 (3; –<) | 0.9100 (3; r1>) |" in budgets.markdown(rows)


def test_an_order_that_flips_between_budgets_is_listed_even_below_the_floor():
    import pandas as pd

    def row(model, tflop, mean):
        return {"task": "t", "profile": "standard", "tflop": tflop, "model": model,
                "reference": "", "higher": False, "mean": mean, "std": 0.001,
                "n_seeds": 3}  # fmt: skip

    rows = pd.DataFrame(
        [row("a", 1.0, 0.20), row("b", 1.0, 0.25), row("a", 8.0, 0.09), row("b", 8.0, 0.07)]
        + [row("c", 1.0, 0.30), row("c", 8.0, 0.30)]  # behind both at every budget: no flip
    )
    assert budgets.rank_changes(rows) == [
        "t (standard): a ahead of b at 1 TFLOP, behind at 8 (Welch, one-sided, 5%)"
    ]
