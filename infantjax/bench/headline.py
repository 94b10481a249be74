"""The headline benchmark set of ``infantjax bench``: pose, GCN, ensemble and depth figures, each beside the
matmul rate.

* ``pose``: EfficientPose RT (batch 1 and 16) and I (batch 16) with the official MPII weights of the zoo, the
  folded inference graph that ``PosePredictor`` runs (ms/img);
* ``gcn``: the training engine's step (forward, backward, update) and the scoring forward of ST-GCN and Table A.4
  #1 and #7 at 150-frame windows of 19 joints (batch 32; ``--quick``: 8);
* ``ensemble``: 7 folds trained by one vmapped step vs the 7 folds one after another, and 7 instances scoring a
  3-minute 30 fps recording (71 windows);
* ``depth``: the asymmetric vs full 3D regression CNN train step (seed 004; quarter widths at 48×64 on CPU, the
  paper's on an accelerator).

The whole set takes about 8 minutes on an idle 2-core CPU (``--quick`` about 3). Figures of record belong to an idle
machine (load average < 1.5): the table prints the load average at the start and the end. Every row computes in the
backend policy's compute dtype (``--compute-dtype``; the pretrained pose networks too) and, on an accelerator the peak
table knows, is given as a fraction of the device's peak (:mod:`infantjax.bench.peaks`).

``--compare-torch`` (:class:`TorchSide`) runs the official PyTorch code on the same device in the same run and adds
its rows beside the JAX ones: EfficientPose RT and I (daniegr/EfficientPose) for ``pose``, the MovementOutcome Table
A.4 networks and st-gcn's ST-GCN for ``gcn`` — through ``benchmarks/pose_torch.py`` and ``benchmarks/gcn_torch.py``
of a source checkout, in a Python that has PyTorch — with the same batch, dtype (``torch.autocast`` for bfloat16) and
TF32 setting, eager and (``compile``) ``torch.compile``; each JAX row then records its ``speedup_vs_torch``. A
PyTorch figure that could not be taken (the script's error record for a model, batch or form, no record at all, the
script failing) is never dropped: a note under the table and in the record names the model, batch, form and error,
and the JAX row gets ``torch_error_<form>``.

With ``json_path`` the record so far is written there (atomically) after every row and case, with a ``partial`` entry
naming the cases done and the one running (and its error, where one raised): a run that aborts in a later case keeps
the rows measured before it; the final record replaces it at the end.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pathlib
import subprocess
import tempfile
from collections.abc import Callable

import jax
import numpy as np

from infantjax import backend, parallel
from infantjax.bench.harness import Row, Run, median_time, program_stats
from infantjax.bench.peaks import matmul_precision
from infantjax.errors import ConfigError

__all__ = ["CASES", "SIZES", "Sizes", "TorchSide", "run_headline"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TorchSide:
    """The official PyTorch code to time beside the JAX rows (``infantjax bench --compare-torch``).

    Attributes:
        python: a Python interpreter with PyTorch (on the GPU machine the one that also runs infantjax).
        scripts: the folder holding ``pose_torch.py`` and ``gcn_torch.py`` (``benchmarks/`` of a source checkout).
        efficientpose_repo: a checkout of daniegr/EfficientPose (for ``pose``; None skips its torch rows).
        movementoutcome_repo: a checkout of DeepInMotion/MovementOutcome (Table A.4 rows of ``gcn``).
        stgcn_repo: a checkout of yysijie/st-gcn (the ST-GCN row of ``gcn``).
        compile: also time ``torch.compile`` of each model.
    """

    python: str
    scripts: str
    efficientpose_repo: str | None = None
    movementoutcome_repo: str | None = None
    stgcn_repo: str | None = None
    compile: bool = False

    def __post_init__(self):
        folder = pathlib.Path(self.scripts)
        missing = [n for n in ("pose_torch.py", "gcn_torch.py") if not (folder / n).is_file()]
        if missing:
            raise ConfigError(f"--compare-torch: {folder} has no {', '.join(missing)}; pass --torch-scripts with the "
                              "benchmarks/ folder of an infantjax source checkout")
        for name in ("efficientpose_repo", "movementoutcome_repo", "stgcn_repo"):
            value = getattr(self, name)
            if value is not None and not pathlib.Path(value).is_dir():
                raise ConfigError(f"--{name.replace('_', '-')} {value}: not a folder; give a checkout of the "
                                  "official repository")
        if not (self.efficientpose_repo or self.movementoutcome_repo or self.stgcn_repo):
            raise ConfigError("--compare-torch needs at least one of --efficientpose-repo, --movementoutcome-repo, "
                              "--stgcn-repo")

    @property
    def device(self) -> str:
        """The torch device of the JAX platform this run measures on (the same device)."""
        return "cuda" if backend.platform() == "gpu" else "cpu"

    @property
    def forms(self) -> tuple[str, ...]:
        """The forms each model is timed in: ``eager`` and, with :attr:`compile`, ``compiled``."""
        return ("eager", "compiled") if self.compile else ("eager",)

    def run(self, script: str, args: list[str], on_record: Callable[[dict], None] | None = None) -> list[dict]:
        """Run ``script`` of :attr:`scripts` in :attr:`python` with the device, dtype and TF32 setting of this
        run; its JSON lines, each also given to ``on_record`` as soon as the script prints it (a ConfigError when
        it exits non-zero; an interrupt ends the script too)."""
        dtype = "bfloat16" if backend.compute_dtype() in ("bfloat16", "float16") else "float32"
        tf32 = "on" if self.device == "cuda" and matmul_precision() == "default" else "off"
        cmd = [self.python, str(pathlib.Path(self.scripts) / script), *args, "--device", self.device,
               "--dtype", dtype, "--tf32", tf32, "--threads", str(os.cpu_count() or 1)]
        if self.compile:
            cmd.append("--compile")
        log.info("torch side: %s", " ".join(cmd))
        records = []
        with tempfile.TemporaryFile("w+") as stderr:  # a file, not a pipe: PyTorch's warnings never block it
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True)
            try:
                for line in proc.stdout:
                    if not line.startswith("{"):
                        continue
                    try:
                        record = json.loads(line)
                    except ValueError:
                        record = {"error": f"unreadable output line {line.strip()[:200]!r}"}
                    records.append(record)
                    if on_record is not None:
                        on_record(record)
            except BaseException:
                proc.kill()
                raise
            finally:
                proc.stdout.close()
                proc.wait()
            if proc.returncode != 0:
                stderr.seek(0)
                raise ConfigError(f"--compare-torch: {script} failed (exit {proc.returncode}): "
                                  f"{stderr.read().strip()[-500:]}")
        return records


def _torch_row(run: Run, jax_row: Row, name: str, seconds: float, form: str, record: dict) -> None:
    """A PyTorch row beside ``jax_row`` (the same work: its items, unit and FLOP count) and the JAX row's speedup."""
    row = Row(name, float(seconds), [float(seconds)], jax_row.items, jax_row.unit, jax_row.gflop,
              {"framework": "pytorch", "form": form, "torch": record.get("torch"), "device": record.get("device"),
               "tf32": record.get("tf32")}, None, record.get("dtype", jax_row.dtype))
    jax_row.extra[f"speedup_vs_torch_{form}"] = float(seconds) / jax_row.seconds
    run.add(row)


def _record_error(rec: dict) -> str | None:
    """The error of a torch script's record (``error``, or ``compile_error``: torch.compile refusing the model)."""
    if "compile_error" in rec:
        return f"torch.compile: {rec['compile_error']}"
    if "error" in rec:
        return str(rec["error"])
    return None


def _torch_rows(run: Run, torch: TorchSide, script: str, args: list[str], expected: dict, matches) -> None:
    """Run ``script`` (:meth:`TorchSide.run`) and put each expected PyTorch figure beside its JAX row as soon as it is
    printed (the partial record has it); a figure not taken (an error record, no record, the script failing or
    interrupted) becomes a note and the JAX row's ``torch_error_<form>``: nothing is dropped.

    Arguments:
        expected: key -> (JAX row, label, form) for every figure asked of the script.
        matches: ``matches(record, key)``: whether a record (a figure or an error, whose fields left out stand for
            every value: an error without a batch is every batch's) is about ``key``.
    """
    pending = dict(expected)
    records: list[dict] = []

    def on_record(record: dict) -> None:
        records.append(record)
        if "seconds" in record:
            for key in [k for k in pending if matches(record, k)]:
                jax_row, label, form = pending.pop(key)
                _torch_row(run, jax_row, label, record["seconds"], form, record)

    try:
        torch.run(script, args, on_record)
    except (ConfigError, OSError) as err:  # the script failed or could not start: its error stands for the rest
        records.append({"error": str(err)})
    except BaseException:  # interrupted (a time limit): say what was not measured, then stop as asked
        _note_missing(run, script, pending, records, matches, "interrupted before it was measured")
        raise
    _note_missing(run, script, pending, records, matches)


def _note_missing(run: Run, script: str, pending: dict, records: list[dict], matches, default: str | None = None):
    """A note per distinct error naming every figure of ``pending`` it cost; the JAX rows' ``torch_error_<form>``."""
    errors: dict = {}
    for key, (jax_row, label, form) in pending.items():
        error = next((e for r in records if (e := _record_error(r)) is not None and matches(r, key)), None)
        error = error or default or f"{script} printed no figure for it"
        jax_row.extra[f"torch_error_{form}"] = error[:300]
        errors.setdefault(error, []).append(label.strip())
    for error, labels in errors.items():
        run.note(f"no figure for {'; '.join(labels)}: {error}")


WINDOW, JOINTS = 150, 19


@dataclasses.dataclass(frozen=True)
class Sizes:
    """The sizes of one headline run (:data:`SIZES`).

    Attributes:
        pose: (zoo model, batch) pairs timed.
        gcn_specs: (label, key, Table A.4 number or None for ST-GCN) networks of the GCN case.
        gcn_batches: batches of the GCN train step and forward.
        fold_batch: windows per fold in the 7-fold vmapped-vs-sequential step.
        score_specs: Table A.4 networks of the scored ensemble (7 folds each).
        score_windows: windows scored (71 = one 3-minute recording).
    """

    pose: tuple[tuple[str, int], ...]
    gcn_specs: tuple[tuple[str, str, int | None], ...]
    gcn_batches: tuple[int, ...]
    fold_batch: int
    score_specs: tuple[int, ...]
    score_windows: int


_A4 = (("ST-GCN", "stgcn", None), ("Table A.4 #1", "1", 1), ("Table A.4 #7", "7", 7))
#: ``quick`` (a smoke run), ``default`` (the CPU figures of record), ``gpu`` (the GPU figures of record:
#: pose batches up to 256, GCN steps at batch 32 and 256 with Table A.4 #8 too, the 70-instance Table A.4
#: ensemble scoring 1,000 three-minute recordings = 71,000 windows).
SIZES = {
    "quick": Sizes((("efficientpose-rt-mpii", 1), ("efficientpose-rt-mpii", 16)), _A4[1:2], (8,), 4, (1,), 31),
    "default": Sizes((("efficientpose-rt-mpii", 1), ("efficientpose-rt-mpii", 16), ("efficientpose-i-mpii", 16)),
                     _A4, (32,), 8, (1,), 71),
    "gpu": Sizes(tuple((m, b) for m in ("efficientpose-rt-mpii", "efficientpose-i-mpii") for b in (1, 16, 64, 256)),
                 _A4 + (("Table A.4 #8", "8", 8),), (32, 256), 32, tuple(range(1, 11)), 71_000),
}


def _pose(run: Run, sizes: Sizes, torch: TorchSide | None = None) -> None:
    from infantjax.pipelines.pose import PosePredictor

    cases = sizes.pose
    rng = np.random.default_rng(0)
    per_image: dict[str, dict] = {}
    rows: dict[tuple[str, int], Row] = {}
    for name, batch in cases:
        shipped = PosePredictor.pretrained(name)
        # the zoo's spec names float32: the benchmark computes in the policy's dtype (--compute-dtype)
        p = PosePredictor(shipped.spec.replace(dtype="auto"), shipped.variables, shipped.skeleton)
        variables = p.inference_variables()
        x = jax.device_put(rng.normal(size=(batch, p.resolution, p.resolution, 3)).astype(np.float32))
        if name not in per_image:  # XLA counts a micro-batch loop's body once: take the FLOPs of one image
            per_image[name] = program_stats(p._heatmap_fn, variables, x[:1])
        one = per_image[name]
        gbytes = one["gbytes"] * batch if "gbytes" in one else None
        rows[(p.spec.variant, batch)] = run.time(
            f"pose {p.spec.variant.upper()} forward, batch {batch}", p._heatmap_fn, variables, x, repeats=5,
            warmup=2, items=batch, unit="images", budget_s=20, gflop=one.get("gflop", float("nan")) * batch,
            gbytes=gbytes)
    if torch is not None and torch.efficientpose_repo:
        _pose_torch(run, torch, rows)


def _pose_torch(run: Run, torch: TorchSide, rows: dict) -> None:
    """The official PyTorch EfficientPose at each (variant, batch) of ``rows``, each beside its JAX row."""
    models = sorted({v.upper() for v, _ in rows})
    batches = sorted({b for _, b in rows})
    expected = {(v, b, form): (row, f"  PyTorch (official) {v.upper()}, batch {b} ({form})", form)
                for (v, b), row in rows.items() for form in torch.forms}
    _torch_rows(run, torch, "pose_torch.py", ["--repo", torch.efficientpose_repo, "--models", *models,
                                              "--batches", *map(str, batches)], expected,
                _matches("model", "batch", "form"))


def _matches(*fields: str):
    """``matches(record, key)`` of :func:`_torch_rows` for keys of these record fields (a field the record lacks
    matches any value; ``compile_error`` records are the ``compiled`` form's)."""

    def matches(rec: dict, key: tuple) -> bool:
        rec = {**rec, "form": "compiled"} if "compile_error" in rec else rec
        return all(field not in rec or rec[field] == value for field, value in zip(fields, key, strict=True))

    return matches


def _engine_step(task, batch: int, seed: int = 0):
    """A closure running the training engine's step of ``task`` on one instance, and (jitted, args) for XLA."""
    from infantjax.train import programs_for

    mesh = parallel.instance_mesh(1, devices=jax.devices()[:1])
    programs = programs_for(task, 100, mesh)
    state = [programs.init(np.asarray(jax.random.PRNGKey(seed))[None])]
    rng = np.random.default_rng(seed)
    data = {"positions": rng.normal(0, 0.3, (1, batch, WINDOW, JOINTS, 2)).astype(np.float32),
            "labels": (np.arange(batch)[None] % 2).astype(np.int32)}
    active = np.ones(1, bool)

    def step():
        state[0], loss, _ = programs.train_step(state[0], data, active)
        return loss

    return step, programs, state, data, active


def _gcn(run: Run, sizes: Sizes, torch: TorchSide | None = None) -> None:
    from infantjax.models.gcn import GCNSpec, STGCNSpec
    from infantjax.train import CPConfig, CPTask

    a4 = GCNSpec.table_a4()
    specs = [(label, key, STGCNSpec() if number is None else a4[number - 1]) for label, key, number in sizes.gcn_specs]
    for batch in sizes.gcn_batches:
        config = CPConfig(batch_size=batch, progress=False)
        rows: dict[tuple[str, str], Row] = {}
        for label, key, spec in specs:
            task = CPTask(spec, config)
            step, programs, state, data, active = _engine_step(task, batch)
            rows[(key, "train_step")] = run.time(
                f"{label} train step, batch {batch}", step, repeats=3, warmup=1, items=batch, unit="windows",
                budget_s=30, program=(programs.train_step, (state[0], data, active)))
            variables = programs.variables(state[0])
            windows = data["positions"]
            rows[(key, "forward")] = run.time(f"{label} forward, batch {batch}", programs.predict, variables,
                                              windows, repeats=3, warmup=1, items=batch, unit="windows", budget_s=20)
            if torch is not None:  # each network's PyTorch rows land before the next network compiles
                _gcn_torch(run, torch, [(label, key, spec)], batch, rows)


def _gcn_torch(run: Run, torch: TorchSide, specs, batch: int, rows: dict) -> None:
    """The official PyTorch GCNs of ``specs`` at ``batch``, each beside its JAX row."""
    names = [k for _, k, _ in specs if (torch.stgcn_repo if k == "stgcn" else torch.movementoutcome_repo)]
    args = ["--specs", *names, "--batch", str(batch), "--repeats", "3"]
    if torch.movementoutcome_repo:
        args += ["--movementoutcome-repo", torch.movementoutcome_repo]
    if torch.stgcn_repo:
        args += ["--stgcn-repo", torch.stgcn_repo]
    if not names:
        return
    labels = {k: lab for lab, k, _ in specs}
    what = {"train_step": "train step", "forward": "forward"}
    expected = {(key, kind, batch, form): (rows[(key, kind)],
                                           f"  PyTorch (official) {labels[key]} {what[kind]}, batch {batch} ({form})",
                                           form)
                for key in names for kind in what for form in torch.forms}
    _torch_rows(run, torch, "gcn_torch.py", args, expected, _matches("model", "kind", "batch", "form"))


def _ensemble(run: Run, sizes: Sizes, torch: TorchSide | None = None) -> None:
    from infantjax.ensemble import Ensemble
    from infantjax.models.gcn import GCNSpec
    from infantjax.train import CPConfig, CPTask, programs_for

    spec = GCNSpec.table_a4()[0]
    folds, batch = 7, sizes.fold_batch
    config = CPConfig(batch_size=batch, progress=False)
    task = CPTask(spec, config)
    rng = np.random.default_rng(0)
    pos = rng.normal(0, 0.3, (folds, batch, WINDOW, JOINTS, 2)).astype(np.float32)
    lab = (rng.integers(0, 2, (folds, batch))).astype(np.int32)
    keys = np.stack([np.asarray(jax.random.PRNGKey(s)) for s in range(folds)])
    mesh = parallel.instance_mesh(folds, batch_size=batch)
    stacked = programs_for(task, 100, mesh)
    n_pad = parallel.padded_size(folds, mesh)
    state7 = [stacked.init(parallel.pad_leading(keys, n_pad))]
    batch7 = {"positions": parallel.pad_leading(pos, n_pad), "labels": parallel.pad_leading(lab, n_pad)}
    active7 = np.arange(n_pad) < folds
    single = programs_for(task, 100, parallel.instance_mesh(1, devices=jax.devices()[:1]))
    states1 = [single.init(keys[f:f + 1]) for f in range(folds)]

    def vmapped():
        state7[0], loss, _ = stacked.train_step(state7[0], batch7, active7)
        return loss

    def sequential():
        out = None
        for f in range(folds):
            states1[f], out, _ = single.train_step(states1[f], {"positions": pos[f:f + 1], "labels": lab[f:f + 1]},
                                                   np.ones(1, bool))
        return out

    v = run.time(f"7 folds, one vmapped step (A.4 #1, batch {batch})", vmapped, repeats=3, items=folds,
                 unit="fold-steps", budget_s=40, analyse=False)
    s = run.time(f"7 folds, one after another (A.4 #1, batch {batch})", sequential, repeats=3, items=folds,
                 unit="fold-steps", budget_s=40, analyse=False)
    v.extra["speedup_vs_sequential"] = s.seconds / v.seconds

    # scoring: 7 instances of each network (A.4 #1: one 3-minute recording, 5400 frames, 71 windows at hop 75;
    # the GPU size: the 70-instance Table A.4 ensemble over 1,000 such recordings)
    specs, stacks = [], []
    for number in sizes.score_specs:
        net = GCNSpec.table_a4()[number - 1]
        if number == 1:
            stack = stacked.variables(state7[0])
        else:
            programs = programs_for(CPTask(net, config), 100, mesh)
            stack = programs.variables(programs.init(parallel.pad_leading(keys, n_pad)))
        specs.append(net)
        stacks.append(jax.tree_util.tree_map(lambda a: np.asarray(a)[:folds], stack))
    ens = Ensemble(specs, stacks, dataclasses.replace(config, eval_batch_size=128))
    n_windows = sizes.score_windows
    windows = rng.normal(0, 0.3, (n_windows, WINDOW, JOINTS, 2)).astype(np.float32)
    med, samples = median_time(lambda: ens.window_predictions(windows), repeats=3, warmup=1, budget_s=60)
    nets = "A.4 #1" if len(specs) == 1 else f"Table A.4, {len(specs)} networks"
    run.add(Row(f"score {n_windows} windows x {folds * len(specs)} instances ({nets})", med, samples,
                n_windows * folds * len(specs), "window-inst", dtype=backend.compute_dtype()))


def _depth(run: Run, sizes: Sizes, torch: TorchSide | None = None) -> None:
    from infantjax.models.depth.regression import RegressionSpec
    from infantjax.train import DepthConfig, DepthTask, programs_for

    accelerator = backend.current().accelerator
    scale, height, width, batch = (1.0, 96, 128, 16) if accelerator else (0.25, 48, 64, 4)
    if sizes is SIZES["quick"]:
        scale, batch = min(scale, 0.125), min(batch, 2)
    rows = {}
    for kind in ("asymmetric", "full"):
        widths = tuple(max(1, round(w * scale)) for w in (64, 128, 256, 256))
        spec = RegressionSpec(kind, widths=widths, head_width=max(1, round(256 * scale)))
        model = spec.build()
        shape = (batch, 3, height, width, 21)
        rng = np.random.default_rng(0)
        x = rng.normal(size=shape).astype(np.float32)
        y = rng.uniform(size=shape[:-1] + (20,)).astype(np.float32)
        task = DepthTask(model, DepthConfig(batch_size=batch, progress=False), shape[1:])
        mesh = parallel.instance_mesh(1, devices=jax.devices()[:1])
        programs = programs_for(task, 100, mesh)
        state = [programs.init(np.asarray(jax.random.PRNGKey(0))[None])]
        data = {"inputs": x[None], "targets": y[None]}
        active = np.ones(1, bool)

        def step(programs=programs, state=state, data=data, active=active):
            state[0], loss, _ = programs.train_step(state[0], data, active)
            return loss

        rows[kind] = run.time(f"depth {kind} 3D regression train step (x{scale:g} widths, {height}x{width}, "
                              f"batch {batch})", step, repeats=3, items=batch, unit="clips", budget_s=30,
                              program=(programs.train_step, (state[0], data, active)))
    rows["asymmetric"].extra["time_ratio_vs_full"] = rows["asymmetric"].seconds / rows["full"].seconds


def _finetune(run: Run, sizes: Sizes, torch: TorchSide | None = None) -> None:
    """Fine-tuning throughput: the training step ``infantjax pose-train`` runs by default (EfficientPose RT at 128 px
    from the MPII weights, 19 body parts, every layer trained, Paper II's augmentation on the device, batch 16), and
    the same with the backbone frozen (``--freeze-backbone``), in images a second."""
    from infantjax.infer.pose import PosePredictor
    from infantjax.models.pose.init import finetune_variables
    from infantjax.pipelines.labelled import train_config
    from infantjax.pipelines.pose import infant_spec
    from infantjax.train import PoseTask, programs_for

    batch = 8 if sizes is SIZES["quick"] else 16
    spec = infant_spec("rt", 128)
    mpii = PosePredictor.pretrained("efficientpose-rt-mpii")
    initial = finetune_variables(mpii.variables, spec, jax.random.PRNGKey(0))
    rng = np.random.default_rng(0)
    data = {"images": rng.integers(0, 256, (1, batch, 128, 128, 3), dtype=np.uint8),
            "keypoints": rng.uniform(0.2, 0.8, (1, batch, 19, 2)).astype(np.float32),
            "sigma": np.ones((1, batch), np.float32)}
    active = np.ones(1, bool)
    for frozen in (False, True):
        config = train_config(300, batch_size=batch, freeze_backbone=frozen, progress=False)
        task = PoseTask(spec, config, "in-motion-19")
        mesh = parallel.instance_mesh(1, devices=jax.devices()[:1])
        programs = programs_for(task, 100, mesh)
        state = [programs.init_from(np.asarray(jax.random.PRNGKey(0))[None], initial)]

        def step(state=state, programs=programs):
            state[0], loss, _ = programs.train_step(state[0], data, active)
            return loss

        what = "backbone frozen" if frozen else "every layer"
        run.time(f"pose-train RT 128 px ({what}), batch {batch}", step, repeats=3, warmup=1, items=batch,
                 unit="images", budget_s=60, program=(programs.train_step, (state[0], data, active)))


CASES: dict[str, Callable[..., None]] = {"pose": _pose, "gcn": _gcn, "ensemble": _ensemble, "depth": _depth,
                                         "finetune": _finetune}


def run_headline(only: list[str] | None = None, *, quick: bool = False, json_path=None, matmul: bool = True,
                 progress: Callable[[str], None] | None = None, torch: TorchSide | None = None,
                 size: str | None = None) -> tuple[dict, str]:
    """Run the headline set (or the ``only`` cases); return the record (also written to ``json_path``) and the
    printable table with the ratios underneath.

    Arguments:
        only: the cases to run (default all of :data:`CASES`).
        quick: smaller sizes (a smoke run).
        json_path: also write the JSON record here (atomically).
        matmul: measure the matmul rate at the start and the end.
        progress: called with each case's name before it runs.
        torch: the official PyTorch code to time beside the JAX rows (``--compare-torch``), or None.
        size: a key of :data:`SIZES` (default ``"quick"`` with ``quick``, else ``"default"``).
    """
    size = size or ("quick" if quick else "default")
    if size not in SIZES:
        raise ConfigError(f"bench size {size!r} is not one of {', '.join(SIZES)}")
    names = list(CASES) if not only else list(only)
    run = Run("infantjax bench" + ("" if size == "default" else f" --size {size}"), measure_matmul=matmul,
              partial_json=json_path)
    done: list[str] = []
    for name in names:
        if progress is not None:
            progress(name)
        run.checkpoint(done=list(done), running=name)
        try:
            CASES[name](run, SIZES[size], torch)
        except BaseException as err:  # an interrupt (the time limit's SIGINT) too: say which case, keep the rows
            run.checkpoint(done=list(done), running=None, failed=name, error=f"{type(err).__name__}: {err}"[:500])
            raise
        done.append(name)
        run.checkpoint(done=list(done), running=None)
    record = run.finish(json_path)
    lines = [run.table()]
    for row in record["rows"]:
        for key in ("speedup_vs_sequential", "time_ratio_vs_full", "speedup_vs_torch_eager",
                    "speedup_vs_torch_compiled"):
            if key in row:
                lines.append(f"{row['name']}: {key.replace('_', ' ')} = {row[key]:.2f}")
    return record, "\n".join(lines)
