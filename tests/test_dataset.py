import numpy as np
import pytest

from deap_lib import dataset, features, synthetic
from deap_lib.dataset import prepare, resolve_source
from deap_lib.labels import binarize, class_balance


def test_prepare_twin_rows_and_labels(cache):
    data = prepare(resolve_source(participants=[2, 1]), progress=False)
    assert data.features.shape == (80, 32, 99)
    np.testing.assert_array_equal(data.participant, np.repeat([1, 2], 40))
    np.testing.assert_array_equal(data.trial, np.tile(np.arange(40), 2))
    raw, labels = synthetic.twin_participant(1)
    np.testing.assert_allclose(data.features[:40], features.extract_features(raw[:, :32]))
    np.testing.assert_array_equal(data.labels("arousal"), binarize(data.ratings, "arousal"))
    assert "not DEAP results" in data.describe()["description"]


def test_cache_reused_resumed_and_keyed(cache, monkeypatch):
    first = prepare(resolve_source(participants=[1, 2]), progress=False)
    calls = []
    real = features.extract_features
    monkeypatch.setattr(dataset.features, "extract_features", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = prepare(resolve_source(participants=[1, 2]), progress=False)
    assert calls == [] and again.identity == first.identity
    np.testing.assert_array_equal(again.features, first.features)
    # A killed run leaves finished participants only: delete one, and only it is recomputed.
    files = sorted((cache / "features").rglob("s02.npz"))
    files[0].unlink()
    prepare(resolve_source(participants=[1, 2]), progress=False)
    assert calls == [1]
    # A corrupt entry is recomputed, not trusted.
    files[0].write_bytes(b"garbage")
    prepare(resolve_source(participants=[1, 2]), progress=False)
    assert calls == [1, 1]
    other = prepare(resolve_source(participants=[1, 2]), standardization="none", progress=False)
    assert other.identity != first.identity and len(calls) == 4
    assert not list(cache.rglob("*.tmp"))


def test_real_deap_folder_reads_like_the_twin(cache, tmp_path, monkeypatch):
    folder = tmp_path / "data_preprocessed_python"
    synthetic.write_twin(folder, 2, progress=False)
    twin = prepare(resolve_source(participants=[1, 2]), progress=False)
    monkeypatch.setenv("DEAP_DIR", str(folder))
    src = resolve_source()
    assert src.kind == "deap" and "real DEAP" in src.describe()
    with pytest.warns(UserWarning, match="lacks 30 of 32"):
        real = prepare(src, progress=False)
    np.testing.assert_array_equal(real.features, twin.features)
    assert set(real.describe()["files"]) == {"s01", "s02"}
    # Touching a file changes its cache entry, and the content hash is recorded.
    assert all(len(h) == 64 for h in real.files.values())


def test_bad_parameters(cache, tmp_path):
    with pytest.raises(ValueError, match="standardization"):
        prepare(resolve_source(participants=[1]), standardization="zscore")
    with pytest.raises(ValueError, match="participants"):
        resolve_source(participants=[0, 3])
    with pytest.raises((FileNotFoundError, NotADirectoryError), match="nowhere"):
        resolve_source(tmp_path / "nowhere")


def test_class_balance_counts_threshold_ties():
    ratings = np.array([[5.0, 1.0, 1, 1], [4.9, 5.0, 1, 1], [9.0, 5.1, 1, 1], [5.0, 5.0, 1, 1]])
    rows = {r["target"]: r for r in class_balance(ratings)}
    assert rows["valence"]["high"] == 3 and rows["valence"]["at_threshold"] == 2
    assert rows["valence"]["high_if_strict"] == 1
    assert rows["arousal"]["high"] == 3 and rows["arousal"]["low"] == 1
    with pytest.raises(ValueError, match="target"):
        binarize(ratings, "liking")
