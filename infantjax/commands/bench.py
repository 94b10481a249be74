"""``infantjax bench``: the headline benchmark set, each figure beside the matmul rate of the same run and, on an
accelerator, as a fraction of the device's peak; ``--compare-torch`` times the official PyTorch code beside it."""

from __future__ import annotations

#: the cases of infantjax.bench.headline.CASES (named here so that building the parser imports no JAX)
CASE_NAMES = ("pose", "gcn", "ensemble", "depth", "finetune")


def register(sub) -> None:
    p = sub.add_parser("bench", help="time the headline set (pose, GCN training, ensembles, depth, the lab fine-tune) on this machine")
    p.add_argument("--only", default=None,
                   help=f"comma-separated subset of: {', '.join(CASE_NAMES)} (default: all; ~8 min on 2 idle CPU cores)")
    p.add_argument("--quick", action="store_true", help="smaller sizes (~3 min): a smoke run, not figures of record")
    p.add_argument("--size", default=None, choices=("quick", "default", "gpu"),
                   help="the sizes: quick (= --quick), default (the CPU figures of record), gpu (the GPU figures of "
                        "record: pose batches 1-256, GCN batches 32 and 256, the 70-instance ensemble scoring 71,000 "
                        "windows; docs/performance.md)")
    p.add_argument("--json", default=None, help="also write the JSON record here")
    torch = p.add_argument_group("official PyTorch code on the same device (--compare-torch)")
    torch.add_argument("--compare-torch", action="store_true",
                       help="also time the official PyTorch models (EfficientPose, MovementOutcome, st-gcn) on the "
                            "same device in this run, each beside its JAX row")
    torch.add_argument("--torch-python", default=None,
                       help="a Python with PyTorch (default: this one)")
    torch.add_argument("--torch-scripts", default=None,
                       help="the folder of pose_torch.py and gcn_torch.py (default: benchmarks/ of this source "
                            "checkout)")
    torch.add_argument("--efficientpose-repo", default=None, help="checkout of daniegr/EfficientPose (pose rows)")
    torch.add_argument("--movementoutcome-repo", default=None,
                       help="checkout of DeepInMotion/MovementOutcome (Table A.4 rows)")
    torch.add_argument("--stgcn-repo", default=None, help="checkout of yysijie/st-gcn (the ST-GCN row)")
    torch.add_argument("--torch-compile", action="store_true", help="also time torch.compile of each model")
    p.set_defaults(func=run, compilation_cache_default=False)  # first-call figures include compiling


def torch_side(args):
    """The :class:`~infantjax.bench.headline.TorchSide` of the command line, or None without --compare-torch."""
    import pathlib
    import sys

    from infantjax.bench.headline import TorchSide
    from infantjax.errors import ConfigError

    given = [args.torch_python, args.torch_scripts, args.efficientpose_repo, args.movementoutcome_repo,
             args.stgcn_repo]
    if not args.compare_torch:
        if any(v is not None for v in given) or args.torch_compile:
            raise ConfigError("the PyTorch options (--torch-python, --efficientpose-repo, ...) need --compare-torch")
        return None
    scripts = args.torch_scripts or str(pathlib.Path(__file__).resolve().parents[2] / "benchmarks")
    return TorchSide(python=args.torch_python or sys.executable, scripts=scripts,
                     efficientpose_repo=args.efficientpose_repo, movementoutcome_repo=args.movementoutcome_repo,
                     stgcn_repo=args.stgcn_repo, compile=args.torch_compile)


def run(args) -> int:
    import sys

    from infantjax.bench.headline import CASES, run_headline
    from infantjax.errors import ConfigError

    only = None
    if args.only:
        only = [s.strip() for s in args.only.split(",") if s.strip()]
        unknown = [s for s in only if s not in CASES]
        if unknown or not only:
            raise ConfigError(f"--only {args.only!r}: unknown case(s) {unknown}; choose from {', '.join(CASES)}")
    if args.quick and args.size not in (None, "quick"):
        raise ConfigError(f"--quick and --size {args.size} ask for different sizes; give one of them")
    _, text = run_headline(only, quick=args.quick, json_path=args.json, torch=torch_side(args), size=args.size,
                           progress=lambda name: print(f"[bench] {name} ...", file=sys.stderr, flush=True))
    print(text)
    return 0
