"""The README's results block is rebuilt from the records and its drift is caught."""

from test_claims import record, write

from cgbench.provenance import load_records
from cgbench.summaries import readme


def test_block_is_rebuilt_between_the_markers_and_drift_is_caught(tmp_path):
    results = tmp_path / "results"
    path = tmp_path / "README.md"
    path.write_text(f"# intro\n\n{readme.BEGIN}\nold\n{readme.END}\n\n## after\n")
    pairwise = {
        "pairwise_ms_ssim": 0.46,
        "pairwise_ms_ssim_real": 0.44,
        "pairwise_ms_ssim_gap": 0.02,
    }
    write(
        results,
        *[
            record(
                "mnist",
                "acgan",
                {"attr_acc": 0.97 + s / 100, **pairwise},
                seed=s,
                profile="quick",
                evaluator={"test_acc": 0.99},
                task_version=2,
            )
            for s in range(3)
        ],
        record(
            "mnist",
            "ref_constant",
            {"attr_acc": 0.11},
            profile="quick",
            reference="floor",
            task_version=2,
        ),
    )
    assert readme.drifted(results, load_records(results))
    assert readme.write(results, load_records(results)) == path.resolve()
    text = path.read_text()
    assert text.startswith("# intro\n\n<!-- results:begin -->") and text.endswith("\n## after\n")
    assert (
        "| mnist | `attr_acc` ↑ | acgan | – | – | – "
        "| 0.9800 ± 0.0100 (3, stale: config 3/3) |" in text
    )  # fixture hashes
    assert "| mnist | `attr_acc` ↑ | *ref_constant (floor)* | – | – | – | 0.1100 (1" in text
    # the claims' verdicts: the fixture's made-up config hashes are stale, so no verdict
    assert (
        "accuracy. | not measured"
        " | not measured | not measured | inconclusive (stale records (config)) |" in text
    )
    assert not readme.drifted(results, load_records(results))
    write(
        results,
        record("mnist", "acgan", {"attr_acc": 0.5}, seed=3, profile="quick", evaluator=None),
    )
    assert readme.drifted(results, load_records(results))


def test_a_results_folder_without_a_readme_beside_it_is_left_alone(tmp_path):
    assert readme.write(tmp_path / "results") is None
    assert not readme.drifted(tmp_path / "results")
