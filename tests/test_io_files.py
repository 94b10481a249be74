"""infantjax.io.files: the one atomic write every infantjax file writer uses."""

from __future__ import annotations

import json
import os
import stat
import threading

import numpy as np
import pytest

from infantjax.errors import DataError, FileWriteError, InfantJaxError
from infantjax.io.files import (
    AtomicFile,
    atomic_open,
    atomic_path,
    save_npz,
    write_bytes,
    write_json,
    write_text,
)


class Boom(Exception):
    pass


@pytest.fixture
def umask():
    """Set the process umask inside a test; the old one is restored afterwards."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_failure_mid_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "record.json"
    write_json(target, {"version": 1})
    before = target.read_bytes()
    with pytest.raises(Boom), atomic_open(target) as fh:
        fh.write('{"version": 2, "trunc')
        fh.flush()
        raise Boom
    with pytest.raises(Boom), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise Boom
    with pytest.raises(DataError, match="NaN"):
        write_json(target, {"auc": float("nan")})  # refused before anything is written
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record.json"]


def test_the_temporary_file_sits_beside_the_target_and_keeps_its_suffix(tmp_path):
    with atomic_path(tmp_path / "clip.mp4") as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".clip.") and tmp.suffix == ".mp4"
        assert tmp.exists() and not (tmp_path / "clip.mp4").exists()
        tmp.write_bytes(b"frames")
    assert (tmp_path / "clip.mp4").read_bytes() == b"frames"
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_get_the_mode_the_umask_gives(tmp_path, umask, mask, mode):
    umask(mask)
    writers = {
        "a.txt": lambda p: write_text(p, "x"),
        "b.bin": lambda p: write_bytes(p, b"x"),
        "c.json": lambda p: write_json(p, {"a": 1}),
        "d.npz": lambda p: save_npz(p, {"a": np.zeros(2)}),
    }
    for name, write in writers.items():
        write(tmp_path / name)
        assert _mode(tmp_path / name) == mode, name
    with atomic_path(tmp_path / "e.png") as tmp:  # a writer that opens by name (matplotlib, PyAV)
        tmp.write_bytes(b"png")
    assert _mode(tmp_path / "e.png") == mode
    with open(tmp_path / "plain.txt", "w") as fh:  # the reference: what open() gives under this umask
        fh.write("x")
    assert _mode(tmp_path / "plain.txt") == mode


def test_a_missing_folder_or_a_folder_as_target_raises_a_typed_error(tmp_path):
    with pytest.raises(FileWriteError, match="folder .*missing.* does not exist") as info:
        write_text(tmp_path / "missing" / "a.txt", "x")
    assert isinstance(info.value, InfantJaxError) and isinstance(info.value, OSError)
    with pytest.raises(FileWriteError, match="is a folder"):
        write_json(tmp_path, {})
    assert list(tmp_path.iterdir()) == []
    write_text(tmp_path / "made" / "deep" / "a.txt", "x", parents=True)
    assert (tmp_path / "made" / "deep" / "a.txt").read_text() == "x"


def test_concurrent_writers_never_leave_a_torn_file(tmp_path):
    target = tmp_path / "shared.bin"
    contents = [bytes([65 + i]) * 200_000 for i in range(2)]  # large enough to take several write calls
    write_bytes(target, contents[0])
    seen, errors = set(), []
    stop = threading.Event()

    def writer(data):
        try:
            for _ in range(40):
                write_bytes(target, data)
        except Exception as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    def reader():
        while not stop.is_set():
            data = target.read_bytes()
            if data not in contents:
                errors.append(AssertionError(f"torn file: {len(data)} bytes"))
            seen.add(data[:1])

    threads = [threading.Thread(target=writer, args=(c,)) for c in contents]
    watch = threading.Thread(target=reader)
    watch.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watch.join()
    assert not errors, errors[:3]
    assert target.read_bytes() in contents
    assert [p.name for p in tmp_path.iterdir()] == ["shared.bin"]


def test_json_is_sorted_indented_and_numpy_aware(tmp_path):
    path = write_json(tmp_path / "r.json", {"b": np.float32(0.5), "a": np.arange(2), "p": tmp_path / "x"})
    text = path.read_text()
    assert text.index('"a"') < text.index('"b"') and text.endswith("\n")
    assert json.loads(text) == {"a": [0, 1], "b": 0.5, "p": str(tmp_path / "x")}
    write_json(path, {"auc": float("nan")}, allow_nan=True)
    assert np.isnan(json.loads(path.read_text())["auc"])


def test_npz_round_trips_without_pickle_and_refuses_objects(tmp_path):
    path = save_npz(tmp_path / "a.npz", {"x": np.arange(4.0), "name": np.array("infant")}, compress=False)
    with np.load(path, allow_pickle=False) as z:
        assert z["x"].tolist() == [0, 1, 2, 3] and str(z["name"]) == "infant"
    with pytest.raises(DataError, match="pickle"):
        save_npz(tmp_path / "b.npz", {"x": np.array([{"a": 1}], dtype=object)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz"]


def test_atomic_file_commits_or_discards_across_calls(tmp_path, umask):
    umask(0o022)
    kept = AtomicFile(tmp_path / "v.mp4")
    kept.tmp.write_bytes(b"1")
    assert kept.commit() == tmp_path / "v.mp4" and (tmp_path / "v.mp4").read_bytes() == b"1"
    dropped = AtomicFile(tmp_path / "v.mp4")
    dropped.tmp.write_bytes(b"2")
    dropped.discard()
    assert (tmp_path / "v.mp4").read_bytes() == b"1" and [p.name for p in tmp_path.iterdir()] == ["v.mp4"]
    with pytest.raises(RuntimeError, match="already"):
        dropped.commit()


@pytest.mark.needs("av")
def test_the_io_writers_write_through_it(tmp_path, umask):
    from infantjax.io import write_cohort, write_keypoints, write_video
    from infantjax.sequence import Cohort, SkeletonSequence

    umask(0o027)
    seq = SkeletonSequence(np.full((3, 19, 2), 5.0, np.float32), 30.0, "in-motion-19")
    for name in ("k.csv", "k.json", "k.mat", "k.npz", "op"):
        write_keypoints(tmp_path / name, seq)
    write_video(tmp_path / "v.mp4", np.zeros((2, 16, 16, 3), np.uint8), 30)
    write_cohort(Cohort([seq, seq], np.array([0, 1]), ["a", "b"]), tmp_path / "cohort")
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) >= 10 and not [p for p in written if p.name.startswith(".")]  # no temporary files
    assert {p.name: _mode(p) for p in written} == {p.name: 0o640 for p in written}
