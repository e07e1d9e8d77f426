import os
import time

import numpy as np
import pytest

from deap_lib.cli import main
from deap_lib.data import dataset, deap_format, features, synthetic
from deap_lib.data.dataset import NonFiniteFeaturesError, prepare, resolve_source
from deap_lib.data.labels import binarize, class_balance

FZ = deap_format.EEG_CHANNELS.index("Fz")


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
    entries = sorted((cache / "store" / "features").iterdir(), key=lambda p: p.stat().st_mtime_ns)
    assert len(entries) == 2
    entries[1].unlink()
    prepare(resolve_source(participants=[1, 2]), progress=False)
    assert calls == [1]
    # A damaged entry (garbage, truncated, one bit flipped) is recomputed, not trusted.
    for damage in (lambda b: b"garbage", lambda b: b[: len(b) // 2], lambda b: b[:-1] + bytes([b[-1] ^ 1])):
        entry = max((cache / "store" / "features").iterdir(), key=lambda p: p.stat().st_mtime_ns)
        entry.write_bytes(damage(entry.read_bytes()))
        again = prepare(resolve_source(participants=[1, 2]), progress=False)
        np.testing.assert_array_equal(again.features, first.features)
    assert calls == [1, 1, 1, 1]
    other = prepare(resolve_source(participants=[1, 2]), standardization="none", progress=False)
    assert other.identity != first.identity and len(calls) == 6
    assert not list(cache.rglob("*.tmp"))


def test_real_deap_folder_reads_like_the_twin(cache, tmp_path, monkeypatch):
    folder = tmp_path / "data_preprocessed_python"
    synthetic.write_twin(folder, 2, progress=False)
    twin = prepare(resolve_source(participants=[1, 2]), progress=False)
    monkeypatch.setenv("DEAP_DIR", str(folder))
    with pytest.warns(UserWarning, match="lacks 30 of 32"):
        src = resolve_source()
    # a folder with a gap names the participants it holds, never "all participants"
    assert src.kind == "deap" and "real DEAP" in src.describe() and "participants [1, 2]" in src.describe()
    assert "all participants" not in src.describe()
    real = prepare(src, progress=False)
    np.testing.assert_array_equal(real.features, twin.features)
    assert set(real.describe()["files"]) == {"s01", "s02"}
    assert real.identified_by == "stat" and real.files["s01"]["path"] == str((folder / "s01.dat").resolve())
    # Content identity: the SHA-256 of each file, shared by a copy of the folder elsewhere.
    by_content = prepare(src, progress=False, data_identity="content")
    assert all(len(h["sha256"]) == 64 for h in by_content.files.values())
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("s01.dat", "s02.dat"):
        (copy / name).write_bytes((folder / name).read_bytes())
    copied = resolve_source(copy, participants=[1, 2])
    assert prepare(copied, progress=False, data_identity="content").identity == by_content.identity
    assert prepare(copied, progress=False).identity != real.identity  # stat identity: new files


def test_rewritten_file_with_restored_mtime_is_not_served_stale(cache, tmp_path):
    """cp -p, rsync and archive tools put the old mtime back; the features must follow the content."""
    folder = tmp_path / "deap"
    synthetic.write_twin(folder, 1, progress=False)
    path = folder / "s01.dat"
    src = resolve_source(folder, participants=[1])
    before = prepare(src, progress=False)
    st = path.stat()
    time.sleep(0.05)  # ctime has the kernel's clock resolution (a few ms)
    other, _ = synthetic.twin_participant(1, seed=99)
    deap_format.write_participant(path, other.astype(np.float32), synthetic.twin_participant(1, seed=99)[1])
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    after = prepare(src, progress=False)
    assert after.identity != before.identity
    assert not np.array_equal(after.features, before.features)
    np.testing.assert_array_equal(after.features, features.extract_features(other[:, :32]))


def test_broken_entries_and_env_folder_are_named(tmp_path, monkeypatch):
    # the reader's errors (tests/test_deap_format.py) reach resolve_source's caller
    folder = tmp_path / "deap"
    synthetic.write_twin(folder, 2, progress=False)
    (folder / "s04.dat").symlink_to(tmp_path / "gone.dat")
    with pytest.raises(FileNotFoundError, match="s04.dat is not a readable file .*dangling"):
        resolve_source(folder)
    monkeypatch.setenv("DEAP_DIR", str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="from the DEAP_DIR environment variable"):
        resolve_source()


def test_bad_parameters(cache, tmp_path):
    with pytest.raises(ValueError, match="standardization"):
        prepare(resolve_source(participants=[1]), standardization="zscore")
    with pytest.raises(ValueError, match="nonfinite must be one of .*'drop', 'impute'.*'skip'"):
        prepare(resolve_source(participants=[1]), nonfinite="skip")
    # participant ids are checked by the settings' schema and, for a folder, by its reader
    with pytest.raises(ValueError, match=r"participant.* in 1-32"):
        prepare(resolve_source(tmp_path, participants=[0, 3]))
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


# --------------------------------------------------------------------------------------------
# Non-finite features: a constant channel has NaN skewness and kurtosis


@pytest.fixture(scope="module")
def flat_deap(tmp_path_factory):
    """Two twin participants as DEAP files, s02's trial 7 (0-based) with a constant Fz.

    Returns the source and s02's raw data (40, 40, 8064) as written.
    """
    folder = tmp_path_factory.mktemp("flat") / "data_preprocessed_python"
    synthetic.write_twin(folder, 2, progress=False)
    path = deap_format.participant_path(folder, 2)
    data, labels = deap_format.read_participant(path)
    data[7, FZ] = data[7, FZ, 0]
    deap_format.write_participant(path, data, labels)
    return resolve_source(folder, participants=[1, 2]), data


def test_flat_channel_raises_naming_participant_trial_channel(cache, flat_deap, monkeypatch, capsys):
    src, _ = flat_deap
    calls = []
    real = features.extract_features
    monkeypatch.setattr(dataset.features, "extract_features", lambda x, **k: calls.append(x.shape) or real(x, **k))
    for _ in range(2):  # the second call loads the cache and must fail the same way
        with pytest.raises(NonFiniteFeaturesError, match=r"s02 trial 7 channel Fz \(constant: NaN skew, kurtosis\)") as err:
            prepare(src, cache=cache, progress=False)
        message = str(err.value)
        assert "s02.dat" in message and "0-based" in message and "\n" not in message
        assert 'nonfinite="drop"' in message and "--nonfinite drop|impute" in message
        assert err.value.where == ((2, 7, "Fz"),)
    # Then only the affected trial was reduced again, to find its channel.
    assert calls[-1] == (1, 32, 8064) and calls.count((40, 32, 8064)) == 2
    # The command line turns it into one line and exit code 2.
    assert main(["prepare", "--deap-dir", src.root, "--participants", "1", "2", "--cache", str(cache)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: non-finite features") and err.count("\n") == 1 and "channel Fz" in err


def test_drop_after_an_error_leaves_the_trial_out(cache, flat_deap, capsys):
    src, data = flat_deap
    with pytest.raises(NonFiniteFeaturesError):
        prepare(src, cache=cache, progress=False)
    dropped = prepare(src, cache=cache, progress=False, nonfinite="drop")  # from the cache
    assert dropped.features.shape == (79, 32, 99) and np.isfinite(dropped.features).all()
    s02 = dropped.participant == 2
    np.testing.assert_array_equal(dropped.trial[s02], np.delete(np.arange(40), 7))
    _, labels = deap_format.read_participant(deap_format.participant_path(src.root, 2))
    np.testing.assert_array_equal(dropped.ratings[s02], np.delete(labels, 7, axis=0))
    np.testing.assert_array_equal(dropped.features[s02], np.delete(features.extract_features(data[:, :32]), 7, axis=0))
    assert dropped.nonfinite == ((2, 7, "Fz"),) and dropped.nonfinite_policy == "drop"
    assert dropped.describe()["nonfinite"] == {
        "policy": "drop", "n_trials": 1, "where": [{"participant": 2, "trial": 7, "channel": "Fz"}]
    }
    assert dropped.nonfinite_note() == "1 trial dropped for non-finite features (trials 0-based): s02 trial 7 (Fz)."
    assert main(["prepare", "--deap-dir", src.root, "--participants", "1", "2", "--cache", str(cache),
                 "--nonfinite", "drop"]) == 0
    assert "1 trial dropped" in capsys.readouterr().out


def test_impute_sets_undefined_statistics_to_zero(cache, flat_deap):
    src, data = flat_deap
    imputed = prepare(src, cache=cache, progress=False, nonfinite="impute")
    assert imputed.features.shape == (80, 32, 99) and np.isfinite(imputed.features).all()
    assert imputed.nonfinite == ((2, 7, "Fz"),) and imputed.nonfinite_policy == "impute"
    # By hand: the trial's unstandardized statistics, Fz's NaN skew and kurtosis set to 0, then
    # standardized over the whole (32, 99) map.
    raw = features.extract_features(data[7:8, :32], standardization="none")[0]
    nan = np.isnan(raw)
    undefined = [j for j, name in enumerate(features.feature_names()) if name.endswith(("_skew", "_kurtosis"))]
    assert np.flatnonzero(nan.any(axis=1)).tolist() == [FZ] and np.flatnonzero(nan[FZ]).tolist() == undefined
    raw[nan] = 0.0
    row = np.flatnonzero((imputed.participant == 2) & (imputed.trial == 7))
    np.testing.assert_allclose(imputed.features[row[0]], (raw - raw.mean()) / raw.std(), rtol=1e-10, atol=1e-12)
    # The other trials are as computed; a second call (from the cache) gives the same.
    s02 = np.flatnonzero(imputed.participant == 2)
    np.testing.assert_array_equal(
        np.delete(imputed.features[s02], 7, axis=0), np.delete(features.extract_features(data[:, :32]), 7, axis=0)
    )
    again = prepare(src, cache=cache, progress=False, nonfinite="impute")
    np.testing.assert_array_equal(again.features, imputed.features)
    assert again.identity == imputed.identity
    assert imputed.identity != prepare(src, cache=cache, progress=False, nonfinite="drop").identity


def test_clean_data_identity_does_not_depend_on_the_policy(cache):
    src = resolve_source(participants=[1])
    base = prepare(src, progress=False)
    # The identity is that of the data and parameters alone: no policy enters it for clean data.
    first = base.identity
    for policy in ("drop", "impute"):
        other = prepare(src, progress=False, nonfinite=policy)
        assert other.identity == first and other.nonfinite == ()
        np.testing.assert_array_equal(other.features, base.features)
    assert base.describe()["nonfinite"] == {"policy": "error", "n_trials": 0, "where": []}
    assert base.nonfinite_note() == ""


@pytest.mark.parametrize("standardization", features.STANDARDIZATIONS)
def test_imputation_steps_compose_to_extract_features(standardization):
    # impute standardizes the reduction the way extract_features does: same result on clean data.
    x = np.random.default_rng(0).standard_normal((3, 4, 250)).astype(np.float32)
    reduced = dataset._reduction(x, standardization, None)
    np.testing.assert_array_equal(
        features.standardize_reduced(reduced, standardization),
        features.extract_features(x, standardization=standardization),
    )
