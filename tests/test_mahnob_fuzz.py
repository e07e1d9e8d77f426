"""A seeded mutation fuzzer of MAHNOB-HCI's reader: BDF headers and session.xml files.

Each case is one session folder: a valid recording and ``session.xml`` with one or a few
mutations (header numbers, labels, encodings, XML declarations, truncation, random bytes).
Exactly two outcomes are allowed per case: the session is read, and its EEG is what an
independent decoder of the (mutated) file gives, equal to the unmutated session's when the
mutation left the samples' meaning alone; or the session is skipped with one of
:data:`deap_lib.data.mahnob_format.SKIP_KINDS` and a reason naming the file. Never another
exception, a hang (a per-case alarm) or memory beyond a bound (``RLIMIT_AS`` in the subprocess).
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np

#: The fixed header's numeric fields: name -> (offset, width).
FIXED_FIELDS = {"header_bytes": (184, 8), "n_records": (236, 8), "duration": (244, 8), "n_signals": (252, 4)}
#: Each signal's fields: name -> (offset in units of the number of signals, width).
SIGNAL_FIELDS = {"label": (0, 16), "physical_min": (104, 8), "physical_max": (112, 8), "digital_min": (120, 8),
                 "digital_max": (128, 8), "samples_per_record": (216, 8)}


def set_field(raw: bytearray, name: str, value, signal: int | None = None) -> bytearray:
    """Overwrite one header field of the BDF bytes ``raw`` with ``value`` (left-aligned, space-padded)."""
    if name in FIXED_FIELDS:
        offset, width = FIXED_FIELDS[name]
    else:
        units, width = SIGNAL_FIELDS[name]
        offset = 256 + units * int(raw[252:256]) + width * signal
    raw[offset : offset + width] = str(value).encode("latin-1").ljust(width)[:width]
    return raw


def reference_eeg(raw: bytes) -> np.ndarray:
    """The report's EEG of a BDF, decoded here with numpy alone (independent of MNE and the reader).

    Assumes what the reader checks (EEG channels at 256 Hz, a complete file, sane ranges): the
    middle 16128 samples of the 32 EEG channels, in physical units, average referenced.
    """
    from deap_lib.data.mahnob_format import EEG_CHANNELS, N_USED

    ns = int(raw[252:256])
    fields = raw[256 : 256 * (ns + 1)]

    def column(units, width, kind):
        return [kind(fields[units * ns + width * i : units * ns + width * (i + 1)].decode("latin-1")) for i in range(ns)]

    labels = [s.strip() for s in column(0, 16, str)]
    p_min, p_max = np.array(column(104, 8, float)), np.array(column(112, 8, float))
    d_min, d_max = np.array(column(120, 8, int)), np.array(column(128, 8, int))
    spr = column(216, 8, int)
    n_records = int(raw[236:244])
    record = 3 * sum(spr)
    body = np.frombuffer(raw, np.uint8, count=record * n_records, offset=256 * (ns + 1)).reshape(n_records, record)
    starts = np.concatenate([[0], np.cumsum(spr)]) * 3
    rows = []
    for name in EEG_CHANNELS:
        i = labels.index(name)
        b = body[:, starts[i] : starts[i + 1]].reshape(-1, 3).astype(np.int32)
        digital = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        digital = np.where(digital >= 2**23, digital - 2**24, digital)
        gain = (p_max[i] - p_min[i]) / (d_max[i] - d_min[i])
        rows.append((digital - d_min[i]) * gain + p_min[i])
    eeg = np.stack(rows)
    start = (eeg.shape[1] - N_USED) // 2
    eeg = eeg[:, start : start + N_USED]
    return eeg - eeg.mean(axis=0)
