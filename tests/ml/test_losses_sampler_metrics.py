"""NP loss, VAE loss reductions, threshold, rejection sampler and the metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from ml import GaussianMixture, InputShapeError, SamplerCapError
from ml.losses import kl_divergence, np_loss, np_threshold, vae_loss
from ml.metrics import partial_auc, rates_at_threshold, roc_auc, roc_curve
from ml.sampler import is_rejected, rejection_sample, unlikely_indices


def test_np_loss_is_soft_fpr_minus_soft_tpr():
    e_typ = torch.tensor([0.1, 0.2, 0.3, 2.0])
    e_anom = torch.tensor([1.0, 3.0])
    loss, m = np_loss(e_typ, e_anom, 0.5, tau=0.1)
    expected = (
        torch.sigmoid((e_typ - 0.5) / 0.1).mean() - torch.sigmoid((e_anom - 0.5) / 0.1).mean()
    )
    assert float(loss) == pytest.approx(float(expected))
    assert m["fpr"] == 0.25 and m["tpr"] == 1.0


def test_np_loss_gradient_lowers_typical_and_raises_anomalous_errors():
    e_typ = torch.tensor([0.4, 0.6], requires_grad=True)
    e_anom = torch.tensor([0.45, 0.55], requires_grad=True)
    loss, _ = np_loss(e_typ, e_anom, 0.5, tau=0.1)
    loss.backward()
    assert (e_typ.grad > 0).all()  # descent lowers typical errors
    assert (e_anom.grad < 0).all()  # and raises anomalous ones


def test_np_loss_temperature_keeps_the_sigmoid_from_saturating():
    e_typ = torch.tensor([10.0, 20.0], requires_grad=True)
    np_loss(e_typ, torch.tensor([30.0]), 15.0, tau=1.5)[0].backward()
    assert e_typ.grad.abs().max() > 1e-3


def test_threshold_is_the_upper_quantile_of_a_0d_safe_tensor():
    """Reference bug 3: the threshold update indexed a 0-d tensor."""
    errors = torch.arange(100, dtype=torch.float32)
    thr = np_threshold(errors, 0.05)
    assert thr.ndim == 0
    assert float(thr) == pytest.approx(94.05)
    assert float(np_threshold(torch.tensor([3.0]), 0.05)) == 3.0  # a single sample works


def test_vae_loss_terms_are_per_sample_means_independent_of_batch_size():
    """Reference bug 8: KL was a mean while reconstruction was a sum."""
    gen = torch.Generator().manual_seed(0)
    x, x_hat = torch.randn(4, 1, 8, 8, generator=gen), torch.randn(4, 1, 8, 8, generator=gen)
    mu, logvar = torch.randn(4, 3, generator=gen), torch.randn(4, 3, generator=gen)
    loss, m = vae_loss(x, x_hat, mu, logvar, beta=1.0)
    loss2, m2 = vae_loss(*(t.repeat(2, *[1] * (t.ndim - 1)) for t in (x, x_hat, mu, logvar)))
    assert float(loss) == pytest.approx(float(loss2))
    assert m["recon"] == pytest.approx(0.5 * float((x - x_hat).pow(2).sum()) / 4)
    assert m["kl"] == pytest.approx(float(kl_divergence(mu, logvar).mean()))
    assert float(loss) == pytest.approx(m["recon"] + m["kl"], rel=1e-6)


def test_kl_divergence_matches_torch_distributions():
    mu, logvar = torch.randn(5, 3), torch.randn(5, 3)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    expected = torch.distributions.kl_divergence(q, p).sum(dim=1)
    torch.testing.assert_close(kl_divergence(mu, logvar), expected)


@pytest.fixture
def unit_gmm(rng) -> GaussianMixture:
    return GaussianMixture(2, seed=0).fit(rng.normal(size=(500, 3)))


def test_rejection_sampler_returns_only_unlikely_latents(unit_gmm, rng):
    thr = float(np.quantile(unit_gmm.score_samples(rng.normal(size=(500, 3))), 0.05))
    z = rejection_sample(unit_gmm.log_prob, thr, 300, 3, generator=torch.Generator().manual_seed(1),
                         batch_size=1000)  # fmt: skip
    assert z.shape == (300, 3) and z.dtype == torch.float32
    assert (unit_gmm.log_prob(z) < thr).all()


def test_rejection_sampler_raises_a_clear_error_at_its_cap(unit_gmm):
    with pytest.raises(SamplerCapError, match=r"max_rounds=3 .*anomaly_source='real'"):
        rejection_sample(unit_gmm.log_prob, -1e9, 10, 3, generator=torch.Generator(),
                         batch_size=100, max_rounds=3)  # fmt: skip


def test_rejection_rule_works_on_a_single_sample():
    """Reference bug 4: the rejection rule crashed on one sample."""
    assert is_rejected(torch.tensor(-5.0), -1.0).tolist() == [True]
    assert is_rejected(torch.tensor([0.0]), -1.0).tolist() == [False]
    np.testing.assert_array_equal(unlikely_indices(np.array([-3.0, 0.0, -2.0]), -1.0), [0, 2])


def test_metrics_match_sklearn_with_ties(rng):
    y = rng.integers(0, 2, 400)
    s = np.round(rng.normal(size=400) + y, 1)  # many ties
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    fpr, tpr = roc_curve(y, s)
    sk_fpr, sk_tpr, _ = sk_roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    raw = partial_auc(y, s, max_fpr=0.1) * 0.1  # McClish: sklearn's max_fpr option
    mcclish = 0.5 * (1 + (raw - 0.1**2 / 2) / (0.1 - 0.1**2 / 2))
    assert mcclish == pytest.approx(roc_auc_score(y, s, max_fpr=0.1), abs=1e-12)


def test_partial_auc_is_one_for_perfect_and_small_for_reversed_scores():
    y = np.array([0, 0, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    assert partial_auc(y, s) == pytest.approx(1.0)
    assert partial_auc(y, -s) == pytest.approx(0.0)


def test_rates_at_threshold_use_strictly_greater():
    y = np.array([0, 0, 1, 1])
    s = np.array([1.0, 2.0, 2.0, 3.0])
    assert rates_at_threshold(y, s, 2.0) == (0.5, 0.0)


def test_metrics_reject_a_single_class():
    with pytest.raises(InputShapeError, match="both anomalies"):
        roc_auc(np.ones(3), np.arange(3.0))
