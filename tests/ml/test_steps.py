"""Scores per scoring step and localised errors (``DetectorConfig.n_steps``, ``band_groups``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from ml import FittedDetector, fit_detector
from ml.model import NPDetector


@pytest.fixture(scope="module")
def stepped(small_config, small_train, small_data):
    config = dataclasses.replace(small_config, n_steps=4, band_groups=4)
    return fit_detector(small_data["general"], small_data["typical"], config=config,
                        train=small_train, calibration=small_data["calibration"])  # fmt: skip


def test_one_step_and_one_group_is_the_whole_input_mean_squared_error(small_fitted, small_data):
    x = torch.from_numpy(small_data["typical_test"])
    model = small_fitted.model
    with torch.no_grad():
        x_hat, _, _ = model(x, "discriminator")
        whole = (x_hat - model.standardise(x)).pow(2).flatten(1).mean(1)
        steps = model.step_errors(x, "discriminator")
    assert steps.shape == (len(x), 1)
    np.testing.assert_allclose(steps[:, 0].numpy(), whole.numpy(), rtol=1e-5)


def test_scores_come_per_step_and_an_input_scores_its_worst_step(stepped, small_data):
    x = small_data["anomalies"]
    steps = stepped.score_steps(x)
    whole = stepped.score(x)
    assert steps.score.shape == (len(x), 4) and steps.gmm_nll.shape == (len(x), 4)
    np.testing.assert_allclose(whole.score, steps.score.max(axis=1))
    np.testing.assert_array_equal(whole.is_anomaly, steps.is_anomaly.any(axis=1))
    # the latent NLL is one figure per input, the same on each of its steps
    np.testing.assert_allclose(steps.gmm_nll, np.repeat(whole.gmm_nll[:, None], 4, axis=1))
    # calibration scores are per step: K per calibration input
    assert stepped.calibration_scores["np"].size == 4 * len(small_data["calibration"])


def test_a_short_narrow_change_raises_its_own_step_most(stepped, small_data):
    x = small_data["typical_test"].copy()
    before = stepped.score_steps(x).np_error
    x[:, :, 12:16, 4:6] += 3.0  # the last band group, frames of step 2 (of 4 over 8 frames)
    after = stepped.score_steps(x).np_error
    rise = (after - before).mean(axis=0)  # (K,)
    assert int(np.argmax(rise)) == 2
    assert rise[2] > 5 * max(rise[0], rise[1], rise[3], 1e-6)


def test_error_scales_come_from_typical_data_and_divide_each_row(stepped, small_data):
    model: NPDetector = stepped.model
    scale = model.error_scale_discriminator
    assert scale.shape == (16,) and bool((scale > 0).all())
    assert not torch.allclose(scale, torch.ones_like(scale))  # set by fit_detector
    x = torch.from_numpy(small_data["typical_test"])
    with torch.no_grad():
        e = model.error_map(x, "discriminator") / scale[None, :, None]  # (N, 16, 8)
        groups = e.reshape(len(x), 4, 4, 8).mean(2)  # (N, G, W)
        manual = groups.reshape(len(x), 4, 4, 2).mean(3).amax(1)  # steps of 2 frames
        np.testing.assert_allclose(model.step_errors(x, "discriminator").numpy(),
                                   manual.numpy(), rtol=1e-5)  # fmt: skip


def test_a_saved_stepped_detector_scores_the_same_steps(stepped, small_data, tmp_path):
    stepped.save(tmp_path / "d")
    loaded = FittedDetector.load(tmp_path / "d")
    x = small_data["anomalies"]
    np.testing.assert_allclose(loaded.score_steps(x).score, stepped.score_steps(x).score,
                               rtol=1e-6)  # fmt: skip
    assert loaded.config.n_steps == 4 and loaded.config.band_groups == 4


def test_max_pooling_counts_a_one_frame_click_in_full(small_fitted, small_data):
    def scorer(pool: str) -> NPDetector:
        return _same_weights(small_fitted, n_steps=2, band_groups=1, step_pool=pool)

    x = torch.from_numpy(small_data["typical_test"].copy())
    x[:, :, :, 1] += 4.0  # one loud frame of the first step (frames 0-3)
    with torch.no_grad():
        mean, worst = (
            scorer("mean").step_errors(x, "discriminator"),
            scorer("max").step_errors(x, "discriminator"),
        )
        frame = scorer("max").error_map(x, "discriminator").mean(1)  # (N, W) per-frame mean
    np.testing.assert_allclose(worst[:, 0].numpy(), frame[:, :4].amax(1).numpy(), rtol=1e-5)
    np.testing.assert_allclose(mean[:, 0].numpy(), frame[:, :4].mean(1).numpy(), rtol=1e-5)
    assert bool((worst[:, 0] > 2 * mean[:, 0]).all())


def _same_weights(fitted: FittedDetector, **changes) -> NPDetector:
    """``fitted``'s network read with other scoring fields of its config."""
    model = NPDetector(dataclasses.replace(fitted.config, **changes))
    model.load_state_dict(fitted.model.state_dict())
    return model.eval()


def test_the_excess_part_counts_only_cells_above_the_reconstruction(stepped, small_data):
    x = torch.from_numpy(small_data["typical_test"])
    both, excess = (
        _same_weights(stepped, error_part="both"),
        _same_weights(stepped, error_part="excess"),
    )
    with torch.no_grad():
        x_hat, _, _ = both(x, "discriminator")
        r = (both.standardise(x) - x_hat).flatten(1, 2)  # (N, C*H, W) signed
        e_both, e_excess = both.error_map(x, "discriminator"), excess.error_map(x, "discriminator")
        np.testing.assert_allclose(e_both.numpy(), r.pow(2).numpy(), rtol=1e-6)
        np.testing.assert_allclose(e_excess.numpy(), r.clamp_min(0).pow(2).numpy(), rtol=1e-6)
        assert bool((r < 0).any()) and bool((e_excess[r < 0] == 0).all())
        # a quieter patch lowers the excess score, a louder one raises it
        quiet, loud = x.clone(), x.clone()
        quiet[:, :, 12:16, 4:6] -= 3.0
        loud[:, :, 12:16, 4:6] += 3.0

        def rise(model: NPDetector, changed: torch.Tensor) -> float:  # mean rise of step 2
            return float((model.step_errors(changed, "discriminator")
                          - model.step_errors(x, "discriminator"))[:, 2].mean())  # fmt: skip

        assert rise(both, quiet) > 1.0  # both signs: a quieter patch scores like a louder one
        assert abs(rise(excess, quiet)) < 0.1 * rise(both, quiet)
        assert rise(excess, loud) > 1.0


def test_the_error_scales_read_both_signs_whatever_the_scores_read(stepped, small_data):
    excess = _same_weights(stepped, error_part="excess")
    excess.set_error_scales(small_data["typical"])
    torch.testing.assert_close(excess.error_scale_discriminator,
                               stepped.model.error_scale_discriminator)  # fmt: skip


def test_the_discriminator_floor_holds_each_row_at_its_general_quantile(small_config, small_train,
                                                                        small_data, tmp_path):  # fmt: skip
    config = dataclasses.replace(small_config, discriminator_floor=0.1, normalise="row",
                                 error_part="excess")  # fmt: skip
    fitted = fit_detector(small_data["general"], small_data["typical"], config=config,
                          train=small_train, calibration=small_data["calibration"])  # fmt: skip
    model = fitted.model
    general = torch.from_numpy(small_data["general"])
    rows = model.standardise(general).permute(1, 2, 0, 3).flatten(2)  # (C, H, N*W)
    floor = model.output_floor[..., 0]
    share_below = (rows < floor[..., None]).double().mean(2)
    assert bool(((share_below - 0.1).abs() < 0.02).all())
    with torch.no_grad():
        far = model.decode(torch.full((8, config.z_dim), 50.0), "discriminator")  # unlikely latents
        unbounded = model.heads["discriminator"](
            model.bottleneck.eta(torch.full((8, config.z_dim), 50.0))
        )
    assert bool((far >= model.output_floor).all())
    assert bool((unbounded < model.output_floor).any())  # the floor is what holds it
    # the floor is saved with the model
    fitted.save(tmp_path / "d")
    loaded = FittedDetector.load(tmp_path / "d")
    torch.testing.assert_close(loaded.model.output_floor, model.output_floor)
    np.testing.assert_allclose(loaded.score_steps(small_data["anomalies"]).score,
                               fitted.score_steps(small_data["anomalies"]).score, rtol=1e-6)  # fmt: skip


def test_the_discriminator_ceiling_holds_each_row_below_its_general_quantile(
    small_config, small_train, small_data, tmp_path
):
    config = dataclasses.replace(small_config, discriminator_floor=0.1, normalise="row",
                                 discriminator_ceiling=0.9, error_part="excess")  # fmt: skip
    fitted = fit_detector(small_data["general"], small_data["typical"], config=config,
                          train=small_train, calibration=small_data["calibration"])  # fmt: skip
    model = fitted.model
    rows = model.standardise(torch.from_numpy(small_data["general"])).permute(1, 2, 0, 3).flatten(2)
    share_above = (rows > model.output_ceiling[..., 0][..., None]).double().mean(2)
    assert bool(((share_above - 0.1).abs() < 0.02).all())
    assert bool((model.output_ceiling > model.output_floor).all())
    with torch.no_grad():
        z = torch.full((8, config.z_dim), -50.0)  # unlikely latents, decoded both ways
        bounded = model.decode(z, "discriminator")
        unbounded = model.heads["discriminator"](model.bottleneck.eta(z))
    assert bool((bounded <= model.output_ceiling).all())
    assert bool((bounded >= model.output_floor).all())
    assert bool((unbounded > model.output_ceiling).any())  # the ceiling is what holds it
    fitted.save(tmp_path / "d")
    loaded = FittedDetector.load(tmp_path / "d")
    torch.testing.assert_close(loaded.model.output_ceiling, model.output_ceiling)


def test_a_ceiling_below_the_floor_is_refused(small_config):
    with pytest.raises(ValueError, match="below discriminator_ceiling"):
        dataclasses.replace(small_config, discriminator_floor=0.5, discriminator_ceiling=0.4)
