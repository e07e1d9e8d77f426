"""MAHNOB-HCI through the same pipeline: the reader, the twin in the real format, prepare and its cache."""

import contextlib
import hashlib
import logging
import os
import signal
import xml.etree.ElementTree as ET

import edfio
import helpers
import mne
import numpy as np
import pytest

from deap_lib.data import dataset, deap_format, features, mahnob_format, synthetic
from deap_lib.data.dataset import prepare, resolve_source
from deap_lib.data.mahnob_format import MAHNOBFormatError

#: What each fault of the twin is reported as.
FAULT_KINDS = {
    "no recording": "no recording", "too short": "too short", "no ratings": "no ratings",
    "ratings out of range": "ratings out of range", "missing EEG channel": "missing EEG channels",
    "wrong sampling rate": "wrong sampling rate", "no session.xml": "no session.xml",
    "empty session.xml": "malformed session.xml", "entity in session.xml": "malformed session.xml",
    "truncated recording": "unreadable recording",
}
#: 1/32 uV: the step of Biosemi's 24-bit samples.
STEP = 2.0**-5


@pytest.fixture(scope="module")
def small_twin(tmp_path_factory):
    """Subjects 1 and 2 of the MAHNOB twin (every kind of fault among their 40 sessions)."""
    root = tmp_path_factory.mktemp("mahnob_twin")
    synthetic.write_mahnob_twin(root, subjects=[1, 2], progress=False)
    return root


# --------------------------------------------------------------------------------------------
# The twin's files


def test_twin_recordings_read_back_by_mne_and_edfio(small_twin):
    path = small_twin / "Sessions" / "2" / "Part_1_S_Trial1_emotion.bdf"
    raw = mne.io.read_raw_bdf(path, preload=False, verbose="error")
    assert raw.ch_names == list(mahnob_format.CHANNEL_NAMES) and len(raw.ch_names) == 47
    assert raw.info["sfreq"] == 256 and raw.n_times % 256 == 0 and 64 * 256 <= raw.n_times <= 75 * 256
    assert raw.get_channel_types()[-1] == "stim"
    bdf = edfio.read_bdf(path)
    assert list(bdf.labels) == list(mahnob_format.CHANNEL_NAMES)
    assert all(s.sampling_frequency == 256 for s in bdf.signals)
    assert [s.physical_dimension for s in bdf.signals[:32]] == ["uV"] * 32
    eeg_mne = raw.get_data(picks=list(range(32)), units="uV")
    eeg_edfio = np.stack([s.data for s in bdf.signals[:32]])
    np.testing.assert_allclose(eeg_mne, eeg_edfio, rtol=0, atol=1e-6)
    assert 1 < np.std(eeg_mne - eeg_mne.mean(axis=0)) < 100  # microvolts once referenced


def test_recordings_hold_what_was_written_within_quantisation(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.normal(0, 30, (47, 3 * 256)) + rng.normal(0, 3000, (47, 1))
    data[-1] = 0  # Status
    path = mahnob_format.write_recording(tmp_path / "x.bdf", data, mahnob_format.CHANNEL_NAMES)
    raw = mne.io.read_raw_bdf(path, preload=False, verbose="error")
    np.testing.assert_allclose(raw.get_data(picks=list(range(46)), units="uV"), data[:46], rtol=0, atol=STEP / 2 + 1e-9)
    bdf = edfio.read_bdf(path)
    np.testing.assert_allclose(np.stack([s.data for s in bdf.signals[:46]]), data[:46], rtol=0, atol=STEP / 2 + 1e-9)


def test_twin_session_xml(small_twin):
    text = (small_twin / "Sessions" / "4" / "session.xml").read_text()
    assert "<!DOCTYPE" not in text
    root = ET.fromstring(text)
    assert root.tag == "session" and root.get("sessionId") == "4"
    assert root.find("subject").get("id") == "1"
    for name in ("feltVlnc", "feltArsl", "feltCtrl", "feltPred"):
        assert root.get(name).isdigit() and 1 <= int(root.get(name)) <= 9
    assert root.get("feltEmo").isdigit() and root.get("cutNum").isdigit()


def test_twin_plan_has_546_usable_of_600():
    plan = synthetic.mahnob_twin_plan()
    assert len(plan) == 600 and len({sid for _, _, sid, _ in plan}) == 600
    assert sum(fault is None for *_, fault in plan) == 546
    assert {s for s, _, _, fault in plan if fault is None} == set(range(1, 31)) - {12}
    assert set(synthetic.MAHNOB_FAULTS.values()) == set(FAULT_KINDS)
    # subjects 1 and 2 (the tests' small twin) hold every kind of fault
    assert {fault for s, _, _, fault in synthetic.mahnob_twin_plan([1, 2])} - {None} == set(FAULT_KINDS)
    assert "546 sessions" in resolve_source(dataset="mahnob").describe()


def test_twin_is_deterministic_and_effect_free_at_zero(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder, effect in ((a, 1.0), (b, 0.0)):
        synthetic.write_mahnob_twin(folder, subjects=[3], effect=effect, progress=False)
    again = tmp_path / "again"
    synthetic.write_mahnob_twin(again, subjects=[3], progress=False)
    name = "Sessions/262/Part_3_S_Trial1_emotion.bdf"
    assert (a / name).read_bytes() == (again / name).read_bytes()
    assert (a / name).read_bytes() != (b / name).read_bytes()
    # the effect changes the signal only: the ratings (and every random draw) are the same
    assert (a / "Sessions/262/session.xml").read_text() == (b / "Sessions/262/session.xml").read_text()


# --------------------------------------------------------------------------------------------
# The reader, on files written independently of the project's twin code


def _write_independent_session(root, session_id, subject, trial, data, names, ratings):
    """A session as MAHNOB-HCI lays it out, written with edfio directly and XML by hand."""
    folder = root / "Sessions" / str(session_id)
    folder.mkdir(parents=True)
    # 1/32 uV per step exactly (a header holds 8 characters per number: Biosemi's own range,
    # +-262144 uV over 24 bits, is 1/32 uV only to 6e-8)
    signals = [
        edfio.BdfSignal(row, 256, label=name, physical_dimension="uV",
                        physical_range=(-250000, 250000), digital_range=(-8000000, 8000000))
        for row, name in zip(data, names)
    ]
    signals.append(edfio.BdfSignal(np.zeros(data.shape[1]), 256, label="Status", physical_dimension="Boolean",
                                   physical_range=(-8388608, 8388607), digital_range=(-8388608, 8388607)))
    edfio.Bdf(signals, data_record_duration=1).write(folder / f"Part_{subject}_S_Trial{trial}_emotion.bdf")
    v, a, c, p = ratings
    (folder / "session.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<session cutNum="{trial}" isStim="1" feltEmo="4" feltArsl="{a}" feltCtrl="{c}" feltPred="{p}" '
        f'feltVlnc="{v}" sessionId="{session_id}" mediaFile="{trial}.avi">\n'
        f'  <subject id="{subject}" gender="female" age="27"/>\n'
        f'  <track id="1" type="Physiological" filename="Part_{subject}_S_Trial{trial}_emotion.bdf"/>\n'
        "</session>\n"
    )


@pytest.fixture(scope="module")
def independent(tmp_path_factory):
    """Three sessions (two subjects), channels in a shuffled order, samples exact in BDF's steps.

    Returns the folder and, per session id, (subject, signals of the 32 EEG channels in DEAP's
    order as written, ratings).
    """
    root = tmp_path_factory.mktemp("mahnob_independent")
    rng = np.random.default_rng(5)
    names = list(deap_format.EEG_CHANNELS) + ["EXG1", "EXG2", "GSR1", "Resp", "Temp"]
    order = rng.permutation(len(names))
    written = {}
    for session_id, subject, seconds, ratings in ((40, 2, 64, (7, 2, 5, 5)), (12, 1, 70, (3, 8, 4, 6)),
                                                  (14, 1, 66, (5, 5, 9, 1))):
        n = seconds * 256
        # a large offset common to every channel (the reference's job) plus channel noise; whole steps
        signals = np.round((rng.normal(0, 20, (len(names), n)) + rng.normal(0, 4000)) / STEP) * STEP
        _write_independent_session(root, session_id, subject, session_id // 2, signals[order],
                                   [names[i] for i in order], ratings)
        written[session_id] = (subject, signals[:32], ratings)
    return root, written


def _expected_eeg(signals):
    """The report's processing, by hand: middle 16128 samples, average reference over 32 channels."""
    start = (signals.shape[1] - 16128) // 2
    middle = signals[:, start : start + 16128]
    return middle - middle.mean(axis=0)


def test_reader_matches_numpy_on_independently_written_files(cache, independent):
    root, written = independent
    scan = mahnob_format.scan_sessions(root)
    assert [(s.subject, s.session_id) for s in scan.sessions] == [(1, 12), (1, 14), (2, 40)]
    assert scan.skipped == () and scan.summary() == "3 usable sessions of 2 subjects, none skipped"
    for session in scan.sessions:
        np.testing.assert_allclose(mahnob_format.read_eeg(session.path), _expected_eeg(written[session.session_id][1]),
                                   rtol=0, atol=1e-9)
    data = prepare(resolve_source(dataset="mahnob", mahnob_dir=root), progress=False)
    expected = features.extract_features(np.stack([_expected_eeg(written[sid][1]) for sid in (12, 14, 40)]))
    np.testing.assert_allclose(data.features, expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(data.participant, [1, 1, 2])
    np.testing.assert_array_equal(data.trial, [12, 14, 40])
    np.testing.assert_array_equal(data.ratings, [written[sid][2] for sid in (12, 14, 40)])
    np.testing.assert_array_equal(data.labels("valence"), [0, 1, 1])
    np.testing.assert_array_equal(data.labels("arousal"), [1, 1, 0])
    assert data.source.describe() == f"real MAHNOB-HCI from {root} (all subjects)"
    assert set(data.files) == {"subject 1", "subject 2"} and data.data_note().startswith("3 usable sessions")
    only = prepare(resolve_source(dataset="mahnob", mahnob_dir=root, participants=[2]), progress=False)
    np.testing.assert_array_equal(only.features, data.features[2:])


def test_xml_with_doctype_or_entity_is_refused(tmp_path):
    marker = tmp_path / "secret.txt"
    marker.write_text("5")
    attack = (
        f'<?xml version="1.0"?>\n<!DOCTYPE session [<!ENTITY v SYSTEM "file://{marker}">]>\n'
        '<session feltVlnc="&v;" feltArsl="5" feltCtrl="5" feltPred="5"><subject id="1"/></session>\n'
    )
    laughs = '<!DOCTYPE s [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><session feltVlnc="&b;"><subject id="1"/></session>'
    for i, (text, encoding) in enumerate(((attack, "utf-8"), (laughs, "utf-8"), (attack, "utf-16"))):
        path = tmp_path / f"session{i}.xml"
        path.write_bytes(text.encode(encoding))
        with pytest.raises(MAHNOBFormatError, match=r"declares <!DOCTYPE \(refused") as err:
            mahnob_format.read_session_xml(path)
        assert err.value.kind == "malformed session.xml" and str(path) in str(err.value)


# --------------------------------------------------------------------------------------------
# Skipped sessions


def test_every_bad_session_is_skipped_with_its_reason_and_counted(small_twin, caplog):
    with caplog.at_level(logging.INFO, logger="deap_lib.data.mahnob"):
        scan = mahnob_format.scan_sessions(small_twin)
    plan = {sid: fault for _, _, sid, fault in synthetic.mahnob_twin_plan([1, 2])}
    assert [s.session_id for s in scan.sessions] == sorted(sid for sid, f in plan.items() if f is None)
    assert {s.session_id: s.kind for s in scan.skipped} == {sid: FAULT_KINDS[f] for sid, f in plan.items() if f}
    reasons = {s.kind: s.reason for s in scan.skipped}
    assert reasons["missing EEG channels"].endswith("lacks EEG channel(s) T8")
    by_id = {s.session_id: s.reason for s in scan.skipped}
    assert by_id[8] == "Part_1_S_Trial4_emotion.bdf: 14080 samples (55.0 s), expected at least 16128 (63 s at 256 Hz)"
    assert "sampled at 128 Hz, expected 256 Hz" in reasons["wrong sampling rate"]
    assert "is truncated" in reasons["unreadable recording"]
    assert "feltArsl='0'" in reasons["ratings out of range"]
    assert all(s.subject in (1, 2) for s in scan.skipped)  # told from the XML, else the recording's name
    lines = [r.getMessage() for r in caplog.records if r.name == "deap_lib.data.mahnob"]
    assert len(lines) == len(scan.skipped) + 1 and all("\n" not in line for line in lines)
    for skip in scan.skipped:
        assert sum(f"{skip.folder} skipped ({skip.kind})" in line for line in lines) == 1
    assert scan.counts()["malformed session.xml"] == 2 and sum(scan.counts().values()) == 11
    assert scan.summary() == (
        "29 usable sessions of 2 subjects, 11 skipped: 2 malformed session.xml, 2 too short, 1 no session.xml, "
        "1 no ratings, 1 ratings out of range, 1 no recording, 1 unreadable recording, 1 missing EEG channels, "
        "1 wrong sampling rate"
    )
    assert lines[-1].endswith(scan.summary())


def test_no_usable_session_is_one_clear_error(cache, tmp_path):
    (tmp_path / "Sessions" / "7").mkdir(parents=True)
    (tmp_path / "Sessions" / "7" / "session.xml").write_text('<session feltVlnc="5"><subject id="1"/></session>')
    with pytest.raises(MAHNOBFormatError) as err:
        mahnob_format.scan_sessions(tmp_path)
    message = str(err.value)
    assert message.startswith(f"MAHNOB-HCI folder {tmp_path}: no usable session;") and "\n" not in message
    assert "Part_<p>_S_Trial<t>_emotion.bdf" in message and "1 no ratings" in message
    assert mahnob_format.scan_sessions(tmp_path, required=False).sessions == ()
    with pytest.raises(MAHNOBFormatError, match="no usable session"):
        prepare(resolve_source(dataset="mahnob", mahnob_dir=tmp_path), progress=False)
    # the twin's subject 12 has no recording at all
    with pytest.raises(MAHNOBFormatError, match=r"MAHNOB-HCI twin .*subjects \[12\].*: no usable session"):
        prepare(resolve_source(dataset="mahnob", participants=[12]), progress=False)


def test_sources_and_their_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("MAHNOB_DIR", raising=False)
    monkeypatch.setenv("DEAP_DIR", str(tmp_path))  # a DEAP folder is no MAHNOB folder
    twin = resolve_source(dataset="mahnob")
    assert twin.kind == "mahnob-twin" and twin.dataset == "mahnob"
    assert twin.describe() == ("synthetic MAHNOB-HCI twin (seed 12, effect 1.0, 546 sessions); "
                               "numbers on it are not MAHNOB-HCI results")
    monkeypatch.setenv("MAHNOB_DIR", str(tmp_path))
    real = resolve_source(dataset="mahnob", participants=[3, 1])
    assert real.kind == "mahnob" and real.describe() == f"real MAHNOB-HCI from {tmp_path} (subjects [1, 3])"
    monkeypatch.setenv("MAHNOB_DIR", str(tmp_path / "gone"))
    with pytest.raises(FileNotFoundError, match="from the MAHNOB_DIR environment variable"):
        resolve_source(dataset="mahnob")
    with pytest.raises(ValueError, match=r"subject ids\) must be distinct numbers in 1\.\.30"):
        resolve_source(dataset="mahnob", participants=[31], mahnob_dir=tmp_path)
    with pytest.raises(ValueError, match="dataset must be one of"):
        resolve_source(dataset="seed")
    with pytest.raises(ValueError, match="but dataset is 'deap'"):
        resolve_source(mahnob_dir=tmp_path)
    assert resolve_source(participants=[1]).dataset == "deap"
    with pytest.raises(ValueError, match="raw_participant reads DEAP"):
        dataset.raw_participant(twin, 1)


# --------------------------------------------------------------------------------------------
# prepare on the twin


def test_prepare_twin_reads_like_the_real_folder_then_from_the_cache(cache, small_twin, monkeypatch):
    src = resolve_source(dataset="mahnob", participants=[1, 2])
    first = prepare(src, progress=False)
    assert first.features.shape == (29, 32, 99) and first.source.kind == "mahnob-twin"
    np.testing.assert_array_equal(np.unique(first.participant), [1, 2])
    assert first.data_note() == mahnob_format.scan_sessions(small_twin).summary()
    assert first.describe()["skipped"]["counts"]["malformed session.xml"] == 2
    # The twin written to a temporary folder and read back equals the same files read as real data.
    real = prepare(resolve_source(dataset="mahnob", mahnob_dir=small_twin), progress=False)
    for name in ("features", "ratings", "participant", "trial"):
        np.testing.assert_array_equal(getattr(real, name), getattr(first, name))
    assert real.skipped == first.skipped and real.identity != first.identity
    # Second call: nothing written or reduced, the skips come back from the cache too.
    monkeypatch.setattr(dataset.synthetic, "write_mahnob_twin", lambda *a, **k: pytest.fail("wrote the twin again"))
    monkeypatch.setattr(dataset.features, "extract_features", lambda *a, **k: pytest.fail("reduced again"))
    again = prepare(src, progress=False)
    assert again.identity == first.identity and again.skipped == first.skipped
    np.testing.assert_array_equal(again.features, first.features)
    np.testing.assert_array_equal(again.trial, first.trial)
    assert prepare(resolve_source(dataset="mahnob", participants=[1]), progress=False).features.shape[0] == 16


def test_nonfinite_message_names_subject_and_session(cache, independent, monkeypatch):
    root, _ = independent
    read = mahnob_format.read_eeg
    fz = deap_format.EEG_CHANNELS.index("Fz")

    def flat_fz_in_session_12(path):
        eeg = read(path)
        if path.parent.name == "12":
            eeg[fz] = 0.0
        return eeg

    monkeypatch.setattr(dataset.mahnob_format, "read_eeg", flat_fz_in_session_12)
    src = resolve_source(dataset="mahnob", mahnob_dir=root)
    with pytest.raises(dataset.NonFiniteFeaturesError, match=r"subject 1 session 12 channel Fz \(constant") as err:
        prepare(src, progress=False)
    assert "(sessions by id, as Prepared.trial)" in str(err.value) and err.value.where == ((1, 12, "Fz"),)
    dropped = prepare(src, progress=False, nonfinite="drop")  # from the cache
    np.testing.assert_array_equal(dropped.trial, [14, 40])
    assert dropped.nonfinite_note() == "1 trial dropped for non-finite features (sessions by id): subject 1 session 12 (Fz)."
    assert dropped.data_note() == "3 usable sessions of 2 subjects, none skipped"


# --------------------------------------------------------------------------------------------
# The DEAP twin is untouched by the refactoring that serves both twins

#: SHA-256 of twin_participant(p, seed=s, effect=e): data, labels (before the MAHNOB twin).
DEAP_TWIN_SHA256 = {
    (1, 12, 1.0): ("91ea7196428885fa829e51e87149e354c0971b5922307c911952cf20d6d079b0",
                   "b56e9ec75f131db9a498383a83b5d56e31a714545222ec528e434917dfdff911"),
    (2, 12, 1.0): ("544703b0081478a4660ec5e377cc536c9b33eaddfb4654513e5958034092b70a",
                   "f1fcd6ffebfbb57c17adb3ed2efb973758273e54cbfe205c8834455c2a7610ea"),
    (7, 12, 1.0): ("e6b8805f6edf832e24917a9975cf29acc2ad6d22a8fd0fa9fc18d3f0f2cdfe6f",
                   "25efe09085de5bc58be39fbad37f9e8aef64276f85bfd4c47f6e28496dbe91bf"),
    (1, 12, 0.0): ("f694aabedf6a92b1185de8b738e1b7659a9ed59c3f4200fdef871527fe26e7be",
                   "b56e9ec75f131db9a498383a83b5d56e31a714545222ec528e434917dfdff911"),
    (2, 12, 0.0): ("812cca001d1c4158fc3f9fdec850b43c38d6d5d205e629805a70dbd333b72145",
                   "f1fcd6ffebfbb57c17adb3ed2efb973758273e54cbfe205c8834455c2a7610ea"),
    (7, 12, 0.0): ("808a1412e926c90fab059606f7ebcb9e6ad1ef26b37948c4f76bd03168d382ca",
                   "25efe09085de5bc58be39fbad37f9e8aef64276f85bfd4c47f6e28496dbe91bf"),
    (1, 3, 1.0): ("f2cddd947227a55ff8ecaa3e265a32b8edd17bedadd14c7e1a32260bfcf557d2",
                   "81bd05ab2944c85c4755809c2fb48bbba1f583f7b328880829a453af00654557"),
    (2, 3, 1.0): ("f2794258190d7b368b2e6b70e47e42852a8ca34e95405728bab6d0c1e2d28451",
                   "090573a65291746eef02ea91b3887ef4eee3d148bd9f947100975d45cfe95cd1"),
    (7, 3, 1.0): ("f0f1dd053360de1cd8ad4cc65cd7d1fa14afe432c3f0c97094489463f7196f13",
                   "1aa1f82d3c5f8f1f3779688953bb80603d58e4d49a504186981f762008962a85"),
    (1, 3, 0.0): ("e1bc49a34420bc59c1987fc2387bf2e28b93217094500699fb08023846fca0c4",
                   "81bd05ab2944c85c4755809c2fb48bbba1f583f7b328880829a453af00654557"),
    (2, 3, 0.0): ("84bf55afe099eac64d13ddd8596adbe809671b1189a71a462db4db732528dc67",
                   "090573a65291746eef02ea91b3887ef4eee3d148bd9f947100975d45cfe95cd1"),
    (7, 3, 0.0): ("0299f8ab1e05746e4cd5fad2135258e5d9a94a0225d96d9b472a042f1142a3df",
                   "1aa1f82d3c5f8f1f3779688953bb80603d58e4d49a504186981f762008962a85"),
}


def test_deap_twin_unchanged():
    for (pid, seed, effect), (data_hash, labels_hash) in DEAP_TWIN_SHA256.items():
        data, labels = synthetic.twin_participant(pid, seed=seed, effect=effect)
        assert hashlib.sha256(data.tobytes()).hexdigest() == data_hash
        assert hashlib.sha256(labels.tobytes()).hexdigest() == labels_hash


# --------------------------------------------------------------------------------------------
# Settings and command line


def test_settings_and_command_line(cache, independent, tmp_path, capsys):
    from deap_lib import cli
    from deap_lib.experiment.settings import ExperimentConfig, ParameterError

    root, _ = independent
    config = ExperimentConfig(dataset="mahnob", mahnob_dir=root)
    assert config.source().kind == "mahnob" and config.source().root == str(root)
    run_key = config.run_key()
    assert "dataset" not in run_key and "mahnob_dir" not in run_key  # the data identity stands for them
    assert run_key == ExperimentConfig().run_key()
    with pytest.raises(ParameterError, match="dataset must be one of"):
        ExperimentConfig(dataset="seed")
    assert cli.main(["prepare", "--dataset", "mahnob", "--mahnob-dir", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"data: real MAHNOB-HCI from {root}" in out and "3 usable sessions of 2 subjects, none skipped" in out
    assert cli.main(["prepare", "--dataset", "mahnob", "--deap-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: deap_dir") and err.count("\n") == 1
    args = cli.build_parser().parse_args(["cv", "--config", "deap_cnn_valence", "--dataset", "mahnob",
                                          "--mahnob-dir", str(root), "--participants", "2", "--scheme", "loso"])
    config = cli._config(args)
    assert (config.dataset, config.mahnob_dir, config.participants) == ("mahnob", str(root), (2,))
    args = cli.build_parser().parse_args(["train", "--config", "deap_dnn_valence"])
    assert cli._config(args).dataset == "deap"


# --------------------------------------------------------------------------------------------
# Every input bounded before it is read: FIFOs, devices, huge or degenerate BDF headers, XML


@pytest.fixture(scope="module")
def one_session(tmp_path_factory):
    """A valid session's files (64 s, the 32 EEG channels and Status): (BDF bytes, session.xml bytes)."""
    folder = tmp_path_factory.mktemp("one_session")
    rng = np.random.default_rng(3)
    data = np.round(rng.normal(0, 20, (33, 64 * 256)) / STEP) * STEP
    data[-1] = 0
    names = list(deap_format.EEG_CHANNELS) + ["Status"]
    bdf = mahnob_format.write_recording(folder / "x.bdf", data, names).read_bytes()
    xml = mahnob_format.write_session_xml(folder / "session.xml", {"feltVlnc": 7, "feltArsl": 2, "feltCtrl": 5,
                                                                   "feltPred": 5}, 3).read_bytes()
    return bdf, xml


def _session(root, bdf, xml, session_id=5):
    """Write ``Sessions/<id>/`` with the recording ``bdf`` and ``xml`` (bytes, or None to leave it out)."""
    folder = root / "Sessions" / str(session_id)
    folder.mkdir(parents=True)
    if bdf is not None:
        (folder / "Part_3_S_Trial2_emotion.bdf").write_bytes(bdf)
    if xml is not None:
        (folder / "session.xml").write_bytes(xml)
    return folder


@contextlib.contextmanager
def _within(seconds):
    """Fail (TimeoutError) instead of hanging when the block blocks, e.g. opening a FIFO."""
    def hang(*_):
        raise TimeoutError(f"blocked for more than {seconds} s")

    old = signal.signal(signal.SIGALRM, hang)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _only_skip(root):
    with _within(10):
        scan = mahnob_format.scan_sessions(root, required=False)
    assert scan.sessions == () and len(scan.skipped) == 1
    return scan.skipped[0]


def test_the_fixture_session_is_usable(tmp_path, one_session):
    _session(tmp_path, *one_session)
    scan = mahnob_format.scan_sessions(tmp_path)
    assert [(s.subject, s.session_id, s.ratings) for s in scan.sessions] == [(3, 5, (7, 2, 5, 5))]
    assert mahnob_format.read_eeg(scan.sessions[0].path).shape == (32, 16128)


@pytest.mark.parametrize("which", ["session.xml", "recording"])
@pytest.mark.parametrize("kind", ["fifo", "dev/zero"])
def test_fifo_or_device_is_skipped_without_blocking(tmp_path, one_session, which, kind):
    bdf, xml = one_session
    folder = _session(tmp_path, None if which == "recording" else bdf, None if which == "session.xml" else xml)
    path = folder / ("session.xml" if which == "session.xml" else "Part_3_S_Trial2_emotion.bdf")
    what = helpers.special_file(path, kind)
    skip = _only_skip(tmp_path)
    assert skip.subject == 3  # from the XML, else from the recording's name: neither opens the FIFO again
    if which == "session.xml":
        assert skip.kind == "malformed session.xml"
        assert skip.reason == (f"session.xml: is not a regular file ({what}); expected a session.xml, a regular file "
                               f"of at most {mahnob_format.MAX_XML_BYTES} bytes")
    else:
        assert skip.kind == "unreadable recording"
        assert skip.reason.startswith(f"Part_3_S_Trial2_emotion.bdf: is not a regular file ({what}); expected a BDF")


def test_session_xml_over_the_bound_is_refused_unread(tmp_path, one_session):
    assert mahnob_format.MAX_XML_BYTES == 2**20
    bdf, xml = one_session
    big = xml + b" " * (2**20 + 1 - len(xml))  # well-formed, one byte too many
    _session(tmp_path, bdf, big)
    skip = _only_skip(tmp_path)
    assert (skip.kind, skip.reason) == ("malformed session.xml", "session.xml: is 1048577 bytes, more than 1048576; "
                                        "expected a session.xml, a regular file of at most 1048576 bytes")
    assert skip.subject == 3  # told by the recording's name


def _header_case(bdf, change):
    """The recording ``bdf`` with one header change, and (kind, fragment of the reason) expected."""
    from test_mahnob_fuzz import set_field

    raw = bytearray(bdf)
    fz = deap_format.EEG_CHANNELS.index("Fz")
    if change == "zero samples per record":
        return set_field(raw, "samples_per_record", 0, fz), ("unreadable recording",
                                                             "signal 'Fz' declares 0 samples per record, expected a positive")
    if change == "negative samples per record":
        return set_field(raw, "samples_per_record", -256, fz), ("unreadable recording", "declares -256 samples per record")
    if change == "zero records":
        return set_field(raw, "n_records", 0), ("unreadable recording", "declares 0 data records, expected a positive")
    if change == "records still being written":
        return set_field(raw, "n_records", -1), ("unreadable recording", "declares -1 data records")
    if change == "zero duration":
        return set_field(raw, "duration", 0), ("unreadable recording", "declares records of 0 s, expected more than 0")
    if change == "negative duration":
        return set_field(raw, "duration", -1), ("unreadable recording", "declares records of -1 s")
    if change == "nan duration":
        return set_field(raw, "duration", "nan"), ("unreadable recording", "has no valid BDF header (record duration "
                                                                           "'nan     ' is not a number; expected a Biosemi")
    if change == "underscore in a number":  # Python's int() reads 1_0 as 10; MNE does not
        return set_field(raw, "n_records", "1_0"), ("unreadable recording", "(number of records '1_0     ' is not an")
    if change == "digital min == max":
        set_field(raw, "digital_min", 8388607, fz)
        return raw, ("unreadable recording", "signal 'Fz' declares digital range 8388607..8388607")
    if change == "physical min == max":
        set_field(raw, "physical_min", 5, fz)
        return set_field(raw, "physical_max", 5, fz), ("unreadable recording", "physical range 5..5, expected digital")
    if change == "wrong header size":
        return set_field(raw, "header_bytes", 256), ("unreadable recording", "declares a 256-byte header, expected 256 x")
    if change == "no signal":
        return set_field(raw, "n_signals", 0), ("unreadable recording", "declares 0 signals, expected 1-256")
    if change == "huge count in a small file":
        return set_field(raw, "n_records", 99999999), ("unreadable recording", "is truncated")
    if change == "one EEG channel at 128 Hz":
        n = int(raw[236:244])
        set_field(raw, "samples_per_record", 128, fz)
        size = 256 * 34 + 3 * (33 * 256 - 128) * n  # the file shortened to match: MNE would resample Fz
        return raw[:size], ("wrong sampling rate", "channel Fz sampled at 128 Hz, expected 256 Hz")
    if change == "millivolts":
        return _set_unit(raw, 0, "mV"), ("unreadable recording", "EEG channel Fp1 is in 'mV', expected microvolts ('uV')")
    raise AssertionError(change)


def _set_unit(raw, signal, unit):
    n = int(raw[252:256])
    raw[256 + 96 * n + 8 * signal : 256 + 96 * n + 8 * (signal + 1)] = unit.encode().ljust(8)
    return raw


HEADER_CHANGES = ["zero samples per record", "negative samples per record", "zero records",
                  "records still being written", "zero duration", "negative duration", "nan duration", "underscore in a number",
                  "digital min == max", "physical min == max", "wrong header size", "no signal",
                  "huge count in a small file", "one EEG channel at 128 Hz", "millivolts"]


@pytest.mark.parametrize("change", HEADER_CHANGES)
def test_bad_header_fields_skip_the_session_with_the_reason(tmp_path, one_session, change):
    bdf, xml = one_session
    raw, (kind, fragment) = _header_case(bdf, change)
    _session(tmp_path, bytes(raw), xml)
    skip = _only_skip(tmp_path)
    assert skip.kind == kind and skip.reason.startswith("Part_3_S_Trial2_emotion.bdf: ") and fragment in skip.reason
    assert skip.subject == 3


def test_huge_record_is_refused_before_mne_reads_it(tmp_path, one_session):
    """One 0.4 GB record would make MNE read all of it to get the middle samples (1 GB resident)."""
    from test_mahnob_fuzz import set_field

    bdf, xml = one_session
    seconds = 12_000
    raw = set_field(set_field(bytearray(bdf[: 256 * 34]), "n_records", 1), "duration", seconds)
    for i in range(33):
        set_field(raw, "samples_per_record", 256 * seconds, i)
    folder = _session(tmp_path, bytes(raw), xml)
    with open(folder / "Part_3_S_Trial2_emotion.bdf", "r+b") as f:
        f.truncate(256 * 34 + 3 * 33 * 256 * seconds)  # sparse: complete as far as the header says
    skip = _only_skip(tmp_path)
    assert skip.reason.endswith(f"declares records of {seconds} s, expected more than 0 and at most 60 s")
    assert mahnob_format.MAX_RECORD_SECONDS == 60 and mahnob_format.MAX_RECORD_BYTES == 4 * 2**20
    # within the duration bound, the record's size is bounded too
    raw = set_field(raw, "duration", 60)
    for i in range(33):
        set_field(raw, "samples_per_record", 256 * 60 * 10, i)
    (folder / "Part_3_S_Trial2_emotion.bdf").write_bytes(bytes(raw))
    assert _only_skip(tmp_path).reason.endswith(f"declares data records of {3 * 33 * 256 * 600} bytes, expected at "
                                                f"most {4 * 2**20}")


def test_reading_the_middle_reads_a_few_records(tmp_path, one_session, monkeypatch):
    """read_eeg asks MNE for the middle samples of the EEG channels only, not the whole recording."""
    bdf, _ = one_session
    path = tmp_path / "x.bdf"
    path.write_bytes(bdf)
    asked = []
    real = mne.io.BaseRaw.get_data

    def spy(self, picks=None, start=0, stop=None, **kwargs):
        asked.append((list(picks), start, stop))
        return real(self, picks=picks, start=start, stop=stop, **kwargs)

    monkeypatch.setattr(mne.io.BaseRaw, "get_data", spy)
    mahnob_format.read_eeg(path)
    assert asked == [(list(range(32)), (64 * 256 - 16128) // 2, (64 * 256 - 16128) // 2 + 16128)]


def _xml_text(attack=True, declaration="utf-16"):
    entity = '<!DOCTYPE session [<!ENTITY v "9">]>\n' if attack else ""
    value = "&v;" if attack else "9"
    return (f'<?xml version="1.0" encoding="{declaration}"?>\n{entity}'
            f'<session feltVlnc="{value}" feltArsl="5" feltCtrl="5" feltPred="5"><subject id="3"/></session>\n')


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-16"])
def test_utf16_doctype_is_refused_with_or_without_bom(tmp_path, codec):
    path = tmp_path / "session.xml"
    path.write_bytes(_xml_text().encode(codec))
    with pytest.raises(MAHNOBFormatError, match=r"declares <!DOCTYPE \(refused") as err:
        mahnob_format.read_session_xml(path)
    assert err.value.kind == "malformed session.xml" and str(path) in str(err.value)
    path.write_bytes(_xml_text(attack=False).encode(codec))  # the same file without DTD is read
    assert mahnob_format.read_session_xml(path)[1]["feltVlnc"] == "9"


@pytest.mark.parametrize("content", [
    _xml_text(attack=False).encode("utf-16")[:-1],  # odd length, with a BOM
    _xml_text(attack=False).encode("utf-16-le")[:-1],  # odd length, without
    b"\xff\xfe<\x00s\x00",  # cut short
    _xml_text(attack=False, declaration="no-such-codec").encode(),
    _xml_text(attack=False, declaration="utf-32").encode("utf-32"),
    '<session feltVlnc="5"><subject id="²"/></session>'.encode(),  # a digit int() refuses
])
def test_undecodable_session_xml_skips_that_session_only(tmp_path, one_session, content):
    bdf, xml = one_session
    _session(tmp_path, bdf, content, session_id=5)
    _session(tmp_path, bdf, xml, session_id=6)
    scan = mahnob_format.scan_sessions(tmp_path)
    assert [s.session_id for s in scan.sessions] == [6]
    (skip,) = scan.skipped
    assert skip.session_id == 5 and skip.kind == "malformed session.xml" and skip.reason.startswith("session.xml: ")


def test_prepared_describe_summarises_many_skipped_sessions(cache, tmp_path, one_session):
    """20,000 bad sessions: the description counts them by kind and lists the first 5, not all."""
    import json
    import time

    bdf, xml = one_session
    _session(tmp_path, bdf, xml, session_id=1)
    sessions = tmp_path / "Sessions"
    for sid in range(2, 20_002):
        (sessions / str(sid)).mkdir()
    t0 = time.perf_counter()
    data = prepare(resolve_source(dataset="mahnob", mahnob_dir=tmp_path), progress=False)
    seconds = time.perf_counter() - t0
    described = data.describe()["skipped"]
    assert described["n_sessions"] == 20_000 and described["counts"] == {"no session.xml": 20_000}
    assert [s["session"] for s in described["first_sessions"]] == [2, 3, 4, 5, 6]
    assert described["note"] == "1 usable session of 1 subject, 20000 skipped: 20000 no session.xml"
    assert data.data_note() == described["note"] and len(data.skipped) == 20_000
    assert len(json.dumps(data.describe())) < 10_000
    assert seconds < 30  # about 3.5 s measured on 2 cores
