"""`cgbench conditions` and `cgbench score`: samples made elsewhere, scored like a trained model."""

import json

import numpy as np
import pytest
import torch
from conftest import DATA_DIR

from cgbench.__main__ import main
from cgbench.cells.pipeline import load_evaluator, make_datamodule
from cgbench.config import load_config
from cgbench.records import run_path
from cgbench.scoring.evaluate import build_metrics

SMOKE = ["--profile", "smoke", "--include-synthetic"]


def export(tmp_path, task, *extra, name="conditions.npz"):
    out = tmp_path / name
    assert main(["conditions", "--task", task, "--out", str(out), "--with-images", *extra]) == 0
    return dict(np.load(out)) if out.suffix == ".npz" else torch.load(out)


def score(tmp_path, task, samples, *extra, name="mine"):
    return main(
        [
            *"score --task".split(),
            task,
            *"--samples".split(),
            str(samples),
            *"--name".split(),
            name,
            *"--results-dir".split(),
            str(tmp_path / "results"),
            *extra,
        ]
    )


def record(tmp_path, task, name="mine", profile="smoke"):
    path = run_path(tmp_path / "results", task, name, profile, 0) / "metrics.json"
    return json.loads(path.read_text())


def test_real_images_as_samples_score_the_evaluators_own_accuracy(tmp_path):
    # Real test digits as "samples" of a perfect generator: attr_acc is the evaluator's accuracy
    # on exactly those images, and the record lands in the tables marked external.
    exported = export(tmp_path, "synthetic_label", *SMOKE[:2])
    k = int(exported["k_samples"])
    samples = np.repeat(exported["images"][:, None], k, axis=1)  # (N, K, C, H, W)
    np.savez(tmp_path / "real.npz", samples=samples)
    assert score(tmp_path, "synthetic_label", tmp_path / "real.npz", *SMOKE) == 0
    rec = record(tmp_path, "synthetic_label")
    assert rec["external"] and rec["samples_sha256"] and "train_seconds" not in rec
    cfg = load_config("synthetic_label", "smoke")
    task, dm = make_datamodule("synthetic_label", {"eval": {}, "data": cfg["data"]})
    classifier, _ = load_evaluator(task, dm, cfg | {"profile": "smoke"}, tmp_path)
    x = torch.from_numpy(exported["images"])
    y = torch.from_numpy(exported["conditions"])
    direct = (classifier(x).argmax(1) == y.argmax(1)).float().mean().item()
    assert rec["scores"]["attr_acc"] == pytest.approx(direct, abs=1e-6)
    board = (tmp_path / "results" / "leaderboard.md").read_text()
    assert "| mine |" in board.replace(" †", "")


def test_a_copy_of_the_masked_input_scores_as_such(tmp_path):
    # Image task: the "copy the visible input" sampler gets exactly the SSIM of input vs target.
    exported = export(tmp_path, "synthetic_image", "--profile", "smoke", name="c.pt")
    k = int(exported["k_samples"])
    c = exported["images"].shape[1]
    copy = exported["conditions"][:, :c].expand(-1, c, -1, -1)  # lightness as a grey image
    torch.save(copy[:, None].repeat(1, k, 1, 1, 1), tmp_path / "copy.pt")
    assert score(tmp_path, "synthetic_image", tmp_path / "copy.pt", *SMOKE) == 0
    ssim = build_metrics(["ssim"], {"image_size": copy.shape[-1]}, {})["ssim"]
    ssim.update(copy[None], exported["images"], None)
    assert record(tmp_path, "synthetic_image")["scores"]["ssim"] == pytest.approx(
        float(ssim.compute()), abs=1e-6
    )


@pytest.mark.skipif(
    not (DATA_DIR / "mnist" / "t10k-images-idx3-ubyte.gz").exists(), reason="no real MNIST"
)
def test_copying_the_masked_input_on_real_mnist_completion_scores_as_such(tmp_path):
    # Real digits, real frozen masks: the copy sampler's pooled PSNR and SSIM are exactly those
    # of the masked inputs against their targets, and each mask size gets its own cell.
    exported = export(tmp_path, "completion_mnist", "--profile", "smoke")
    masked = torch.from_numpy(exported["conditions"][:, :1])  # (N, 1, 28, 28); channel 1: mask
    k = int(exported["k_samples"])
    torch.save(masked[:, None].repeat(1, k, 1, 1, 1), tmp_path / "copy.pt")
    assert score(tmp_path, "completion_mnist", tmp_path / "copy.pt", "--profile", "smoke") == 0
    scores = record(tmp_path, "completion_mnist")["scores"]
    direct = build_metrics(["psnr", "ssim"], {"image_size": 28}, {})
    for name, metric in direct.items():
        metric.update(masked[None], torch.from_numpy(exported["images"]), None)
        assert scores[name] == pytest.approx(float(metric.compute()), abs=1e-5), name
    assert {"ssim@mask10", "ssim@mask25", "ssim@mask40"} <= set(scores)


@pytest.mark.slow  # trains the MNIST evaluator (about 2 minutes on 2 cores)
@pytest.mark.skipif(
    not (DATA_DIR / "mnist" / "t10k-images-idx3-ubyte.gz").exists(), reason="no real MNIST"
)
def test_real_mnist_digits_score_the_evaluators_test_accuracy(tmp_path):
    # The whole official test set (10,000 digits), so attr_acc must equal the evaluator's own
    # held-out accuracy in the record: the ceiling row comes from the same scoring code.
    flags = (
        "--profile smoke --set eval.max_batches=null --set "
        "eval.k_samples=2 --set eval.metrics=[attr_acc] --set "
        "data.batch_size=500"
    ).split()
    exported = export(tmp_path, "mnist", *flags)
    assert len(exported["index"]) == 10000
    samples = np.repeat(exported["images"][:, None], 2, axis=1)
    np.savez(tmp_path / "real.npz", samples=samples)
    assert score(tmp_path, "mnist", tmp_path / "real.npz", *flags) == 0
    rec = record(tmp_path, "mnist", profile="smoke")
    assert rec["scores"]["attr_acc"] == pytest.approx(rec["evaluator"]["test_acc"], abs=1e-4)


@pytest.fixture
def good(tmp_path):
    exported = export(tmp_path, "synthetic_label", "--profile", "smoke")
    samples = np.repeat(exported["images"][:, None], int(exported["k_samples"]), axis=1)
    return samples.astype(np.float32)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s[:-1], "conditions; the task scores 16"),
        (lambda s: s[:, :1], "samples per condition; the task draws eval.k_samples=2"),
        (lambda s: np.repeat(s, 3, axis=2), "expected (1, 28, 28)"),
        (lambda s: s[..., :20], "expected (1, 28, 28)"),
        (lambda s: s * 255, "expected [-1, 1] (looks like [0, 255]"),
        (lambda s: np.where(s > 0.5, np.nan, s), "NaN or infinite"),
        (lambda s: s[0], "expected (N, K, C, H, W)"),
        (lambda s: s.astype(np.int32), "expected float in [-1, 1] or uint8"),
    ],
)
def test_bad_samples_get_one_clear_error(tmp_path, capsys, good, change, message):
    np.savez(tmp_path / "bad.npz", samples=change(good))
    assert score(tmp_path, "synthetic_label", tmp_path / "bad.npz", *SMOKE) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "results" / "runs").exists()  # nothing half-written


def test_png_folders_are_read_and_checked(tmp_path, capsys, good):
    from torchvision.utils import save_image

    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, row in enumerate(torch.from_numpy(good)):
        for k, image in enumerate(row):
            save_image((image + 1) / 2, folder / f"{i}_{k}.png")
    assert score(tmp_path, "synthetic_label", folder, *SMOKE) == 2  # save_image writes RGB
    assert "expected (1, 28, 28)" in capsys.readouterr().err
    for path in folder.glob("*.png"):  # grey PNGs of the same digits
        from PIL import Image

        Image.open(path).convert("L").save(path)
    assert score(tmp_path, "synthetic_label", folder, *SMOKE) == 0
    (folder / "0_0.png").unlink()
    assert score(tmp_path, "synthetic_label", folder, *SMOKE, name="other") == 2
    assert "files missing, e.g. 0_0.png" in capsys.readouterr().err
    (folder / "notes.png").write_bytes(b"")
    assert score(tmp_path, "synthetic_label", folder, *SMOKE, name="other") == 2
    assert "must be <row>_<k>.png" in capsys.readouterr().err


@pytest.mark.parametrize(("name", "message"), [("cvae", "not a built-in"), ("My Model", "lower")])
def test_a_name_that_would_hide_a_model_is_refused(tmp_path, capsys, good, name, message):
    np.savez(tmp_path / "s.npz", samples=good)
    assert score(tmp_path, "synthetic_label", tmp_path / "s.npz", *SMOKE, name=name) == 2
    assert message in capsys.readouterr().err


def test_other_samples_under_a_taken_name_are_refused_unless_forced(tmp_path, capsys, good):
    np.savez(tmp_path / "a.npz", samples=good)
    np.savez(tmp_path / "b.npz", samples=np.flip(good, axis=0).copy())  # other samples
    assert score(tmp_path, "synthetic_label", tmp_path / "a.npz", *SMOKE) == 0
    path = run_path(tmp_path / "results", "synthetic_label", "mine", "smoke", 0) / "metrics.json"
    first = path.read_text()
    assert score(tmp_path, "synthetic_label", tmp_path / "b.npz", *SMOKE) == 2
    err = capsys.readouterr().err
    assert "already holds the record of other samples" in err and "--force" in err
    assert path.read_text() == first  # the record written before is kept
    assert score(tmp_path, "synthetic_label", tmp_path / "a.npz", *SMOKE) == 0  # same samples
    assert score(tmp_path, "synthetic_label", tmp_path / "b.npz", *SMOKE, "--force") == 0
    assert json.loads(path.read_text())["samples_path"] == "b.npz"
