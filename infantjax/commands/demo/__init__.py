"""``infantjax demo``: the whole pipeline on built-in synthetic data, saying what each stage did.

Stages: synthetic cohort → rendered video written as MP4 and read back → keypoints tracked from a rendered
video with EfficientPose → keypoint files → CP preprocessing,
windows and features → GCN architectures of the paper with their parameter and FLOP counts → a small fold ensemble
trained and evaluated (held-out AUC, threshold table, a correctly flagged infant's risk with plots, a correctly
cleared one, how many were misclassified, the HTML report of the held-out infants) → a short architecture search →
depth-video limb pose → the SMA regressor → the smartphone model (seed 003) → MAM's FMs clips and FMs frequency (seed
001) → ``infantjax assess`` on one synthetic infant's video (keypoints, risk and the interactive dashboard). Every
stage that trains a toy in seconds also scores its family's zoo model (``infantjax.models.zoo``, trained
on other synthetic infants; docs/zoo.md) on the same held-out data and prints that figure first, so no stage's
headline is a toy's below-chance result. Everything it writes goes to ``--out``; the last lines it prints are
``report: <path>/cohort.html`` and ``dashboard: <path>/dashboard.html``.
"""

from __future__ import annotations

import pathlib
import time

import numpy as np


def register(sub) -> None:
    p = sub.add_parser("demo", help="run every pipeline stage on built-in synthetic data")
    p.add_argument("--out", default="infantjax-demo", help="folder for the demo's outputs (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--subjects", type=int, default=None,
                   help="infants in the synthetic cohorts: the first stage's and the ensemble's (default: 60 and 112)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs of the demo ensemble")
    p.add_argument("--pose", default=None, metavar="NAME|FILE",
                   help="In-Motion 19 pose model to track the rendered video with, as in `infantjax assess --pose`: "
                        "a zoo name or a PosePredictor .npz / model folder (default: the shipped "
                        "rt-synthetic-infant-roi weights, fine-tuned on synthetic renders only)")
    from infantjax.commands._common import add_deprecated_alias

    add_deprecated_alias(p, "--pose-weights", "--pose", "pose", "demo")  # the earlier spelling: still accepted
    p.set_defaults(func=run)


class _Stages:
    def __init__(self):
        self.t0 = time.perf_counter()
        self.t = self.t0
        self.n = 0

    def start(self, title: str) -> None:
        self.n += 1
        self.t = time.perf_counter()
        print(f"\n[{self.n}] {title}", flush=True)

    def done(self, message: str) -> None:
        print(f"    {message} ({time.perf_counter() - self.t:.1f} s)", flush=True)


def run(args) -> int:
    from infantjax.errors import ConfigError

    if args.pose is not None:  # a misspelt --pose fails now, not after the first stages
        from infantjax.commands.pose import check_pose_option

        check_pose_option(args)
    if args.subjects is not None and args.subjects < 8:
        raise ConfigError(f"--subjects must be at least 8 (the ensemble stage needs infants of both classes in "
                          f"each of its 3 folds and a held-out set), got {args.subjects}")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    st = _Stages()
    cohort = _synth(st, args)
    _video(st, args, out)
    _pose(st, args, out)
    _keypoint_files(st, cohort, out)
    _preprocess(st, cohort)
    _gcn(st)
    report = _ensemble(st, args, cohort, out)
    _search(st, args, cohort, out)
    _depth(st, args, cohort, out)
    _sma(st, args, out)
    _smartphone(st, args, out)
    _mam(st, args, out)
    dashboard = _assess(st, args, out)
    print(f"\ndemo finished in {time.perf_counter() - st.t0:.0f} s; outputs in {out.resolve()}")
    print(f"report: {pathlib.Path(report).resolve()}")
    print(f"dashboard: {dashboard.resolve()}")
    return 0


def _synth(st, args):
    from infantjax import synth

    st.start("synthetic cohort (infantjax.synth)")
    cohort = synth.cohort("cp", n_subjects=args.subjects or 60, seed=args.seed, duration_s=30)
    subtypes = dict(zip(*np.unique(cohort.metadata["subtype"], return_counts=True)))
    st.done(f"{cohort}: {int(cohort.labels.sum())} with CP; subtypes "
            f"{ {str(k): int(v) for k, v in subtypes.items()} }; 30 s at 30 fps each")
    return cohort


def _video(st, args, out):
    from infantjax import io, synth

    st.start("rendered infant video → MP4 → decoded back (infantjax.synth, infantjax.io)")
    video_cohort = synth.cohort("cp", n_subjects=1, seed=args.seed, duration_s=4, videos=True)
    recipe = video_cohort.metadata["video"][0]
    path = recipe.write(out / "infant.mp4", width=256, height=256)
    with io.open_video(path) as v:
        n = 0
        for _, chunk in v.iter_chunks(32):
            n += len(chunk)
        batch = v.get_batch([5, 0, 17])
        st.done(f"{path.name}: {len(v)} frames of {v.frame_size[1]}×{v.frame_size[0]} at {v.fps:g} fps; "
                f"decoded {n} in chunks, random access {batch.shape}")
    return path


def _pose(st, args, out):
    from infantjax.pipelines.pose import PRETRAINED, PosePredictor, track_synthetic_video

    weights = args.pose or "rt-synthetic-infant-roi"
    st.start(f"keypoints from a rendered infant video with EfficientPose RT, weights {weights} "
             "(infantjax.models.pose)")
    predictor = PosePredictor.pretrained(weights) if weights in PRETRAINED else PosePredictor.load(weights)
    result = track_synthetic_video(predictor, duration_s=5.0, fps=15.0, seed=args.seed,
                                   video_path=str(out / "tracked_infant.mp4"), progress=True)
    seq = result.sequence
    st.done(f"tracked {seq.num_frames} frames of {pathlib.Path(result.video).name} → {seq}; PCKh@0.5 against the "
            f"rendered keypoints {result.pckh:.3f} (the shipped weights are fine-tuned on synthetic renders only, "
            "not for real infants)")


def _keypoint_files(st, cohort, out):
    from infantjax import io

    st.start("keypoint files (infantjax.io)")
    path = io.write_keypoints(out / "infant0.csv", cohort.sequences[0], format="dlc-csv")
    back = io.read_keypoints(path)
    same = np.allclose(np.nan_to_num(back.coords), np.nan_to_num(cohort.sequences[0].coords), atol=1e-2)
    st.done(f"wrote and re-read {path.name} as {io.detect_format(path)}: {back}; round trip "
            f"{'exact to 0.01 px' if same else 'DIFFERS'}")


def _preprocess(st, cohort):
    from infantjax import preprocess

    st.start("CP preprocessing, 5-s windows and features (infantjax.preprocess)")
    seq = preprocess.preprocess_cp(cohort.sequences[0])
    w = preprocess.cp_windows(seq)
    f = np.asarray(preprocess.features(w, seq.skeleton.parents))
    st.done(f"{seq.num_frames} frames → {w.shape[0]} windows of {w.shape[1]} frames → features {f.shape} "
            "(position, velocity, bone)")


def _gcn(st):
    from infantjax.models import count_parameters
    from infantjax.models.gcn import GCNSpec, count_flops

    st.start("GCN architectures of Ensemble-NAS-GCN (infantjax.models.gcn)")
    rows = [(f"K-Best no. {i + 1}", count_parameters(s, convention="reference"), count_flops(s))
            for i, s in enumerate(GCNSpec.table_a4())]
    for name, p, f in rows:
        print(f"    {name:<14} {p:>10,d} parameters  {f / 1e9:5.2f} GFLOPs")
    st.done("parameter and FLOP counts of Table A.4 (reference convention)")


def _ensemble(st, args, cohort, out):
    from infantjax.commands.demo.cp import demo_run

    st.start("fold ensemble of a small GCN (3 folds in the demo) trained as one vmapped program, held-out "
             "evaluation, a flagged and a cleared infant's risk (infantjax.ensemble, infantjax.clinical, "
             "infantjax.explain)")
    kwargs = {} if args.epochs is None else {"epochs": args.epochs}
    if args.subjects is not None:
        kwargs["n_subjects"] = args.subjects
    record = demo_run(out / "ensemble", seed=args.seed, **kwargs)
    op = record["operating_point"]
    zoo = record["zoo"]
    print(f"    zoo model {zoo['name']} (trained on other synthetic infants): held-out AUC {zoo['auc']:.3f} on the "
          f"same {record['cohort']['test']} held-out infants")
    print(f"    toy ensemble trained here ({record['folds']} folds, {record['config']['epochs']} epochs):")
    print(f"    cross-validation AUC per fold: {', '.join(f'{a:.2f}' for a in record['fold_auc'])}")
    print(f"    held-out test AUC {record['test_auc']:.3f} on {record['cohort']['test']} infants")
    print("    " + record["threshold_table_text"].replace("\n", "\n    "))
    for role, infant in (("flagged", record["infant"]), ("cleared", record.get("cleared"))):
        if infant is None:
            print(f"    no held-out infant was correctly {role}")
            continue
        verdict = "correctly " + role if infant["cp"] == bool(infant["label"]) else "MISCLASSIFIED"
        print(f"    infant {infant['subject']} (true label {infant['label']}, {verdict}): CP risk "
              f"{infant['risk']:.2f} → {infant['classification']}, certainty {infant['colour']} "
              f"({100 * infant['share_cp']:.0f} % of {infant['num_instances']} instances above the threshold "
              f"{infant['threshold']:.2f}, {infant['num_windows']} windows)")
    wrong = record["misclassified"]
    print(f"    misclassified at this threshold: {wrong['total']} of {record['cohort']['test']} held-out infants "
          f"({wrong['false_negatives']} with CP missed, {wrong['false_positives']} without CP flagged)")
    st.done(f"plots {record['plots']['windows']} and {record['plots']['cam']}; record {out / 'ensemble' / 'demo.json'}"
            f"; operating point at {100 * op.get('target_sensitivity', 0.7):.0f} % sensitivity; ensemble saved to "
            f"{record['model']}; report of the {record['cohort']['test']} held-out infants {record['report']} "
            f"({record['seconds']['report']:.1f} s)")
    return record["report"]


def _search(st, args, cohort, out):
    from infantjax.nas import SearchSettings, run_search

    st.start("K-Best Search on a crash-safe trial journal (infantjax.nas)")
    journal = out / "search.journal"
    if journal.exists():
        journal.unlink()  # the demo starts a fresh search every run
    settings = SearchSettings(sampler="kbest", sampler_config={"k": 3, "threshold": 0.85}, seed=args.seed,
                              max_trials=40, objective={"kind": "synthetic", "seed": args.seed})
    summary = run_search(str(journal), "demo", settings)
    best = summary["best"]
    st.done(f"{summary['finished']} trials on the cheap synthetic objective (known optimum, no training); best "
            f"performance {best['performance']:.3f} at trial {best['number']}; the log is {journal.name}, so "
            "`infantjax search status demo --storage` on it resumes or inspects the search. Real searches train "
            "GCNs: `infantjax search run --data DIR --labels CSV`")


def _depth(st, args, cohort, out):
    from infantjax.commands.demo.depth import demo_run

    st.start("depth-video limb pose: detection U-Net, asymmetric 3D regression, limb linking "
             "(infantjax.models.depth, infantjax.pipelines.depth)")
    record = demo_run(out / "depth", seed=args.seed, progress=True)
    rmsd = ", ".join(f"{k} {v:.1f}" for k, v in record["rmsd_median"].items())
    det = ", ".join(f"{k} {v:.1f}" for k, v in record["detection_only_rmsd_median"].items())
    zoo = record["zoo"]
    print(f"    zoo model {zoo['name']} (trained on other synthetic infants) on the held-out clips: median RMSD per "
          f"limb {', '.join(f'{k} {v:.1f}' for k, v in zoo['rmsd_median'].items())} px, "
          f"{100 * zoo['missing']:.0f} % of joints not found")
    st.done(f"toy trained here: median RMSD per limb after regression: {rmsd} px (detection only: {det} px; "
            f"{100 * record['missing']:.0f} % of joints not found; tiny networks on 48×32 synthetic depth clips); "
            f"record {record['json']}")


def _sma(st, args, out):
    from infantjax.commands.demo.sma import demo_run, describe

    st.start("SMA CHOP INTEND regressor on Kinect limb tracks: Table 1's CNN, leave-one-subject-out folds as one "
             "program, mean / median / quartile aggregation (infantjax.models.sma, infantjax.train.sma)")
    st.done(describe(demo_run(out / "sma", seed=args.seed)))


def _smartphone(st, args, out):
    from infantjax.commands.demo.smartphone import demo_run, describe

    st.start("smartphone videos: Passmore preprocessing, 46 features, the 1D-CNN with clip attention and Platt "
             "scaling beside the catch22 baseline (infantjax.pipelines.passmore, seed 003)")
    st.done(describe(demo_run(out / "smartphone", seed=args.seed)))


def _mam(st, args, out):
    from infantjax.commands.demo.mam import demo_run

    st.start("quantitative GMA: MAM on 3D distance matrices, Ref / Main / Info branches (infantjax.models.mam, "
             "infantjax.pipelines.mam)")
    record = demo_run(out / "mam", seed=args.seed)
    s, z = record["summary"], record["zoo"]
    print(f"    zoo model {z['name']} (trained on other synthetic infants) on the {z['infants']} demo infants: "
          f"risk AUC {z['auc']:.2f}, FMs-frequency AUC {z['fms_frequency_auc']:.2f}, clip κ {z['kappa']:.2f}")
    st.done(f"toy trained here for 12 steps (the machinery, not the method's accuracy; docs/gao2023_mam.md has the "
            f"quick recipe's figures): held-out AUC {s['auc'][0]:.2f}, FMs-frequency AUC "
            f"{s['fms_frequency_auc'][0]:.2f}, clip κ {s['kappa'][0]:.2f}; FMs plot {record['plot']}")


def _assess(st, args, out):
    from infantjax.commands.demo.assess import demo_run

    st.start("infantjax assess: a synthetic infant's phone-style video → keypoints (zoo pose model) → CP risk "
             "(zoo ensemble) → the interactive dashboard (infantjax.pipelines.assess, infantjax.report.dashboard)")
    run = demo_run(out / "assess", seed=args.seed)
    record = run.records[0]
    print(f"    {record['video']['frames']} frames, {len(record['windows'])} windows: CP risk {record['risk']:.3f} → "
          f"{record['classification']}, certainty {record['colour']}")
    print(f"    time per stage: {run.shares_text()}")
    dashboard = run.out / record["name"] / record["files"]["dashboard"]
    st.done(f"records {run.out / record['name'] / 'record.json'}, summary {run.summary_csv}; dashboard (open it in "
            f"a browser, no server needed) {dashboard}")
    return dashboard
