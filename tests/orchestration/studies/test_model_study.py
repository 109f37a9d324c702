"""The model study's pure parts: pasted transients and the variants table."""

from __future__ import annotations

import numpy as np

from orchestration.studies.model_study import CLASSES, markdown
from orchestration.studies.model_variants import PRODUCTION, VARIANTS, pasted_anomalies


def test_pasted_transients_change_one_patch_of_a_typical_window_upwards():
    rng = np.random.default_rng(0)
    typical = rng.normal(size=(20, 2, 64, 32)).astype(np.float32)
    sources = rng.normal(size=(5, 2, 64, 32)).astype(np.float32) + 10.0
    out = pasted_anomalies(typical, sources, 50, seed=1)
    assert out.shape == (50, 2, 64, 32)
    for x in out:
        # the nearest typical window differs only inside one band x frame rectangle
        base = typical[np.argmin(np.abs(typical - x).sum(axis=(1, 2, 3)))]
        changed = np.any(x != base, axis=0)  # (F, T)
        bands, frames = np.flatnonzero(changed.any(1)), np.flatnonzero(changed.any(0))
        assert 4 <= bands.size <= 24 and 2 <= frames.size <= 16
        assert changed[bands[0] : bands[-1] + 1, frames[0] : frames[-1] + 1].all()
        assert (x - base)[:, changed].mean() > 5.0  # the louder source, raised 0-6 dB
    assert not np.array_equal(out, pasted_anomalies(typical, sources, 50, seed=2))


def _figures(auc: float, recall: float) -> dict:
    return {"class_balanced_auc": auc, "recall_at_budget": recall,
            "fa_per_hour_at_threshold": 1.0, "recall_at_threshold": recall / 2,
            "per_class_recall": {c: recall for c in CLASSES}}  # fmt: skip


def test_the_table_shows_every_variant_with_mean_and_spread_over_seeds():
    scores = ("np", "recon_error", "gmm_nll", "combined")
    results = {
        "variants": {
            name: {str(s): {sc: _figures(0.8 + 0.02 * s, 0.3 + 0.1 * s) for sc in scores}
                   for s in (0, 1, 2)}
            for name in VARIANTS
        },
        "energy": {str(s): {"energy_1s": _figures(0.84, 0.38)} for s in (0, 1, 2)},
        "training_hours": {"train_days_1": [0.5, 0.7, 0.6]},
    }  # fmt: skip
    text = markdown(
        results, VARIANTS, PRODUCTION, [0, 1, 2], "python -m orchestration.studies.model_study"
    )
    lines = text.splitlines()
    for name in VARIANTS:
        (row,) = [line for line in lines if line.startswith(f"| **{name}**")]
        assert "0.82 ± 0.02" in row  # AUC mean and sample std over the seeds
        assert f"`{PRODUCTION[name]}`" in row
    assert any("band-energy" in line and "0.84" in line for line in lines)
    assert "train_days_1: 0.60 ± 0.10" in text  # sample standard deviation (ddof 1)
