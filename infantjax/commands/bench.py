"""``infantjax bench``: the headline benchmark set, each figure beside the matmul rate of the same run."""

from __future__ import annotations


#: the cases of infantjax.bench.headline.CASES (named here so that building the parser imports no JAX)
CASE_NAMES = ("pose", "gcn", "ensemble", "depth")


def register(sub) -> None:
    p = sub.add_parser("bench", help="time the headline set (pose, GCN training, ensembles, depth) on this machine")
    p.add_argument("--only", default=None,
                   help=f"comma-separated subset of: {', '.join(CASE_NAMES)} (default: all; ~8 min on 2 idle CPU cores)")
    p.add_argument("--quick", action="store_true", help="smaller sizes (~3 min): a smoke run, not figures of record")
    p.add_argument("--json", default=None, help="also write the JSON record here")
    p.set_defaults(func=run, compilation_cache_default=False)  # first-call figures include compiling


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
    _, text = run_headline(only, quick=args.quick, json_path=args.json,
                           progress=lambda name: print(f"[bench] {name} ...", file=sys.stderr, flush=True))
    print(text)
    return 0
