import hashlib
import logging
import os
import stat

import numpy as np
import pytest

from deap_lib.store import Store, entry_key, file_identity


def test_entries_round_trip_and_record_length_and_checksum(tmp_path):
    store = Store(tmp_path)
    payload = os.urandom(1000)
    path = store.write("weights", "abc", payload)
    header, body = path.read_bytes().split(b"\n", 1)
    assert body == payload
    assert header.split()[2:] == [b"1000", hashlib.sha256(payload).hexdigest().encode()]
    assert store.read("weights", "abc") == payload and store.intact("weights", "abc")
    assert store.read("weights", "nothing") is None and not store.intact("weights", "nothing")
    assert store.write_json("records", "r", {"a": (1, 2)}) == {"a": [1, 2]} == store.read_json("records", "r")
    store.write_arrays("features", "f", x=np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(store.read_arrays("features", "f")["x"], np.arange(6.0).reshape(2, 3))
    with pytest.raises(ValueError, match="unknown cache kind"):
        store.path("models", "x")


@pytest.mark.parametrize(
    "damage, why",
    [
        (lambda raw: raw[:-1], "payload bytes"),  # truncated
        (lambda raw: raw + b"x", "payload bytes"),  # grown
        (lambda raw: raw[:-5] + bytes([raw[-5] ^ 0x10]) + raw[-4:], "checksum"),  # one bit flipped
        (lambda raw: b"", "no valid header"),  # emptied
        (lambda raw: b"PK\x03\x04" + raw, "no valid header"),  # an old-style file
    ],
)
def test_damaged_entries_are_named_deleted_and_read_as_missing(tmp_path, caplog, damage, why):
    store = Store(tmp_path)
    path = store.write("records", "r", b'{"a": 1}' * 100)
    path.write_bytes(damage(path.read_bytes()))
    with caplog.at_level(logging.WARNING, logger="deap_lib.store"):
        assert store.read_json("records", "r") is None
    [line] = caplog.messages
    assert str(path) in line and why in line and "\n" not in line
    assert not path.exists()


def test_undecodable_payload_is_discarded(tmp_path, caplog):
    store = Store(tmp_path)
    store.write("features", "f", b"not an npz archive")
    assert store.read_arrays("features", "f") is None
    assert "cannot be decoded" in caplog.text and not store.path("features", "f").exists()


def test_intact_checks_length_without_reading_everything(tmp_path, caplog):
    store = Store(tmp_path)
    path = store.write("weights", "w", b"x" * 5000)
    assert store.intact("weights", "w")
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size - 1)
    assert not store.intact("weights", "w") and not path.exists() and "damaged" in caplog.text


def test_files_follow_the_umask_and_no_temporaries_remain(tmp_path):
    old = os.umask(0o027)
    try:
        path = Store(tmp_path).write("records", "r", b"{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in path.parent.iterdir()] == ["r"]


def test_keys_depend_on_kind_code_and_parts(monkeypatch):
    from deap_lib import fingerprint

    key = entry_key("records", {"a": 1})
    assert key == entry_key("records", {"a": 1}) != entry_key("records", {"a": 2})
    assert key != entry_key("baselines", {"a": 1})
    monkeypatch.setattr(fingerprint, "code_of", lambda kind: "other code")
    assert entry_key("records", {"a": 1}) != key


def test_file_identity_follows_rewrites_that_restore_mtime(tmp_path):
    import time

    path = tmp_path / "s01.dat"
    path.write_bytes(b"a" * 100)
    st = path.stat()
    before = file_identity(path)
    assert before == file_identity(path)
    time.sleep(0.05)
    path.write_bytes(b"b" * 100)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = file_identity(path)
    assert (after["size"], after["mtime_ns"]) == (before["size"], before["mtime_ns"])
    assert after != before  # ctime moved
    assert file_identity(path, "content") == {"sha256": hashlib.sha256(b"b" * 100).hexdigest()}
    with pytest.raises(ValueError, match="identity must be one of"):
        file_identity(path, "mtime")


def _directory(path):
    path.mkdir()
    (path / "inside").write_bytes(b"x")


@pytest.mark.parametrize("make, what", [
    (_directory, "a directory"),
    (lambda path: path.symlink_to("/etc/passwd"), "a symbolic link"),
    (lambda path: os.mkfifo(path), "a FIFO"),  # never opened for a blocking read: the test would hang
])
def test_anything_but_an_entry_at_its_path_is_removed_and_computed_again(tmp_path, caplog, make, what):
    store = Store(tmp_path)
    path = store.path("features", "f")
    path.parent.mkdir(parents=True)
    make(path)
    with caplog.at_level(logging.WARNING, logger="deap_lib.store"):
        assert store.read_arrays("features", "f") is None
    [line] = caplog.messages
    assert str(path) in line and what in line and "computed again" in line
    assert not os.path.lexists(path) and os.path.exists("/etc/passwd")
    make(path)
    assert not store.intact("features", "f") and not os.path.lexists(path)
    make(path)
    store.write_arrays("features", "f", x=np.ones(3))  # written over whatever is there
    assert store.read_arrays("features", "f")["x"].tolist() == [1, 1, 1] and path.is_file() and not path.is_symlink()
    make(store.path("features", "g"))
    (store.path("records", "r").parent).mkdir()
    make(store.path("records", "r"))
    assert store.usage()["features"][0] == 1  # only real entries are counted
    assert store.clear(["features", "records"]) == 3 and not any(store.root.rglob("*.*"))
    assert [p for p in store.root.rglob("*") if not p.is_dir()] == []


def test_a_full_disk_is_one_error_naming_the_folder_and_the_size(tmp_path, monkeypatch):
    import errno

    from deap_lib import store as store_module

    store = Store(tmp_path)

    def full(path, write):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module, "atomic_write_bytes", full)
    with pytest.raises(store_module.CacheFullError) as err:
        store.write("weights", "w", b"x" * 3 * 2**20)
    message = str(err.value)
    assert message.startswith(f"no space left in the cache folder {store.root}") and "3.0 MiB" in message
    assert "DEAP_LIB_CACHE" in message and "\n" not in message and isinstance(err.value, OSError)


def test_a_damaged_entry_in_a_read_only_cache_is_read_as_missing(tmp_path, caplog, monkeypatch):
    from pathlib import Path

    store = Store(tmp_path)
    path = store.write("records", "r", b"{}")
    path.write_bytes(b"garbage")

    def refused(self, *args, **kwargs):  # chmod does not stop root: refuse the removal itself
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "unlink", refused)
    assert store.read_json("records", "r") is None
    assert "cannot be removed (Permission denied)" in caplog.text and path.exists()


def _write_and_read(root, n):
    store = Store(root)
    payload = bytes(range(256)) * 400
    for _ in range(n):
        store.write("weights", "shared", payload)
        assert store.read("weights", "shared") in (None, payload)  # None: the other one is replacing it


def test_two_processes_on_one_cache(tmp_path):
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_and_read, args=(tmp_path, 40)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    assert Store(tmp_path).intact("weights", "shared") and Store(tmp_path).usage()["weights"][0] == 1
