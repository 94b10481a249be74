"""``infantjax import-movementoutcome``: turn networks trained with MovementOutcome into a saved ensemble.

    infantjax import-movementoutcome SEARCH [SEARCH ...] --out ENS [--threshold T] [--mode reference|corrected]

Each SEARCH is a search folder of a MovementOutcome project (``projects/<p>/searches/<name>``, the folder holding
``experiments/``). Per folder the best candidate's cross-validation folds (their best-AUC epochs) become one stack of
the ensemble written to ENS, which ``infantjax predict ENS INPUT`` then uses (docs/gcn.md, "Saving layout").
"""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("import-movementoutcome",
                       help="an ensemble from the cross-validated networks of MovementOutcome searches")
    p.add_argument("searches", nargs="+", metavar="SEARCH",
                   help="search folder(s) of a MovementOutcome project (projects/<p>/searches/<name>)")
    p.add_argument("--out", required=True, help="folder to write the infantjax ensemble to")
    p.add_argument("--threshold", type=float, default=0.5, help="decision threshold of the ensemble (default 0.5)")
    p.add_argument("--mode", choices=("reference", "corrected"), default="reference",
                   help="model mode (reference: compute exactly what the reference code computes)")
    p.set_defaults(func=run)


def run(args) -> int:
    from infantjax import ensemble

    ens = ensemble.from_movementoutcome(args.searches, threshold=args.threshold, mode=args.mode)
    path = ens.save(args.out)
    for spec_k, (size, source) in enumerate(zip(ens.stack_sizes, ens.metadata["searches"])):
        print(f"spec{spec_k}: {source['folder']} candidate {source['candidate']}, {size} folds")
    print(f"ensemble of {ens.num_instances} instances in {path}")
    return 0
