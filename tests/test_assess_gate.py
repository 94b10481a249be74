"""``infantjax assess`` with the tracking-quality gate and its rough edges filed down: a video whose infant
the pose model cannot follow is withheld ("cannot be assessed", grey, exit status 3) in every record;
recordings shorter than a window and still images are refused before the pose stage; an interrupted video's
temporary files are removed when it is redone; a rerun with other settings marks the older results stale at
once; failed videos are not redone unless asked; folder names keep their letters; the progress bar counts the
pose stage's frames; the window-rotation advice names assess's own flag, once, and only when it changes the
outcome."""

from __future__ import annotations

import csv
import json
import pathlib
import shutil
import threading
import unicodedata

import numpy as np
import pytest
from _assess_utils import CountingPose, TrackOnce, assess_models, infant_video  # noqa: F401

from infantjax.errors import DataError, VideoError
from infantjax.io import files

# every test tracks a video and scores the zoo's ensemble: compiled as users do, where
# optimised code pays for its compile (tests/conftest.py)
pytestmark = pytest.mark.xla_optimised


def page_data(path: pathlib.Path) -> dict:
    html = path.read_text()
    start = html.index('<script type="application/json" id="dashboard-data">') + len(
        '<script type="application/json" id="dashboard-data">')
    return json.loads(html[start:html.index("</script>", start)])


def leftovers(out: pathlib.Path) -> list[pathlib.Path]:
    """The temporary files of atomic writes anywhere under ``out``."""
    folders = [out, *(d for d in out.rglob("*") if d.is_dir())]
    return [p for folder in folders for p in files.temporaries(folder)]


# ------------------------------------------------------------------------------------------------ withheld
@pytest.mark.needs("av")
def test_a_video_the_pose_model_cannot_follow_is_withheld_everywhere(tmp_path, capsys, monkeypatch,
                                                                     assess_models):
    """A video the pose model cannot follow (heavy blur: keypoints with low confidence and implausible bones)
    once scored "certain no CP"; now every record withholds it and says why."""
    from infantjax.cli import main
    from infantjax.clinical import RiskResult
    from infantjax.pipelines import assessment
    from infantjax.synth.faults import fault_video

    video = fault_video(tmp_path / "turned.mp4", "blurred", seed=2, duration_s=6.0, fps=10.0).path
    monkeypatch.setattr(assessment.run, "load_models", lambda ensemble=None, pose=None: assess_models)
    out = tmp_path / "o"
    assert main(["assess", str(video), "--out", str(out), "--no-progress", "--no-labelled"]) == 3
    printed = capsys.readouterr().out
    assert "turned: cannot be assessed (grey): tracking unreliable in 2 of 2 windows" in printed
    assert "window_rotation=" not in printed and "infantjax predict" not in printed
    assert "trained on synthetic infants only" in printed
    rec = json.loads((out / "turned" / "record.json").read_text())
    assert rec["classification"] == "cannot be assessed" and rec["colour"] == "grey"
    assert rec["quality"]["withheld"] is True and rec["quality"]["state"] == "unreliable"
    assert rec["quality"]["reasons"][0] == "tracking unreliable in 2 of 2 windows"
    assert [w["quality"] for w in rec["windows"]] == ["unreliable", "unreliable"]
    assert all(w["quality_reasons"] for w in rec["windows"])
    assert any("shorter than" in w or "1–9 minutes" in w for w in rec["warnings"])  # 6 s: a length warning
    result = RiskResult.from_dict(json.loads((out / "turned" / "result.json").read_text()))
    assert result.withheld and result.label == "cannot be assessed" and 0.0 <= result.risk <= 1.0
    row = next(csv.DictReader((out / "summary.csv").open()))
    assert row["status"] == "done" and row["classification"] == "cannot be assessed"
    assert row["colour"] == "grey" and row["quality"] == "unreliable"
    assert row["quality_reasons"].startswith("tracking unreliable in 2 of 2")
    entry = json.loads((out / "assess.json").read_text())["videos"][0]
    assert entry["withheld"] is True and entry["quality"] == "unreliable" and entry["quality_reasons"]
    data = page_data(out / "turned" / "dashboard.html")
    assert data["withheld"] is True and data["classification"] == "cannot be assessed"
    q = data["quality"]
    assert q["state"] == "unreliable" and q["window_states"] == ["unreliable", "unreliable"]
    assert len(q["window_reasons"]) == len(data["windows"])
    assert len(q["frame_score"]) == len(data["frames"]["t"])
    assert q["headline"].startswith("cannot be assessed: tracking unreliable")
    assert np.mean([s < 0.5 for s in q["frame_score"]]) > 0.5
    cohort = (out / "cohort.html").read_text()
    assert 'data-quality="unreliable"' in cohort and "cannot be assessed" in cohort
    assert "tracking unreliable in 2 of 2 windows" in cohort


@pytest.mark.needs("av")
def test_an_infant_turned_sideways_is_followed_and_scored_upright_or_flagged_by_name(tmp_path, capsys, monkeypatch,
                                                                                     assess_models):
    """A phone held sideways whose rotation flag was lost: the infant tracker follows the turned infant (the
    keypoints are good). By default its windows are scored with the corrected rotation (the upright infant's
    answer, the record says so); asked by name, the reference window rotation misaligns a sideways spine, so that
    verdict is doubtful and its colour never certain (the corrected rotation's answer is printed too where it
    differs)."""
    from infantjax.cli import main
    from infantjax.pipelines import assessment
    from infantjax.synth.faults import fault_video

    video = fault_video(tmp_path / "turned.mp4", "rotated", seed=2, duration_s=6.0, fps=10.0).path
    monkeypatch.setattr(assessment.run, "load_models", lambda ensemble=None, pose=None: assess_models)
    auto = tmp_path / "auto"
    assert main(["assess", str(video), "--out", str(auto), "--no-progress", "--no-labelled"]) == 0
    printed = capsys.readouterr().out
    assert "scored with the corrected window rotation" in printed and "lies sideways" not in printed
    rec = json.loads((auto / "turned" / "record.json").read_text())
    assert rec["ensemble"]["window_rotation"] == "corrected"
    assert rec["ensemble"]["spine"]["orientation"] == "sideways"
    assert not any("lies sideways" in r for r in rec["quality"]["reasons"])
    out = tmp_path / "o"
    assert main(["assess", str(video), "--out", str(out), "--no-progress", "--no-labelled",
                 "--window-rotation", "reference"]) == 0
    printed = capsys.readouterr().out
    assert "tracking doubtful: the infant lies sideways in the image" in printed
    rec = json.loads((out / "turned" / "record.json").read_text())
    assert rec["quality"]["withheld"] is False and rec["quality"]["state"] == "doubtful"
    assert any("lies sideways" in r for r in rec["quality"]["reasons"])
    assert [w["quality"] for w in rec["windows"]] == ["good", "good"]  # followed: the keypoints themselves pass
    assert rec["colour"] not in ("green", "red")  # never certain

@pytest.mark.needs("av")
def test_a_hand_held_camera_is_steadied_and_said_or_named_by_the_gate(tmp_path, capsys, monkeypatch, assess_models):
    """A parent's hand-held phone: the view moves ±6 % at 1–2 Hz and every keypoint with it, which the CP
    networks would read as the infant's movement. By default the shake is taken out of the keypoints before
    scoring (the record and the printed warning say so) and the verdict is doubtful, never certain; asked by
    name (``--camera reference``), the keypoints are scored as tracked and the gate says what the networks read."""
    from infantjax.cli import main
    from infantjax.pipelines import assessment
    from infantjax.synth.faults import fault_video

    video = fault_video(tmp_path / "shaken.mp4", "shaken", seed=2, duration_s=6.0, fps=10.0).path
    monkeypatch.setattr(assessment.run, "load_models", lambda ensemble=None, pose=None: assess_models)
    auto = tmp_path / "auto"
    assert main(["assess", str(video), "--out", str(auto), "--no-progress", "--no-labelled"]) == 0
    assert "the camera shook" in capsys.readouterr().out
    rec = json.loads((auto / "shaken" / "record.json").read_text())
    assert rec["settings"]["camera"] == "auto"
    assert rec["ensemble"]["camera"]["steadied"] is True and rec["ensemble"]["camera"]["shaken"] is True
    assert rec["quality"]["state"] == "doubtful" and rec["colour"] not in ("green", "red")
    assert any("taken out of the keypoints before scoring" in r for r in rec["quality"]["reasons"])
    assert rec["quality"]["summary"]["camera"]["steadied"] is True
    out = tmp_path / "reference"
    assert main(["assess", str(video), "--out", str(out), "--no-progress", "--no-labelled",
                 "--camera", "reference"]) == 0
    rec = json.loads((out / "shaken" / "record.json").read_text())
    assert rec["ensemble"]["camera"] is None and rec["quality"]["state"] == "doubtful"
    assert any("read its movement as the infant's" in r for r in rec["quality"]["reasons"])


# ------------------------------------------------------------------------------------------ refused early
@pytest.mark.needs("av")
def test_short_recordings_still_images_and_damaged_indexes_fail_before_the_pose_stage(tmp_path, assess_models,
                                                                                       infant_video, capsys,
                                                                                       monkeypatch):
    from PIL import Image

    from infantjax import pipelines
    from infantjax.cli import main
    from infantjax.io import open_video, write_video
    from infantjax.pipelines import assessment
    from infantjax.pipelines.assessment import Models

    videos = tmp_path / "videos"
    videos.mkdir()
    with open_video(infant_video) as v:
        frames = np.concatenate([f for _, f in v.iter_chunks(45, stop=45)])  # 3 s at 15 fps
    write_video(videos / "short.mp4", frames, fps=15.0)
    Image.fromarray(frames[0]).save(videos / "photo.mp4", format="JPEG")  # a photo renamed .mp4
    data = bytearray(infant_video.read_bytes())
    at = data.find(b"moov")
    data[at - 4:at + 200] = bytes(204)  # the index overwritten, the file at full size
    (videos / "index.mp4").write_bytes(bytes(data))
    pose = CountingPose(assess_models.pose)
    models = Models(pose, assess_models.ensemble, assess_models.pose_name, assess_models.ensemble_name)
    run = pipelines.assess(videos, tmp_path / "out", models=models, progress=False, labelled=False)
    assert pose.calls == [] and run.records == ()
    failed = {f["folder"]: f for f in run.failed}
    assert failed["short"]["error"] == "DataError"
    assert "3.0 s, shorter than one window" in failed["short"]["message"]
    assert failed["photo"]["error"] == "VideoError"
    assert "a still image (MJPEG), not a video" in failed["photo"]["message"]
    assert failed["index"]["error"] == "VideoError" and "index is damaged" in failed["index"]["message"]
    assert "truncated" not in failed["index"]["message"]
    # the CLI: one line, exit 2, before any model is loaded for the still image
    monkeypatch.setattr(assessment.run, "load_models", lambda ensemble=None, pose=None: models)
    for name, words in (("short.mp4", "shorter than one window"), ("photo.mp4", "a still image")):
        assert main(["assess", str(videos / name), "--out", str(tmp_path / "o1"), "--no-progress"]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and words in err
    assert pose.calls == []
    with pytest.raises(DataError, match="shorter than one window"):
        pipelines.assess(videos / "short.mp4", tmp_path / "o2", models=models, progress=False)
    with pytest.raises(VideoError, match="still image"):
        pipelines.assess(videos / "photo.mp4", tmp_path / "o2", models=models, progress=False)


# ------------------------------------------------------------------------------------------------ resume
def test_folder_names_keep_their_letters_and_are_safe_everywhere():
    from infantjax.pipelines.assessment import _folder_names

    P = pathlib.Path
    nfd = unicodedata.normalize("NFD", "bébé vidéo 2 (Ärztin Çelik)")
    names = _folder_names([P("bébé vidéo 2 (Ärztin Çelik).mp4"), P(nfd + ".mov"), P("CON.mp4"),
                           P("aux.backup.mp4"), P('a<b>:c|d?*"e.mp4'), P("  ..trailing. .mp4"),
                           P("新生儿 视频.mp4"), P("x" * 300 + ".mp4"), P("Baby.mp4"), P("baby.mp4"),
                           P("baby-2.mp4"), P("a#b%c.mp4"), P("....mp4")])
    assert names[0] == "bébé_vidéo_2_(Ärztin_Çelik)_mp4" and names[1] == "bébé_vidéo_2_(Ärztin_Çelik)_mov"
    assert all(unicodedata.is_normalized("NFC", n) for n in names)
    assert names[2:6] == ["CON_", "aux.backup_", "a_b_c_d_e", "trailing"]
    assert names[6] == "新生儿_视频" and len(names[7].encode()) <= 160 and names[12] == "video"
    assert len({n.casefold() for n in names}) == len(names)  # unique on case-insensitive file systems too
    assert names[8:11] == ["Baby", "baby-3", "baby-2"] and names[11] == "a_b_c"
    assert _folder_names([P("bébé vidéo 2 (Ärztin Çelik).mp4")]) == ["bébé_vidéo_2_(Ärztin_Çelik)"]
    for n in names:
        assert not any(c in n for c in '<>:"/\\|?*#%') and n == n.strip(". ")


@pytest.mark.needs("av")
def test_temporaries_stale_results_and_failed_videos_on_resume(tmp_path, assess_models, infant_video):
    from infantjax import pipelines
    from infantjax.pipelines.assessment import Models

    videos = tmp_path / "videos"
    videos.mkdir()
    baby = "bébé vidéo 2 (Ärztin Çelik)"
    shutil.copy(infant_video, videos / f"{baby}.mp4")
    (videos / "broken.mp4").write_bytes(b"not a video\n" * 40)
    out = tmp_path / "out"
    # (the video is tracked once: the last run, which redoes it, is given the first run's keypoints by TrackOnce)
    pose = CountingPose(TrackOnce(assess_models.pose))
    models = Models(pose, assess_models.ensemble, assess_models.pose_name, assess_models.ensemble_name)
    folder = out / "bébé_vidéo_2_(Ärztin_Çelik)"
    run = pipelines.assess(videos, out, models=models, progress=False, labelled=False)
    assert [r["name"] for r in run.records] == [folder.name] and run.failed[0]["folder"] == "broken"
    assert leftovers(out) == []  # a finished run leaves no temporary file
    assert json.loads((out / "broken" / "record.json").read_text())["status"] == "failed"
    assert 'href="b%C3%A9b%C3%A9_vid%C3%A9o_2_%28%C3%84rztin_%C3%87elik%29/dashboard.html"' in \
        (out / "cohort.html").read_text()
    # resumed: the failed video keeps its error, not tried again
    failed_at = (out / "broken" / "record.json").stat().st_mtime_ns
    pose.calls.clear()
    run = pipelines.assess(videos, out, models=models, progress=False, labelled=False)
    assert pose.calls == [] and run.skipped == (folder.name,)
    assert run.failed[0]["resumed"] is True and run.failed[0]["error"] == "VideoError"
    assert (out / "broken" / "record.json").stat().st_mtime_ns == failed_at
    rows = {r["folder"]: r for r in csv.DictReader((out / "summary.csv").open())}
    assert rows["broken"]["status"] == "failed" and rows["broken"]["error"].startswith("VideoError: ")
    run = pipelines.assess(videos, out, models=models, progress=False, labelled=False, retry_failed=True)
    assert run.failed[0]["resumed"] is False
    assert (out / "broken" / "record.json").stat().st_mtime_ns != failed_at
    # a rerun with other settings, killed while tracking: the older result is stale from its start, and the
    # temporary files a killed writer left in the video's folder are gone once the video is redone
    (folder / f".{folder.name}.labelled.0a1b2c3d.tmp.mp4").write_bytes(b"\0" * 1000)
    (folder / "keypoints.csv").unlink()  # (with them, a run that changes only the threshold reads them: no tracking)
    pose.interrupt_on = f"{baby}.mp4"
    with pytest.raises(KeyboardInterrupt):
        pipelines.assess(videos, out, models=models, progress=False, labelled=False, threshold=0.9)
    record = json.loads((folder / "record.json").read_text())
    assert record["status"] == "stale" and record["stale"] == {**record["stale"], "was": "done",
                                                               "why": "the settings changed"}
    rows = {r["folder"]: r for r in csv.DictReader((out / "summary.csv").open())}
    assert rows[folder.name]["status"] == "stale" and rows[folder.name]["dashboard"] == ""
    assert not (out / "cohort.html").exists()  # it linked nothing else
    assert leftovers(out) == []
    pose.interrupt_on = None
    run = pipelines.assess(videos, out, models=models, progress=False, labelled=False, threshold=0.9)
    assert run.records[0]["status"] == "done" and run.records[0]["threshold"] == 0.9 and leftovers(out) == []


# ------------------------------------------------------------------------------------------------ progress
class RecordingBar:
    """A stand-in for tqdm that keeps every update, its total, the stage on its line and the thread that made
    it (the labelled video is written in its own thread, beside whatever stage the line shows then)."""

    made: list[RecordingBar] = []

    def __init__(self, total=None, disable=False, **kwargs):
        self.total, self.n, self.disable, self.events = total, 0, disable, []
        self.stage = None
        RecordingBar.made.append(self)

    def update(self, n=1):
        assert n > 0 and n == int(n)
        self.n += n
        self.events.append((self.stage, n, self.n, self.total, threading.current_thread().name))

    def set_postfix_str(self, text, refresh=True):
        self.stage = text.rsplit(": ", 1)[-1]

    def refresh(self):
        pass

    def close(self):
        pass


@pytest.mark.needs("av")
def test_the_progress_bar_counts_the_pose_stage_frame_by_frame(tmp_path, assess_models, infant_video,
                                                               monkeypatch):
    import tqdm.auto

    from infantjax import pipelines

    monkeypatch.setattr(tqdm.auto, "tqdm", RecordingBar)
    RecordingBar.made.clear()
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("a.mp4", "b.mp4"):
        shutil.copy(infant_video, videos / name)
    pipelines.assess(videos, tmp_path / "out", models=assess_models, progress=True, labelled=True,
                     batch_size=16)
    bar = next(b for b in RecordingBar.made if b.total and b.events)
    main = [e for e in bar.events if e[4] != "infantjax-beside"]
    pose = [e for e in main if e[0] == "pose"]
    assert len(pose) >= 2 * 6  # 90 frames a video, 16 a batch: a step per batch
    # the labelled video advances the bar from its thread in chunks of 32 frames: the first video's 90 frames at
    # the prior estimate of its work make 3 steps (after it, the stage's work is re-estimated from the time
    # waited for the thread, which may be none: then the next video's chunks are worth nothing)
    first = [e for e in bar.events if e[3] == bar.events[0][3]]
    beside = [e for e in first if e[4] == "infantjax-beside"]
    assert len(beside) >= 2
    assert {"pose", "ensemble"} <= {e[0] for e in main}  # (the shortest stages may end within a bar step)
    # the pose stage is most of the bar (the work of a frame there is the unit), and the bar ends full
    assert sum(e[1] for e in first if e[0] == "pose" and e[4] != "infantjax-beside") >= 0.6 * first[0][3] / 2
    assert bar.n == bar.total and all(e[2] <= e[3] for e in bar.events)


def test_the_bar_reestimates_the_stages_from_the_videos_done():
    from infantjax.pipelines.assessment import _WORK, _Progress

    class Bar:
        n, total = 0, None

        def update(self, n):
            self.n += n

        def set_postfix_str(self, *a, **k):
            pass

        def refresh(self):
            pass

    work = _Progress([100, None, 300], labelled=False)
    assert work.frames == [100, 200, 300]  # an unreadable header: the median of the others
    per_frame = sum(v for k, v in _WORK.items() if k != "labelled")
    assert work.total == int(600 * per_frame + 1e-6)
    work.bar = bar = Bar()
    bar.total = work.total
    video = work.video(0)
    for stage in ("decode", "pose"):
        video.begin(stage, "a.mp4")
        if stage == "pose":
            for _ in range(10):
                video.frames_done("pose", 16)  # 160 > 100 frames: never past the stage's share
        video.end(stage)
    assert bar.n == int(100 * (_WORK["decode"] + 1.0))
    video.finish(100, {"decode": 0.0, "pose": 10.0, "ensemble": 10.0, "explain": 0.0, "dashboard": 0.0,
                       "records": 0.0})
    assert work.work["ensemble"] == pytest.approx(1.0)  # as slow as the pose stage, per frame
    # the other stages took no time: the 500 frames left are worth a pose frame and an ensemble frame each
    assert bar.total == int(work.advanced + 1000 + 1e-6)
    work.skip(1)
    video = work.video(2)
    video.abandon()
    assert bar.n == int(work.advanced) and bar.n == bar.total


def test_the_bar_never_counts_past_its_total_whatever_the_fractions():
    """The count is the work rounded down; a total rounded to the nearest frame after a video could fall one
    short of it (100.7 counted + 105.4 to come: int(100.7) + round(105.4) = 205 < int(206.1))."""
    from infantjax.pipelines.assessment import _Progress

    class Bar:
        n, total = 0, None

        def update(self, n):
            self.n += n
            assert self.n <= self.total, (self.n, self.total)

        def set_postfix_str(self, *a, **k):
            pass

        def refresh(self):
            pass

    rng = np.random.default_rng(7)
    for _ in range(200):
        frames = [int(f) for f in rng.integers(3, 400, size=int(rng.integers(1, 5)))]
        work = _Progress(frames, labelled=bool(rng.integers(2)))
        work.bar = bar = Bar()
        bar.total = work.total
        for k, f in enumerate(frames):
            fate = rng.integers(4)
            if fate == 0:
                work.skip(k)
                continue
            video = work.video(k)
            for stage in work.work:
                video.begin(stage, "v.mp4")
                if stage in ("pose", "labelled"):
                    for _ in range(f // 7 + 1):
                        video.frames_done(stage, 7)
                video.end(stage)
                if fate == 1 and stage == "pose":
                    break
            if fate == 1:
                video.abandon()
            else:
                seconds = {s: float(rng.uniform(0.01, 3.0)) for s in work.work}
                video.finish(f, seconds)
        assert bar.n == bar.total


# ---------------------------------------------------------------------------------------- rotation advice
def test_the_rotation_advice_names_assess_and_is_kept_only_when_it_changes_the_outcome():
    from infantjax.clinical import assess_prediction
    from infantjax.ensemble import EnsemblePrediction
    from infantjax.pipelines.assessment import Models, _rotation_advice

    def prediction(p):
        p = np.asarray(p, np.float64)
        warning = ("the spine is sideways (sideways, +90° from head-up in the image): the reference window "
                   "rotation mirrors or misaligns such windows, so the risk is unreliable; score it with the "
                   "corrected window rotation (infantjax assess --window-rotation corrected)")
        names = tuple(f"i{k}" for k in range(p.shape[1]))
        cams = np.zeros((p.shape[1], p.shape[0], 19))
        return EnsemblePrediction(p, cams, np.arange(p.shape[0]) * 75, names, 0.5,
                                  {"window": 150, "model_fps": 30.0}, (warning,))

    class Ensemble:
        def __init__(self, corrected):
            self.corrected = corrected

        def predict(self, seq, window_rotation=None, scorer=None, **kwargs):
            assert window_rotation == "corrected"
            return prediction(self.corrected)

    settings = {"window_rotation": None, "threshold": None, "certainty": "paper"}
    reference = prediction([[0.1] * 4] * 3)
    result = assess_prediction(reference)
    same = Models(None, Ensemble([[0.2] * 4] * 3), "p", "e")
    assert _rotation_advice(same, None, reference, result, settings, None, lambda p: None) == ()
    other = Models(None, Ensemble([[0.9] * 4] * 3), "p", "e")
    (kept,) = _rotation_advice(other, None, reference, result, settings, None, lambda p: None)
    assert "with infantjax assess --window-rotation corrected it gives CP risk 0.900, CP, red" in kept
    assert "instead of no CP (green)" in kept and "window_rotation=" not in kept and "predict" not in kept
    # asked for a rotation: the advice is not second-guessed
    asked = {**settings, "window_rotation": "reference"}
    assert _rotation_advice(other, None, reference, result, asked, None, lambda p: None) == result.warnings
