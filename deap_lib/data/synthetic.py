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
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm import tqdm

from deap_lib.data import deap_format

#: Bump when the generative model changes: it is part of every cache key built on the twin.
TWIN_VERSION = 2
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


def _shaped_noise(rng: np.random.Generator, shape: tuple[int, ...], amp: np.ndarray) -> np.ndarray:
    """Gaussian noise with amplitude spectrum ``amp`` (rfft bins), unit variance per series."""
    keep = np.flatnonzero(amp > 1e-4 * amp.max())  # draw only the bins that carry power
    lo, hi = keep[0], keep[-1] + 1
    size = shape + (hi - lo,)
    coef = np.zeros(shape + amp.shape, dtype=np.complex64)
    coef[..., lo:hi].real = rng.standard_normal(size, dtype=np.float32)
    coef[..., lo:hi].imag = rng.standard_normal(size, dtype=np.float32)
    coef[..., lo:hi] *= amp[lo:hi].astype(np.float32)
    x = np.fft.irfft(coef, n=deap_format.N_SAMPLES, axis=-1)
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

    # Participant traits: amplitude, channel fingerprint, rhythm frequencies, responsiveness.
    amplitude = 10.0 * rng.lognormal(0.0, 0.25)
    gains = rng.lognormal(0.0, 0.2, n_c)
    f_theta, f_alpha, f_beta = rng.normal([6.0, 10.0, 20.0], [0.5, 0.8, 2.0])
    responsiveness = rng.uniform(0.4, 1.6)
    z = rng.standard_normal((n_t, 2))  # latent valence, arousal
    labels = _ratings(rng, z)

    band = 1 / (1 + np.exp(-(freqs - 4.0) / 0.5)) / (1 + np.exp((freqs - 45.0) / 1.0))
    pink = band * np.where(freqs > 0, freqs, 1.0) ** -0.5
    base_amp = (
        _unit(pink) + 0.5 * _unit(_bump(freqs, f_theta, 1.0)) + 0.4 * _unit(_bump(freqs, f_beta, 3.0))
    )
    base = _shaped_noise(rng, (n_t, n_c), base_amp)
    alpha = _shaped_noise(rng, (n_t, n_c), _bump(freqs, f_alpha, 1.0))

    posterior = _mask(REGIONS["posterior"])
    asymmetry = _mask(REGIONS["right frontal"]) - _mask(REGIONS["left frontal"])
    alpha_weight = 0.6 + 0.8 * posterior  # (C,)
    state = rng.lognormal(0.0, 0.25, (n_t, 1))  # trial-to-trial alpha fluctuation, no affect
    log_gain = effect * responsiveness * (
        -_K_AROUSAL * z[:, 1:2] * posterior + _K_VALENCE * z[:, 0:1] * asymmetry
    )  # (T, C)
    ramp = np.clip((np.arange(deap_format.N_SAMPLES) - _BASELINE) / deap_format.SFREQ * 2, 0.0, 1.0)  # 0.5 s onset
    gain = np.exp(log_gain[..., None] * ramp)  # (T, C, N): 1 during the baseline

    eeg = amplitude * gains[:, None] * (base + alpha_weight[:, None] * state[..., None] * gain * alpha)
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
