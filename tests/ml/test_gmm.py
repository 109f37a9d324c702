"""The log-space GMM against scikit-learn and its own invariants."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from ml import (
    ConfigError,
    ConvergenceWarning,
    DetectorError,
    FitError,
    GaussianMixture,
    InputShapeError,
    NotFittedError,
)


def three_clusters(rng: np.random.Generator, n: int = 600) -> np.ndarray:
    means = np.array([[0.0, 0.0, 0.0], [5.0, 5.0, 0.0], [-4.0, 6.0, 3.0]])
    cov = np.array([[1.0, 0.6, 0.0], [0.6, 1.0, 0.2], [0.0, 0.2, 0.5]])
    labels = rng.integers(0, 3, size=n)
    return means[labels] + rng.multivariate_normal(np.zeros(3), cov, size=n)


def test_log_likelihood_matches_sklearn_on_three_clusters(rng):
    x = three_clusters(rng)
    ours = GaussianMixture(3, reg_covar=1e-6, tol=1e-8, n_init=3, seed=0).fit(x)
    ref = SkGaussianMixture(3, reg_covar=1e-6, tol=1e-8, n_init=3, random_state=0).fit(x)
    assert ours.score_samples(x).mean() == pytest.approx(ref.score(x), abs=1e-3)
    np.testing.assert_allclose(np.sort(ours.weights_.numpy()), np.sort(ref.weights_), atol=1e-3)


def test_log_prob_equals_sklearn_for_the_same_parameters(rng):
    x = three_clusters(rng)
    ref = SkGaussianMixture(3, random_state=0).fit(x)
    ours = GaussianMixture.from_state_dict(
        {
            "weights": ref.weights_,
            "means": ref.means_,
            "covariances": ref.covariances_,
            "precisions_chol": ref.precisions_cholesky_,
            "hyper": np.array([3, 1e-6, 100, 1e-3, 1, 0, 1, 1.0]),
        }  # fmt: skip
    )
    np.testing.assert_allclose(ours.score_samples(x), ref.score_samples(x), rtol=1e-10)
    np.testing.assert_allclose(ours.predict_proba(x), ref.predict_proba(x), atol=1e-10)


def test_em_log_likelihood_never_decreases(rng):
    x = three_clusters(rng, 400)
    gmm = GaussianMixture(4, tol=1e-10, max_iter=60, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gmm.fit(x)
    assert np.all(np.diff(gmm.lower_bounds_) >= -1e-9)
    assert len(gmm.lower_bounds_) > 3


def test_responsibilities_sum_to_one(rng):
    x = three_clusters(rng)
    resp = GaussianMixture(3).fit(x).predict_proba(x)
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, atol=1e-12)
    assert resp.min() >= 0


def test_log_prob_is_finite_far_from_every_component(rng):
    gmm = GaussianMixture(3).fit(three_clusters(rng))
    far = np.array([[1e4, -1e4, 1e4], [1e6, 0.0, 0.0]])
    lp = gmm.log_prob(far)
    assert torch.isfinite(lp).all()
    assert (lp < -1e6).all()
    assert np.isfinite(gmm.predict_proba(far)).all()


def test_log_prob_is_logsumexp_not_a_sum_of_component_log_joints(rng):
    """Reference bug 5: the mixture NLL summed the components' log-joints."""
    gmm = GaussianMixture(2).fit(three_clusters(rng)[:, :2])
    x = rng.normal(size=(20, 2))
    from ml.gmm import _log_gauss

    comp = _log_gauss(torch.as_tensor(x), gmm.means_, gmm.precisions_chol_)  # (N, K)
    expected = np.log((np.exp(comp.numpy()) * gmm.weights_.numpy()).sum(axis=1))
    np.testing.assert_allclose(gmm.log_prob(x).numpy(), expected, rtol=1e-10)


def test_covariance_floor_keeps_a_degenerate_cluster_fittable():
    x = np.zeros((50, 3))
    x[25:] = 1.0  # two point masses: zero covariance without the floor
    gmm = GaussianMixture(2, reg_covar=1e-3).fit(x)
    eig = np.linalg.eigvalsh(gmm.covariances_.numpy())
    assert eig.min() >= 1e-3 - 1e-12
    assert np.isfinite(gmm.score_samples(x)).all()


def test_non_convergence_warns_and_sets_the_flag(rng):
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        gmm = GaussianMixture(3, max_iter=2, tol=1e-12).fit(three_clusters(rng))
    assert gmm.converged_ is False


def test_a_single_iteration_warns_that_it_had_no_change_to_compare(rng):
    x = three_clusters(rng)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gmm = GaussianMixture(3, max_iter=1).fit(x)
    messages = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(messages) == 1
    assert "max_iter=1" in messages[0] and "single E-step" in messages[0]
    assert gmm.converged_ is False and gmm.n_iter_ == 1 and len(gmm.lower_bounds_) == 1
    assert np.isfinite(gmm.score_samples(x)).all()


@pytest.mark.parametrize("name", ["n_components", "max_iter", "n_init"])
def test_counts_below_one_are_a_config_error_naming_them(name):
    kwargs = {"max_iter": 300, "n_init": 1}
    n_components = 0 if name == "n_components" else 2
    if name != "n_components":
        kwargs[name] = 0
    with pytest.raises(ConfigError, match=f"{name} must be >= 1, got 0"):
        GaussianMixture(n_components, **kwargs)


def test_a_singular_covariance_is_a_fit_error_saying_what_to_change(rng):
    x = rng.normal(size=(50, 3))
    x[:, 2] = 0.0  # a constant feature: zero variance, nothing to floor it with reg_covar=0
    with pytest.raises(FitError, match="not positive definite") as info:
        GaussianMixture(1, reg_covar=0.0).fit(x)
    message = str(info.value)
    assert "reg_covar=0" in message and "3 features" in message and "50 samples" in message
    assert "raise reg_covar" in message and "more" in message
    assert isinstance(info.value, DetectorError) and isinstance(info.value, RuntimeError)
    assert not isinstance(info.value.__cause__, torch.linalg.LinAlgError)
    GaussianMixture(1, reg_covar=1e-6).fit(x)  # the floor the message suggests is enough


def test_state_dict_round_trip_is_exact(rng):
    x = three_clusters(rng)
    gmm = GaussianMixture(3, seed=4).fit(x)
    again = GaussianMixture.from_state_dict(gmm.state_dict())
    np.testing.assert_array_equal(again.score_samples(x), gmm.score_samples(x))
    assert again.converged_ == gmm.converged_ and again.n_iter_ == gmm.n_iter_


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (np.zeros((2, 3)), "at least n_components=3"),  # fewer samples than components
        (np.zeros(10), r"\(N, D\)"),  # 1-D input
        (np.full((10, 2), np.nan), "NaN"),  # non-finite input
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(x, match):
    with pytest.raises(InputShapeError, match=match):
        GaussianMixture(3).fit(x)


def test_using_an_unfitted_mixture_raises():
    with pytest.raises(NotFittedError, match="not fitted"):
        GaussianMixture(2).log_prob(np.zeros((1, 2)))
