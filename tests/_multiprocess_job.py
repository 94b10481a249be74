"""One process of the multi-process tests (tests/test_parallel_multiprocess.py): train a 7-fold ensemble stack of
the tiny GCN and score a cohort, then (process 0) write the parameters and predictions to an .npz file.

    python tests/_multiprocess_job.py OUT.npz [--coordinator HOST:PORT --num-processes N --process-id I]

The launcher sets XLA_FLAGS (fake CPU devices per process) and JAX_PLATFORMS=cpu before this starts. Without
--coordinator it is the single-process reference run.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # _train_utils
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # infantjax from this checkout


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--coordinator", default=None)
    ap.add_argument("--num-processes", type=int, default=None)
    ap.add_argument("--process-id", type=int, default=None)
    args = ap.parse_args()

    from infantjax import parallel

    parallel.initialize(coordinator=args.coordinator, num_processes=args.num_processes, process_id=args.process_id)
    import jax
    import numpy as np
    from _train_utils import SMALL, random_walk_cohort, tiny_gcn_spec

    from infantjax.protocols import cp as cp_protocol

    cohort = random_walk_cohort(14, 60, seed=0, name="dev")
    config = SMALL.replace(epochs=2, positive_copies=2, negative_copies=2)
    ens = cp_protocol.train([tiny_gcn_spec()], cohort, config, folds=7, seed=3)
    scored = random_walk_cohort(2, 60, seed=9, name="scored")
    probabilities = np.stack([ens.predict(s).probabilities for s in scored.sequences])
    if jax.process_index() == 0:
        leaves = jax.tree_util.tree_leaves_with_path(ens.variables[0])
        arrays = {jax.tree_util.keystr(path): np.asarray(x) for path, x in leaves}
        np.savez(args.out, probabilities=probabilities, fold_auc=np.asarray(ens.fold_auc[0]),
                 devices=np.asarray([jax.device_count(), jax.local_device_count(), jax.process_count()]), **arrays)
    return 0


if __name__ == "__main__":
    sys.exit(main())
