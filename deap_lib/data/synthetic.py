"""The synthetic DEAP twin: EEG-like participants in DEAP's exact format, with planted effects.

Numbers computed on the twin are **not DEAP results**. The twin exists so that every chapter runs
without the licensed dataset, and so that the pipeline can be checked against effects we know.

Generative model (per participant ``p``, trial ``t``, EEG channel ``c``; all draws from
``SeedSequence([seed, p])``, so any subset of participants is reproducible on its own):

- **Background**: 1/f noise (amplitude spectrum ``f**-0.5``) band-limited to 4-45 Hz like DEAP's
  preprocessing, plus theta (~6 Hz) and beta (~20 Hz) rhythms as narrow-band noise, scaled to
  microvolts, with a participant amplitude and a per-channel gain "fingerprint".
- **Alpha rhythm**: narrow-band noise at the participant's alpha peak (``N(10, 0.8)`` Hz), strongest
  over parieto-occipital channels, with a per-trial state fluctuation unrelated to any rating.
- **Affect**: each trial has a latent valence ``z_v`` and arousal ``z_a`` (standard normal). The
  ratings read them out through the participant's rating habits (bias, spread, some participants
  answer in whole numbers), clipped to 1-9. Dominance and liking follow valence loosely.
- **Planted effects**, scaled by ``effect`` and a participant-specific responsiveness:
  higher arousal lowers posterior alpha amplitude (alpha desynchronisation); higher valence lowers
  left-frontal and raises right-frontal alpha (frontal alpha asymmetry). They act after the 3 s
  pre-trial baseline only. ``effect=0`` makes the ratings independent of the signal: a null twin
  on which any honest classifier is at chance.
- **Average reference** over the 32 EEG channels, as DEAP's preprocessed release.
- **Peripheral channels 32-39**: eye movements and blinks (hEOG, vEOG), muscle noise (zEMG, tEMG),
  a slow skin-conductance drift, a ~0.25 Hz respiration trace, a ~1.2 Hz pulse and a slowly
  drifting temperature: plausible, unused by the report's EEG-only pipeline.

**The MAHNOB-HCI twin** (:func:`write_mahnob_twin`) writes MAHNOB-HCI's real format, ``Sessions/<id>/``
with ``session.xml`` and a 47-channel Biosemi BDF at 256 Hz, from the same EEG model: 30 subjects
of 20 sessions (subject ``s`` draws from ``SeedSequence([seed, s, 0x4D4148])``), each recording
64-75 s long (whole seconds), its EEG unreferenced with a common-mode offset and 50 Hz pickup that
the reader's average reference removes, the effects acting from the start of the recording, the
ratings (valence, arousal, control, predictability) rounded down to integers 1-9. 54 sessions are
made unusable in the ways real folders are (:data:`MAHNOB_FAULTS`: a subject without recordings,
recordings missing, too short, truncated, at the wrong rate or without an EEG channel; ratings
absent or out of range; ``session.xml`` missing, empty or declaring an entity), so exactly 546 are
usable, as in the report. Numbers computed on it are **not MAHNOB-HCI results**.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm import tqdm

from deap_lib.data import deap_format, mahnob_format

#: Effect size calibrated so that a simple classifier sits in a DEAP-like regime (see README).
DEFAULT_EFFECT = 1.0
DEFAULT_SEED = 12

#: Where the twin plants its effects: arousal over posterior alpha, valence as frontal asymmetry.
REGIONS = {
    "posterior": ("P3", "P7", "PO3", "O1", "Oz", "Pz", "P4", "P8", "PO4", "O2"),
    "left frontal": ("Fp1", "AF3", "F3", "F7", "FC5"),
    "right frontal": ("Fp2", "AF4", "F4", "F8", "FC6"),
}
_BASELINE = deap_format.BASELINE_S * deap_format.SFREQ


#: Log-amplitude change of the planted alpha effects per standard deviation of latent affect,
#: at ``effect=1`` (calibrated, see the README's twin section).
_K_AROUSAL = 0.17
_K_VALENCE = 0.17


def _mask(names: tuple[str, ...]) -> np.ndarray:
    return np.isin(np.array(deap_format.EEG_CHANNELS), names).astype(float)


def _shaped_noise(
    rng: np.random.Generator, shape: tuple[int, ...], amp: np.ndarray, n_samples: int = deap_format.N_SAMPLES
) -> np.ndarray:
    """Gaussian noise of ``n_samples`` with amplitude spectrum ``amp`` (rfft bins), unit variance per series."""
    keep = np.flatnonzero(amp > 1e-4 * amp.max())  # draw only the bins that carry power
    lo, hi = keep[0], keep[-1] + 1
    size = shape + (hi - lo,)
    coef = np.zeros(shape + amp.shape, dtype=np.complex64)
    coef[..., lo:hi].real = rng.standard_normal(size, dtype=np.float32)
    coef[..., lo:hi].imag = rng.standard_normal(size, dtype=np.float32)
    coef[..., lo:hi] *= amp[lo:hi].astype(np.float32)
    x = np.fft.irfft(coef, n=n_samples, axis=-1)
    x /= x.std(axis=-1, keepdims=True)
    return x


def _bump(freqs: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((freqs - centre) / width) ** 2)


def _unit(amp: np.ndarray) -> np.ndarray:
    return amp / np.sqrt((amp**2).sum())


def _ratings(rng: np.random.Generator, z: np.ndarray) -> np.ndarray:
    """Ratings (n_trials, 4) on 1-9 read from latent affect ``z`` (n_trials, 2) with habits."""
    n = z.shape[0]
    bias = rng.normal([0.25, 0.15], 0.7)  # valence, arousal: DEAP-like share of "high"
    spread = rng.uniform(1.0, 2.2)
    noise = rng.standard_normal((n, 2))
    va = 5.0 + bias + spread * (0.8 * z + 0.6 * noise)
    dominance = 5.0 + rng.normal(0.3, 0.8) + spread * (0.5 * z[:, :1] + 0.8 * rng.standard_normal((n, 1)))
    liking = 5.0 + rng.normal(0.8, 0.8) + spread * (0.7 * z[:, :1] + 0.6 * rng.standard_normal((n, 1)))
    ratings = np.concatenate([va, dominance, liking], axis=1)
    if rng.random() < 0.1:  # some participants answer in whole numbers, as some did in DEAP
        ratings = np.round(ratings)
    return np.clip(ratings, 1.0, 9.0)


def _peripheral(rng: np.random.Generator, n_trials: int, freqs: np.ndarray) -> np.ndarray:
    """Plausible peripheral channels 32-39, shape (n_trials, 8, n_samples)."""
    n = deap_format.N_SAMPLES
    t = np.arange(n) / deap_format.SFREQ
    out = np.empty((n_trials, 8, n))
    slow = _bump(freqs, 0.0, 0.6)
    out[:, 0] = 30 * _shaped_noise(rng, (n_trials,), slow)  # hEOG
    veog = 20 * _shaped_noise(rng, (n_trials,), slow)
    width = int(0.25 * deap_format.SFREQ)
    shape = 150 * np.exp(-0.5 * (np.arange(-width, width + 1) / (0.05 * deap_format.SFREQ)) ** 2)
    for i in range(n_trials):  # blinks: ~150 uV, ~100 ms, about one every 3 s
        for onset in rng.integers(width, n - width, rng.poisson(n / deap_format.SFREQ / 3)):
            veog[i, onset - width : onset + width + 1] += shape
    out[:, 1] = veog
    out[:, 2:4] = 5 * rng.standard_normal((n_trials, 2, n))  # zEMG, tEMG
    out[:, 4] = rng.normal(5000, 1500) + np.cumsum(rng.normal(0, 2, (n_trials, n)), axis=1)  # GSR
    phase = rng.uniform(0, 2 * np.pi, (n_trials, 1))
    out[:, 5] = rng.normal(-2000, 300) + 300 * np.sin(2 * np.pi * rng.normal(0.27, 0.03) * t + phase)
    heart = 2 * np.pi * rng.normal(1.2, 0.1) * t + phase
    out[:, 6] = 1000 * (np.sin(heart) + 0.3 * np.sin(2 * heart)) + 20 * rng.standard_normal((n_trials, n))
    out[:, 7] = rng.normal(32, 1) + np.linspace(0, 1, n) * rng.normal(0, 0.3, (n_trials, 1))
    return out


@dataclass(frozen=True)
class _Traits:
    """A participant's EEG traits: amplitude (uV), per-channel gains, rhythm peaks (Hz), responsiveness."""

    amplitude: float
    gains: np.ndarray  # (n_channels,)
    f_theta: float
    f_alpha: float
    f_beta: float
    responsiveness: float


def _traits(rng: np.random.Generator, n_channels: int) -> _Traits:
    """Draw a participant's :class:`_Traits` (the first draws of each participant's stream)."""
    amplitude = 10.0 * rng.lognormal(0.0, 0.25)
    gains = rng.lognormal(0.0, 0.2, n_channels)
    f_theta, f_alpha, f_beta = rng.normal([6.0, 10.0, 20.0], [0.5, 0.8, 2.0])
    responsiveness = rng.uniform(0.4, 1.6)
    return _Traits(amplitude, gains, f_theta, f_alpha, f_beta, responsiveness)


def _eeg(
    rng: np.random.Generator,
    traits: _Traits,
    z: np.ndarray,
    *,
    n_samples: int,
    sfreq: float,
    effect: float,
    baseline: int,
) -> np.ndarray:
    """The twin's EEG of one participant's trials, before any reference (see the module docstring).

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws the background, the alpha rhythm and its trial-to-trial state, in that order.
    traits : _Traits
    z : ndarray, shape (n_trials, 2)
        Latent valence and arousal of each trial.
    n_samples : int
        Samples per trial.
    sfreq : float
        Sampling rate in Hz.
    effect : float
        Strength of the planted effects (0: none).
    baseline : int
        Samples before the effects set in (over the next 0.5 s).

    Returns
    -------
    eeg : ndarray, shape (n_trials, 32, n_samples)
        Microvolts, channels in :data:`deap_lib.data.deap_format.EEG_CHANNELS` order.
    """
    n_t, n_c = z.shape[0], len(traits.gains)
    freqs = np.fft.rfftfreq(n_samples, 1 / sfreq)
    band = 1 / (1 + np.exp(-(freqs - 4.0) / 0.5)) / (1 + np.exp((freqs - 45.0) / 1.0))
    pink = band * np.where(freqs > 0, freqs, 1.0) ** -0.5
    base_amp = (
        _unit(pink) + 0.5 * _unit(_bump(freqs, traits.f_theta, 1.0)) + 0.4 * _unit(_bump(freqs, traits.f_beta, 3.0))
    )
    base = _shaped_noise(rng, (n_t, n_c), base_amp, n_samples)
    alpha = _shaped_noise(rng, (n_t, n_c), _bump(freqs, traits.f_alpha, 1.0), n_samples)

    posterior = _mask(REGIONS["posterior"])
    asymmetry = _mask(REGIONS["right frontal"]) - _mask(REGIONS["left frontal"])
    alpha_weight = 0.6 + 0.8 * posterior  # (C,)
    state = rng.lognormal(0.0, 0.25, (n_t, 1))  # trial-to-trial alpha fluctuation, no affect
    log_gain = effect * traits.responsiveness * (
        -_K_AROUSAL * z[:, 1:2] * posterior + _K_VALENCE * z[:, 0:1] * asymmetry
    )  # (T, C)
    ramp = np.clip((np.arange(n_samples) - baseline) / sfreq * 2, 0.0, 1.0)  # 0.5 s onset
    gain = np.exp(log_gain[..., None] * ramp)  # (T, C, N): 1 during the baseline
    return traits.amplitude * traits.gains[:, None] * (base + alpha_weight[:, None] * state[..., None] * gain * alpha)


def twin_participant(
    pid: int, *, seed: int = DEFAULT_SEED, effect: float = DEFAULT_EFFECT
) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic participant in DEAP's layout.

    Parameters
    ----------
    pid : int
        Participant number, 1-based (``s01`` is 1).
    seed : int
        Seed of the whole twin; participant ``pid`` draws from ``SeedSequence([seed, pid])``.
    effect : float
        Strength of the planted rating-signal links; 0 gives the null twin.

    Returns
    -------
    data : ndarray of float32, shape (40, 40, 8064)
        Trials x channels (32 EEG in DEAP's order, then 8 peripheral) x samples at 128 Hz.
    labels : ndarray of float32, shape (40, 4)
        Valence, arousal, dominance, liking on 1-9.
    """
    if effect < 0:
        raise ValueError(f"effect must be >= 0, got {effect}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(pid)]))
    n_t, n_c = deap_format.N_TRIALS, deap_format.N_EEG
    freqs = np.fft.rfftfreq(deap_format.N_SAMPLES, 1 / deap_format.SFREQ)
    traits = _traits(rng, n_c)
    z = rng.standard_normal((n_t, 2))  # latent valence, arousal
    labels = _ratings(rng, z)
    eeg = _eeg(rng, traits, z, n_samples=deap_format.N_SAMPLES, sfreq=deap_format.SFREQ, effect=effect,
               baseline=_BASELINE)
    eeg -= eeg.mean(axis=1, keepdims=True)  # average reference

    data = np.empty((n_t, deap_format.N_CHANNELS, deap_format.N_SAMPLES), dtype=np.float32)
    data[:, :n_c] = eeg
    data[:, n_c:] = _peripheral(rng, n_t, freqs)
    return data, labels.astype(np.float32)


def iter_twin(
    n_participants: int = deap_format.N_PARTICIPANTS,
    *,
    seed: int = DEFAULT_SEED,
    effect: float = DEFAULT_EFFECT,
    participants: list[int] | None = None,
    progress: bool = True,
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(pid, data, labels)`` for twin participants, in memory, one at a time."""
    pids = list(range(1, n_participants + 1)) if participants is None else sorted(participants)
    for pid in tqdm(pids, desc="twin participants", unit="participant", disable=not progress):
        yield (pid, *twin_participant(pid, seed=seed, effect=effect))


def write_twin(
    out_dir: str | Path,
    n_participants: int = deap_format.N_PARTICIPANTS,
    *,
    seed: int = DEFAULT_SEED,
    effect: float = DEFAULT_EFFECT,
    dtype: str = "float32",
    progress: bool = True,
) -> list[Path]:
    """Write ``s01.dat`` ... as DEAP's ``data_preprocessed_python`` files; return their paths.

    The files load with Python's unpickler and ``encoding="latin1"`` like the real ones (which hold
    float64; ``dtype="float64"`` matches that at twice the disk space, about 100 MB a file).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for pid, data, labels in iter_twin(n_participants, seed=seed, effect=effect, progress=progress):
        path = deap_format.participant_path(out, pid)
        deap_format.write_participant(path, data.astype(dtype), labels.astype(dtype))
        paths.append(path)
    return paths


# --------------------------------------------------------------------------------------------
# The MAHNOB-HCI twin
# --------------------------------------------------------------------------------------------

MAHNOB_SESSIONS_PER_SUBJECT = 20
#: Third entropy word of the MAHNOB twin's streams, so they never coincide with the DEAP twin's.
_MAHNOB_STREAM = 0x4D4148
_MAHNOB_SECONDS = (64, 75)  # usable recordings: whole seconds (Biosemi writes 1 s records)
_SHORT_SECONDS = (40, 62)  # "too short" recordings: under the 63 s (16128 samples) used
_MISSING_CHANNEL = "T8"


def _faults() -> dict[tuple[int, int], str]:
    """``{(subject, session index): fault}``: the twin's 54 unusable sessions (546 of 600 usable)."""
    faults = {(12, k): "no recording" for k in range(MAHNOB_SESSIONS_PER_SUBJECT)}  # a subject lost
    faults.update({(2, 12): "no recording", (17, 0): "no recording", (26, 10): "no recording"})
    short = [(1, 3), (2, 14), (4, 2), (6, 11), (7, 19), (8, 5), (10, 8), (11, 13), (13, 1), (16, 6),
             (19, 15), (21, 9), (24, 17), (28, 4)]
    unrated = [(1, 5), (3, 7), (5, 2), (9, 16), (14, 11), (18, 3), (20, 19), (23, 8), (27, 13), (30, 0)]
    faults.update({key: "too short" for key in short})
    faults.update({key: "no ratings" for key in unrated})
    faults.update({
        (1, 7): "missing EEG channel", (1, 9): "empty session.xml", (2, 1): "truncated recording",
        (2, 4): "entity in session.xml", (2, 6): "wrong sampling rate", (2, 8): "no session.xml",
        (2, 10): "ratings out of range",
    })
    return faults


#: The MAHNOB twin's unusable sessions, ``{(subject, session index): fault}``; subjects 1 and 2
#: hold one of each kind of fault (a small twin for tests).
MAHNOB_FAULTS = _faults()


def mahnob_session_id(subject: int, index: int) -> int:
    """The twin's session id (folder name) of ``subject``'s session ``index`` (0-based): even
    numbers in blocks of 130 per subject, like MAHNOB-HCI's 2 ... 3810."""
    return (subject - 1) * 130 + 2 * (index + 1)


def _check_subjects(subjects) -> list[int]:
    chosen = list(range(1, mahnob_format.N_SUBJECTS + 1)) if subjects is None else sorted(int(s) for s in subjects)
    bad = [s for s in chosen if not 1 <= s <= mahnob_format.N_SUBJECTS]
    if bad or not chosen or len(set(chosen)) != len(chosen):
        raise ValueError(f"subjects must be distinct numbers in 1..{mahnob_format.N_SUBJECTS}, got {subjects}")
    return chosen


def mahnob_twin_plan(subjects=None) -> list[tuple[int, int, int, str | None]]:
    """``(subject, session index, session id, fault or None)`` of every session the twin writes.

    Parameters
    ----------
    subjects : iterable of int, optional
        Subjects in 1-30 (default all).
    """
    return [
        (s, k, mahnob_session_id(s, k), MAHNOB_FAULTS.get((s, k)))
        for s in _check_subjects(subjects)
        for k in range(MAHNOB_SESSIONS_PER_SUBJECT)
    ]


def _felt_emotion(valence: int, arousal: int) -> int:
    """MAHNOB's ``feltEmo`` code from the ratings: 0 neutral, 3 fear, 4 joy, 5 sadness."""
    if 4 <= valence <= 6 and 4 <= arousal <= 6:
        return 0
    if valence >= 5:
        return 4 if arousal >= 5 else 0
    return 3 if arousal >= 5 else 5


def _mahnob_peripheral(rng: np.random.Generator, n_sessions: int, n_samples: int) -> np.ndarray:
    """Simple signals for EXG1-8, GSR1, GSR2, Erg1, Erg2, Resp, Temp: shape (n_sessions, 14, n_samples)."""
    t = np.arange(n_samples) / mahnob_format.SFREQ
    out = np.empty((n_sessions, 14, n_samples), dtype=np.float32)
    phase = rng.uniform(0, 2 * np.pi, (n_sessions, 1))
    heart = 2 * np.pi * rng.normal(1.2, 0.1) * t + phase
    ecg = 500 * (np.sin(heart) + 0.3 * np.sin(2 * heart))
    out[:, 0:3] = ecg[:, None] * np.array([1.0, -0.7, 0.4])[:, None]  # EXG1-3: ECG leads
    out[:, 3:8] = 20 * rng.standard_normal((n_sessions, 5, n_samples), dtype=np.float32)  # EXG4-8: EOG, EMG
    out[:, 8:10] = rng.normal(5000, 1500) + rng.normal(0, 300, (n_sessions, 2, 1)) * t / t[-1]  # GSR: drift
    out[:, 10:12] = 10 * rng.standard_normal((n_sessions, 2, n_samples), dtype=np.float32)  # Erg1, Erg2
    out[:, 12] = rng.normal(-2000, 300) + 300 * np.sin(2 * np.pi * rng.normal(0.27, 0.03) * t + phase)  # Resp
    out[:, 13] = rng.normal(32, 1) + rng.normal(0, 0.3, (n_sessions, 1)) * t / t[-1]  # Temp
    return out


def _session_attributes(session_id: int, cut: int, ratings: np.ndarray, fault: str | None) -> dict:
    """The ``<session>`` attributes of one twin session (ratings: valence, arousal, control, predictability)."""
    valence, arousal, control, predictability = (int(r) for r in ratings)
    attributes = {"cutNum": cut, "sessionId": session_id, "experimentType": "emotion elicitation",
                  "isStim": 1, "mediaFile": f"{cut}.avi"}
    if fault == "no ratings":
        return attributes
    if fault == "ratings out of range":
        arousal = 0
    return {**attributes, "feltEmo": _felt_emotion(valence, arousal), "feltArsl": arousal,
            "feltCtrl": control, "feltPred": predictability, "feltVlnc": valence}


def _write_mahnob_subject(sessions_dir: Path, subject: int, seed: int, effect: float) -> list[Path]:
    """Write one twin subject's 20 session folders; return them."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(subject), _MAHNOB_STREAM]))
    n, sfreq = MAHNOB_SESSIONS_PER_SUBJECT, mahnob_format.SFREQ
    traits = _traits(rng, deap_format.N_EEG)
    z = rng.standard_normal((n, 2))  # latent valence, arousal
    # MAHNOB's ratings are whole numbers; rounded down, a rating is high (>= 5) exactly when the
    # model's continuous one is, so the classes are balanced as in the DEAP twin.
    ratings = np.floor(_ratings(rng, z))
    cuts = rng.permutation(n) + 1
    seconds = rng.integers(_MAHNOB_SECONDS[0], _MAHNOB_SECONDS[1] + 1, n)
    short = rng.integers(_SHORT_SECONDS[0], _SHORT_SECONDS[1] + 1, n)
    n_max = _MAHNOB_SECONDS[1] * sfreq  # every session is drawn this long, then cut to its length
    eeg = _eeg(rng, traits, z, n_samples=n_max, sfreq=sfreq, effect=effect, baseline=0)
    # Unreferenced, as Biosemi records: an offset and mains pickup common to every EEG channel,
    # which the reader's average reference removes.
    t = np.arange(n_max) / sfreq
    eeg += rng.normal(0, 2000, (n, 1, 1)) + rng.uniform(2, 8, (n, 1, 1)) * np.sin(2 * np.pi * 50 * t)
    peripheral = _mahnob_peripheral(rng, n, n_max)
    status = np.zeros((1, n_max))

    folders = []
    for k in range(n):
        session_id = mahnob_session_id(subject, k)
        fault = MAHNOB_FAULTS.get((subject, k))
        folder = sessions_dir / str(session_id)
        folder.mkdir(parents=True, exist_ok=True)
        folders.append(folder)
        xml = folder / mahnob_format.XML_NAME
        if fault == "empty session.xml":
            xml.write_bytes(b"")
        elif fault == "entity in session.xml":
            xml.write_text(
                '<?xml version="1.0"?>\n<!DOCTYPE session [<!ENTITY rating SYSTEM "ratings.txt">]>\n'
                f'<session sessionId="{session_id}" feltVlnc="&rating;"><subject id="{subject}"/></session>\n'
            )
        elif fault != "no session.xml":
            mahnob_format.write_session_xml(xml, _session_attributes(session_id, cuts[k], ratings[k], fault), subject)
        if fault == "no recording":
            continue
        length = (short[k] if fault == "too short" else seconds[k]) * sfreq
        data = np.concatenate([eeg[k, :, :length], peripheral[k, :, :length], status[:, :length]])
        names = mahnob_format.CHANNEL_NAMES
        if fault == "missing EEG channel":
            keep = [i for i, name in enumerate(names) if name != _MISSING_CHANNEL]
            data, names = data[keep], tuple(names[i] for i in keep)
        path = folder / mahnob_format.recording_name(subject, k + 1)
        mahnob_format.write_recording(path, data, names, sfreq=sfreq // 2 if fault == "wrong sampling rate" else sfreq)
        if fault == "truncated recording":
            os.truncate(path, path.stat().st_size // 2)
    return folders


def write_mahnob_twin(
    out_dir: str | Path,
    *,
    seed: int = DEFAULT_SEED,
    effect: float = DEFAULT_EFFECT,
    subjects=None,
    progress: bool = True,
) -> list[Path]:
    """Write the MAHNOB-HCI twin in MAHNOB-HCI's format: ``out_dir/Sessions/<id>/``.

    Each session folder holds ``session.xml`` (a ``<session>`` element with MAHNOB's attribute
    names, ``feltVlnc`` ... as integers 1-9, and a ``<subject id=...>`` child) and a Biosemi BDF
    ``Part_<p>_S_Trial<t>_emotion.bdf`` written by edfio: the 47 channels of
    :data:`deap_lib.data.mahnob_format.CHANNEL_NAMES` at 256 Hz, EEG in uV, 64-75 s long. The
    sessions of :data:`MAHNOB_FAULTS` are damaged as described there (546 of the 600 are usable).
    About 2.5 MB a recording, 1.4 GB in all; see :func:`mahnob_twin_plan` for the layout.

    Parameters
    ----------
    out_dir : str or path-like
        Where ``Sessions/`` is written (created if needed).
    seed : int
        Seed of the twin; subject ``s`` draws from its own stream, so any subset is reproducible.
    effect : float
        Strength of the planted rating-signal links; 0 gives the null twin.
    subjects : iterable of int, optional
        Write only these subjects (1-30; default all). Subjects 1 and 2 hold every kind of fault.
    progress : bool
        Show a progress bar over the subjects.

    Returns
    -------
    list of Path
        The session folders written, by subject then session.
    """
    if effect < 0:
        raise ValueError(f"effect must be >= 0, got {effect}")
    chosen = _check_subjects(subjects)
    sessions_dir = Path(out_dir) / mahnob_format.SESSIONS_DIR
    folders = []
    for subject in tqdm(chosen, desc="MAHNOB twin subjects", unit="subject", disable=not progress):
        folders += _write_mahnob_subject(sessions_dir, subject, seed, effect)
    return folders
