"""``infantjax train``: train a fold ensemble (architectures × folds) on a folder of keypoint files.

    infantjax train --data DIR --labels labels.csv --specs table-a4 --out ENS [--epochs 200] [--folds 7]

``--specs`` is ``table-a4`` (the 10 architectures of seed 002), ``table-a4:N`` (the first N), ``stgcn`` (the
ST-GCN baseline) or a JSON file holding a list of GCNSpec dicts. The labels CSV has the columns file, subject,
label (``infantjax.io.read_cohort``).
"""

from __future__ import annotations

import json
import pathlib

from infantjax.errors import ConfigError


def register(sub) -> None:
    p = sub.add_parser("train", help="train a fold ensemble of GCNs on keypoint files and save it")
    p.add_argument("--data", required=True, help="folder of keypoint files")
    p.add_argument("--labels", default=None, help="labels CSV (file,subject,label); default DATA/labels.csv")
    p.add_argument("--specs", default="table-a4",
                   help="table-a4, table-a4:N, stgcn, or a JSON file with a list of GCNSpec dicts")
    p.add_argument("--out", required=True, help="directory to write the ensemble to")
    p.add_argument("--config", default=None, help="CPConfig JSON file (flags below override it)")
    p.add_argument("--epochs", type=int, default=None, help="epochs per fold (reference: 200)")
    p.add_argument("--folds", type=int, default=7, help="cross-validation folds (7)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument("--window", type=int, default=None, help="frames per window (150)")
    p.add_argument("--hop", type=int, default=None, help="hop between evaluation windows (75)")
    p.add_argument("--copies", type=int, nargs=2, metavar=("POSITIVE", "NEGATIVE"), default=None,
                   help="windows per positive / negative recording per epoch (60 12)")
    p.add_argument("--mirror-chance", type=float, default=None, metavar="P",
                   help="mirror each training window with this chance (x reflected, left and right swapped): 0.5 "
                        "makes the ensemble give a mirrored video nearly the same answer (default 0, the reference)")
    p.add_argument("--threshold", type=float, default=0.5, help="default decision threshold of the ensemble")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fps", type=float, default=None, help="frame rate of files that do not store one")
    p.add_argument("--checkpoint-dir", default=None, help="checkpoint every epoch here and resume from it")
    remat = p.add_mutually_exclusive_group()
    remat.add_argument("--remat", dest="remat", action="store_const", const=True, default=None,
                       help="rematerialise the GCN modules in training: a fraction of the training step's memory for "
                            "about one more forward pass per step, the same values (default: only networks whose "
                            "step would keep more than 4 GB of activations on a CPU; CPConfig.remat; "
                            "docs/performance.md, Memory)")
    remat.add_argument("--no-remat", dest="remat", action="store_const", const=False,
                       help="never rematerialise, whatever the step's memory")
    p.add_argument("--memory-budget", type=float, default=None, metavar="GB",
                   help="GB one compiled call may use (default: a quarter of the device's memory, at most 1.5 GB "
                        "on the CPU); a training step of several folds above it runs the folds in groups that fit, "
                        "evaluation in smaller chunks")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def parse_specs(text: str) -> list:
    """The architectures named by ``--specs``."""
    from infantjax.models.gcn import GCNSpec, STGCNSpec

    if text == "table-a4" or text.startswith("table-a4:"):
        specs = list(GCNSpec.table_a4())
        if ":" in text:
            try:
                n = int(text.split(":", 1)[1])
            except ValueError:
                raise ConfigError(f"--specs {text!r}: write table-a4:N with N in 1..10") from None
            if not 1 <= n <= len(specs):
                raise ConfigError(f"--specs {text!r}: N must be in 1..{len(specs)}")
            specs = specs[:n]
        return specs
    if text == "stgcn":
        return [STGCNSpec()]
    path = pathlib.Path(text)
    if not path.is_file():
        raise ConfigError(f"--specs {text!r} is neither table-a4[:N], stgcn nor a JSON file")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"--specs {path}: not valid JSON ({err})") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data or not all(isinstance(d, dict) for d in data):
        raise ConfigError(f"--specs {path}: expected a JSON list of GCNSpec objects")
    out = []
    for i, d in enumerate(data):
        d = dict(d)
        kind = d.pop("type", "GCNSpec")
        if kind not in ("GCNSpec", "STGCNSpec"):
            raise ConfigError(f"--specs {path}: item {i} has type {kind!r}; use GCNSpec or STGCNSpec")
        try:
            out.append((STGCNSpec if kind == "STGCNSpec" else GCNSpec).from_dict(d))
        except ConfigError as err:
            raise ConfigError(f"--specs {path}, item {i}: {err}") from None
    return out


def memory_line(budget: int | None) -> str:
    """The memory budget training runs under, and where it comes from (one line)."""
    from infantjax import backend, parallel

    bytes_ = parallel.memory_budget(budget)
    if budget is not None:
        return f"memory budget: {bytes_ / 1e9:.2f} GB a compiled call (--memory-budget)"
    where = ("the CPU default: a quarter of the RAM, at most 1.5 GB" if backend.platform() == "cpu"
             else "a quarter of the device's memory")
    return f"memory budget: {bytes_ / 1e9:.2f} GB a compiled call ({where}; --memory-budget GB to change it)"


def config_from_args(args):
    from infantjax.train import CPConfig

    config = CPConfig()
    if args.config:
        try:
            config = CPConfig.from_json(pathlib.Path(args.config).read_text())
        except OSError as err:
            raise ConfigError(f"--config {args.config}: {err}") from None
    changes = {k: v for k, v in {"epochs": args.epochs, "batch_size": args.batch_size,
                                 "learning_rate": args.learning_rate, "window": args.window,
                                 "hop": args.hop, "mirror": args.mirror_chance}.items() if v is not None}
    if args.mirror_chance is not None and not 0 <= args.mirror_chance <= 1:
        raise ConfigError(f"--mirror-chance must be a chance in [0, 1], got {args.mirror_chance}")
    if args.copies:
        changes.update(positive_copies=args.copies[0], negative_copies=args.copies[1])
    if args.remat is not None:
        changes["remat"] = args.remat
    if args.memory_budget is not None:
        if not args.memory_budget > 0:
            raise ConfigError(f"--memory-budget must be a positive number of GB, got {args.memory_budget}")
        changes["memory_budget"] = int(args.memory_budget * 1e9)
    if args.no_progress:
        changes["progress"] = False
    return config.replace(**changes)


def run(args) -> int:
    from infantjax.io import read_cohort
    from infantjax.protocols import cp

    if args.folds < 2:
        raise ConfigError(f"--folds must be >= 2 (cross-validation needs a validation fold), got {args.folds}")
    if args.seed < 0:
        raise ConfigError(f"--seed must be a non-negative integer, got {args.seed}")
    if not 0 <= args.threshold <= 1:
        raise ConfigError(f"--threshold must be a probability in [0, 1], got {args.threshold}")
    specs = parse_specs(args.specs)
    config = config_from_args(args)
    cohort = read_cohort(args.data, args.labels, fps=args.fps)
    print(f"training {len(specs)} architecture(s) × {args.folds} folds on {cohort}")
    print(memory_line(config.memory_budget))
    ens = cp.train(specs, cohort, config, folds=args.folds, seed=args.seed, threshold=args.threshold,
                         checkpoint_dir=args.checkpoint_dir)
    ens.save(args.out)
    for k, aucs in enumerate(ens.fold_auc):
        print(f"spec {k}: validation AUC per fold " + " ".join(f"{a:.3f}" for a in aucs))
    print(f"saved {ens} to {args.out}")
    return 0
