"""Full-covariance Gaussian mixture fitted by EM in log space (float64 torch).

Dimension letters: N samples, D features (latent size), K components.

Follows scikit-learn's ``GaussianMixture`` (``sklearn/mixture/_gaussian_mixture.py``): the
precision Cholesky factors carry the covariances, a covariance floor ``reg_covar`` is added to
every diagonal, responsibilities are normalised with log-sum-exp, and EM stops when the mean
log-likelihood improves by less than ``tol``. Initialisation is k-means++ seeding followed by a
few Lloyd iterations; the best of ``n_init`` restarts wins.
"""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import torch

from ml.errors import ConfigError, FitError, InputShapeError, NotFittedError

__all__ = ["GaussianMixture", "ConvergenceWarning"]

logger = logging.getLogger(__name__)
_DTYPE = torch.float64


class ConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before the log-likelihood settled."""


class GaussianMixture:
    """K-component full-covariance Gaussian mixture.

    Parameters
    ----------
    n_components
        Number of components K.
    reg_covar
        Non-negative floor added to every covariance diagonal (data units squared).
    max_iter, tol
        EM iteration cap and tolerance on the change of mean log-likelihood (nats / sample).
    n_init
        Number of k-means++ initialisations; the fit with the best final bound is kept.
    seed
        Seed of the initialisation.

    Attributes
    ----------
    weights_ : torch.Tensor, (K,) float64
    means_ : torch.Tensor, (K, D) float64
    covariances_ : torch.Tensor, (K, D, D) float64
    precisions_chol_ : torch.Tensor, (K, D, D) float64, lower-triangular factors L with
        precision = L @ L.T (as in scikit-learn).
    converged_ : bool
    n_iter_ : int
    lower_bounds_ : list of float, the mean log-likelihood after every E-step of the kept run
        (never decreases, up to floating-point noise).
    """

    def __init__(
        self,
        n_components: int,
        *,
        reg_covar: float = 1e-6,
        max_iter: int = 300,
        tol: float = 1e-4,
        n_init: int = 1,
        seed: int = 0,
    ) -> None:
        self.n_components = int(n_components)
        self.reg_covar = float(reg_covar)
        self.max_iter = int(max_iter)
        self.tol = float(tol)
        self.n_init = int(n_init)
        self.seed = int(seed)
        for name in ("n_components", "max_iter", "n_init"):
            if getattr(self, name) < 1:
                raise ConfigError(f"GaussianMixture {name} must be >= 1, got {getattr(self, name)}")
        self.weights_: torch.Tensor | None = None
        self.means_: torch.Tensor | None = None
        self.covariances_: torch.Tensor | None = None
        self.precisions_chol_: torch.Tensor | None = None
        self.converged_ = False
        self.n_iter_ = 0
        self.lower_bounds_: list[float] = []

    # ------------------------------------------------------------------ fitting
    def fit(self, x: np.ndarray | torch.Tensor) -> GaussianMixture:
        """Fit by EM on all of ``x`` (N, D); returns ``self``.

        Warns
        -----
        ConvergenceWarning
            If EM stops at ``max_iter`` before the mean log-likelihood settles (always with
            ``max_iter=1``: one E-step leaves no change to compare with ``tol``).

        Raises
        ------
        InputShapeError
            If ``x`` is not 2-D, not finite, or has fewer samples than components.
        FitError
            If a component's covariance is not positive definite (its Cholesky factorisation
            fails), e.g. with ``reg_covar=0`` on data that lie in a subspace.
        """
        x = self._as_tensor(x, check_dim=False)
        n_samples = x.shape[0]
        if n_samples < self.n_components:
            raise InputShapeError(
                f"GMM needs at least n_components={self.n_components} samples, got {n_samples}"
            )
        gen = torch.Generator().manual_seed(self.seed)
        best: tuple[float, dict[str, object]] | None = None
        for init in range(self.n_init):
            resp = _kmeans_resp(x, self.n_components, gen)  # (N, K)
            state = self._em(x, resp)
            logger.debug("GMM init %d: bound %.4f after %d iter", init, state["bound"], state["n"])
            if best is None or state["bound"] > best[0]:
                best = (float(state["bound"]), state)
        assert best is not None
        state = best[1]
        self.weights_, self.means_, self.covariances_, self.precisions_chol_ = state["params"]  # type: ignore[misc]
        self.converged_ = bool(state["converged"])
        self.n_iter_ = int(state["n"])  # type: ignore[arg-type]
        self.lower_bounds_ = list(state["bounds"])  # type: ignore[arg-type]
        if not self.converged_:
            warnings.warn(_not_converged_message(self.lower_bounds_, self.max_iter, self.tol),
                          ConvergenceWarning, stacklevel=2)  # fmt: skip
        return self

    def _em(self, x: torch.Tensor, resp: torch.Tensor) -> dict[str, object]:
        params = _m_step(x, resp, self.reg_covar)
        bounds: list[float] = []
        converged = False
        n_iter = 0
        for n_iter in range(1, self.max_iter + 1):  # noqa: B007
            log_norm, log_resp = _e_step(x, *params)
            bounds.append(float(log_norm.mean()))
            if len(bounds) > 1 and abs(bounds[-1] - bounds[-2]) < self.tol:
                converged = True
                break
            params = _m_step(x, log_resp.exp(), self.reg_covar)
        return {"params": params, "bound": bounds[-1], "bounds": bounds, "n": n_iter,
                "converged": converged}  # fmt: skip

    # ---------------------------------------------------------------- inference
    def log_prob(self, x: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Mixture log-density ``log sum_k pi_k N(x | m_k, S_k)`` of each row, (N,) float64.

        Uses log-sum-exp over components, so it stays finite far from every component.
        """
        self._check_fitted()
        x = self._as_tensor(x, check_dim=True)
        return torch.logsumexp(self._weighted_log_prob(x), dim=1)  # (N,)

    def score_samples(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """``log_prob`` as a NumPy array (N,) float64 (scikit-learn's name)."""
        return self.log_prob(x).numpy()

    def predict_proba(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """Responsibilities (N, K) float64; each row sums to 1."""
        self._check_fitted()
        x = self._as_tensor(x, check_dim=True)
        wlp = self._weighted_log_prob(x)  # (N, K)
        return (wlp - torch.logsumexp(wlp, dim=1, keepdim=True)).exp().numpy()

    def _weighted_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        assert self.weights_ is not None and self.means_ is not None
        assert self.precisions_chol_ is not None
        return _log_gauss(x, self.means_, self.precisions_chol_) + self.weights_.log()  # (N, K)

    # --------------------------------------------------------------- state I/O
    def state_dict(self) -> dict[str, np.ndarray]:
        """Arrays that rebuild the fitted mixture exactly (for ``np.savez``)."""
        self._check_fitted()
        assert self.weights_ is not None and self.means_ is not None
        assert self.covariances_ is not None and self.precisions_chol_ is not None
        return {
            "weights": self.weights_.numpy(),
            "means": self.means_.numpy(),
            "covariances": self.covariances_.numpy(),
            "precisions_chol": self.precisions_chol_.numpy(),
            "hyper": np.array(
                [
                    self.n_components,
                    self.reg_covar,
                    self.max_iter,
                    self.tol,
                    self.n_init,
                    self.seed,
                    float(self.converged_),
                    self.n_iter_,
                ],
                dtype=np.float64,
            ),  # fmt: skip
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, np.ndarray]) -> GaussianMixture:
        """Inverse of :meth:`state_dict`."""
        k, reg, max_iter, tol, n_init, seed, conv, n_iter = state["hyper"].tolist()
        gmm = cls(int(k), reg_covar=reg, max_iter=int(max_iter), tol=tol, n_init=int(n_init),
                  seed=int(seed))  # fmt: skip
        gmm.weights_ = torch.as_tensor(np.asarray(state["weights"]), dtype=_DTYPE)
        gmm.means_ = torch.as_tensor(np.asarray(state["means"]), dtype=_DTYPE)
        gmm.covariances_ = torch.as_tensor(np.asarray(state["covariances"]), dtype=_DTYPE)
        gmm.precisions_chol_ = torch.as_tensor(np.asarray(state["precisions_chol"]), dtype=_DTYPE)
        gmm.converged_, gmm.n_iter_ = bool(conv), int(n_iter)
        return gmm

    # ----------------------------------------------------------------- helpers
    def _check_fitted(self) -> None:
        if self.weights_ is None:
            raise NotFittedError("GaussianMixture is not fitted; call fit(x) first")

    def _as_tensor(self, x: np.ndarray | torch.Tensor, *, check_dim: bool) -> torch.Tensor:
        t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
        t = t.detach().to(device="cpu", dtype=_DTYPE)
        if t.ndim != 2:
            raise InputShapeError(f"GMM input must be (N, D), got shape {tuple(t.shape)}")
        if check_dim and self.means_ is not None and t.shape[1] != self.means_.shape[1]:
            raise InputShapeError(
                f"GMM was fitted on D={self.means_.shape[1]} features, got D={t.shape[1]}"
            )
        if not bool(torch.isfinite(t).all()):
            raise InputShapeError("GMM input holds NaN or infinite values")
        return t


def _not_converged_message(bounds: list[float], max_iter: int, tol: float) -> str:
    """The ConvergenceWarning text; the last change of the bound when there are two or more."""
    if len(bounds) < 2:
        last = f"a single E-step leaves no change of the bound to compare with tol={tol}"
    else:
        last = f"last change {bounds[-1] - bounds[-2]:.2e} > tol={tol}"
    return (f"GMM EM did not converge in max_iter={max_iter} iterations ({last}); "
            "raise max_iter or tol")  # fmt: skip


def _log_gauss(x: torch.Tensor, means: torch.Tensor, prec_chol: torch.Tensor) -> torch.Tensor:
    """log N(x | m_k, S_k) for every sample and component, (N, K); S_k^-1 = L_k L_k^T."""
    n_features = x.shape[1]
    log_det = prec_chol.diagonal(dim1=1, dim2=2).log().sum(dim=1)  # (K,)
    y = torch.einsum("nd,kde->nke", x, prec_chol) - torch.einsum(
        "kd,kde->ke", means, prec_chol
    )  # (N, K, D)
    return -0.5 * (n_features * math.log(2 * math.pi) + y.pow(2).sum(dim=2)) + log_det  # (N, K)


def _e_step(
    x: torch.Tensor,
    weights: torch.Tensor,
    means: torch.Tensor,
    covariances: torch.Tensor,
    prec_chol: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    wlp = _log_gauss(x, means, prec_chol) + weights.log()  # (N, K)
    log_norm = torch.logsumexp(wlp, dim=1)  # (N,)
    return log_norm, wlp - log_norm[:, None]  # (N,), (N, K)


def _m_step(
    x: torch.Tensor, resp: torch.Tensor, reg_covar: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Weights (K,), means (K, D), covariances (K, D, D) and precision factors (K, D, D)."""
    n_samples, n_features = x.shape
    eps = 10 * torch.finfo(_DTYPE).eps
    nk = resp.sum(dim=0) + eps  # (K,)
    means = resp.T @ x / nk[:, None]  # (K, D)
    diff = x[None, :, :] - means[:, None, :]  # (K, N, D)
    cov = torch.einsum("nk,knd,kne->kde", resp, diff, diff) / nk[:, None, None]  # (K, D, D)
    cov = cov + reg_covar * torch.eye(n_features, dtype=_DTYPE)
    chol, info = torch.linalg.cholesky_ex(cov)  # (K, D, D) lower, S = C C^T; info (K,)
    failed = (info != 0) | ~torch.isfinite(chol).flatten(1).all(dim=1)  # (K,)
    if bool(failed.any()):
        raise FitError(_cholesky_message(failed, nk, n_samples, n_features, reg_covar))
    eye = torch.eye(n_features, dtype=_DTYPE).expand_as(chol)
    prec_chol = torch.linalg.solve_triangular(chol, eye, upper=False).transpose(1, 2)  # (K, D, D)
    return nk / n_samples, means, cov, prec_chol


def _cholesky_message(
    failed: torch.Tensor, nk: torch.Tensor, n_samples: int, n_features: int, reg_covar: float
) -> str:
    """What failed in the M-step (which components, on how much data) and what to change."""
    ks = [int(k) for k in torch.nonzero(failed).flatten()]
    weights = ", ".join(f"{float(nk[k]):.3g}" for k in ks)
    return (
        f"GMM M-step: the covariance of component(s) {ks} of {failed.numel()} is not positive "
        f"definite (Cholesky factorisation failed) with reg_covar={reg_covar:g}, "
        f"{n_features} features and {n_samples} samples ({weights} of them in those "
        "components): the data are too few or lie in a subspace (constant or collinear "
        "features); fit on more (or more varied) samples, use fewer components, or raise "
        "reg_covar (DetectorConfig.reg_covar for the detector)"
    )


def _kmeans_resp(x: torch.Tensor, n_components: int, gen: torch.Generator) -> torch.Tensor:
    """Hard responsibilities (N, K) from k-means++ seeding plus 10 Lloyd iterations."""
    n_samples = x.shape[0]
    first = int(torch.randint(n_samples, (1,), generator=gen))
    centers = [x[first]]
    d2 = (x - centers[0]).pow(2).sum(dim=1)  # (N,)
    for _ in range(1, n_components):
        probs = d2 / d2.sum() if float(d2.sum()) > 0 else torch.full_like(d2, 1.0 / n_samples)
        idx = int(torch.multinomial(probs, 1, generator=gen))
        centers.append(x[idx])
        d2 = torch.minimum(d2, (x - x[idx]).pow(2).sum(dim=1))
    c = torch.stack(centers)  # (K, D)
    for _ in range(10):
        labels = torch.cdist(x, c).argmin(dim=1)  # (N,)
        for k in range(n_components):
            members = x[labels == k]
            if members.shape[0] > 0:
                c[k] = members.mean(dim=0)
    labels = torch.cdist(x, c).argmin(dim=1)
    return torch.nn.functional.one_hot(labels, n_components).to(_DTYPE)  # (N, K)
