"""CAS (classification accuracy score): a classifier trained on samples, tested on real data,
ranks real images above class prototypes above noise, on the real MNIST files."""

import pytest
import torch
from conftest import DATA_DIR

from cgbench.cells.cas_check import _stack
from cgbench.cells.pipeline import make_datamodule
from cgbench.config import run_config
from cgbench.scoring.cas import accuracy, cas, train_classifier


@pytest.fixture(scope="module")
def mnist():
    if not (DATA_DIR / "mnist" / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST files not found under DATA_DIR={DATA_DIR}")
    _, dm = make_datamodule("mnist", run_config("mnist", "cvae", 0, "quick"))
    x, y = _stack(dm.test_set, range(1024))
    real_x, real_y = _stack(dm.val_set, range(1000))
    return x, y.float(), real_x, real_y.float()


def test_real_images_beat_prototypes_beat_noise(mnist):
    x, y, real_x, real_y = mnist
    prototypes = torch.stack([x[y.argmax(1) == c].mean(0) for c in range(10)])[y.argmax(1)]
    real = cas(x, y, real_x, real_y, "label", steps=60)
    prototype = cas(prototypes, y, real_x, real_y, "label", steps=60)
    noise = cas(torch.rand_like(x) * 2 - 1, y, real_x, real_y, "label", steps=60)
    assert real > 0.85 and real > prototype + 0.1  # samples that cover each class, not its centre
    assert prototype > noise + 0.2 and noise < 0.25  # noise: chance (0.1) up to sampling


def test_training_is_seeded_and_leaves_the_global_rng_alone(mnist):
    x, y, real_x, real_y = mnist
    state = torch.random.get_rng_state()
    a = train_classifier(x[:256], y[:256], "label", seed=3, steps=5)
    assert torch.equal(torch.random.get_rng_state(), state)  # milestones score mid-training
    b = train_classifier(x[:256], y[:256], "label", seed=3, steps=5)
    assert accuracy(a, real_x, real_y, "label") == accuracy(b, real_x, real_y, "label")


def test_attribute_accuracy_is_balanced_so_the_majority_scores_one_half():
    y = torch.tensor([[1.0, 0.0]] * 9 + [[0.0, 1.0]])

    class Majority(torch.nn.Module):
        def forward(self, x):
            return torch.tensor([[5.0, -5.0]]).expand(len(x), -1)

    assert accuracy(Majority(), torch.zeros(10, 1, 4, 4), y, "attributes") == pytest.approx(0.5)


def test_a_scored_record_carries_cas_unless_its_profile_turns_it_off(tmp_path):
    from cgbench.workflows.matrix import plan, run_cell

    def record(*overrides):  # one smoke cell, no references
        task = "synthetic_label"
        (cell,) = plan([task], ["cvae"], {task: "smoke"}, {task: [0]}, overrides)
        return run_cell(cell, tmp_path / str(len(overrides)))

    off = record()  # the synthetic tasks and the smoke profile: eval.cas false
    assert "cas" not in off["scores"] and "eval.cas" in off["unavailable"]["cas"]
    on = record("eval.cas=true")
    assert 0 <= on["scores"]["cas"] <= 1 and "cas" not in on["unavailable"]
