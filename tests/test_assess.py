"""``infantjax assess`` and its dashboard (issue 39): a synthetic infant's video through the zoo's pose model and CP
ensemble to the records and the interactive page; a folder that resumes after a kill without redoing finished
videos and goes on past damaged ones; the page in headless Chromium (a click on a window plays the video from that
window's start, every element is there, no console error, nothing fetched, and the page's keypoints, windows and
times agree with the records)."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import pathlib
import shutil

import numpy as np
import pytest
from _assess_utils import CountingPose, TrackOnce, assess_models, assessed, infant_video, render_video  # noqa: F401

from infantjax.errors import ConfigError, DataError

# every test tracks a video and scores the zoo's ensemble: compiled as users do, where
# optimised code pays for its compile (tests/conftest.py)
pytestmark = pytest.mark.xla_optimised


def page_data(path: pathlib.Path) -> dict:
    """The JSON the dashboard embeds for its script."""
    html = path.read_text()
    start = html.index('<script type="application/json" id="dashboard-data">') + len(
        '<script type="application/json" id="dashboard-data">')
    return json.loads(html[start:html.index("</script>", start)])


# ------------------------------------------------------------------------------------------------ one video
@pytest.mark.needs("av")
def test_one_video_gives_records_keypoints_and_a_dashboard(assessed, infant_video):
    from infantjax.clinical import RiskResult
    from infantjax.io import read_keypoints

    run = assessed
    assert run.failed == () and run.skipped == () and len(run.records) == 1
    rec = run.records[0]
    folder = run.out / rec["name"]
    assert rec["name"] == "baby_one" and rec["status"] == "done"
    on_disk = json.loads((folder / "record.json").read_text())
    assert on_disk == json.loads(json.dumps(rec))
    # risk, class and colour are the RiskResult's, its windows in seconds from the model's 30 Hz frames
    result = RiskResult.from_dict(json.loads((folder / "result.json").read_text()))
    assert rec["risk"] == result.risk and rec["classification"] == result.label and rec["colour"] == result.colour
    assert len(rec["windows"]) == result.predictions.shape[0] >= 2
    for k, w in enumerate(rec["windows"]):
        assert w["start"] == pytest.approx(result.window_starts[k] / 30.0, abs=1e-4)
        assert w["end"] == pytest.approx(min(w["start"] + 5.0, rec["video"]["duration_s"]), abs=1e-3)
        assert w["predictions"] == pytest.approx(result.predictions[k].tolist())
        assert w["colour"] == result.window_colour[k]
    assert rec["decision_windows"] and all(0 <= k < len(rec["windows"]) for k in rec["decision_windows"])
    # the keypoints file: every frame of the video, with its times
    kp = read_keypoints(folder / rec["keypoints"]["file"])
    assert kp.num_frames == rec["video"]["frames"] == 90 and kp.skeleton.name == "in-motion-19"
    assert kp.times is not None and kp.times[1] == pytest.approx(1 / 15, abs=1e-3)
    # the video the page plays is a byte copy of the source (H.264 MP4: browsers play it)
    assert rec["video"]["browser_playable"] is True
    assert (folder / rec["files"]["video"]).read_bytes() == infant_video.read_bytes()
    assert set(rec["stages"]) == {"decode", "pose", "ensemble", "explain", "dashboard", "records"}
    # the run record: every stage's share of the time
    run_rec = json.loads(run.run_record.read_text())
    assert sum(run_rec["shares"].values()) == pytest.approx(1.0)
    assert run_rec["videos"][0]["status"] == "done" and run_rec["environment"]["cpus"] >= 1
    rows = list(csv.DictReader(run.summary_csv.open()))
    assert [r["folder"] for r in rows] == ["baby_one"] and rows[0]["status"] == "done"
    assert float(rows[0]["risk"]) == pytest.approx(rec["risk"], abs=1e-4)
    assert (run.out / "cohort.html").is_file() and 'href="baby_one/dashboard.html"' in (
        run.out / "cohort.html").read_text()


@pytest.mark.needs("av")
def test_the_pages_keypoints_windows_and_times_agree_with_the_records(assessed):
    from infantjax.io import read_keypoints

    rec = assessed.records[0]
    folder = assessed.out / rec["name"]
    data = page_data(folder / "dashboard.html")
    kp = read_keypoints(folder / rec["keypoints"]["file"])
    assert data["frames"]["t"] == pytest.approx((kp.times - kp.times[0]).tolist(), abs=1e-4)
    xy = np.array([[np.nan if v is None else v for v in row] for row in data["frames"]["xy"]]).reshape(-1, 19, 2)
    np.testing.assert_allclose(xy, kp.coords, atol=0.051)  # 0.1 px on the page
    np.testing.assert_allclose(np.array(data["frames"]["conf"]), kp.confidence, atol=6e-4)
    for w_page, w_rec in zip(data["windows"], rec["windows"], strict=True):
        for key in ("index", "start_frame", "start", "end", "risk", "colour", "share_cp"):
            assert w_page[key] == w_rec[key], key
    assert data["decision"] == rec["decision_windows"] and data["risk"] == rec["risk"]
    assert data["video"] == rec["files"]["video"] and data["threshold"] == rec["threshold"]
    # the CAM the page explains with is the decided class's, and it is not empty (a no-CP infant's CP map is)
    from infantjax.clinical import RiskResult

    result = RiskResult.from_dict(json.loads((folder / "result.json").read_text()))
    assert data["cam_toward"] == ("CP" if result.cp else "no CP")
    decided = result.window_cam if result.cp else result.no_cp_window_cam
    np.testing.assert_allclose([w["cam"] for w in data["windows"]], decided, atol=6e-5)
    assert decided.max() > 0.1


def test_decision_windows_lie_on_the_side_of_the_decision():
    from _report_utils import make_result

    from infantjax.explain import decision_windows

    for seed in range(6):
        r = make_result(seed, windows=9)
        ks = decision_windows(r, 4)
        assert 1 <= len(ks) <= 4
        risks = r.window_risk[ks]
        assert (risks >= r.threshold).all() if r.cp else (risks < r.threshold).all()
        assert list(risks) == sorted(risks, reverse=r.cp)
    with pytest.raises(DataError):
        decision_windows(make_result(0), 0)


# ------------------------------------------------------------------------------------------------ folders
@pytest.mark.needs("av")
def test_a_folder_resumes_after_a_kill_and_goes_on_past_damaged_videos(tmp_path, assess_models, infant_video):
    from infantjax import pipelines
    from infantjax.pipelines.assessment import Models

    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(infant_video, videos / "a.mp4")
    shutil.copy(infant_video, videos / "c.mp4")
    (videos / "b_garbage.mp4").write_bytes(b"this is not a video\n" * 50)
    data = infant_video.read_bytes()
    (videos / "b_truncated.mp4").write_bytes(data[: len(data) // 2])
    (videos / "notes.txt").write_text("not a video: left out")
    out = tmp_path / "out"
    # (a file tracked once is not tracked again when the last run redoes it: TrackOnce gives its keypoints)
    pose = CountingPose(TrackOnce(assess_models.pose), interrupt_on="c.mp4")
    models = Models(pose, assess_models.ensemble, assess_models.pose_name, assess_models.ensemble_name)
    with pytest.raises(KeyboardInterrupt):  # killed while tracking c.mp4
        pipelines.assess(videos, out, models=models, progress=False, labelled=False)
    assert (out / "a" / "record.json").is_file() and not (out / "c" / "record.json").exists()
    finished = (out / "a" / "record.json").stat().st_mtime_ns
    pose.calls.clear()
    pose.interrupt_on = None
    run = pipelines.assess(videos, out, models=models, progress=False, labelled=False)
    assert pose.calls == ["c.mp4"]  # a.mp4 is not redone; the damaged videos fail before tracking
    assert (out / "a" / "record.json").stat().st_mtime_ns == finished
    assert run.skipped == ("a",) and [r["name"] for r in run.records] == ["a", "c"]
    assert {f["folder"]: f["error"] for f in run.failed} == {"b_garbage": "VideoError", "b_truncated": "VideoError"}
    rows = {r["folder"]: r for r in csv.DictReader(run.summary_csv.open())}
    assert list(rows) == ["a", "b_garbage", "b_truncated", "c"]
    assert rows["b_garbage"]["status"] == "failed" and rows["b_garbage"]["error"].startswith("VideoError: ")
    assert rows["a"]["status"] == rows["c"]["status"] == "done"
    assert rows["a"]["risk"] == rows["c"]["risk"]  # the same video gives the same risk
    statuses = {v["folder"]: v["status"] for v in json.loads(run.run_record.read_text())["videos"]}
    assert statuses == {"a": "resumed", "b_garbage": "failed", "b_truncated": "failed", "c": "done"}
    cohort = (out / "cohort.html").read_text()
    assert 'href="a/dashboard.html"' in cohort and 'href="c/dashboard.html"' in cohort
    # other scoring settings are a different run: every video is scored again from the keypoints it was tracked to
    pose.calls.clear()
    before = {r["name"]: r for r in run.records}
    again = pipelines.assess(videos, out, models=models, progress=False, threshold=0.9, labelled=False)
    assert pose.calls == [] and [r["name"] for r in again.records] == ["a", "c"]
    for rec in again.records:
        assert rec["keypoints"]["read_again"] and rec["threshold"] == 0.9
        assert rec["risk"] == before[rec["name"]]["risk"] and rec["keypoints"] == {**before[rec["name"]]["keypoints"],
                                                                                   "read_again": True}
    # a changed source, or a keypoints file changed since its run, is tracked again
    os.utime(videos / "a.mp4", ns=(finished, finished))
    kp = out / "c" / "keypoints.csv"
    kp.write_text(kp.read_text().replace("\n", "\n", 1) + "\n")
    pipelines.assess(videos, out, models=models, progress=False, threshold=0.8, labelled=False)
    assert pose.calls == ["a.mp4", "c.mp4"]


# ------------------------------------------------------------------------------------------------ CLI
@pytest.mark.needs("av")
def test_cli_errors_are_one_line_with_exit_2(tmp_path, capsys):
    from infantjax.cli import main

    assert main(["assess", str(tmp_path / "nothing.mp4"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "does not exist" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["assess", str(empty), "--out", str(tmp_path / "o")]) == 2
    assert "holds no video" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\0" * 10)
    assert main(["assess", str(video), "--out", str(tmp_path / "file")]) == 2
    assert "is a file" in capsys.readouterr().err
    assert main(["assess", str(video), "--out", str(tmp_path / "o")]) == 2  # before any model is loaded
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "VideoError" not in err and str(video) in err
    assert main(["assess", str(video), "--out", str(tmp_path / "o"), "--no-labelled"]) == 2


def test_unknown_models_and_bad_options_are_config_errors(tmp_path):
    from infantjax.pipelines.assessment import assess, load_models

    with pytest.raises(ConfigError, match="neither a zoo ensemble"):
        load_models(ensemble=str(tmp_path / "no-such-ensemble"))
    with pytest.raises(ConfigError, match="neither a zoo pose model"):
        load_models(pose="no-such-pose")
    with pytest.raises(ConfigError, match="threshold"):
        assess(tmp_path, tmp_path / "o", threshold=1.5)
    with pytest.raises(ConfigError, match="map_skeleton"):
        assess(tmp_path, tmp_path / "o", map_skeleton="guess")


def test_the_models_note_names_the_models_trained_on_synthetic_infants_only(tmp_path):
    from infantjax.pipelines.assessment import models_note

    both = models_note("rt-synthetic-infant", "cp-gcn-synthetic")
    assert both == ("The models (CP ensemble cp-gcn-synthetic, pose model rt-synthetic-infant) were trained "
                    "on synthetic infants only: a demonstration, not a risk for a real infant.")
    one = models_note("efficientpose-rt-mpii", "cp-gcn-synthetic")  # MPII: adults' photos, not synthetic
    assert one.startswith("The model (CP ensemble cp-gcn-synthetic) was trained") and "mpii" not in one
    assert models_note(str(tmp_path / "pose.npz"), str(tmp_path / "ensemble")) is None  # the user's own


@pytest.mark.needs("av")
def test_cli_single_video_prints_the_dashboard_and_stage_shares(tmp_path, capsys, assess_models, infant_video,
                                                               monkeypatch):
    from infantjax.cli import main
    from infantjax.pipelines import assessment

    models = dataclasses.replace(assess_models, pose=TrackOnce(assess_models.pose))  # tracked once, below
    monkeypatch.setattr(assessment.run, "load_models", lambda ensemble=None, pose=None: models)
    assert main(["assess", str(infant_video), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "baby_one: CP risk" in out and "time per stage: decode" in out and "pose" in out
    assert "models: The models (CP ensemble cp-gcn-synthetic-3folds, pose model rt-synthetic-infant-roi) were " \
        "trained on synthetic infants only" in out
    assert f"dashboard: {(tmp_path / 'o' / 'baby_one' / 'dashboard.html').resolve()}" in out
    # run again: finished, not redone
    assert main(["assess", str(infant_video), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    assert "(finished before, not redone)" in capsys.readouterr().out
    # --mirror average is a setting: the video is scored again, its windows with their mirror images
    record = json.loads((tmp_path / "o" / "baby_one" / "record.json").read_text())
    assert record["settings"]["mirror"] == "reference" and record["ensemble"]["mirror"] == "reference"
    assert main(["assess", str(infant_video), "--out", str(tmp_path / "o"), "--no-progress", "--mirror",
                 "average"]) == 0
    assert "(finished before, not redone)" not in capsys.readouterr().out
    mirrored = json.loads((tmp_path / "o" / "baby_one" / "record.json").read_text())
    assert mirrored["settings"]["mirror"] == "average" and mirrored["ensemble"]["mirror"] == "average"
    assert models.pose.tracked == ["baby one.mp4"]  # the same keypoints: only the scoring changed
    from infantjax.pipelines.cp import to_model_skeleton

    (raw,) = models.pose._done.values()  # the keypoints both runs scored
    seq, _ = to_model_skeleton(raw, "approximate", infant_video)
    ref, avg = (models.ensemble.predict(seq, window_rotation="auto", camera="auto", mirror=m)
                for m in (None, "average"))
    np.testing.assert_allclose([w["predictions"] for w in mirrored["windows"]], avg.probabilities, atol=1e-5)
    np.testing.assert_allclose([w["predictions"] for w in record["windows"]], ref.probabilities, atol=1e-5)
    assert not np.allclose(ref.probabilities, avg.probabilities, atol=1e-4)


@pytest.mark.needs("av")
def test_browser_playability_of_the_source_is_checked(tmp_path):
    from infantjax.io import VideoWriter
    from infantjax.pipelines.assessment import playable_in_browsers

    path = tmp_path / "old.avi"
    with VideoWriter(path, 15.0, codec="mpeg4") as w:
        for i in range(4):
            w.write(np.full((32, 48, 3), 40 * i, np.uint8))
    ok, why = playable_in_browsers(path)
    assert not ok and "mpeg4" in why and "libx264" in why


# ------------------------------------------------------------------------------------------------ the browser
@pytest.mark.needs("av")
@pytest.mark.browser
def test_dashboard_in_chromium_clicks_play_the_window(browser, assessed):
    from test_dashboard_browser import wait_until
    from test_report_browser import opened

    rec = assessed.records[0]
    path = assessed.out / rec["name"] / "dashboard.html"
    data = page_data(path)
    with opened(browser, path) as (page, requests, errors):
        wait_until(page, "document.getElementById('dashboard').dataset.ready === '1'")
        wait_until(page, "document.getElementById('player').readyState >= 1")  # the H.264 MP4 loads
        assert page.evaluate("document.getElementById('player').duration") == pytest.approx(
            rec["video"]["duration_s"], abs=0.1)
        # every element
        for sel in ("#player", "#timeline", "#kp-quality", "#live-skeleton", "#decision-windows", "#risk",
                    "#fig-windows", "#cam-panel", "#quality-panel"):
            assert page.locator(sel).count() == 1, sel
        assert page.locator("#timeline .window").count() == len(rec["windows"])
        assert page.locator("#timeline .window.decision").count() == len(rec["decision_windows"])
        assert page.locator("#decision-windows .win-link").count() == len(rec["decision_windows"])
        assert page.locator("#live-skeleton .live-joint").count() == 19
        assert page.inner_text("#risk") == f"{rec['risk']:.3f}"
        assert page.locator("#kp-quality polyline.confidence").count() == 1
        # a click on a window moves the player to that window's start (then it plays to the window's end)
        for k in reversed(range(len(rec["windows"]))):
            w = rec["windows"][k]
            page.click(f"#timeline .window[data-index='{k}']")
            t = page.evaluate("document.getElementById('player').currentTime")
            assert w["start"] - 1e-3 <= t <= w["end"], (k, t, w)
            assert float(page.get_attribute("#dashboard", "data-seek")) == w["start"]
            page.evaluate("document.getElementById('player').pause()")
            # the skeleton shows the frame being played, coloured by this window's CAM
            window = int(page.get_attribute("#dashboard", "data-window"))
            assert rec["windows"][window]["start"] <= page.evaluate("document.getElementById('player').currentTime")
            frame = int(page.get_attribute("#dashboard", "data-frame"))
            x = data["frames"]["xy"][frame][0]
            if x is not None:
                assert float(page.get_attribute("#live-skeleton .live-joint[data-j='0']", "cx")) == pytest.approx(x)
        first = rec["decision_windows"][0]
        page.click(f"#decision-windows .win-link[data-index='{first}']")
        t = page.evaluate("document.getElementById('player').currentTime")
        assert rec["windows"][first]["start"] - 1e-3 <= t <= rec["windows"][first]["end"]
        assert f"window {first + 1} of {len(rec['windows'])}" in page.inner_text("#live-window")
        assert page.get_attribute("#dashboard", "data-window") == str(first)
        # the zoo's models are synthetic-only, and the page says so in its notice
        assert "trained on synthetic infants only" in page.inner_text("#models-note")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        video_url = (path.parent / rec["files"]["video"]).resolve().as_uri()
        assert set(requests) <= {path.resolve().as_uri(), video_url} and errors == []


@pytest.mark.needs("av")
@pytest.mark.browser
def test_dashboard_says_when_the_browser_cannot_play_the_video(browser, tmp_path):
    from _report_utils import make_result, make_sequence
    from test_dashboard_browser import wait_until
    from test_report_browser import opened

    from infantjax import report
    from infantjax.io import VideoWriter

    result = make_result(3, windows=4)
    seq = make_sequence(result, 3)
    with VideoWriter(tmp_path / "video.avi", 30.0, codec="mpeg4") as w:
        for i in range(10):
            w.write(np.full((48, 64, 3), 20 * i, np.uint8))
    path = report.dashboard(result, seq, video="video.avi", window_s=5.0, out=tmp_path / "dashboard.html")
    with opened(browser, path) as (page, requests, errors):
        wait_until(page, "document.getElementById('dashboard').dataset.videoError === '1'")
        assert "cannot play" in page.inner_text("#video-note")
        page.click("#timeline .window[data-index='2']")
        assert page.get_attribute("#dashboard", "data-window") == "2"
        # the failed video is the browser's own console message, nothing of the page's
        assert all("video" in e.lower() or "media" in e.lower() for e in errors), errors


@pytest.mark.needs("av")
def test_the_demo_ends_with_assess_and_prints_the_dashboard(tmp_path, capsys, monkeypatch, assess_models):
    import argparse

    from infantjax.commands import demo
    from infantjax.pipelines import assessment

    monkeypatch.setattr(assessment.run, "load_models", lambda ensemble=None, pose=None: assess_models)
    st = demo._Stages()
    dashboard = demo._assess(st, argparse.Namespace(seed=0), tmp_path)
    out = capsys.readouterr().out
    assert dashboard.is_file() and dashboard.name == "dashboard.html"
    assert f"{dashboard}" in out and "time per stage: decode" in out and "CP risk" in out
    assert (dashboard.parent / f"{dashboard.parent.name}.labelled.mp4").is_file()


@pytest.mark.needs("av")
def test_labelled_video_is_written_by_default_and_played(tmp_path, assess_models, infant_video):
    """By default assess writes ``<video>.labelled.mp4`` with
    :func:`infantjax.pipelines.pose.write_labelled_video` (frame i of the source with frame i's keypoints, at the
    source's frame times) and the dashboard plays it instead of a copy of the source."""
    from infantjax import pipelines
    from infantjax.io.video import VideoSource

    run = pipelines.assess(infant_video, tmp_path, models=assess_models, progress=False)
    rec = run.records[0]
    labelled = tmp_path / "baby_one" / "baby_one.labelled.mp4"
    assert rec["files"]["video"] == rec["files"]["labelled"] == labelled.name
    assert "labelled" in rec["stages"] and not (tmp_path / "baby_one" / "video.mp4").exists()
    assert page_data(tmp_path / "baby_one" / "dashboard.html")["video"] == labelled.name
    with VideoSource(infant_video) as src, VideoSource(labelled) as out:
        assert len(out) == len(src) == 90
        np.testing.assert_allclose(out.times, src.times, atol=1e-3)



@pytest.mark.needs("av")
def test_the_labelled_video_is_written_beside_the_ensemble_and_stopped_when_the_video_fails(
        tmp_path, assess_models, infant_video, monkeypatch):
    """The labelled video needs only the keypoints, so it is written in a thread while the ensemble scores the
    windows; when the ensemble stage fails, the writer is stopped and waited for: no labelled video, no temporary
    file and no thread are left behind, and the next video goes on."""
    import threading

    from infantjax import pipelines
    from infantjax.pipelines import assessment

    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(infant_video, videos / "a.mp4")
    shutil.copy(infant_video, videos / "b.mp4")
    writing = threading.Event()
    write = assessment.write_labelled

    def write_labelled(video, keypoints, out, progress=False):
        def tick(n):
            writing.set()
            progress(n)
        return write(video, keypoints, out, progress=tick)

    seen = {}
    ensemble_type = type(assess_models.ensemble)
    predict = ensemble_type.predict

    def predict_while_writing(self, sequence, **kwargs):
        name = pathlib.Path(sequence.metadata.get("source", "?")).stem
        seen[name] = writing.wait(timeout=120)  # the labelled video has written frames while this stage runs
        writing.clear()
        if name == "a":
            raise DataError("the ensemble failed on purpose")
        return predict(self, sequence, **kwargs)

    monkeypatch.setattr(assessment.video, "write_labelled", write_labelled)
    monkeypatch.setattr(ensemble_type, "predict", predict_while_writing)
    run = pipelines.assess(videos, tmp_path / "out", models=assess_models, progress=False)
    assert seen == {"a": True, "b": True}
    assert [f["folder"] for f in run.failed] == ["a"] and [r["name"] for r in run.records] == ["b"]
    from infantjax.io import files

    left = sorted(p.name for p in (tmp_path / "out" / "a").iterdir())
    assert not any(name.endswith(".mp4") for name in left) and not files.temporaries(tmp_path / "out" / "a"), left
    assert json.loads((tmp_path / "out" / "a" / "record.json").read_text())["status"] == "failed"
    assert not any(t.name == "infantjax-beside" and t.is_alive() for t in threading.enumerate())
    rec = run.records[0]
    assert (tmp_path / "out" / "b" / "b.labelled.mp4").is_file() and rec["labelled_seconds"] > 0
    assert rec["stages"]["labelled"] <= rec["labelled_seconds"]  # only the time waited for it after explain

def test_models_load_through_infantjax_load_and_a_wrong_family_is_a_typed_error(tmp_path, assess_models):
    """``load_models`` reads a saved ensemble folder and a zoo pose name through :func:`infantjax.load`; a saved
    model of another family given as ``--pose`` is refused with the family it is. Named by neither, the models are
    the zoo's defaults: the infant pose model ``rt-synthetic-infant-roi`` (the one the other assess tests load) and
    the 28-instance CP ensemble ``cp-gcn-tracked``."""
    from infantjax.models import zoo
    from infantjax.models.zoo import weights_file
    from infantjax.pipelines import assessment

    assert assess_models.pose_name == zoo.default("pose") == "rt-synthetic-infant-roi"  # loaded with pose=None
    default = assessment.load_models(pose=assess_models.pose)
    assert default.ensemble_name == zoo.default("ensemble") == "cp-gcn-tracked"
    assert default.ensemble.num_instances == 28
    assess_models.ensemble.save(tmp_path / "ens")
    models = assessment.load_models(ensemble=tmp_path / "ens", pose="rt-synthetic-infant")
    assert models.ensemble_name == str((tmp_path / "ens").resolve()) and models.pose_name == "rt-synthetic-infant"
    assert models.ensemble.num_instances == assess_models.ensemble.num_instances
    with weights_file("cp-gcn-synthetic") as zoo_file, pytest.raises(ConfigError, match="not a pose model"):
        assessment.load_models(ensemble=tmp_path / "ens", pose=zoo_file)
    with pytest.raises(ConfigError, match="neither a zoo ensemble"):
        assessment.load_models(ensemble=tmp_path / "missing")
