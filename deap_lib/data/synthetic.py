"""The synthetic twins: EEG-like data in DEAP's and MAHNOB-HCI's exact formats, with planted effects.

Numbers computed on a twin are **not DEAP (or MAHNOB-HCI) results**: the twins let every chapter run
without the licensed data and check the pipeline against effects we know (the README details the
model). DEAP twin participant ``p`` draws from ``SeedSequence([seed, p])``, so any subset is
reproducible on its own: band-limited 1/f noise with theta, beta and alpha rhythms, latent valence
and arousal read out as 1-9 ratings, and planted effects after the 3 s baseline (higher arousal
lowers posterior alpha, higher valence lowers left- and raises right-frontal alpha), scaled by
``effect`` (0: the null twin, on which any honest classifier is at chance). The MAHNOB-HCI twin
(:func:`write_mahnob_twin`; subject ``s`` draws from ``SeedSequence([seed, s, 0x4D4148])``) writes
its real format from the same EEG model, 546 of its 600 sessions usable (:data:`MAHNOB_FAULTS`).
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
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
#: Log-amplitude change of the planted alpha effects per SD of latent affect at ``effect=1`` (see README).
_K_AROUSAL = _K_VALENCE = 0.17


def _shaped_noise(rng: np.random.Generator, shape: tuple[int, ...], amp: np.ndarray,
                  n_samples: int = deap_format.N_SAMPLES) -> np.ndarray:
    """Gaussian noise of ``n_samples`` with amplitude spectrum ``amp`` (rfft bins), unit variance per series."""
    keep = np.flatnonzero(amp > 1e-4 * amp.max())  # draw only the bins that carry power
    lo, hi = keep[0], keep[-1] + 1
    coef = np.zeros(shape + amp.shape, dtype=np.complex64)
    coef[..., lo:hi].real = rng.standard_normal(shape + (hi - lo,), dtype=np.float32)
    coef[..., lo:hi].imag = rng.standard_normal(shape + (hi - lo,), dtype=np.float32)
    coef[..., lo:hi] *= amp[lo:hi].astype(np.float32)
    x = np.fft.irfft(coef, n=n_samples, axis=-1)
    x /= x.std(axis=-1, keepdims=True)
    return x


def _bump(freqs: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((freqs - centre) / width) ** 2)


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


def _peripheral(rng: np.random.Generator, n_trials: int) -> np.ndarray:
    """Plausible peripheral channels 32-39 (EOG with blinks, EMG, GSR, respiration, pulse, temperature)."""
    n, sfreq = deap_format.N_SAMPLES, deap_format.SFREQ
    t, freqs = np.arange(n) / sfreq, np.fft.rfftfreq(n, 1 / sfreq)
    out = np.empty((n_trials, 8, n))
    slow = _bump(freqs, 0.0, 0.6)
    out[:, 0] = 30 * _shaped_noise(rng, (n_trials,), slow)  # hEOG
    veog = 20 * _shaped_noise(rng, (n_trials,), slow)
    width = int(0.25 * sfreq)
    shape = 150 * np.exp(-0.5 * (np.arange(-width, width + 1) / (0.05 * sfreq)) ** 2)
    for i in range(n_trials):  # blinks: ~150 uV, ~100 ms, about one every 3 s
        for onset in rng.integers(width, n - width, rng.poisson(n / sfreq / 3)):
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


def _traits(rng: np.random.Generator, n_channels: int) -> SimpleNamespace:
    """A participant's EEG traits (the first draws of its stream): amplitude, gains, rhythms, responsiveness."""
    amplitude, gains = 10.0 * rng.lognormal(0.0, 0.25), rng.lognormal(0.0, 0.2, n_channels)
    f_theta, f_alpha, f_beta = rng.normal([6.0, 10.0, 20.0], [0.5, 0.8, 2.0])
    return SimpleNamespace(amplitude=amplitude, gains=gains, f_theta=f_theta, f_alpha=f_alpha, f_beta=f_beta,
                           responsiveness=rng.uniform(0.4, 1.6))


def _eeg(rng: np.random.Generator, traits, z: np.ndarray, *, n_samples: int, sfreq: float, effect: float,
         baseline: int) -> np.ndarray:
    """The twin's EEG (n_trials, 32, n_samples) in uV, unreferenced, of trials of latent valence and
    arousal ``z`` (n_trials, 2); the effects set in over 0.5 s after ``baseline`` samples."""
    n_t, n_c = z.shape[0], len(traits.gains)
    freqs = np.fft.rfftfreq(n_samples, 1 / sfreq)
    band = 1 / (1 + np.exp(-(freqs - 4.0) / 0.5)) / (1 + np.exp((freqs - 45.0) / 1.0))
    pink = band * np.where(freqs > 0, freqs, 1.0) ** -0.5
    pink, theta, beta = (a / np.sqrt((a**2).sum()) for a in
                         (pink, _bump(freqs, traits.f_theta, 1.0), _bump(freqs, traits.f_beta, 3.0)))
    base_amp = pink + 0.5 * theta + 0.4 * beta
    base = _shaped_noise(rng, (n_t, n_c), base_amp, n_samples)
    alpha = _shaped_noise(rng, (n_t, n_c), _bump(freqs, traits.f_alpha, 1.0), n_samples)
    posterior, right, left = (np.isin(np.array(deap_format.EEG_CHANNELS), REGIONS[region]).astype(float)
                              for region in ("posterior", "right frontal", "left frontal"))
    asymmetry = right - left
    alpha_weight = 0.6 + 0.8 * posterior  # (C,)
    state = rng.lognormal(0.0, 0.25, (n_t, 1))  # trial-to-trial alpha fluctuation, no affect
    log_gain = -_K_AROUSAL * z[:, 1:2] * posterior + _K_VALENCE * z[:, 0:1] * asymmetry
    log_gain = effect * traits.responsiveness * log_gain  # (T, C)
    ramp = np.clip((np.arange(n_samples) - baseline) / sfreq * 2, 0.0, 1.0)  # 0.5 s onset
    gain = np.exp(log_gain[..., None] * ramp)  # (T, C, N): 1 during the baseline
    return traits.amplitude * traits.gains[:, None] * (base + alpha_weight[:, None] * state[..., None] * gain * alpha)


def twin_participant(pid: int, *, seed: int = DEFAULT_SEED, effect: float = DEFAULT_EFFECT) -> tuple[np.ndarray, ...]:
    """Participant ``pid`` (1-based) of the twin of ``seed`` in DEAP's layout: data, float32 (40, 40,
    8064) (trials x 32 EEG channels in DEAP's order then 8 peripheral x samples at 128 Hz), and
    labels, float32 (40, 4) (valence, arousal, dominance, liking on 1-9). ``effect=0``: the null twin."""
    if effect < 0:
        raise ValueError(f"effect must be >= 0, got {effect}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(pid)]))
    n_t, n_c = deap_format.N_TRIALS, deap_format.N_EEG
    traits = _traits(rng, n_c)
    z = rng.standard_normal((n_t, 2))  # latent valence, arousal
    labels = _ratings(rng, z)
    eeg = _eeg(rng, traits, z, n_samples=deap_format.N_SAMPLES, sfreq=deap_format.SFREQ, effect=effect,
               baseline=deap_format.BASELINE_S * deap_format.SFREQ)
    eeg -= eeg.mean(axis=1, keepdims=True)  # average reference
    return np.concatenate([eeg, _peripheral(rng, n_t)], axis=1, dtype=np.float32), labels.astype(np.float32)


def iter_twin(n_participants: int = deap_format.N_PARTICIPANTS, *, seed: int = DEFAULT_SEED,
              effect: float = DEFAULT_EFFECT, participants: list[int] | None = None,
              progress: bool = True) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(pid, data, labels)`` for twin participants, in memory, one at a time."""
    pids = list(range(1, n_participants + 1)) if participants is None else sorted(participants)
    for pid in tqdm(pids, desc="twin participants", unit="participant", disable=not progress):
        yield (pid, *twin_participant(pid, seed=seed, effect=effect))


def write_twin(out_dir: str | Path, n_participants: int = deap_format.N_PARTICIPANTS, *, seed: int = DEFAULT_SEED,
               effect: float = DEFAULT_EFFECT, dtype: str = "float32", progress: bool = True) -> list[Path]:
    """Write and return ``s01.dat`` ... as DEAP's ``data_preprocessed_python`` files (they load with
    ``encoding="latin1"`` like the real ones, which hold float64: ``dtype="float64"``, 100 MB a file)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for pid, data, labels in iter_twin(n_participants, seed=seed, effect=effect, progress=progress):
        paths.append(deap_format.participant_path(out, pid))
        deap_format.write_participant(paths[-1], data.astype(dtype), labels.astype(dtype))
    return paths


# ---------------------------------------------------------------- the MAHNOB-HCI twin

MAHNOB_SESSIONS_PER_SUBJECT = 20
_MAHNOB_STREAM = 0x4D4148  # third entropy word: the MAHNOB twin's streams never meet the DEAP twin's
_MAHNOB_SECONDS = (64, 75)  # usable recordings: whole seconds (Biosemi writes 1 s records)
_SHORT_SECONDS = (40, 62)  # "too short" recordings: under the 63 s (16128 samples) used
#: ``{(subject, session index): fault}`` of the 54 unusable sessions; subjects 1 and 2 hold every kind.
MAHNOB_FAULTS = {
    **{(12, k): "no recording" for k in range(MAHNOB_SESSIONS_PER_SUBJECT)},
    (2, 12): "no recording", (17, 0): "no recording", (26, 10): "no recording",
    **dict.fromkeys([(1, 3), (2, 14), (4, 2), (6, 11), (7, 19), (8, 5), (10, 8), (11, 13), (13, 1), (16, 6),
                     (19, 15), (21, 9), (24, 17), (28, 4)], "too short"),
    **dict.fromkeys([(1, 5), (3, 7), (5, 2), (9, 16), (14, 11), (18, 3), (20, 19), (23, 8), (27, 13), (30, 0)],
                    "no ratings"),
    (1, 7): "missing EEG channel", (1, 9): "empty session.xml", (2, 1): "truncated recording",
    (2, 4): "entity in session.xml", (2, 6): "wrong sampling rate", (2, 8): "no session.xml",
    (2, 10): "ratings out of range",
}


def mahnob_session_id(subject: int, index: int) -> int:
    """``subject``'s session ``index`` (0-based) folder name: even ids, 130 per subject, like MAHNOB-HCI's."""
    return (subject - 1) * 130 + 2 * (index + 1)


def _check_subjects(subjects) -> list[int]:
    chosen = list(range(1, mahnob_format.N_SUBJECTS + 1)) if subjects is None else sorted(int(s) for s in subjects)
    if not chosen or len(set(chosen)) != len(chosen) or not all(1 <= s <= mahnob_format.N_SUBJECTS for s in chosen):
        raise ValueError(f"subjects must be distinct numbers in 1..{mahnob_format.N_SUBJECTS}, got {subjects}")
    return chosen


def mahnob_twin_plan(subjects=None) -> list[tuple[int, int, int, str | None]]:
    """``(subject, session index, session id, fault or None)`` of every session the twin writes for
    ``subjects`` (in 1-30; default all)."""
    return [(s, k, mahnob_session_id(s, k), MAHNOB_FAULTS.get((s, k)))
            for s in _check_subjects(subjects) for k in range(MAHNOB_SESSIONS_PER_SUBJECT)]


def _felt_emotion(valence: int, arousal: int) -> int:
    """MAHNOB's ``feltEmo`` code from the ratings: 0 neutral, 3 fear, 4 joy, 5 sadness."""
    if 4 <= valence <= 6 and 4 <= arousal <= 6:
        return 0
    return (4 if arousal >= 5 else 0) if valence >= 5 else (3 if arousal >= 5 else 5)


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
    arousal = 0 if fault == "ratings out of range" else arousal
    return {**attributes, "feltEmo": _felt_emotion(valence, arousal), "feltArsl": arousal,
            "feltCtrl": control, "feltPred": predictability, "feltVlnc": valence}


def _write_mahnob_subject(sessions_dir: Path, subject: int, seed: int, effect: float) -> list[Path]:
    """Write one twin subject's 20 session folders; return them."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(subject), _MAHNOB_STREAM]))
    n, sfreq = MAHNOB_SESSIONS_PER_SUBJECT, mahnob_format.SFREQ
    traits = _traits(rng, deap_format.N_EEG)
    z = rng.standard_normal((n, 2))  # latent valence, arousal
    # Whole numbers: rounded down, a rating is high (>= 5) exactly when the model's is.
    ratings = np.floor(_ratings(rng, z))
    cuts = rng.permutation(n) + 1
    seconds, short = (rng.integers(lo, hi + 1, n) for lo, hi in (_MAHNOB_SECONDS, _SHORT_SECONDS))
    n_max = _MAHNOB_SECONDS[1] * sfreq  # every session is drawn this long, then cut to its length
    eeg = _eeg(rng, traits, z, n_samples=n_max, sfreq=sfreq, effect=effect, baseline=0)
    # Unreferenced, as Biosemi records: an offset and mains pickup common to every EEG channel.
    t = np.arange(n_max) / sfreq
    eeg += rng.normal(0, 2000, (n, 1, 1)) + rng.uniform(2, 8, (n, 1, 1)) * np.sin(2 * np.pi * 50 * t)
    peripheral = _mahnob_peripheral(rng, n, n_max)
    folders = []
    for k in range(n):
        session_id, fault = mahnob_session_id(subject, k), MAHNOB_FAULTS.get((subject, k))
        folders.append(folder := sessions_dir / str(session_id))
        folder.mkdir(parents=True, exist_ok=True)
        xml = folder / mahnob_format.XML_NAME
        if fault == "empty session.xml":
            xml.write_bytes(b"")
        elif fault == "entity in session.xml":
            xml.write_text('<?xml version="1.0"?>\n<!DOCTYPE session [<!ENTITY rating SYSTEM "ratings.txt">]>\n'
                           f'<session sessionId="{session_id}" feltVlnc="&rating;">'
                           f'<subject id="{subject}"/></session>\n')
        elif fault != "no session.xml":
            mahnob_format.write_session_xml(xml, _session_attributes(session_id, cuts[k], ratings[k], fault), subject)
        if fault == "no recording":
            continue
        length = (short[k] if fault == "too short" else seconds[k]) * sfreq
        data = np.concatenate([eeg[k, :, :length], peripheral[k, :, :length], np.zeros((1, length))])
        names = mahnob_format.CHANNEL_NAMES
        if fault == "missing EEG channel":
            keep = [i for i, name in enumerate(names) if name != "T8"]
            data, names = data[keep], tuple(names[i] for i in keep)
        path = folder / mahnob_format.recording_name(subject, k + 1)
        mahnob_format.write_recording(path, data, names, sfreq=sfreq // 2 if fault == "wrong sampling rate" else sfreq)
        if fault == "truncated recording":
            os.truncate(path, path.stat().st_size // 2)
    return folders


def write_mahnob_twin(out_dir: str | Path, *, seed: int = DEFAULT_SEED, effect: float = DEFAULT_EFFECT,
                      subjects=None, progress: bool = True) -> list[Path]:
    """Write the MAHNOB-HCI twin's ``out_dir/Sessions/<id>/`` folders of ``subjects`` (1-30, default
    all; 1 and 2 hold every kind of fault), by subject then session, and return them: ``session.xml``
    (MAHNOB's ``<session>`` attributes, ratings as integers 1-9, a ``<subject>`` child) and a 47-channel
    256 Hz Biosemi BDF of 64-75 s, unreferenced, EEG in uV (about 2.5 MB; 1.4 GB in all)."""
    if effect < 0:
        raise ValueError(f"effect must be >= 0, got {effect}")
    chosen = _check_subjects(subjects)
    folders = []
    for subject in tqdm(chosen, desc="MAHNOB twin subjects", unit="subject", disable=not progress):
        folders += _write_mahnob_subject(Path(out_dir) / mahnob_format.SESSIONS_DIR, subject, seed, effect)
    return folders
