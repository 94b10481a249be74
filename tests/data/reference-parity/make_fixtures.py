"""Make the pipeline parity fixtures of issue 30 by running the public reference code itself.

Two steps, two environments (nothing of the reference code is in this file or in the repository: it is imported
from the checkouts given on the command line):

1. ``inputs`` — in the infantjax environment: synthetic recordings from ``infantjax.synth``, written with
   ``infantjax.io.write_keypoints`` (MovementOutcome's ``part-csv`` and DeepLabCut CSV), plus ``inputs.npz``::

       python tests/data/reference-parity/make_fixtures.py inputs --out /tmp/parity

2. ``reference`` — in a temporary environment with the reference code's stack (Python 3.11, tensorflow-cpu 2.15.1
   with its Keras 2.15, numpy 1.26.4, pandas 1.5.3, scikit-learn 1.3.2, scipy 1.11.4, einops): runs
   MovementOutcome v1 (the last commit before 2023-01-06, ``dea8f98``) and HEAD (``36b95b0``) and
   ``epassmore/infant-movements`` (``0ae7db5``) on those files and writes ``movementoutcome.npz`` and
   ``infant_movements.npz``::

       python make_fixtures.py reference --out /tmp/parity --movementoutcome-v1 /tmp/mo_v1 \\
           --movementoutcome-head /tmp/mo_head --infant-movements /tmp/im

``inputs.npz``, the two output files and ``manifest.json`` (sha256 of each) are what the repository keeps
(``README.md`` beside this file lists every key). The reference modules are loaded as they are, with two
adjustments that change no computation: ``torch`` (imported by MovementOutcome's feeder and graph modules for
``Dataset``/tensors the used functions never touch) is replaced by an empty stand-in module, and of
``pre_processing.py`` (a script that processes a hard-coded video when imported) only the imports and function
definitions are executed, without ``cv2``/``matplotlib`` (used only by its plotting and video helpers; its
trailing driver loop does not even parse).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import pathlib
import sys
import types

import numpy as np

#: The CP recordings: name → (fps, frames, with dropouts). Odd lengths; 25 fps exercises the resampling count.
CP_RECORDINGS = {"cp30": (30.0, 211, False), "cp25": (25.0, 187, False), "cp25gaps": (25.0, 173, True)}
#: The smartphone recordings: name → (fps, frames). Both with dropouts, outliers, low likelihoods and an occlusion.
PM_RECORDINGS = {"pm25": (25.0, 301), "pm30": (30.0, 257)}
FRAME_SIZE = (480, 640)  # (height, width) of the synthetic videos
#: Crop cases for ``random_start``: (T of the recording, T of the padded split, copies, window, roll_sequence).
CROP_CASES = [(5400, 5400, 12, 150, False), (5400, 5400, 60, 150, False), (211, 300, 12, 150, False),
              (211, 300, 60, 150, True), (200, 200, 4, 150, False), (4000, 5400, 60, 150, True),
              (151, 151, 12, 150, False)]


# --------------------------------------------------------------------------------------------- step 1: inputs
def make_inputs(out: pathlib.Path) -> None:
    from infantjax import synth
    from infantjax.io import write_keypoints

    for sub in ("cp", "pm"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    arrays = {"frame_size": np.asarray(FRAME_SIZE)}
    for k, (name, (fps, frames, gaps)) in enumerate(CP_RECORDINGS.items()):
        body = synth.infant(100 + k)
        motion = synth.generate(body, synth.typical_profile(100 + k), frames / fps + 1, fps, seed=100 + k)
        config = synth.RecordingConfig(outlier_rate=0.0, dropout_rate=(0.02, 0.02) if gaps else (0.0, 0.0),
                                       rotation_deg=(-20.0, 20.0))
        seq = synth.record(motion, config, seed=200 + k).sequence("in-motion-19")
        seq = seq.replace(coords=seq.coords[:frames], confidence=None, metadata={})
        write_keypoints(out / "cp" / f"{name}.csv", seq, format="part-csv")
        arrays[f"{name}_coords"], arrays[f"{name}_fps"] = seq.coords, np.float64(fps)
    for k, (name, (fps, frames)) in enumerate(PM_RECORDINGS.items()):
        body = synth.infant(300 + k)
        motion = synth.generate(body, synth.typical_profile(300 + k), frames / fps + 1, fps, seed=300 + k)
        config = synth.RecordingConfig(outlier_rate=0.01, dropout_rate=(0.02, 0.03), width=FRAME_SIZE[1],
                                       height=FRAME_SIZE[0])
        seq = synth.record(motion, config, seed=400 + k).sequence("passmore-18")
        coords, conf = seq.coords[:frames].copy(), seq.confidence[:frames].copy()
        # an occlusion: the left arm (shoulder, elbow, hand) hidden for 1.2 s, the detector unsure there
        occluded = slice(frames // 3, frames // 3 + int(1.2 * fps))
        coords[occluded, 4:7] = np.nan
        conf[occluded, 4:7] = 0.05
        # a detection kept with a low likelihood (≤ 0.2: quality control drops it) and one just above it
        conf[10, 0], conf[11, 0] = 0.2, 0.21
        seq = seq.replace(coords=coords, confidence=conf, metadata={})
        write_keypoints(out / "pm" / f"{name}.csv", seq, format="dlc-csv")
        arrays[f"{name}_coords"], arrays[f"{name}_likelihood"] = coords, conf
        arrays[f"{name}_fps"] = np.float64(fps)
    np.savez_compressed(out / "inputs.npz", **arrays)


# ---------------------------------------------------------------------------------------- step 2: reference
def _stub_torch() -> None:
    """An empty ``torch`` (the used functions never touch it): feeder.py subclasses torch.utils.data.Dataset."""
    torch = types.ModuleType("torch")
    torch.nn = types.ModuleType("torch.nn")
    torch.utils = types.ModuleType("torch.utils")
    torch.utils.data = types.ModuleType("torch.utils.data")
    torch.utils.data.Dataset = object
    for name, mod in (("torch", torch), ("torch.nn", torch.nn), ("torch.utils", torch.utils),
                      ("torch.utils.data", torch.utils.data)):
        sys.modules[name] = mod


def _load(root: pathlib.Path, *names: str):
    """Import modules from a reference checkout (its root first on sys.path, other checkouts' modules unloaded)."""
    import importlib

    for mod in [m for m in sys.modules if m == "utils" or m.startswith(("utils.", "models"))]:
        del sys.modules[mod]
    sys.path.insert(0, str(root))
    try:
        return [importlib.import_module(n) for n in names]
    finally:
        sys.path.remove(str(root))


def _functions_of(path: pathlib.Path, skip_imports=("cv2", "matplotlib", "PIL")) -> dict:
    """The imports and function definitions of a script, executed without its top-level statements."""
    import ast

    # top-level chunks parsed one by one: the script's own trailing loop does not parse (an indentation error in
    # its commented-out plotting block), and is not run anyway
    lines = path.read_text().splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line[:1] not in ("", " ", "\t", "\n", "#")] + [len(lines)]
    nodes = []
    for a, b in itertools.pairwise(starts):
        try:
            nodes += ast.parse("".join(lines[a:b])).body
        except SyntaxError:
            continue
    keep = []
    for node in nodes:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(n.split(".")[0] in skip_imports for n in names):
                continue
            keep.append(node)
        elif isinstance(node, ast.FunctionDef):
            keep.append(node)
    namespace: dict = {"__name__": "reference_pre_processing"}
    exec(compile(ast.Module(keep, []), str(path), "exec"), namespace)  # noqa: S102 - the user's checkout
    return namespace


class _Record:
    """Wraps ``random`` so that the draws of the reference helpers are recorded (arguments and results)."""

    def __init__(self, module):
        self.module, self.calls = module, []

    def randint(self, a, b):
        self.calls.append(("randint", a, b))
        return self.module.randint(a, b)

    def choice(self, seq):
        value = self.module.choice(seq)
        self.calls.append(("choice", value))
        return value


def _cp_layout(root: pathlib.Path, src: pathlib.Path, names) -> pathlib.Path:
    """MovementOutcome's raw folder: val1/positive holds the recordings (1 fold), test/ is empty."""
    import shutil

    raw = root / "raw"
    for d in ("val1/positive", "val1/negative", "test/positive", "test/negative"):
        (raw / d).mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(src / f"{name}.csv", raw / "val1" / "positive" / f"{name}.csv")
    return raw


def _processed(processed: pathlib.Path, dataset: str = "val1") -> dict:
    data = np.load(processed / f"{dataset}_coords.npy")
    ids = np.load(processed / f"{dataset}_ids.npy")
    out = {}
    for i, name in enumerate(ids):
        x = data[i]  # (2, T_max, 19), NaN-padded
        t = np.flatnonzero(np.isnan(x[0, :, 0]))
        out[str(name)] = x[:, : (t[0] if t.size else x.shape[1])].transpose(1, 2, 0)  # (T, 19, 2)
    return out


def run_movementoutcome(out: pathlib.Path, v1: pathlib.Path, head: pathlib.Path) -> None:
    import inspect
    import random
    import tempfile

    _stub_torch()
    inputs = np.load(out / "inputs.npz")
    res: dict[str, np.ndarray] = {}
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="parity-mo-"))

    # ---- v1 (dea8f98): CSV → median filter → centre/normalise/flip, per recording; the file is taken as 30 fps
    process_v1, helpers_v1, graph_v1 = _load(v1, "utils.process", "utils.helpers", "utils.graph")
    raw = _cp_layout(tmp / "v1", out / "cp", ["cp30", "cp25gaps"])
    (tmp / "v1" / "processed").mkdir()
    process_v1.perform_processing(str(raw), str(tmp / "v1" / "processed"), 1, 2, 19, 2)
    for name, x in _processed(tmp / "v1" / "processed").items():
        res[f"v1_{name}"] = x
    defaults = {k: p.default for k, p in inspect.signature(graph_v1.Graph.__init__).parameters.items()}
    graph = types.SimpleNamespace(bone_conns=defaults["bone_conns"],
                                  get_thorax_pelvis_indices=lambda: (defaults["thorax_index"],
                                                                     defaults["pelvis_index"]))
    res["bone_conns"] = np.asarray(defaults["bone_conns"])
    # the median filter alone (helper), on the raw float32 frames of cp30 keyed 1..T as the v1 reader keys them
    raw30 = inputs["cp30_coords"].astype(np.float32)
    frames = {t + 1: raw30[t].T for t in range(len(raw30))}  # (2, 19) per frame
    res["v1_median_cp30"] = np.stack([helpers_v1.median_filter(frames, f, len(raw30), 2).T
                                      for f in range(1, len(raw30) + 1)])
    # window rotation (standardize_rotation) of every evaluation window of the v1 output of cp30
    v1_30 = res["v1_cp30"]
    starts = list(range(0, len(v1_30) - 150 + 1, 75)) + [len(v1_30) - 150]
    rotated, angles = [], []
    for s in starts:
        w = np.ascontiguousarray(v1_30[s:s + 150].transpose(2, 0, 1))  # (2, 150, 19)
        angle = helpers_v1.get_rotation_angle(w, graph)
        angles.append(angle)
        rotated.append(helpers_v1.rotate(w.copy(), angle).transpose(1, 2, 0))
    res["v1_rotation_starts"], res["v1_rotation_angles"] = np.asarray(starts), np.asarray(angles)
    res["v1_rotated_cp30"] = np.stack(rotated)

    # ---- HEAD (36b95b0): resample → Butterworth → flip → per-frame trunk alignment → normalise
    process_h, helpers_h, feeder_h = _load(head, "utils.process", "utils.helpers", "utils.feeder")
    body_parts = list(defaults["body_parts"])
    for fps_name, raw_fps in (("cp30", 30.0), ("cp25", 25.0), ("cp25gaps", 25.0)):
        for butter in (False, True):
            if fps_name == "cp25gaps" and butter:
                continue  # sosfiltfilt spreads a NaN over the whole sequence; the unfiltered run shows the NaN
            key = f"head_{fps_name}_{'butter' if butter else 'plain'}"
            raw = _cp_layout(tmp / key, out / "cp", [fps_name])
            (tmp / key / "processed").mkdir()
            process_h.perform_processing(str(raw), str(tmp / key / "processed"), 1, 2, 19, body_parts, 8, 12,
                                         raw_fps, 30.0, butter, 8)
            res[key] = _processed(tmp / key / "processed")[fps_name]
    # evaluation windows (EvalFeeder: 150 frames, hop 75, the end window appended) of the HEAD output
    proc = tmp / "head_windows"
    proc.mkdir()
    seqs = [res["head_cp30_butter"], res["head_cp25_butter"]]
    t_max = max(len(s) for s in seqs)
    data = np.full((2, 2, t_max, 19), np.nan, np.float32)
    for i, s in enumerate(seqs):
        data[i, :, :len(s)] = s.transpose(2, 0, 1)
    np.save(proc / "val1_coords.npy", data)
    np.save(proc / "val1_ids.npy", np.asarray(["cp30", "cp25"]))
    np.save(proc / "val1_labels.npy", np.asarray([1, 0]))
    feeder = feeder_h.EvalFeeder(str(proc), "val1", graph, input_temporal_resolution=150, parts_distance=75,
                                 use_mmap=False, absolute=True, motion1=True, bone=True)
    starts = []
    for w, name in zip(feeder.data, feeder.ids):
        seq = seqs[0 if name == "cp30" else 1]
        starts.append(next(s for s in range(len(seq) - 149) if np.array_equal(seq[s:s + 150], w.transpose(1, 2, 0))))
    res["head_window_ids"] = np.asarray([0 if n == "cp30" else 1 for n in feeder.ids])
    res["head_window_starts"] = np.asarray(starts)
    last = len(feeder) - 1  # features of the first and the last window (the file stays small)
    res["head_window_features"] = np.stack([feeder[i][0] for i in (0, last)]).transpose(0, 2, 3, 1)
    # training crops: the interval random_start draws from, per copy (random.randint's arguments)
    rec = _Record(random)
    helpers_h.random = rec
    bounds = []
    for t, t_pad, n, window, roll in CROP_CASES:
        x = np.full((2, t_pad, 19), np.nan, np.float32)
        x[:, :t] = 0.0
        if roll:
            x[:, t:] = 0.0  # a tiled recording fills the padded length
        for p in range(1, n + 1):
            helpers_h.random_start(x, window, roll_sequence=roll, sequence_part=p, num_sequence_parts=n)
        calls = rec.calls[-n:]
        bounds.append(np.asarray([[c[1], c[2]] for c in calls]))
    res["crop_cases"] = np.asarray(CROP_CASES, dtype=np.int64)
    for i, b in enumerate(bounds):
        res[f"crop_bounds_{i}"] = b
    # roll_sequence: TrainFeeder tiles every recording to the split's longest
    train = feeder_h.TrainFeeder(str(proc), "val1", graph, num_per_positive_sample=2, num_per_negative_sample=1,
                                 roll_sequence=True, use_mmap=False)
    res["head_tiled_cp30"] = np.asarray(train.data[list(train.ids).index("cp30")]).transpose(1, 2, 0)
    # augmentation given its draws (random_perturbation) and the features after it (create_bone_motion_features)
    random.seed(30)
    windows, perturbed, draws, feats = [], [], [], []
    for s in (0, 37, len(res["head_cp30_butter"]) - 150):
        w = np.ascontiguousarray(res["head_cp30_butter"][s:s + 150].transpose(2, 0, 1)).astype(np.float64)
        n_calls = len(rec.calls)
        p = helpers_h.random_perturbation(w.copy())
        draws.append([c[1] for c in rec.calls[n_calls:]])  # angle, scale, dx, dy
        windows.append(w.transpose(1, 2, 0))
        perturbed.append(p.transpose(1, 2, 0))
        f = helpers_h.create_bone_motion_features(p.reshape(2, 150, 19, 1), defaults["bone_conns"])
        feats.append(f.reshape(12, 150, 19)[[0, 1, 4, 5, 8, 9]].transpose(1, 2, 0))
    res["aug_windows"], res["aug_draws"] = np.stack(windows), np.asarray(draws, np.float64)
    res["aug_perturbed"], res["aug_features"] = np.stack(perturbed), np.stack(feats)
    helpers_h.random = random
    for name in [m for m in sys.modules if m == "torch" or m.startswith("torch.")]:
        del sys.modules[name]  # the stand-in would mislead einops (infant-movements) into its torch backend
    np.savez_compressed(out / "movementoutcome.npz", **{k: _compact(v) for k, v in res.items()})


def _compact(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v)
    return v.astype(np.float32) if v.dtype == np.float64 and v.size > 1000 else v  # float32 keeps 6e-8


def run_infant_movements(out: pathlib.Path, root: pathlib.Path) -> None:
    import pandas as pd

    inputs = np.load(out / "inputs.npz")
    pre = _functions_of(root / "pre_processing.py")
    (utils,) = _load(root, "utils")
    res: dict[str, np.ndarray] = {}
    height, width = FRAME_SIZE
    for name in PM_RECORDINGS:
        fps = float(inputs[f"{name}_fps"])
        df = pd.read_csv(out / "pm" / f"{name}.csv", index_col=0, header=[0, 1, 2])
        # the script's order and arguments; its "height" is the image width and "width" the image height
        qc, perc, total, include = pre["quality_control"](df, 0.2, 70)
        aligned = pre["align_torso"](qc, width, height, fps)
        outl, removed_pct, _ = pre["remove_outliers"](aligned, width, height)
        filled = pre["gap_fill"](outl, fps)
        normed, length = pre["size_normalise"](filled)
        timed = pre["time_normalise"](normed)
        for key, frame in (("qc", qc), ("aligned", aligned), ("outliers", outl), ("gapfill", filled),
                           ("sizenorm", normed)):
            res[f"{name}_{key}"] = frame.values.reshape(len(frame), 18, 2)
        res[f"{name}_labelled_percent"], res[f"{name}_mean_labelled"] = perc.values, np.float64(total)
        res[f"{name}_include"], res[f"{name}_outliers_removed_percent"] = np.bool_(include), np.float64(removed_pct)
        res[f"{name}_infant_length"] = np.float64(length)
        tn = timed.values  # (4500, 36)
        feats, _ = utils.process_data(tn[None], add_features=True, do_smooth_data=False)
        res[f"{name}_timenorm_rows"] = tn[::9]  # every 9th of the 4500 samples (the file stays small)
        res[f"{name}_features_rows"] = feats[0][::9]
    res["rows_step"] = np.int64(9)
    run_network(root, res)
    np.savez_compressed(out / "infant_movements.npz", **{k: _compact(v) for k, v in res.items()})


def run_network(root: pathlib.Path, res: dict) -> None:
    """The network as coded (config.yaml) on seeded weights: inference logits and attention, a training-mode pass."""
    import tensorflow as tf

    (models,) = _load(root, "models.models")
    kwargs = {"units": 64, "kernel": 3, "dropout": 0.5, "activation": "relu", "pool": 4, "depth": 3, "num_dense": 1,
              "reg": 0.005, "residuals": False, "squeeze_excite": False, "attention_heads": 1, "sigmoid": True,
              "return_attn": True}
    tf.keras.utils.set_random_seed(12345)
    model = models.get_model((None, 46, 128), **kwargs)
    rng = np.random.default_rng(30)
    bns = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.BatchNormalization)]
    for bn in bns:  # non-trivial statistics and affine parameters, so that the conventions are exercised
        gamma, beta, mean, var = bn.get_weights()
        bn.set_weights([1 + 0.1 * rng.standard_normal(gamma.shape), 0.1 * rng.standard_normal(beta.shape),
                        0.5 * rng.random(mean.shape), 0.5 + rng.random(var.shape)])
    convs = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Conv1D)]
    denses = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Dense)]
    attention = next(layer for layer in model.layers if type(layer).__name__ == "AttentionWithContext")
    for i, layer in enumerate(convs):
        res[f"w_conv{i + 1}_kernel"] = layer.get_weights()[0]
    for i, bn in enumerate(bns):
        for key, value in zip(("gamma", "beta", "mean", "var"), bn.get_weights()):
            res[f"w_bn{i + 1}_{key}"] = value
    res["w_dense1_kernel"], res["w_dense1_bias"] = denses[0].get_weights()
    res["w_logit_kernel"], res["w_logit_bias"] = denses[1].get_weights()
    res["w_attention_W"], res["w_attention_b"], res["w_attention_u"] = attention.get_weights()
    x = rng.standard_normal((8, 1, 46, 128)).astype(np.float32)
    res["net_input"] = x
    logits, attn = model(x.reshape(2, 4, 46, 128), training=False)
    res["net_logits"], res["net_attention"] = logits.numpy()[:, 0], attn.numpy()[..., 0]
    # the same weights without dropout: training-mode logits (batch statistics) are then deterministic
    plain = models.get_model((None, 46, 128), **{**kwargs, "dropout": 0.0})
    plain.set_weights(model.get_weights())
    train_logits, _ = plain(x, training=True)
    res["net_train_logits"] = train_logits.numpy()[:, 0]
    # one training-mode pass of the coded batch (8 videos × 1 clip) moves the moving statistics
    model(x, training=True)
    for i, bn in enumerate(bns):
        res[f"net_bn{i + 1}_mean_after"] = bn.moving_mean.numpy()
        res[f"net_bn{i + 1}_var_after"] = bn.moving_variance.numpy()
    res["net_bn_fused"] = np.asarray([bool(bn.fused) for bn in bns])


def write_manifest(out: pathlib.Path) -> None:
    files = ["inputs.npz", "movementoutcome.npz", "infant_movements.npz"]
    manifest = {f: hashlib.sha256((out / f).read_bytes()).hexdigest() for f in files if (out / f).exists()}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    p_in = sub.add_parser("inputs", help="synthetic inputs (infantjax environment)")
    p_in.add_argument("--out", type=pathlib.Path, required=True)
    p_ref = sub.add_parser("reference", help="run the reference code (its own environment)")
    p_ref.add_argument("--out", type=pathlib.Path, required=True)
    p_ref.add_argument("--movementoutcome-v1", type=pathlib.Path, required=True)
    p_ref.add_argument("--movementoutcome-head", type=pathlib.Path, required=True)
    p_ref.add_argument("--infant-movements", type=pathlib.Path, required=True)
    args = parser.parse_args(argv)
    if args.step == "inputs":
        make_inputs(args.out)
    else:
        run_movementoutcome(args.out, args.movementoutcome_v1, args.movementoutcome_head)
        run_infant_movements(args.out, args.infant_movements)
        write_manifest(args.out)


if __name__ == "__main__":
    main()
