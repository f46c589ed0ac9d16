"""Equal footing: FiLM conditioning, the FLOP budget, the y-flip metric and the tuning trials."""

import json

import pytest
import torch
from torch import nn

from cgbench.__main__ import main
from cgbench.cells.train import run_one
from cgbench.config import ConfigError, load_config, run_config
from cgbench.metrics import METRICS
from cgbench.models import MODELS
from cgbench.models.conditioning import FiLMDecoder, vector_decoder
from cgbench.workflows.tuning import best_trial, trial_overrides

FILM_MODELS = ["cvae", "cgan", "acgan", "csvae"]


@pytest.mark.parametrize("name", FILM_MODELS)
def test_film_injection_trains_and_reads_the_condition_at_every_layer(
    name, synthetic_dm, fast_trainer
):
    dm = synthetic_dm("attributes")
    args = load_config("synthetic_attributes", "smoke")["models"][name]
    model = MODELS[name](x_shape=dm.x_shape, y_shape=dm.y_shape, **args, y_injection="film")
    decoder = model.decoder if hasattr(model, "decoder") else model.generator
    assert isinstance(decoder, FiLMDecoder) and len(decoder.films) >= 2
    fast_trainer().fit(model, dm)
    # after training, the modulation depends on the condition: the same z, another y differs
    h = torch.randn(4, decoder.fc[0].in_features)
    flipped = h.clone()
    flipped[:, -decoder.cond_features :] = 1 - flipped[:, -decoder.cond_features :]
    decoder.eval()
    film = decoder.films[0]
    assert not torch.allclose(
        film.proj(h[:, -decoder.cond_features :]), film.proj(flipped[:, -decoder.cond_features :])
    )


def test_unknown_injection_names_the_choices():
    with pytest.raises(ValueError, match="input, film"):
        vector_decoder(8, (1, 28, 28), 8, 4, "everywhere")


class PixelReader(nn.Module):
    """An evaluator that reads attribute a from the sign of pixel (0, a) of channel 0."""

    def forward(self, x):
        return x[:, 0, 0, :4] * 10


class PixelWriter:
    """A generator drawing noise, with y written into pixels (0, :4) when ``follow``."""

    def __init__(self, follow: bool):
        self.follow, self.device = follow, torch.device("cpu")

    def generate(self, y, generator=None):
        x = torch.rand(len(y), 1, 8, 8, generator=generator) * 2 - 1
        if self.follow:
            x[:, 0, 0, :4] = y * 2 - 1
        return x

    def eval(self):
        return self


@pytest.mark.parametrize("follow,expected", [(True, 1.0), (False, 0.0)])
def test_y_flip_is_one_when_the_flip_shows_and_zero_when_y_is_ignored(follow, expected):
    from torch.utils.data import DataLoader, TensorDataset

    from cgbench.scoring.evaluate import evaluate_flips

    y = (torch.rand(64, 4, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    loader = DataLoader(TensorDataset(torch.zeros(64, 1, 8, 8), y), batch_size=16)
    metric = METRICS["y_flip"](PixelReader(), cond_kind="attributes")
    scores, _ = evaluate_flips(PixelWriter(follow), loader, {"y_flip": metric}, "attributes")
    assert scores["y_flip"] == pytest.approx(expected, abs=1e-6)


def test_a_flop_budget_ends_training_within_one_batch(tmp_path):
    overrides = ("trainer.max_epochs=-1", "trainer.enable_checkpointing=false")
    free = run_one(
        "synthetic_label",
        "cvae",
        0,
        "quick",
        overrides + ("trainer.max_epochs=1",),
        tmp_path / "free",
        "none",
    )
    per_batch = free["train_tflop"] / free["global_steps"]  # 4 batches of 16 in one epoch
    budget = 2.5 * per_batch
    capped = run_one(
        "synthetic_label",
        "cvae",
        0,
        "quick",
        overrides + (f"budget.train_tflop={budget}",),
        tmp_path / "capped",
        "none",
    )
    assert capped["global_steps"] == 3 and capped["budget_tflop"] == pytest.approx(budget)
    assert budget <= capped["train_tflop"] < budget + per_batch * 1.01


def test_budget_enters_the_config_only_where_set():
    plain = run_config("synthetic_label", "cvae", 0, "quick")
    assert "budget" not in plain
    budgeted = run_config("synthetic_label", "cvae", 0, "quick", ("budget.train_tflop=1",))
    assert budgeted["budget"] == {"train_tflop": 1}
    with pytest.raises(ConfigError, match="budget.steps"):
        run_config("synthetic_label", "cvae", 0, "quick", ("budget.steps=3",))
    with pytest.raises(ConfigError, match="add budget.train_tflop"):
        run_config("synthetic_label", "cvae", 0, "quick", ("trainer.max_epochs=-1",))


def test_trials_start_with_the_default_and_are_distinct_and_seeded():
    space = {"lr": [1, 2, 3], "beta1": [0.0, 0.5]}
    trials = trial_overrides(space, 4, 0, "t/m")
    assert trials[0] == () and len(set(trials)) == 4
    assert trials == trial_overrides(space, 4, 0, "t/m") != trial_overrides(space, 4, 1, "t/m")
    rows = [
        {"score": 0.2, "higher_is_better": False, "trial": 0, "model": "m", "task": "t"},
        {"score": 0.1, "higher_is_better": False, "trial": 1, "model": "m", "task": "t"},
    ]
    assert best_trial(rows)["trial"] == 1


def test_tune_records_every_trial_on_the_validation_split(tmp_path, capsys):
    args = [
        *("tune --tasks synthetic_attributes --models cvae --results-dir").split(),
        str(tmp_path),
    ]
    assert main(args) == 0
    trials = sorted((tmp_path / "tuning" / "synthetic_attributes" / "cvae").glob("trial*.json"))
    block = load_config("synthetic_attributes", "quick")["tuning"]
    assert len(trials) == block["trials"]
    rows = [json.loads(p.read_text()) for p in trials]
    assert all("eval.split=val" in r["overrides"] and r["score"] is not None for r in rows)
    assert rows[0]["search"] == {} and rows[1]["search"]
    assert {rows[1]["model_args"]["lr"], rows[1]["model_args"]["y_injection"]} & {0.002, "film"}
    assert (tmp_path / "tuning" / "synthetic_attributes.csv").exists()
    assert "best trial" in capsys.readouterr().out
    assert main(args) == 0  # a rerun finds every trial recorded and trains nothing
    assert ": trial 0" not in capsys.readouterr().out


def test_leaderboard_flags_runs_off_their_budget():
    import pandas as pd

    from cgbench.summaries.leaderboard import _off_budget

    on = pd.DataFrame({"train_tflop": [4.01, 4.03], "budget_tflop": [4.0, 4.0]})
    assert _off_budget(on) == []
    off = pd.DataFrame({"train_tflop": [2.0, 4.0], "budget_tflop": [4.0, 4.0]})
    assert _off_budget(off) == ["TFLOP 0.50x budget 1/2"]
    assert _off_budget(pd.DataFrame({"train_seconds": [1.0]})) == []


def test_the_meter_counts_both_lc_stages_and_its_gradient_penalty(tmp_path):
    # LC's critic takes torch.autograd.grad(create_graph=True), which torch's FlopCounterMode
    # (module hooks) refuses; its stage 2 must train under the meter all the same
    record = run_one(
        "synthetic_attributes",
        "lc",
        0,
        "quick",
        ("budget.train_tflop=1", "trainer.enable_checkpointing=false", "models.lc.latent_epochs=2"),
        tmp_path,
        "none",
    )
    assert record["status"] == "ok" and record["train_tflop"] > 0
    # stage 2 ran: the meter saw a second phase (another FLOP rate) from the epoch after the VAE
    # (structure, not seconds: on a fast host both stages take under 0.05 s)
    vae, latent, cached = record["train_phases"]
    assert vae["from_epoch"] == 0 and latent["from_epoch"] == 1  # synthetic: vae_epochs 1
    assert vae["batches"] > 0 and latent["batches"] > 0
    assert latent["mflop_per_image"] != vae["mflop_per_image"]
    # the frozen VAE encodes each image once: from the second latent epoch on, no encoder
    assert cached["from_epoch"] == 2 and cached["mflop_per_image"] < latent["mflop_per_image"]
    total = sum(p["tflop"] for p in record["train_phases"])
    assert total == pytest.approx(record["train_tflop"], rel=1e-3)


def test_no_trial_repeats_the_default():
    space = {"lr": [1, 2], "beta1": [0.0, 0.5]}
    default = {"lr": 1, "beta1": 0.5}
    for seed in range(5):
        trials = trial_overrides(space, 4, seed, "t/m", default)
        assert ("beta1=0.5", "lr=1") not in trials and len(set(trials)) == 4
