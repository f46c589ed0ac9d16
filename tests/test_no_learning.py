"""Protocol v3's no-learning floors and the copying check, against answers known in closed form."""

import math

import pytest
import torch
from torch.utils.data import TensorDataset

from cgbench.cells import no_learning
from cgbench.scoring.copying import copy_rate
from cgbench.summaries.ranking import p_better, power_at_1sd


class Splits:
    """A DataModule's splits, as the floors read them."""

    def __init__(self, x, y, val_x=None, val_y=None):
        self.train_set = TensorDataset(x, y)
        self.val_set = TensorDataset(
            val_x if val_x is not None else x, val_y if val_y is not None else y
        )


def test_the_harmonic_fill_of_a_linear_ramp_is_the_ramp():
    # A linear function has zero Laplacian: with the hole's border given, Laplace's equation
    # returns it exactly (Dirichlet left and right, reflecting top and bottom).
    ramp = torch.linspace(-1, 1, 16).expand(2, 16, 16).clone()  # (C, H, W), varies along W
    hole = torch.zeros(16, 16, dtype=torch.bool)
    hole[:, 4:12] = True  # full-height band: top and bottom borders are the image's
    given = ramp.masked_fill(hole, 0.0)
    filled = no_learning.poisson_fill(given, hole)
    assert torch.allclose(filled, ramp, atol=1e-6)


def test_seamless_cloning_of_the_image_itself_gives_it_back_and_keeps_visible_pixels():
    image = torch.rand(3, 12, 12) * 2 - 1
    hole = torch.zeros(12, 12, dtype=torch.bool)
    hole[3:8, 2:9] = True
    filled = no_learning.poisson_fill(image.masked_fill(hole, 0.0), hole, guide=image)
    assert torch.allclose(filled, image, atol=1e-6)
    shifted = no_learning.poisson_fill(image, hole, guide=image + 0.3)  # gradients, not values
    assert torch.allclose(shifted, image, atol=1e-6)


def test_the_nearest_training_image_is_found_on_visible_pixels_only():
    train = torch.zeros(3, 1, 4, 4)
    train[1, :, :2] = 1.0  # top half bright
    train[2, :, 2:] = 1.0  # bottom half bright
    query = torch.zeros(1, 1, 4, 4)
    query[0, :, :2] = 1.0
    hole = torch.zeros(1, 4, 4, dtype=torch.bool)
    hole[0, 2:] = True  # the bottom is hidden: train[1] matches what is seen exactly
    assert no_learning.nearest_on_visible(query * ~hole[:, None], hole, train).tolist() == [1]


def test_prototypes_are_class_means_and_additive_faces():
    x = torch.tensor([0.0, 2.0, 10.0, 20.0]).view(4, 1, 1, 1)
    labels = torch.nn.functional.one_hot(torch.tensor([0, 0, 1, 1]), 2).float()
    dm = Splits(x, labels)
    means = no_learning.class_mean(labels[[0, 2]], dm).flatten()
    assert means.tolist() == [1.0, 15.0]
    # one attribute: mean 8, on-off difference 15 - 1 = 14, frequency 0.5
    face = no_learning.additive_face(torch.tensor([[1.0], [0.0]]), Splits(x / 20, labels[:, 1:]))
    assert face.flatten().tolist() == pytest.approx([(8 + 0.5 * 14) / 20, (8 - 0.5 * 14) / 20])


def test_condition_means_average_validation_images_of_the_nearest_condition():
    val_x = torch.arange(6.0).view(6, 1, 1, 1)
    val_y = torch.tensor([[1.0, 0], [1, 0], [0, 1], [0, 1], [0, 1], [1, 1]])
    dm = Splits(torch.zeros(1, 1, 1, 1), torch.zeros(1, 2), val_x, val_y)
    got = no_learning.condition_mean(torch.tensor([[0.0, 1.0]]), dm, 3, torch.Generator())
    assert got.flatten().tolist() == [3.0]  # rows 2, 3, 4


def test_a_copy_of_the_training_rows_is_all_copies_and_far_points_none():
    generator = torch.Generator().manual_seed(0)
    train = torch.randn(200, 8, generator=generator, dtype=torch.float64)
    assert copy_rate(train[:50], train) == 1.0
    assert copy_rate(train[:50] + 100.0, train) == 0.0
    fresh = torch.randn(200, 8, generator=generator, dtype=torch.float64)  # the same law
    assert 0.0 < copy_rate(fresh, train) < 1.0


def test_no_spread_is_no_evidence_and_seeds_meet_a_reference_with_a_one_sample_test():
    def row(values, reference=None):
        return {"_values": values, "_mean": sum(values) / len(values), "reference": reference,
                "_low": min(values), "_high": max(values)}  # fmt: skip

    assert p_better(row([0.5, 0.5, 0.5]), row([0.4, 0.4, 0.4]), True) == 1.0
    floor = row([0.50], reference="floor")
    assert p_better(row([0.60, 0.61, 0.62]), floor, True) < 0.01
    assert p_better(row([0.49, 0.50, 0.51]), floor, True) == pytest.approx(0.5)
    assert p_better(floor, row([0.40, 0.41, 0.42]), True) < 0.01  # the floor beats them
    # one seed of a model is a draw, not a fixed value: intervals, not a one-sample test
    assert p_better(row([0.60, 0.61, 0.62]), row([0.50]), True) == 0.0


def test_power_at_one_sd_is_what_the_t_test_can_find():
    assert power_at_1sd(3, 3) == pytest.approx(0.267, abs=0.01)  # Welch, 3 vs 3 seeds
    assert power_at_1sd(3, 1) == pytest.approx(0.32, abs=0.01)  # 3 seeds against a reference
    assert power_at_1sd(20, 20) > 0.8
    assert math.isnan(power_at_1sd(1, 1))
