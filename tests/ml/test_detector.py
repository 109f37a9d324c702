"""The multi-head model, the three-phase trainer, scoring and save/load (regression tests for
every bug of the reference code listed in the model notes)."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from ml import (
    ConfigError,
    DetectorConfig,
    FittedDetector,
    InputShapeError,
    ModelFileError,
    NPDetector,
    TrainConfig,
    fit_detector,
)
from ml.trainer import _phase1, _phase2, _Run, fit_gmm


def _run(model: NPDetector, train: TrainConfig) -> _Run:
    return _Run(
        model, train, np.random.default_rng(0), torch.Generator().manual_seed(0), None, None
    )


def _snapshot(model: NPDetector) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def _changed(before: dict[str, torch.Tensor], model: NPDetector, prefix: str) -> bool:
    return any(
        not torch.equal(before[n], p) for n, p in model.named_parameters() if n.startswith(prefix)
    )


@pytest.mark.parametrize(
    "shape",
    [
        (1, 28, 28),  # digits
        (1, 64, 32),  # spectrogram windows: 64 bands x 32 frames
        (2, 15, 9),  # odd sizes and two channels
    ],
)
@pytest.mark.parametrize("architecture", ["conv", "linear"])
def test_model_reconstructs_any_input_shape(shape, architecture):
    cfg = DetectorConfig(input_shape=shape, z_dim=5, channels=(4, 8), architecture=architecture)
    model = NPDetector(cfg)
    x = torch.randn(3, *shape)
    for head in ("generator", "discriminator"):
        x_hat, mu, logvar = model(x, head)
        assert x_hat.shape == x.shape and mu.shape == logvar.shape == (3, 5)
    assert model.errors(x).shape == (3,)


def test_phase_parameter_groups_cover_the_bottleneck_and_every_parameter(small_config):
    """Reference bug 1: mu, logvar and eta were never given to the optimizer."""
    model = NPDetector(small_config)
    names = {id(p): n for n, p in model.named_parameters()}
    phase1 = {names[id(p)] for p in model.phase_parameters("phase1")}
    phase2 = {names[id(p)] for p in model.phase_parameters("phase2")}
    for part in ("bottleneck.mu.weight", "bottleneck.logvar.weight", "bottleneck.eta.0.weight"):
        assert part in phase1
    assert {"bottleneck.mu.weight", "bottleneck.eta.0.weight"} <= phase2
    assert not any(n.startswith("heads.discriminator") for n in phase1)
    assert not any(n.startswith("heads.generator") for n in phase2)
    assert phase1 | phase2 == set(names.values())


def test_phase1_trains_the_bottleneck_and_generator_but_not_the_discriminator(
    small_config, small_train, small_data
):
    model = NPDetector(small_config)
    model.set_normalisation(small_data["general"])
    before = _snapshot(model)
    _phase1(_run(model, small_train), small_data["general"], 5, era=1)
    for prefix in ("encoder.", "bottleneck.mu.", "bottleneck.logvar.", "bottleneck.eta.",
                   "heads.generator."):  # fmt: skip
        assert _changed(before, model, prefix), prefix
    assert not _changed(before, model, "heads.discriminator.")


@pytest.mark.parametrize(
    ("source", "kl_weight"),
    [
        ("real", 0.0),  # real unlikely general samples, no KL anchor
        ("decoded", 0.0),  # decoded unlikely latents
        ("mix", 0.1),  # half and half, with the KL anchor (trains logvar too)
    ],
)
def test_phase2_trains_encoder_mu_eta_and_discriminator(
    small_config, small_train, small_data, source, kl_weight
):
    """Reference bug 2: phase 2 ran eta under no_grad and never trained the encoder."""
    train = TrainConfig(**{**small_train.to_dict(), "anomaly_source": source, "phase2_steps": 3,
                           "phase2_kl_weight": kl_weight})  # fmt: skip
    model = NPDetector(small_config)
    model.set_normalisation(small_data["general"])
    run = _run(model, train)
    gmm = fit_gmm(model, small_data["typical"])
    before = _snapshot(model)
    _phase2(run, gmm, small_data["general"], small_data["typical"], era=1)
    for prefix in ("encoder.", "bottleneck.mu.", "bottleneck.eta.", "heads.discriminator."):
        assert _changed(before, model, prefix), prefix
    assert not _changed(before, model, "heads.generator.")
    assert _changed(before, model, "bottleneck.logvar.") == (kl_weight > 0)
    steps = [h for h in run.history if h["phase"] == "phase2"]
    assert (
        len(steps) == 3 and steps[0]["n_decoded"] == {"real": 0, "decoded": 32, "mix": 16}[source]
    )


def test_localised_np_loss_separates_the_scored_error(small_config, small_train, small_data):
    """phase2_error="localised": the loss reads the worst-step band-group error the detector
    is scored by, so training raises the candidates' score against the typical one."""
    import dataclasses

    config = dataclasses.replace(small_config, n_steps=2, band_groups=4, step_pool="max")
    train = TrainConfig(**{**small_train.to_dict(), "phase2_steps": 20,
                           "phase2_error": "localised"})  # fmt: skip
    model = NPDetector(config)
    model.set_normalisation(small_data["general"])
    run = _run(model, train)
    _phase1(run, small_data["general"], 30, era=1)
    gmm = fit_gmm(model, small_data["typical"])

    def gap() -> float:
        with torch.no_grad():
            s = [model.step_errors(torch.from_numpy(small_data[k]), "discriminator").amax(1)
                 for k in ("anomalies", "typical_test")]  # fmt: skip
        return float(s[0].median() / s[1].median())

    before = gap()
    _phase2(run, gmm, small_data["general"][200:], small_data["typical"], era=1)
    assert float(model.error_scale_discriminator.std()) > 0  # scales set before the loss
    assert gap() > before


def test_phase2_keeps_the_state_of_best_held_out_tpr(small_config, small_train, small_data):
    train = TrainConfig(**{**small_train.to_dict(), "phase2_steps": 12, "phase2_eval_every": 3,
                           "phase2_validation": 0.25})  # fmt: skip
    model = NPDetector(small_config)
    model.set_normalisation(small_data["general"])
    run = _run(model, train)
    gmm = fit_gmm(model, small_data["typical"])
    check = _phase2(run, gmm, small_data["general"], small_data["typical"], era=1)
    measured = {h["step"]: h["heldout_tpr"] for h in run.history if "heldout_tpr" in h}
    assert sorted(measured) == [1, 3, 6, 9, 12]  # the first step, then every 3rd
    assert check is not None and check.best_tpr == max(measured.values())
    assert check.tpr() == check.best_tpr  # the kept state is the best one, restored
    n_typ = small_data["typical"].shape[0]
    assert check.typical.shape[0] == round(0.25 * n_typ)  # held out of the typical batches


def test_threshold_comes_from_discriminator_errors_with_mu(small_fitted, small_data):
    """Reference bug 7: the threshold came from the generator tail with sampled z."""
    model = small_fitted.model
    with torch.no_grad():
        x = torch.from_numpy(small_data["calibration"])
        mu, _ = model.encode(x)
        err = (model.decode(mu, "discriminator") - model.standardise(x)).pow(2).flatten(1).mean(1)
    expected = float(np.quantile(err.double().numpy(), 1 - small_fitted.rho, method="higher"))
    assert small_fitted.thresholds["np"] == pytest.approx(expected, rel=1e-6)
    a = small_fitted.score(small_data["calibration"]).np_error
    np.testing.assert_array_equal(a, small_fitted.score(small_data["calibration"]).np_error)


def test_scores_have_the_contracted_fields_and_semantics(small_fitted, small_data):
    x = np.concatenate([small_data["typical_test"], small_data["anomalies"]])
    s = small_fitted.score(x, batch_size=7)
    for name, arr in s.as_dict().items():
        assert arr.shape == (80,), name
        assert np.isfinite(arr.astype(float)).all(), name
    np.testing.assert_array_equal(s.score, s.combined)  # the configured production score
    np.testing.assert_array_equal(s.is_anomaly, s.score > small_fitted.threshold)
    cal = small_fitted.calibration_scores["combined"]
    np.testing.assert_allclose(s.tail_prob, [(cal >= v).mean() for v in s.score])
    assert small_fitted.realised_calibration_fpr <= small_fitted.rho
    assert s.np_error[40:].mean() > s.np_error[:40].mean()  # shifted inputs score higher


def test_a_saved_detector_rebuilds_exactly(small_fitted, small_data, tmp_path):
    small_fitted.save(tmp_path / "model")
    loaded = FittedDetector.load(tmp_path / "model")
    x = np.concatenate([small_data["typical_test"], small_data["anomalies"]])
    a, b = small_fitted.score(x).as_dict(), loaded.score(x).as_dict()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    assert loaded.config == small_fitted.config and loaded.train == small_fitted.train
    assert loaded.thresholds == small_fitted.thresholds
    torch.testing.assert_close(loaded.model.input_std, small_fitted.model.input_std)
    assert loaded.history == small_fitted.history


def test_loading_an_incomplete_directory_names_the_missing_files(small_fitted, tmp_path):
    small_fitted.save(tmp_path)
    (tmp_path / "gmm.npz").unlink()
    with pytest.raises(ModelFileError, match="gmm.npz"):
        FittedDetector.load(tmp_path)


def test_the_io_functions_save_and_load_with_the_operating_point(
    small_fitted, small_data, tmp_path
):
    from ml.io import CHECKSUMS_FILE, FORMAT_VERSION, file_digests, load_detector, save_detector

    first = load_detector(save_detector(small_fitted, tmp_path / "a"))
    first.set_operating_point(first.threshold * 2.0, rule="test")
    again = load_detector(save_detector(first, tmp_path / "b"))
    assert again.operating_point == {"threshold": first.threshold, "rule": "test"}
    x = small_data["anomalies"]
    np.testing.assert_array_equal(again.score(x).is_anomaly, first.score(x).is_anomaly)
    meta = json.loads((tmp_path / "b" / "config.json").read_text())
    assert meta["format_version"] == FORMAT_VERSION
    recorded = json.loads((tmp_path / "b" / CHECKSUMS_FILE).read_text())
    assert recorded == file_digests(tmp_path / "b", tuple(recorded))


def test_thresholds_that_disagree_with_the_calibration_scores_are_a_model_file_error(
    small_fitted, tmp_path
):
    from ml.io import CHECKSUMS_FILE

    small_fitted.save(tmp_path)
    meta = json.loads((tmp_path / "config.json").read_text())
    meta["thresholds"]["np"] += 1.0
    (tmp_path / "config.json").write_text(json.dumps(meta))
    (tmp_path / CHECKSUMS_FILE).unlink()  # as a directory written before checksums existed
    with pytest.raises(ModelFileError, match="thresholds recomputed"):
        FittedDetector.load(tmp_path)


def test_training_is_deterministic_on_cpu(small_config, small_train, small_data):
    fits = [fit_detector(small_data["general"], small_data["typical"], config=small_config,
                         train=small_train, calibration=small_data["calibration"])
            for _ in range(2)]  # fmt: skip
    for (n, p), (_, q) in zip(fits[0].model.state_dict().items(), fits[1].model.state_dict().items(),
                              strict=True):  # fmt: skip
        assert torch.equal(p, q), n
    assert fits[0].thresholds == fits[1].thresholds


def test_callback_reports_every_phase_and_no_print(small_config, small_train, small_data, capsys):
    seen: list[tuple[str, int]] = []
    fitted = fit_detector(small_data["general"], small_data["typical"], config=small_config,
                          train=small_train, callback=lambda ph, st, m: seen.append((ph, st)))  # fmt: skip
    phases = [p for p, _ in seen]
    assert phases.count("phase1") == 30 and phases.count("phase2") == 15
    assert phases.count("gmm") == 2  # fit after phase 1 and refit after phase 2 (phase 3)
    assert [s for _, s in seen] == list(range(1, len(seen) + 1))
    assert len(fitted.history) == len(seen)
    assert capsys.readouterr().out == ""


def test_inputs_are_standardised_by_the_model(small_config, small_data):
    model = NPDetector(small_config)
    x = small_data["general"] * 10 + 5
    model.set_normalisation(x)
    z = model.standardise(torch.from_numpy(x))
    assert abs(float(z.mean())) < 1e-4
    torch.testing.assert_close(z.std(dim=0), torch.ones_like(z[0]), atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros((5, 1, 8, 8), np.float32), r"general: expected inputs shaped \(N, 1, 16, 8\)"),
        (np.full((5, 1, 16, 8), np.nan, np.float32), "general: .*NaN"),  # non-finite
        (np.zeros((0, 1, 16, 8), np.float32), "general: got an empty array"),  # empty
    ],
)
def test_bad_training_input_names_the_array_and_shape(small_config, small_train, bad, match):
    with pytest.raises(InputShapeError, match=match):
        fit_detector(bad, np.zeros((5, 1, 16, 8), np.float32), config=small_config,
                     train=small_train)  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rho": 0.7}, "rho must be in"),  # rho out of range
        ({"anomaly_source": "fake"}, "anomaly_source must be"),  # unknown mode
        ({"eras": 0}, "eras must be >= 1"),  # nothing to train
    ],
)
def test_bad_train_config_raises_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**kwargs)


@pytest.mark.parametrize("name", ["gmm_max_iter", "gmm_n_init"])
def test_gmm_counts_below_one_are_a_config_error(name):
    with pytest.raises(ConfigError, match=f"{name} must be >= 1, got 0"):
        DetectorConfig(**{name: 0})


def test_the_moved_helpers_are_importable_where_they_were():
    from ml.model import encode_mu
    from ml.trainer import encode_mu as trainer_encode_mu

    assert trainer_encode_mu is encode_mu


def test_configs_round_trip_through_dicts():
    cfg = DetectorConfig(input_shape=(1, 64, 32), channels=(8, 16))
    assert DetectorConfig.from_dict(copy.deepcopy(cfg.to_dict())) == cfg
    assert TrainConfig.from_dict(TrainConfig.quick().to_dict()) == TrainConfig.quick()
    with pytest.raises(ConfigError, match="unknown DetectorConfig keys"):
        DetectorConfig.from_dict({"z": 3})


def test_errors_are_exception_classes_not_strings():
    """Reference bug 3: error paths raised strings (a TypeError in Python 3)."""
    from ml import DetectorError, SamplerCapError

    assert issubclass(SamplerCapError, DetectorError) and issubclass(InputShapeError, ValueError)
