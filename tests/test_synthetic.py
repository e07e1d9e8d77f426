import pickle

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from deap_lib.data import deap_format, synthetic
from deap_lib.data.dataset import prepare, resolve_source
from deap_lib.experiment import importance


def test_shapes_ranges_and_channels():
    data, labels = synthetic.twin_participant(3)
    assert data.shape == (40, 40, 8064) and data.dtype == np.float32
    assert labels.shape == (40, 4) and labels.min() >= 1 and labels.max() <= 9
    eeg = data[:, : deap_format.N_EEG]
    # Microvolt scale, average referenced, band-limited (no DC): like DEAP's preprocessed EEG.
    assert 3 < eeg.std() < 60
    np.testing.assert_allclose(eeg.mean(axis=1), 0, atol=1e-3)
    assert np.abs(eeg.mean(axis=-1)).max() < 0.1 * eeg.std()
    # Alpha dominates the spectrum of posterior channels around 8-12 Hz.
    spec = np.abs(np.fft.rfft(eeg[:, deap_format.EEG_CHANNELS.index("Oz")], axis=-1)) ** 2
    f = np.fft.rfftfreq(deap_format.N_SAMPLES, 1 / deap_format.SFREQ)
    assert spec[:, (f > 8) & (f < 12)].mean() > 3 * spec[:, (f > 25) & (f < 35)].mean()


def test_deterministic_and_participants_independent():
    a = synthetic.twin_participant(2, seed=5)
    b = synthetic.twin_participant(2, seed=5)
    c = synthetic.twin_participant(2, seed=6)
    d = synthetic.twin_participant(3, seed=5)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0]) and not np.array_equal(a[0], d[0])


def test_null_twin_signal_does_not_depend_on_effect_knob_draws():
    # Same seed: the effect knob changes only the planted modulation, not the random draws.
    null, labels0 = synthetic.twin_participant(1, effect=0.0)
    planted, labels1 = synthetic.twin_participant(1, effect=1.0)
    np.testing.assert_array_equal(labels0, labels1)
    baseline = slice(0, 3 * deap_format.SFREQ)  # the 3 s pre-trial baseline carries no effect
    np.testing.assert_allclose(null[:, :32, baseline], planted[:, :32, baseline], rtol=1e-5, atol=1e-4)
    assert not np.allclose(null[:, :32, 2000:], planted[:, :32, 2000:])


def test_negative_effect_rejected():
    with pytest.raises(ValueError, match="effect"):
        synthetic.twin_participant(1, effect=-1)


def test_write_twin_is_deap_format(tmp_path):
    paths = synthetic.write_twin(tmp_path, 2, seed=4, progress=False)
    assert [p.name for p in paths] == ["s01.dat", "s02.dat"]
    with open(paths[1], "rb") as f:
        raw = pickle.load(f, encoding="latin1")  # exactly how the real files are read
    assert set(raw) == {"data", "labels"}
    data, labels = synthetic.twin_participant(2, seed=4)
    np.testing.assert_array_equal(raw["data"], data)
    read = deap_format.read_participant(paths[1])
    np.testing.assert_array_equal(read[1], labels)


@pytest.fixture(scope="module")
def twin_features(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return {
        effect: prepare(resolve_source(participants=range(1, 9), twin_effect=effect), cache=cache, progress=False)
        for effect in (0.0, synthetic.DEFAULT_EFFECT)
    }


def _within_participant_accuracy(data, target):
    """Logistic regression on each channel's windowed std, centred within each participant.

    Centring removes who the participant is, so the classifier can only use how a trial differs
    from that participant's other trials: the planted effects, if any (random k-fold on the raw
    features would also profit from recognising participants and their rating habits).
    """
    x = data.features[:, :, importance.stat_columns("std", whole_channel=False)].mean(axis=2)
    for p in np.unique(data.participant):
        x[data.participant == p] -= x[data.participant == p].mean(axis=0)
    y = data.labels(target)
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=1.0))
    acc = cross_val_score(clf, x, y, cv=StratifiedKFold(5, shuffle=True, random_state=0)).mean()
    return acc, max(y.mean(), 1 - y.mean())


@pytest.mark.slow  # trains classifiers on 16 prepared twin participants
@pytest.mark.parametrize("target", ["valence", "arousal"])
def test_planted_effect_detectable_null_not(twin_features, target):
    acc, majority = _within_participant_accuracy(twin_features[synthetic.DEFAULT_EFFECT], target)
    assert acc > majority + 0.08, (acc, majority)
    acc0, majority0 = _within_participant_accuracy(twin_features[0.0], target)
    assert acc0 < majority0 + 0.02, (acc0, majority0)
