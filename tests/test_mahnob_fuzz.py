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
import pytest

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
    raw[offset : offset + width] = str(value).encode("utf-8").ljust(width)[:width]
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


# --------------------------------------------------------------------------------------------
# The fuzzer, in a subprocess: a crash shows as an exit code, memory is limited, a hang times out
# --------------------------------------------------------------------------------------------

FUZZ_SCRIPT = textwrap.dedent(
    r"""
    import json, resource, signal, sys, tempfile, time, traceback
    import xml.etree.ElementTree as ET
    from pathlib import Path
    import numpy as np

    sys.path.insert(0, sys.argv[1])  # tests/, for this module's helpers
    from test_mahnob_fuzz import FIXED_FIELDS, SIGNAL_FIELDS, reference_eeg, set_field
    from deap_lib.data import deap_format, features, mahnob_format as m

    n_bdf, n_xml, headroom_mb = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rng = np.random.default_rng(21)
    root = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    folder = root / "Sessions" / "5"
    folder.mkdir(parents=True)
    bdf_path, xml_path = folder / "Part_3_S_Trial2_emotion.bdf", folder / "session.xml"
    names = list(deap_format.EEG_CHANNELS) + ["Status"]
    signals = np.round(np.random.default_rng(3).normal(0, 20, (33, 64 * 256)) * 32) / 32
    signals[-1] = 0
    BDF = m.write_recording(bdf_path, signals, names).read_bytes()
    RATINGS = {"feltVlnc": 7, "feltArsl": 2, "feltCtrl": 5, "feltPred": 5}
    XML = m.write_session_xml(xml_path, {**RATINGS, "sessionId": 5, "feltEmo": 1}, 3).read_text()
    original_eeg = m.read_eeg(bdf_path)
    original_features = features.extract_features(original_eeg[None])
    BDF_KINDS = {"unreadable recording", "missing EEG channels", "wrong sampling rate", "too short"}
    XML_KINDS = {"no session.xml", "malformed session.xml", "no ratings", "ratings out of range"}

    VALUES = [0, -1, 1, -256, 128, 255, 256, 257, 512, 16128, 99999999, -99999999, 8388607, -8388608,
              "nan", "inf", "-inf", "1e3", "", " ", "+256", "0x10", "2.5", "1_0", "٣", "²", "\xff", "-0"]

    def mutate_bdf(raw):
        raw = bytearray(raw)
        ns = 33
        for _ in range(int(rng.integers(1, 4))):
            kind = int(rng.integers(7))
            intact = raw[252:256] == b"33  "  # the signals' fields are where set_field looks
            if kind == 0:  # a fixed numeric field
                name = list(FIXED_FIELDS)[int(rng.integers(len(FIXED_FIELDS)))]
                set_field(raw, name, VALUES[int(rng.integers(len(VALUES)))])
            elif kind in (1, 2) and intact:  # a signal's field
                name = list(SIGNAL_FIELDS)[int(rng.integers(len(SIGNAL_FIELDS)))]
                value = (names[int(rng.integers(ns))] if name == "label" and rng.random() < 0.7
                         else VALUES[int(rng.integers(len(VALUES)))])
                set_field(raw, name, value, int(rng.integers(ns)))
            elif kind == 3:  # a byte of the header
                raw[int(rng.integers(256 * (ns + 1)))] = int(rng.integers(256))
            elif kind == 4:  # truncation
                del raw[int(rng.integers(len(raw))) :]
            elif kind == 5:  # bytes inserted into, or deleted from, the header
                at = int(rng.integers(256 * (ns + 1)))
                if rng.random() < 0.5:
                    raw[at:at] = rng.bytes(int(rng.integers(1, 9)))
                else:
                    del raw[at : at + int(rng.integers(1, 9))]
            else:  # garbage appended
                raw += rng.bytes(int(rng.integers(1, 5000)))
        return bytes(raw)

    DECLARATIONS = [
        '<!DOCTYPE session [<!ENTITY v "9">]>',
        '<!DOCTYPE session [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY v "&b;&b;">]>',
        '<!DOCTYPE session [<!ENTITY v SYSTEM "file:///etc/hostname">]>',
        '<!DOCTYPE session SYSTEM "http://example.invalid/session.dtd">',
        '<!DOCTYPE session [<!ENTITY % p SYSTEM "file:///etc/hostname"> %p;]>',
    ]
    ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "ascii"]
    RATING_VALUES = ["1", "9", "0", "10", "5.5", "nan", "", " 7 ", "&#55;", "&v;", "1e0", "-5", "seven"]

    def mutate_xml():
        text = XML
        declared = "utf-8"
        for _ in range(int(rng.integers(1, 4))):
            kind = int(rng.integers(6))
            if kind == 0:  # a DTD, an entity, an external reference
                decl = DECLARATIONS[int(rng.integers(len(DECLARATIONS)))]
                text = text.replace("\n<session", f"\n{decl}\n<session", 1)
                if "&v;" not in text and rng.random() < 0.7:
                    text = text.replace('feltVlnc="7"', 'feltVlnc="&v;"', 1)
            elif kind == 1:  # a rating's value
                name = list(RATINGS)[int(rng.integers(len(RATINGS)))]
                text = text.replace(f'{name}="{RATINGS[name]}"', f'{name}="{RATING_VALUES[int(rng.integers(len(RATING_VALUES)))]}"', 1)
            elif kind == 2:  # the encoding the declaration names
                declared = ENCODINGS[int(rng.integers(len(ENCODINGS)))]
                text = text.replace('encoding="utf-8"', f'encoding="{declared}"', 1)
            elif kind == 3:  # nesting
                depth = int(rng.choice([10, 1000, 100_000]))
                text = text.replace("<subject", "<x>" * depth + "</x>" * depth + "<subject", 1)
            elif kind == 4:  # the subject
                text = text.replace('id="3"', f'id="{["", "x", "-3", "²", "٣", "9" * 5000, "03"][int(rng.integers(7))]}"', 1)
            else:  # no declaration at all
                text = text.split("?>", 1)[-1]
        codec = ENCODINGS[int(rng.integers(len(ENCODINGS)))]
        raw = text.encode(codec, errors="replace")
        for _ in range(int(rng.integers(0, 3))):  # byte damage
            what = int(rng.integers(3))
            at = int(rng.integers(len(raw) + 1))
            if what == 0 and raw:
                raw = raw[: min(at, len(raw) - 1)] + rng.bytes(1) + raw[min(at, len(raw) - 1) + 1 :]
            elif what == 1:
                raw = raw[:at]
            else:
                raw = raw[:at] + rng.bytes(int(rng.integers(1, 4))) + raw[at:]
        return raw

    def hang(*_):
        raise TimeoutError("case blocked")

    signal.signal(signal.SIGALRM, hang)
    with open("/proc/self/status") as f:
        vm = next(int(l.split()[1]) for l in f if l.startswith("VmSize:")) * 1024
    limit = vm + headroom_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    counts = {t: {"equal": 0, "read, values changed as the file says": 0, "skipped": {}} for t in ("bdf", "xml")}
    counts["failed"] = 0
    features_checked = 0
    t0 = time.perf_counter()
    for case in range(n_bdf + n_xml):
        is_bdf = case < n_bdf
        outcome = counts["bdf" if is_bdf else "xml"]
        bdf = mutate_bdf(BDF) if is_bdf else BDF
        xml = XML.encode() if is_bdf else mutate_xml()
        bdf_path.write_bytes(bdf)
        xml_path.write_bytes(xml)
        signal.setitimer(signal.ITIMER_REAL, 10)
        try:
            scan = m.scan_sessions(root, required=False)
            if scan.skipped:
                (skip,) = scan.skipped
                assert scan.sessions == () and skip.kind in (BDF_KINDS if is_bdf else XML_KINDS), skip
                name = bdf_path.name if skip.kind in BDF_KINDS - {"no recording"} else xml_path.name
                assert skip.reason.startswith(f"{name}: ") or skip.kind == "no session.xml", skip
                outcome["skipped"][skip.kind] = outcome["skipped"].get(skip.kind, 0) + 1
                continue
            (session,) = scan.sessions
            if is_bdf:
                eeg = m.read_eeg(session.path)
                expected = reference_eeg(bdf)
                assert np.allclose(eeg, expected, rtol=1e-12, atol=1e-9), "EEG differs from the file's"
                same = np.allclose(expected, original_eeg, rtol=1e-12, atol=1e-9)
                assert not same or np.array_equal(eeg, original_eeg), "unchanged data read differently"
                if features_checked < 10:  # the features follow from the EEG; checked on a few cases
                    got = features.extract_features(eeg[None])
                    assert np.array_equal(got, original_features) if same else np.isfinite(got).all()
                    features_checked += 1
            else:  # the same recording; the ratings as a plain parser reads the (DTD-free) file
                attributes = ET.fromstring(xml).attrib
                expected = tuple(float(attributes[k]) for k in RATINGS)
                assert session.ratings == expected and session.subject == int(ET.fromstring(xml).find("subject").get("id"))
                same = expected == tuple(float(v) for v in RATINGS.values())
            outcome["equal" if same else "read, values changed as the file says"] += 1
        except BaseException:  # noqa: BLE001 - the one thing this program counts
            counts["failed"] += 1
            print(f"case {case} ({'bdf' if is_bdf else 'xml'}): header {bdf[:256 * 34].hex()} xml {xml[:2000]!r}",
                  file=sys.stderr)
            traceback.print_exc()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    counts["features_checked"] = features_checked
    counts["seconds"] = time.perf_counter() - t0
    with open("/proc/self/status") as f:
        counts["peak_rss_mb"] = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024
    counts["address_space_limit_mb"] = limit / 2**20
    print(json.dumps(counts))
    """
)


def _fuzz(n_bdf: int, n_xml: int, headroom_mb: int = 512) -> None:
    """Run ``n_bdf`` BDF then ``n_xml`` session.xml cases in a subprocess and check every outcome."""
    here = os.path.dirname(os.path.abspath(__file__))
    proc = subprocess.run(
        [sys.executable, "-c", FUZZ_SCRIPT, here, str(n_bdf), str(n_xml), str(headroom_mb)],
        capture_output=True, text=True, timeout=180, cwd=os.path.dirname(here),
    )
    assert proc.returncode == 0, f"fuzzer exited with {proc.returncode}\n{proc.stderr[-4000:]}"
    counts = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"\nMAHNOB-HCI fuzz: {n_bdf + n_xml} cases {counts}")
    assert counts["failed"] == 0, proc.stderr[-6000:]
    for target, n in (("bdf", n_bdf), ("xml", n_xml)):
        outcome = counts[target]
        assert sum(outcome["skipped"].values()) + outcome["equal"] + outcome["read, values changed as the file says"] == n
        assert outcome["equal"] > n // 20 and sum(outcome["skipped"].values()) > n // 2, (target, outcome)
    assert {"unreadable recording", "missing EEG channels", "wrong sampling rate"} <= set(counts["bdf"]["skipped"])
    assert {"malformed session.xml", "no ratings", "ratings out of range"} <= set(counts["xml"]["skipped"])
    assert counts["features_checked"] == 10
    assert counts["peak_rss_mb"] < 600


def test_small_mutation_fuzzer_reads_right_or_skips_with_a_reason():
    _fuzz(150, 250)  # 400 cases, about 3 s: the fast subset (without the slow tests) fuzzes too


@pytest.mark.slow
def test_mutation_fuzzer_reads_right_or_skips_with_a_reason():
    _fuzz(1200, 2800)  # about 30 s on 2 cores
