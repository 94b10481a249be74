"""The official PyTorch GCNs on this machine's CPU or GPU: forward and training step at batch 32, beside PyTorch's
own matmul rate on the same device.

Runs in a separate Python environment that has PyTorch (never infantjax's). The models come from checkouts of the
public reference repositories (nothing of them is part of infantjax):

* DeepInMotion/MovementOutcome (``models/gcn_search_model.py`` ``Model``, ``utils/graph.py`` ``Graph``): the
  Table A.4 architectures, built with the constructor arguments that ``tests/data/movementoutcome-parity/
  manifest.json`` records for each (the way the reference's ``utils/trainval.py`` turns a candidate into them);
* yysijie/st-gcn (``net/st_gcn.py`` ``Model``): ST-GCN with the In-Motion 19 layout added by subclassing its
  ``Graph`` (19 nodes, the 18 In-Motion links, centre 8; the spatial strategy), as the parity fixtures were made.

The training step is the reference's: ``optim.SGD(lr=5e-4, momentum=0.9, nesterov=True)``, cross-entropy,
``zero_grad`` / ``backward`` / ``step``, BatchNorm in train mode. ``benchmarks/gcn.py --compare --torch-python PY
--movementoutcome-repo DIR --stgcn-repo DIR`` interleaves this with the JAX figures, one call per round.

    /tmp/torchvenv/bin/python benchmarks/gcn_torch.py --movementoutcome-repo /tmp/mo --stgcn-repo /tmp/stgcn \\
        --specs 1 7 stgcn --batch 32

Prints one JSON line per (model, kind, form): its figure, or an ``error`` record for a model (and form) that
failed. The glibc variables of the PyTorch figures of record (large-allocation reuse) are
set by re-executing the script when they are missing (CPU).

On a GPU (``--device cuda``, what ``infantjax bench --compare-torch`` runs beside the JAX figures on the same device):
``--dtype bfloat16`` runs forward and loss under ``torch.autocast`` (bfloat16; parameters and optimizer float32, the
usual PyTorch mixed precision), ``--compile`` times ``torch.compile`` of the model as well, ``--tf32 on`` lets
cuBLAS/cuDNN use TF32 for float32; every timed call ends in ``torch.cuda.synchronize()``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pathlib
import statistics
import sys
import time

MALLOC = {"MALLOC_MMAP_THRESHOLD_": "4294967296", "MALLOC_TRIM_THRESHOLD_": "4294967296"}
MANIFEST = pathlib.Path(__file__).resolve().parents[1] / "tests/data/movementoutcome-parity/manifest.json"
WINDOW, JOINTS = 150, 19
IN_MOTION_LINKS = [(0, 1), (2, 1), (3, 1), (1, 4), (9, 8), (10, 9), (11, 10), (5, 8), (6, 5), (7, 6), (4, 8),
                   (12, 8), (16, 12), (17, 16), (18, 17), (13, 12), (14, 13), (15, 14)]


def _module(path: pathlib.Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _movementoutcome(repo: pathlib.Path, arch: int):
    graph = _module(repo / "utils/graph.py", "mo_graph")
    model = _module(repo / "models/gcn_search_model.py", "mo_model")
    entry = json.loads(MANIFEST.read_text())["archs"][f"{arch:02d}"]
    graphs = [graph.Graph(strategy=g["strategy"], disentangled_num_scales=g.get("disentangled_num_scales", 1),
                          use_mask=g.get("use_mask", True)) for g in entry["graphs"]]
    return model.Model(graphs=graphs, **entry["constructor_kwargs"]), 6


def _stgcn(repo: pathlib.Path):
    sys.path.insert(0, str(repo))
    from net.st_gcn import Model  # the checkout's package
    from net.utils import graph as graph_module

    base = graph_module.Graph

    class InMotionGraph(base):
        def get_edge(self, layout):
            if layout != "in-motion-19":
                return base.get_edge(self, layout)
            self.num_node = JOINTS
            self.edge = [(i, i) for i in range(JOINTS)] + IN_MOTION_LINKS
            self.center = 8

    graph_module.Graph = InMotionGraph
    sys.modules["net.st_gcn"].Graph = InMotionGraph
    return Model(in_channels=2, num_class=2, graph_args={"layout": "in-motion-19", "strategy": "spatial"},
                 edge_importance_weighting=True), 2


def _median(fn, repeats: int, warmup: int, sync=None) -> float:
    for _ in range(warmup):
        fn()
    if sync is not None:
        sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if sync is not None:
            sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _time_model(torch, model, shape, batch: int, repeats: int, device: str = "cpu", dtype: str = "float32",
                form: str = "eager"):
    """(kind, median seconds) of the reference training step and the eval-mode forward on random windows."""
    import contextlib

    x = torch.randn(*shape, device=device) * 0.3
    y = torch.arange(batch, device=device) % 2
    optimizer = torch.optim.SGD(model.parameters(), lr=5e-4, momentum=0.9, nesterov=True)
    loss_fn = torch.nn.CrossEntropyLoss()
    net = torch.compile(model) if form == "compiled" else model
    sync = torch.cuda.synchronize if device == "cuda" else None

    def autocast():
        return torch.autocast(device, dtype=torch.bfloat16) if dtype == "bfloat16" else contextlib.nullcontext()

    def step():
        model.train()
        with autocast():
            out = net(x)
            loss = loss_fn(out[0] if isinstance(out, tuple) else out, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def forward():
        model.eval()
        with torch.no_grad(), autocast():
            net(x)

    warmup = 3 if form == "compiled" else 1  # torch.compile compiles at the first calls (train and eval graphs)
    return [("train_step", _median(step, repeats, warmup, sync)), ("forward", _median(forward, repeats, warmup, sync))]


def _error(err: BaseException) -> str:
    """An exception for an error record (read by ``infantjax bench --compare-torch``, which shows it)."""
    return f"{type(err).__name__}: {err}"[:300]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movementoutcome-repo", type=pathlib.Path)
    parser.add_argument("--stgcn-repo", type=pathlib.Path)
    parser.add_argument("--specs", nargs="+", default=["1", "7", "stgcn"],
                        help="Table A.4 rows (1-10) and/or 'stgcn'")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"),
                        help="bfloat16: forward and loss under torch.autocast")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile of the model")
    parser.add_argument("--tf32", default="off", choices=("on", "off"), help="TF32 for float32 matmuls/convolutions")
    args = parser.parse_args(argv)
    if args.device == "cpu" and any(os.environ.get(k) != v for k, v in MALLOC.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **MALLOC})

    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    sync = None
    n = 2048
    if args.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = args.tf32 == "on"
        torch.backends.cudnn.benchmark = True
        sync, n = torch.cuda.synchronize, 8192
    a = torch.randn(n, n, device=args.device)
    matmul = 2 * n ** 3 / _median(lambda: a @ a, 5, 2, sync) / 1e9
    for name in args.specs:
        if name == "stgcn" and args.stgcn_repo is None:
            parser.error("--stgcn-repo is needed for stgcn")
        if name != "stgcn" and args.movementoutcome_repo is None:
            parser.error("--movementoutcome-repo is needed for Table A.4 rows")
        try:
            if name == "stgcn":
                model, channels = _stgcn(args.stgcn_repo)
                shape = (args.batch, channels, WINDOW, JOINTS, 1)
            else:
                model, channels = _movementoutcome(args.movementoutcome_repo, int(name))
                shape = (args.batch, channels, WINDOW, JOINTS)
            model = model.to(args.device)
        except Exception as err:  # noqa: BLE001 - a model that does not build: say so (every form), keep the others
            print(json.dumps({"model": name, "batch": args.batch, "error": _error(err)}), flush=True)
            continue
        for form in ("eager", "compiled") if args.compile else ("eager",):
            try:
                timed = _time_model(torch, model, shape, args.batch, args.repeats, args.device, args.dtype, form)
            except Exception as err:  # noqa: BLE001 - torch.compile failing on a model, out of memory: say so
                print(json.dumps({"model": name, "form": form, "batch": args.batch, "error": _error(err)}),
                      flush=True)
                continue
            for kind, seconds in timed:
                print(json.dumps({"model": name, "kind": kind, "form": form, "batch": args.batch, "seconds": seconds,
                                  "matmul_gflops": matmul, "threads": args.threads, "torch": torch.__version__,
                                  "device": args.device, "dtype": args.dtype, "tf32": args.tf32,
                                  "load": os.getloadavg()[0]}), flush=True)


if __name__ == "__main__":
    main()
