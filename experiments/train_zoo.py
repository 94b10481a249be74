"""Train the zoo entry of every family on the synthetic infant, score it on fresh synthetic infants, ship it.

    python experiments/train_zoo.py                     # every family; writes infantjax/models/weights/*.npz
    python experiments/train_zoo.py --families sma mam  # some of them
    python experiments/train_zoo.py --out /tmp/zoo      # elsewhere (the tests load the shipped files)

One entry per family (:mod:`infantjax.models.zoo`), each a single ``.npz`` (``TrainedModel.save``) with its provenance
in the header's ``info``: what it was trained on, that it is not for clinical use, its held-out figure on fresh
synthetic infants (other seeds than training) beside the paper's baseline or a chance-level reference, the licence.

* ``cp-gcn-synthetic``: the demo GCN × 7 folds × 4 seeds (one stack of 28) with the demo recipe on 112 easy
  synthetic infants of 20 s (seed 101); held-out: AUC of the median risk on 60 fresh infants (seed 1000);
* ``cp-gcn-tracked``: the same GCN, recipe and infants, trained on the keypoints the zoo's infant pose model tracks
  in their rendered 640 × 480 videos (what ``infantjax assess`` gives the ensemble); held-out: AUC on 60 fresh
  infants' rendered videos (seed 1000), tracked the same way, which also sets its threshold. Renders and tracks
  about 100,000 frames (cached under ``--work``). ``--families cp-tracked --pose rt-synthetic-infant-home --name
  cp-gcn-tracked-home`` trains ``cp-gcn-tracked-home`` the same way on that pose model's tracks, and
  ``--families cp-tracked --mirror-chance 0.5 --name cp-gcn-tracked-mirror`` trains ``cp-gcn-tracked-mirror`` with
  every training window mirrored with chance 0.5;
* ``mam-synthetic``: MAM (width 32, 2 blocks, the quick recipe) × 2 folds on 36 infants of 40 s (seed 101; Ref
  pretraining clips from 12 others, seed 1101); held-out: risk AUC, FMs-frequency AUC, clip κ on 24 fresh infants
  (seed 2000);
* ``sma-narrow-synthetic``: ``SMASpec.narrow()`` × leave-one-subject-out on 10 infants × 2 recordings of 60 s
  (seed 101); held-out: the recording error (mean aggregation) on 6 fresh infants (seed 1000) beside LASSO's (trained
  on the same windows) and the error of always predicting the training mean;
* ``smartphone-synthetic``: the seed 003 network × 8 repeated splits with the quick recipe on 60 easy synthetic
  infants of 20 s (seed 101); held-out: AUC of the calibrated probability on 40 fresh infants (seed 1000) beside the
  catch22 baseline's (trained on the same videos);
* ``depth-synthetic``: the demo's detection U-Net + residual asymmetric regression on 48×32 clips of 24 infants
  (seed 101; 2 others, seed 102, only monitored); held-out: median RMSD per limb on 4 fresh infants (seed 1000)
  beside predicting the mean training pose.

The sizes fit the 2-core CPU machine in minutes per family; the figures are stated in docs/zoo.md.
"""

from __future__ import annotations

import argparse
import logging
import pathlib
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from infantjax.io.files import write_json  # after the path: runs from a checkout

log = logging.getLogger("train_zoo")

FAMILIES = ("cp", "cp-tracked", "mam", "sma", "smartphone", "depth")
#: the seed of every training cohort: not the demo's (0, 1) nor the held-out ones here (1000, 2000), so the figures the
#: demo prints for these models are on infants they never saw
TRAIN_SEED = 101
#: the CP ensembles: CP_SEEDS training seeds × CP_FOLDS folds (7 in seed 002) of the demo GCN, one stack. An infant's
#: risk is the median over these instances, so with few of them it depends on a few instances' seeds: with 3 (one seed
#: × 3 folds) two ensembles trained alike on different keypoints differed by 0.065 on the same keypoints (docs/zoo.md)
CP_FOLDS = 7
CP_SEEDS = 4
LICENCE = "Apache-2.0"
NOT_CLINICAL = ("trained on synthetic infants only (infantjax.synth); it has never seen a real infant: for trying "
                "the family out, not for clinical use")


def _info(name: str, trained_on: str, held_out: dict, headline: str, seconds: float) -> dict:
    return {"name": name, "trained_on": trained_on, "held_out": held_out, "headline": headline,
            "licence": LICENCE, "clinical_use": NOT_CLINICAL, "source": "infantjax experiments/train_zoo.py",
            "train_seconds": round(seconds, 1)}


# ------------------------------------------------------------------------------------------------------ CP
def _cp_ensemble(cohort, mirror: float = 0.0):
    """The demo GCN × CP_FOLDS folds, trained once per seed 0 … CP_SEEDS − 1 (``protocols.cp.train``'s seed: instance
    fold f of seed s starts from s · 1000 + f), the seeds' instances concatenated into one stack; ``mirror`` is
    ``CPConfig.mirror`` (the chance a training window is mirrored)."""
    import jax

    from infantjax import protocols
    from infantjax.ensemble import Ensemble
    from infantjax.models.gcn.presets import demo_spec
    from infantjax.train.cp import DEMO_CONFIG

    config = DEMO_CONFIG.replace(progress=False, mirror=mirror)
    parts = [protocols.cp.train([demo_spec()], cohort, config, folds=CP_FOLDS, seed=s)
             for s in range(CP_SEEDS)]
    stack = jax.tree_util.tree_map(lambda *leaves: np.concatenate(leaves, axis=0), *[e.variables[0] for e in parts])
    return Ensemble([parts[0].specs[0]], [stack], parts[0].config, fold_auc=[sum((e.fold_auc[0] for e in parts), [])],
                    metadata={**parts[0].metadata, "seeds": list(range(CP_SEEDS))})


def _recipe(mirror: float = 0.0) -> str:
    mirrored = f", each training window mirrored with chance {mirror:g}" if mirror else ""
    return (f"the demo GCN × {CP_FOLDS} folds × {CP_SEEDS} seeds ({CP_FOLDS * CP_SEEDS} instances), the demo "
            f"recipe{mirrored}")


def train_cp(out: pathlib.Path) -> dict:
    from infantjax import synth
    from infantjax.clinical import evaluate, risks_of
    from infantjax.pipelines.cp import predict_cohort

    started = time.perf_counter()
    cohort = synth.cohort("cp", n_subjects=112, seed=TRAIN_SEED, duration_s=20.0, prevalence=0.4, difficulty="easy")
    ens = _cp_ensemble(cohort)
    seconds = time.perf_counter() - started
    fresh = synth.cohort("cp", n_subjects=60, seed=1000, duration_s=20.0, prevalence=0.4, difficulty="easy")
    risks, _ = risks_of(predict_cohort(ens, fresh))
    ev = evaluate(fresh.labels, risks, sensitivity=0.7)
    ens.threshold = float(ev.operating_point.threshold)
    held = {"auc": float(ev.auc), "infants": len(fresh), "with_cp": int(fresh.labels.sum()), "seed": 1000,
            "threshold_at_70_sensitivity": ens.threshold}
    ens.info = _info("cp-gcn-synthetic", "112 easy synthetic infants, 20 s at 30 fps, 40 % with CP (seed 101); "
                     + _recipe(), held,
                     f"held-out AUC {ev.auc:.2f} on {len(fresh)} fresh synthetic infants (seed 1000)", seconds)
    ens.save(out / "cp_gcn_synthetic.npz")
    return ens.info


def train_cp_tracked(out: pathlib.Path, work: pathlib.Path, pose: str | None = None,
                     name: str = "cp-gcn-tracked", mirror: float = 0.0) -> dict:
    """The CP ensemble trained on tracked keypoints (module docstring); ``name`` is its zoo entry (and file, with
    underscores: ``cp_gcn_tracked.npz``)."""
    from infantjax import synth
    from infantjax.clinical import evaluate, risks_of
    from infantjax.pipelines.assessment import load_models
    from infantjax.pipelines.cp import predict_cohort
    from infantjax.pipelines.fidelity import track_cohort

    pose_name = load_models(None, pose).pose_name
    started = time.perf_counter()
    cohort = synth.cohort("cp", n_subjects=112, seed=TRAIN_SEED, duration_s=20.0, prevalence=0.4, difficulty="easy",
                          videos=True)
    tracked = track_cohort(cohort, work / "cp-train-seed101", pose=pose)
    prepared = time.perf_counter() - started
    started = time.perf_counter()
    ens = _cp_ensemble(tracked, mirror)
    seconds = time.perf_counter() - started
    fresh = synth.cohort("cp", n_subjects=60, seed=1000, duration_s=20.0, prevalence=0.4, difficulty="easy",
                         videos=True)
    fresh_tracked = track_cohort(fresh, work / "cp-heldout-seed1000", pose=pose)
    risks, _ = risks_of(predict_cohort(ens, fresh_tracked))
    ev = evaluate(fresh.labels, risks, sensitivity=0.7)
    ens.threshold = float(ev.operating_point.threshold)
    truth_risks, _ = risks_of(predict_cohort(ens, fresh))
    ev_detector = evaluate(fresh.labels, truth_risks, sensitivity=0.7)
    held = {"auc": float(ev.auc), "inputs": f"keypoints tracked by {pose_name} in rendered 640x480 videos",
            "infants": len(fresh), "with_cp": int(fresh.labels.sum()), "seed": 1000,
            "threshold_at_70_sensitivity": ens.threshold,
            "auc_on_simulated_detector_keypoints": float(ev_detector.auc)}
    ens.info = _info(name, "112 easy synthetic infants, 20 s at 30 fps, 40 % with CP (seed 101), the "
                     f"keypoints {pose_name} tracks in their rendered 640x480 videos; " + _recipe(mirror), held,
                     f"held-out AUC {ev.auc:.2f} on {len(fresh)} fresh synthetic infants' rendered videos, tracked "
                     "(seed 1000)", seconds)
    ens.info["render_and_track_seconds"] = round(prepared, 1)
    ens.save(out / f"{name.replace('-', '_')}.npz")
    return ens.info


# ------------------------------------------------------------------------------------------------------ MAM
def train_mam(out: pathlib.Path) -> dict:
    from infantjax.models.mam import MamSpec
    from infantjax.pipelines.mam import cohort_inputs, reference_clips, synthetic_mam
    from infantjax.pipelines.mam import train_mam as fit_mam
    from infantjax.protocols.evaluation import fold_scores
    from infantjax.train.mam import MamConfig

    started = time.perf_counter()
    spec = MamSpec(clip_length=50, patch=10, width=32, depth=2)
    config = MamConfig.quick(folds=2, progress=False)
    main, ref = synthetic_mam(36, 12, duration_s=40.0, seed=TRAIN_SEED)
    inputs = cohort_inputs(main, spec, clip_stride=config.clip_stride)
    reference = reference_clips(cohort_inputs(ref, spec, clip_stride=config.clip_stride), spec,
                                stride=config.clip_stride, per_class=300, seed=0)
    model, _ = fit_mam(inputs, reference, spec=spec, config=config, seed=0)
    seconds = time.perf_counter() - started
    fresh, _ = synthetic_mam(24, 1, duration_s=40.0, seed=2000)
    test = cohort_inputs(fresh, spec, clip_stride=config.clip_stride)
    pred = model.predict(test.features, test.info)
    scores = fold_scores(test.labels, {"risk": pred.risk, "fms_frequency": pred.fms_frequency,
                                       "clip_fms": pred.clip_fms}, config.threshold, test.fms_truth)
    held = {"auc": scores["auc"], "fms_frequency_auc": scores["fms_frequency_auc"], "kappa": scores["kappa"],
            "infants": len(test.labels), "at_risk": int(test.labels.sum()), "seed": 2000}
    model.info = _info("mam-synthetic", "36 synthetic infants of 40 s at 25 fps, 3D keypoints (seed 101); Ref "
                       "pretraining clips of 12 others (seed 1101); MAM width 32, 2 blocks, quick recipe, 2 folds",
                       held, f"held-out AUC {scores['auc']:.2f}, FMs-frequency AUC "
                       f"{scores['fms_frequency_auc']:.2f}, clip κ {scores['kappa']:.2f} on {len(test.labels)} "
                       "fresh synthetic infants (seed 2000)", seconds)
    model.save(out / "mam_synthetic.npz")
    return model.info


# ------------------------------------------------------------------------------------------------------ SMA
def train_sma(out: pathlib.Path) -> dict:
    from sklearn.linear_model import Lasso

    from infantjax import synth
    from infantjax.models.sma import SMASpec
    from infantjax.pipelines.sma import train_sma as fit_sma
    from infantjax.preprocess.sma import correlation_features
    from infantjax.protocols.baselines import lasso_alpha
    from infantjax.train.sma import SMAConfig, recording_windows

    started = time.perf_counter()
    rec = synth.sma_recordings(10, 2, duration_s=60.0, seed=TRAIN_SEED)
    config = SMAConfig.quick(epochs=20, stride=25)
    model, _ = fit_sma(rec.tracks, rec.labels, rec.subjects, spec=SMASpec.narrow(), config=config, seed=0)
    seconds = time.perf_counter() - started
    fresh = synth.sma_recordings(6, 2, duration_s=60.0, seed=1000)
    truth = np.asarray(fresh.labels, np.float64)
    cnn = np.abs(model.predict(fresh.tracks).mean - truth)
    train_w = recording_windows(rec.tracks, rec.labels, rec.subjects, stride=config.stride)
    test_w = recording_windows(fresh.tracks, fresh.labels, fresh.subjects, stride=config.stride)
    x, y = correlation_features(train_w.windows), np.asarray(train_w.scores, np.float64)
    lasso = Lasso(alpha=lasso_alpha(x, y)).fit(x, y).predict(correlation_features(test_w.windows))
    lasso_rec = np.asarray([lasso[test_w.recordings == r].mean() for r in range(len(truth))])
    held = {"cnn_recording_error": float(cnn.mean()), "lasso_recording_error": float(np.abs(lasso_rec - truth).mean()),
            "training_mean_error": float(np.abs(y.mean() - truth).mean()), "recordings": len(truth),
            "score_span": float(np.ptp(truth)), "seed": 1000}
    model.info = _info("sma-narrow-synthetic", "10 synthetic SMA-like infants × 2 Kinect recordings of 60 s "
                       "(seed 101); SMASpec.narrow(), leave-one-subject-out, quick recipe 20 epochs", held,
                       f"held-out recording error {held['cnn_recording_error']:.1f} points of 72 (LASSO "
                       f"{held['lasso_recording_error']:.1f}, the training mean {held['training_mean_error']:.1f}) "
                       f"on {len(truth)} fresh synthetic recordings (seed 1000)", seconds)
    model.save(out / "sma_narrow_synthetic.npz")
    return model.info


# ------------------------------------------------------------------------------------------------------ smartphone
def train_smartphone(out: pathlib.Path) -> dict:
    from infantjax.metrics import roc_auc
    from infantjax.pipelines.passmore import synthetic_features
    from infantjax.pipelines.passmore import train_smartphone as fit_smartphone
    from infantjax.preprocess.catch22 import catch22_features
    from infantjax.train.passmore import PassmoreConfig

    started = time.perf_counter()
    feats, labels, subjects = synthetic_features(60, seed=TRAIN_SEED, duration_s=20.0, dropout_burst_s=0.1,
                                                 exclude_failed=True)
    config = PassmoreConfig.quick(splits=8, epochs=40, min_epochs=20, patience=10)
    model, _ = fit_smartphone(feats, labels, subjects, config=config, seed=0)
    seconds = time.perf_counter() - started
    fresh, fresh_y, _ = synthetic_features(40, seed=1000, duration_s=20.0, dropout_burst_s=0.1, exclude_failed=True)
    auc = roc_auc(fresh_y, model.predict(fresh).probability)
    c22 = _catch22_auc(np.stack([catch22_features(f) for f in feats]), labels,
                       np.stack([catch22_features(f) for f in fresh]), fresh_y)
    held = {"auc": float(auc), "catch22_auc": c22, "videos": len(fresh_y), "abnormal": int(fresh_y.sum()),
            "seed": 1000}
    model.info = _info("smartphone-synthetic", f"{len(labels)} easy synthetic infants of 20 s, passmore-18 "
                       "keypoints (seed 101); 8 repeated splits, the quick recipe (40 epochs)", held,
                       f"held-out AUC {auc:.2f} (catch22 {c22:.2f}) on {len(fresh_y)} fresh synthetic infants "
                       "(seed 1000)", seconds)
    model.save(out / "smartphone_synthetic.npz")
    return model.info


def _catch22_auc(x_train, y_train, x_test, y_test) -> float:
    """Seed 003's baseline fitted on the training videos (L2 logistic regression on standardised catch22 features,
    C by a stratified 5-fold search) and scored on the fresh ones."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from infantjax.metrics import roc_auc

    clean = [np.nan_to_num(np.asarray(a, np.float64), nan=0.0, posinf=0.0, neginf=0.0) for a in (x_train, x_test)]
    search = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
                          {"logisticregression__C": list(10.0 ** np.arange(-3, 4))}, cv=StratifiedKFold(5),
                          scoring="neg_log_loss")
    search.fit(clean[0], y_train)
    return float(roc_auc(y_test, search.predict_proba(clean[1])[:, 1]))


# ------------------------------------------------------------------------------------------------------ depth
def train_depth(out: pathlib.Path) -> dict:
    from infantjax.commands.demo.depth import DEMO_SETTINGS as s
    from infantjax.metrics.pose import LIMB_NAMES, rmsd_per_limb, summarize_rmsd
    from infantjax.models.depth.linking import LinkConfig
    from infantjax.models.depth.regression import RegressionSpec
    from infantjax.models.depth.unet import DetectionSpec
    from infantjax.pipelines.depth import run_pipeline
    from infantjax.preprocess.depth import prepare_clips
    from infantjax.synth.depth_clips import synthetic_clips
    from infantjax.train.depth import DepthConfig

    started = time.perf_counter()
    h, w = s["height"], s["width"]
    train = prepare_clips(*synthetic_clips(24, s["clips_per_infant"], h, w, TRAIN_SEED)[:2], radius=s["radius"])
    val = prepare_clips(*synthetic_clips(2, s["clips_per_infant"], h, w, TRAIN_SEED + 1)[:2], radius=s["radius"])
    result = run_pipeline(
        train, val, detection=DetectionSpec(widths=s["detection_widths"], bn_momentum=s["bn_momentum"]),
        regressions={"asymmetric": RegressionSpec("asymmetric", widths=s["regression_widths"],
                                                  head_width=s["regression_head"], bn_momentum=s["bn_momentum"],
                                                  residual=s["residual"])},
        detection_training=DepthConfig(epochs=40, batch_size=s["batch_size"], optimizer="adam",
                                       learning_rate=s["detection_lr"]),
        regression_training=DepthConfig(epochs=20, batch_size=s["batch_size"], optimizer="adam",
                                         learning_rate=s["regression_lr"]),
        link=LinkConfig(threshold=s["link_threshold"], smooth=s["link_smooth"], radius=s["radius"],
                        min_distance=2.0),
        seed=0, select="last", time_clips=False, progress=False)
    model = result.model("asymmetric")
    seconds = time.perf_counter() - started
    fresh = prepare_clips(*synthetic_clips(4, s["clips_per_infant"], h, w, 1000)[:2], radius=s["radius"])
    pose = model.predict(fresh.clips)
    rmsd = summarize_rmsd(rmsd_per_limb(pose.keypoints, fresh.keypoints))
    mean_pose = np.nanmean(train.keypoints.reshape(-1, *train.keypoints.shape[-2:]), axis=0)
    baseline = summarize_rmsd(rmsd_per_limb(np.broadcast_to(mean_pose, fresh.keypoints.shape), fresh.keypoints))
    missing = float(np.isnan(pose.keypoints[..., 0]).mean())
    held = {"rmsd_median": {n: rmsd[n]["median"] for n in LIMB_NAMES},
            "mean_pose_rmsd_median": {n: baseline[n]["median"] for n in LIMB_NAMES}, "missing": missing,
            "clips": len(fresh.clips), "frame": f"{w}x{h} px", "seed": 1000}
    ours = np.mean(list(held["rmsd_median"].values()))
    chance = np.mean(list(held["mean_pose_rmsd_median"].values()))
    model.info = _info("depth-synthetic", f"rendered synthetic depth clips of 24 preterm infants, {w}×{h} px "
                       "(seed 101); the demo's detection U-Net and residual asymmetric regression, 40 + 20 epochs",
                       held, f"held-out median RMSD {ours:.1f} px per limb (mean training pose {chance:.1f} px; "
                       f"{100 * missing:.0f} % of joints not found) on {len(fresh.clips)} clips of 4 fresh "
                       "synthetic infants (seed 1000)", seconds)
    model.save(out / "depth_synthetic.npz")
    return model.info


TRAINERS = {"cp": train_cp, "cp-tracked": train_cp_tracked, "mam": train_mam, "sma": train_sma, "smartphone": train_smartphone, "depth": train_depth}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", choices=FAMILIES,
                        default=[f for f in FAMILIES if f != "cp-tracked"],
                        help="which entries (default every one but cp-tracked, which renders and tracks ~100,000 "
                             "frames)")
    parser.add_argument("--out", default=str(REPO / "infantjax" / "models" / "weights"),
                        help="folder of the .npz files (default: the package's zoo folder)")
    parser.add_argument("--work", default="/tmp/infantjax-zoo",
                        help="where cp-tracked keeps its rendered videos and tracked keypoints (reused)")
    parser.add_argument("--pose", default=None, help="the pose model cp-tracked tracks with (default the zoo's)")
    parser.add_argument("--name", default="cp-gcn-tracked",
                        help="cp-tracked's zoo entry, e.g. cp-gcn-tracked-home with --pose rt-synthetic-infant-home "
                             "(default: %(default)s)")
    parser.add_argument("--mirror-chance", type=float, default=0.0,
                        help="cp-tracked: the chance each training window is mirrored (CPConfig.mirror), e.g. 0.5 "
                             "with --name cp-gcn-tracked-mirror (default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record_path = out / "train_zoo.json"
    record = {}
    if record_path.is_file():
        import json

        record = json.loads(record_path.read_text())
    for family in args.families:
        started = time.perf_counter()
        if family == "cp-tracked":
            info = train_cp_tracked(out, pathlib.Path(args.work), args.pose, args.name, args.mirror_chance)
        else:
            info = TRAINERS[family](out)
        info["wall_seconds"] = round(time.perf_counter() - started, 1)
        record[args.name if family == "cp-tracked" and args.name != "cp-gcn-tracked" else family] = info
        write_json(record_path, record, indent=2, sort_keys=False, allow_nan=True)
        print(f"{family}: {info['headline']} ({info['wall_seconds']:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
