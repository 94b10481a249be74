"""The HTML report (infantjax.report) without a browser: what the pages say equals the results they come from, the
pages fetch nothing, bad input gives a page that says so or a typed error, and a failed write leaves no half file.
The rendered pages are tested in headless Chromium in ``test_report_browser.py``."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from _report_utils import make_result, make_sequence
from _train_utils import SMALL, random_walk_cohort, tiny_gcn_spec

from infantjax import cli, ensemble, report
from infantjax.clinical import ThresholdRow, evaluate, threshold_table
from infantjax.errors import DataError, FileWriteError, InfantJaxError
from infantjax.sequence import SkeletonSequence


def page(path) -> str:
    return open(path, encoding="utf-8").read()


class _TextOf(HTMLParser):
    """The text inside the element with a given id (nested elements included)."""

    VOID = frozenset({"meta", "br", "img", "input", "link", "hr", "wbr"})  # HTML elements without an end tag

    def __init__(self, element_id: str):
        super().__init__()
        self.target, self.depth, self.found, self.parts = element_id, 0, False, []

    def handle_starttag(self, tag, attrs):
        if self.depth:
            self.depth += tag not in self.VOID
        elif dict(attrs).get("id") == self.target:
            self.depth, self.found = 1, True

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


def text_of(html: str, element_id: str) -> str:
    """The text of the element with this id, whitespace collapsed."""
    parser = _TextOf(element_id)
    parser.feed(html)
    assert parser.found, f"no element #{element_id}"
    return " ".join("".join(parser.parts).split())


@pytest.fixture(scope="module")
def untrained():
    """A 7-instance ensemble of the tiny GCN with random weights (the report only needs its provenance and some
    predictions). The variables are drawn to the model's shapes (``jax.eval_shape``, nothing compiled): BatchNorm
    means 0 and variances 1, parameters N(0, 0.3²)."""
    import jax

    rng = np.random.default_rng(0)
    from infantjax.infer.ensemble import _abstract_stack

    shapes = _abstract_stack(tiny_gcn_spec(), SMALL, 7)

    def draw(path, s):
        name = jax.tree_util.keystr(path)
        if "'var'" in name:
            return np.ones(s.shape, s.dtype)
        if "'mean'" in name:
            return np.zeros(s.shape, s.dtype)
        return rng.normal(0, 0.3, s.shape).astype(s.dtype)

    stack = jax.tree_util.tree_map_with_path(draw, shapes)
    return ensemble.Ensemble([tiny_gcn_spec()], [stack], SMALL, threshold=0.5,
                             metadata={"cohort": "walks", "num_recordings": 14, "folds": 7, "seed": 0})


# ------------------------------------------------------------------------------------------------ infant page
def test_infant_page_states_the_result_and_fetches_nothing(untrained, tmp_path):
    result = make_result(3, windows=9)
    seq = make_sequence(result, 3, gap_joint=7)
    info = report.EnsembleInfo.from_ensemble(untrained, checkpoint=tmp_path / "ens")
    path = report.infant(result, seq, ensemble_info=info, out=tmp_path / "a" / "infant.html")
    html = page(path)
    # self-contained: no address of any kind, no external script/style/image, a policy that forbids fetching
    assert "http:" not in html and "https:" not in html and "//" not in re.sub(r"<script>.*?</script>", "", html,
                                                                               flags=re.DOTALL)
    assert not re.search(r"<(script|img|link|iframe)[^>]+(src|href)=", html)
    assert "default-src 'none'" in html
    # the numbers are the result's
    assert text_of(html, "risk") == f"{result.risk:.3f}"
    assert float(re.search(r'data-risk="([^"]+)"', html).group(1)) == result.risk
    assert text_of(html, "colour").startswith(result.colour)
    assert text_of(html, "classification") == result.label
    assert html.count('class="box"') == 9
    assert html.count('class="joint"') == 19
    assert len(re.findall(r'<g class="cam-row"', html)) == 19
    for c in set(result.window_colour):  # every colour on the page is named in text beside it
        assert f'data-colour="{c}"' in html
    # provenance: hash of the training config, instance count, checkpoint
    digest = hashlib.sha256(untrained.config.to_json().encode()).hexdigest()
    assert info.config_hash == digest and f'title="{digest}"' in html
    assert "7 instances (1 architecture × 7 folds)" in html and str(tmp_path / "ens") in html
    assert "searchable GCN (GCNSpec)" in html and "cohort walks, 14 recordings, 7 folds, seed 0" in html
    # data quality: 20 frames of right_wrist missing and interpolated
    assert "<strong>20</strong> of 300 frames" in html and "right_wrist 6.7 %" in html
    assert "Research software" in text_of(html, "disclaimer")
    assert "Not available: no threshold table" in html


def test_the_research_use_notice_is_said_once_at_the_top(tmp_path):
    """One notice (not "Research software, not for clinical use. Research software. This page…"), above the
    figures on the infant page and in the decision panel of the dashboard, with the sentence on the models."""
    result = make_result(2, windows=6)
    seq = make_sequence(result, 2)
    note = "The model (CP ensemble cp-gcn-synthetic) was trained on synthetic infants only."
    pages = [report.infant(result, seq, ensemble_info=None, out=tmp_path / "i.html"),
             report.dashboard(result, seq, video=None, window_s=5.0, out=tmp_path / "d.html",
                              models_note=note)]
    for path in pages:
        html = page(path)
        text = " ".join(re.sub(r"<script.*?</script>|<style.*?</style>|<title>.*?</title>|<[^>]+>", " ", html,
                               flags=re.DOTALL).split())
        assert text.count("Research software") == 1 and text.count("not for clinical use") == 1
        assert text.index("Research software") < text.index("Prediction per 5-second window")
    assert note in text_of(page(pages[1]), "disclaimer") and "models-note" not in page(pages[0])
    assert 'id="disclaimer"' in page(pages[1]).split('id="risk-panel"')[1].split("</section>")[0]


def test_colour_rule_names_the_instance_counts_of_this_ensemble():
    rule = report.colour_rule(make_result(0, instances=70))
    texts = {r["colour"]: r["text"] for r in rule["rows"]}
    assert texts["green"].startswith("0–17 of 70") and texts["yellow"].startswith("18–35 of 70")
    assert texts["orange"].startswith("36–52 of 70") and texts["red"].startswith("53–70 of 70")
    small = {r["colour"]: r["text"] for r in report.colour_rule(make_result(0, instances=3))["rows"]}
    assert small["green"].startswith("0 of 3") and small["red"].startswith("3 of 3")


def test_risk_is_placed_on_the_threshold_table(tmp_path):
    results = [make_result(s, threshold=0.4) for s in range(12)]
    labels = np.array([int(r.risk > 0.45) ^ (s % 5 == 0) for s, r in enumerate(results)])
    table = report.cohort_table(results, labels)
    assert [r.threshold for r in table.rows] == [0.15, 0.2, 0.25, 0.3, 0.35, 0.4]  # eTable 5 + the decision
    html = page(report.infant(results[0], None, ensemble_info=None, out=tmp_path / "p.html", threshold_table=table))
    row = table.row_at(0.4)
    assert f"sensitivity {row.metrics.sensitivity.percent(1)} %" in html
    assert f"specificity {row.metrics.specificity.percent(1)} %" in html
    assert html.count('<tr class="current">') == 1 and "0.4 (decision)" in html
    calls = re.findall(r'<td class="text">(CP|no CP)</td></tr>', html)
    assert calls == ["CP" if results[0].risk >= t.threshold else "no CP" for t in table.rows]
    assert "12 infants with known outcomes" in html
    assert "Not available: no recording was given" in html and "Not available: no ensemble information" in html


def test_threshold_table_travels_with_a_saved_ensemble(untrained, tmp_path):
    results = [make_result(s) for s in range(10)]
    labels = np.arange(10) % 2
    rows = threshold_table(labels, [r.risk for r in results], [r.instance_risk for r in results], (0.3, 0.5))
    table = report.ThresholdTable(tuple(rows), "held-out test set")
    ens = dataclasses.replace(untrained, metadata={**untrained.metadata, report.METADATA_KEY: table.to_record()})
    loaded = ensemble.Ensemble.load(ens.save(tmp_path / "ens"))
    info = report.EnsembleInfo.from_ensemble(loaded, checkpoint=tmp_path / "ens")
    assert info.threshold_table.source == "held-out test set"
    as_json = [json.dumps(r.as_dict(), allow_nan=True) for r in info.threshold_table.rows]
    assert as_json == [json.dumps(r.as_dict(), allow_nan=True) for r in rows]
    html = page(report.infant(results[0], None, ensemble_info=info, out=tmp_path / "i.html"))
    assert "Threshold table: held-out test set." in html and "0.5 (decision)" in html
    with pytest.raises(DataError, match="threshold-table row"):
        ThresholdRow.from_dict({"threshold": 0.5})
    with pytest.raises(DataError, match="stored threshold table"):
        report.ThresholdTable.from_record({"rows": "nope"})


# ------------------------------------------------------------------------------------------------ data quality
def test_data_quality_counts_missing_keypoints_before_preprocessing():
    result = make_result(1, windows=4)
    seq = make_sequence(result, 1, gap_joint=7, lost_joint=11)
    q = report.DataQuality.from_sequence(seq)
    assert q.num_frames == 150 and q.duration == 5.0
    assert q.missing_frames_per_joint[7] == 20 and q.missing_per_joint[7] == pytest.approx(20 / 150)
    assert q.missing_per_joint[11] == 1.0 and q.never_observed == ("left_wrist",)
    assert q.frames_interpolated == 20 and q.keypoints_interpolated == 20  # the lost joint cannot be filled
    assert q.missing_fraction == pytest.approx((20 + 150) / (150 * 19))
    assert np.isnan(q.mean_confidence[11]) and 0.5 <= q.mean_confidence[0] <= 1.0
    assert q.worst_joints(2) == [("left_wrist", 1.0), ("right_wrist", pytest.approx(20 / 150))]
    empty = report.DataQuality.from_sequence(SkeletonSequence(np.zeros((0, 19, 2), np.float32)))
    assert empty.num_frames == 0 and empty.missing_fraction == 1.0 and len(empty.never_observed) == 19
    with pytest.raises(DataError, match="SkeletonSequence"):
        report.DataQuality.from_sequence(np.zeros((10, 19, 2)))


# ------------------------------------------------------------------------------------------------ bad input
def test_a_result_without_cam_gives_a_page_that_says_so(tmp_path):
    result = make_result(2, cam=False)
    html = page(report.infant(result, make_sequence(result), ensemble_info=None, out=tmp_path / "nocam.html"))
    assert "No class activation map" in html and 'id="no-cam"' in html and 'id="no-cam-time"' in html
    assert 'class="joint"' not in html and html.count('class="box"') == 8


def test_a_joint_missing_in_every_frame_is_flagged(tmp_path):
    result = make_result(4)
    seq = make_sequence(result, 4, lost_joint=15)
    html = page(report.infant(result, seq, ensemble_info=None, out=tmp_path / "lost.html"))
    assert "joint(s) never observed in this recording (right_ankle)" in text_of(html, "warnings")
    assert "Never observed: right_ankle." in html and "never seen" in html
    cohort = page(report.cohort([result], None, sequences=[seq], out=tmp_path / "c.html"))
    assert "(1 joint never seen)" in cohort


def test_bad_results_raise_typed_errors_and_leave_no_file(tmp_path):
    good = make_result(5)
    out = tmp_path / "r.html"
    empty = dataclasses.replace(good, predictions=np.zeros((0, 7)), window_colour=(), window_starts=np.zeros(0),
                                window_risk=np.zeros(0))
    with pytest.raises(DataError, match="no windows"):
        report.infant(empty, None, ensemble_info=None, out=out)
    with pytest.raises(DataError, match="RiskResult"):
        report.infant({"risk": 0.3}, None, ensemble_info=None, out=out)
    with pytest.raises(DataError, match="window CAM"):
        report.infant(dataclasses.replace(good, window_cam=np.zeros((3, 19))), None, ensemble_info=None, out=out)
    with pytest.raises(DataError, match="frames"):  # a recording of another length than the result's
        report.infant(good, make_sequence(make_result(5, windows=3)), ensemble_info=None, out=out)
    with pytest.raises(DataError, match="Ensemble or an EnsembleInfo"):
        report.infant(good, None, ensemble_info="ens/", out=out)
    with pytest.raises(DataError, match="no results"):
        report.cohort([], out=out)
    with pytest.raises(DataError, match="labels must be 2 values"):
        report.cohort([good, make_result(6)], [1, 0, 1], out=out)
    with pytest.raises(DataError, match="different instance counts"):
        report.cohort([good, make_result(6, instances=3)], [1, 0], out=out)
    with pytest.raises(FileWriteError, match="is a folder"):
        report.infant(good, None, ensemble_info=None, out=tmp_path)
    assert sorted(os.listdir(tmp_path)) == []


def test_one_bad_result_writes_no_partial_report(tmp_path):
    results = [make_result(s) for s in range(4)]
    results[2] = dataclasses.replace(results[2], cam=np.zeros(5))
    with pytest.raises(DataError, match="CAM has shape"):
        report.write(results, None, ensemble_info=None, out_dir=tmp_path / "rep")
    assert not (tmp_path / "rep").exists()


def test_a_failed_write_keeps_the_previous_page(tmp_path, monkeypatch):
    out = tmp_path / "infant.html"
    report.infant(make_result(7), None, ensemble_info=None, out=out)
    before = out.read_bytes()

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="No space left"):
        report.infant(make_result(8), None, ensemble_info=None, out=out)
    monkeypatch.undo()
    assert out.read_bytes() == before and os.listdir(tmp_path) == ["infant.html"]  # no temporary file left


# ------------------------------------------------------------------------------------------------ cohort page
def test_cohort_page_holds_roc_threshold_table_and_links(tmp_path):
    results = [make_result(s, threshold=0.45) for s in range(16)]
    labels = np.array([int(r.risk > 0.5) ^ (s % 4 == 0) for s, r in enumerate(results)])
    sequences = [make_sequence(r, s) for s, r in enumerate(results)]
    path = report.write(results, sequences, ensemble_info=None, labels=labels, out_dir=tmp_path / "rep",
                        thresholds=(0.3, 0.45, 0.6))
    html = page(path)
    ev = evaluate(labels, [r.risk for r in results], threshold=0.45)
    assert text_of(html, "auc") == f"{ev.auc:.3f}" and "roc-curve" in html
    rows = threshold_table(labels, [r.risk for r in results], [r.instance_risk for r in results], (0.3, 0.45, 0.6))
    for row in rows:  # Clopper–Pearson intervals as the clinical module prints them
        m = row.metrics
        for p in (m.sensitivity, m.specificity, m.ppv, m.npv, m.accuracy):
            assert (p.percent(1) if p.n else "n/a") in html
    assert html.count('<tr data-index="') == 16
    pages = sorted(p.name for p in (tmp_path / "rep" / "infants").iterdir())
    assert pages == sorted(f"{r.metadata['subject']}.html" for r in results)
    for r in results:
        assert f'href="infants/{r.metadata["subject"]}.html"' in html
    assert 'href="../cohort.html"' in page(tmp_path / "rep" / "infants" / pages[0])
    assert "http:" not in html and "https:" not in html


def test_cohort_page_without_labels_has_no_roc(tmp_path):
    results = [make_result(s) for s in range(5)]
    html = page(report.cohort(results, out=tmp_path / "c.html"))
    assert "roc-curve" not in html and 'id="threshold-table"' not in html and "all infants" in html
    assert html.count('<tr data-index="') == 5
    one_class = page(report.cohort(results, [1] * 5, out=tmp_path / "c1.html"))
    assert "ROC not available: the outcomes hold only one class" in one_class


def test_page_names_are_unique_and_file_safe():
    results = [make_result(s) for s in range(4)]
    assert report.page_names(results, ["a/b", "a b", "A_b", "../x"]) == ["a_b", "a_b-2", "A_b-3", "x"]


# ------------------------------------------------------------------------------------------------ CLI
def test_cli_predict_writes_the_report(untrained, tmp_path, capsys):
    from infantjax.io import write_cohort

    ens_dir = untrained.save(tmp_path / "ens")
    data = tmp_path / "data"
    labels_csv = write_cohort(random_walk_cohort(4, 60, seed=2), data, format="npz")
    rc = cli.main(["predict", str(ens_dir), str(data), "--out", str(tmp_path / "pred"), "--no-plots",
                   "--report", str(tmp_path / "report"), "--labels", str(labels_csv)])
    printed = capsys.readouterr().out.strip().splitlines()
    assert rc == 0 and printed[-1] == f"report: {(tmp_path / 'report' / 'cohort.html').resolve()}"
    assert len(list((tmp_path / "report" / "infants").glob("*.html"))) == 4
    html = page(tmp_path / "report" / "cohort.html")
    assert 'id="threshold-table"' in html and 'id="auc"' in html
    infant = page(next((tmp_path / "report" / "infants").glob("*.html")))
    assert str(os.path.abspath(ens_dir)) in infant and 'class="joint"' in infant
    # a label file that misses a recording, and --labels without --report: one line, status 2
    (tmp_path / "few.csv").write_text("file,label\ns000_0.npz,1\n")
    rc = cli.main(["predict", str(ens_dir), str(data), "--report", str(tmp_path / "r2"), "--labels",
                   str(tmp_path / "few.csv")])
    err = capsys.readouterr().err
    assert rc == 2 and "has no row for" in err and not (tmp_path / "r2").exists()
    rc = cli.main(["predict", str(ens_dir), str(data), "--labels", str(labels_csv)])
    assert rc == 2 and "--report" in capsys.readouterr().err


def test_errors_are_infantjax_errors():
    assert issubclass(DataError, InfantJaxError) and issubclass(FileWriteError, InfantJaxError)


@pytest.mark.slow
def test_demo_stage_saves_the_model_with_its_table_and_writes_the_report(tmp_path, capsys):
    """The demo's CP stage at a small size: the held-out report, and the saved ensemble carries the held-out
    threshold table that `infantjax predict --report` then places new infants on (≈ 80 s on 2 cores)."""
    from infantjax.commands.demo.cp import demo_run
    from infantjax.io import write_cohort
    from infantjax.train.cp import DEMO_CONFIG

    record = demo_run(tmp_path / "demo", seed=1, n_subjects=24, duration_s=6.0, epochs=1, folds=2,
                      config=DEMO_CONFIG.replace(window=75, hop=37), progress=False)
    cohort_html = page(record["report"])
    n_test = record["cohort"]["test"]
    assert cohort_html.count('<tr data-index="') == n_test
    assert len(list((tmp_path / "demo" / "report" / "infants").glob("*.html"))) == n_test
    assert "(decision)" in cohort_html  # the operating point is a row of the table
    info = report.EnsembleInfo.from_ensemble(ensemble.Ensemble.load(record["model"]))
    assert info.threshold_table is not None and "held-out test set" in info.threshold_table.source
    data = tmp_path / "new"
    write_cohort(random_walk_cohort(2, 200, seed=9), data, format="npz")
    assert cli.main(["predict", record["model"], str(data), "--report", str(tmp_path / "new-report")]) == 0
    infant = page(next((tmp_path / "new-report" / "infants").glob("*.html")))
    assert "Threshold table: held-out test set of the demo cohort" in infant
