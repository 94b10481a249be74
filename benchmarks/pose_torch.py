"""The official PyTorch EfficientPose on this machine's CPU or GPU: ms/img at each batch, beside PyTorch's own matmul
rate on the same device.

Runs in a separate Python environment that has PyTorch (never infantjax's): the official code and weights come
from a checkout of the public repository daniegr/EfficientPose (``models/pytorch/EfficientPose{RT,I}.py`` and the
pickled models beside them; loading a pickle executes code, so use a checkout you trust). Nothing of it is part of
infantjax. ``benchmarks/pose.py --compare --torch-python PY --torch-repo DIR`` interleaves this with the JAX
figures, one call per round.

    MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=4294967296 \\
        /tmp/torchvenv/bin/python benchmarks/pose_torch.py --repo /tmp/EfficientPose --models RT I

Prints one JSON line per (model, batch, form): its figure, or its ``error`` (a model that does not load: one record
without batch; torch.compile refusing a model: ``compile_error``). The glibc variables above (large-allocation reuse) are what the
PyTorch figures of record were measured with; the script re-executes itself with them when they are missing.

On a GPU (``--device cuda``, what ``infantjax bench --compare-torch`` runs beside the JAX figures on the same device):
``--dtype bfloat16`` runs the forward under ``torch.autocast`` (bfloat16), ``--compile`` through ``torch.compile`` as
well as eagerly, ``--tf32 on`` lets cuBLAS/cuDNN use TF32 for float32 (what JAX's default matmul precision does on
NVIDIA GPUs); every timed call ends in ``torch.cuda.synchronize()``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
import types

MALLOC = {"MALLOC_MMAP_THRESHOLD_": "4294967296", "MALLOC_TRIM_THRESHOLD_": "4294967296"}
RESOLUTION = {"RT": 224, "I": 256, "II": 368, "III": 480, "IV": 600}


def _load(repo: str, variant: str, device: str = "cpu"):
    """The official model of ``variant``, its parameters on ``device``, its forward runnable there.

    The generated model files were made for the CPU: their forward makes two kinds of tensors anew on every call, on
    the CPU whatever the model's device, and a CUDA forward then fails at the first of them ("Expected all tensors to
    be on the same device"): the E-swish factors, ``torch.Tensor([1.25])`` (27 one-element 1-D tensors, which PyTorch
    does not treat as scalars), and the bilinear transposed convolutions of the output (built in forward by
    ``utils.helpers``, which the checkout lacks and this script writes). Here the factors are made 0-d tensors
    (PyTorch's CPU scalars: they combine with a tensor of any device, the same product) and the transposed
    convolutions are built on ``device``: on a CPU the same arithmetic as before.
    """
    import torch

    # The generated model files import utils.helpers for one layer: the fixed bilinear transposed convolution,
    # which their forward builds anew on every call (README §2.1: Conv2DTranspose K -> K, 4×4, stride 2,
    # padding 1, kernel outer([1,3,3,1]/4)² at [i, i], zero bias). Same behaviour, written here, on ``device``.
    class BilinearConvTranspose2d(torch.nn.ConvTranspose2d):
        def __init__(self, channels, kernel_size, stride, groups=1):
            super().__init__(channels, channels, kernel_size=kernel_size, stride=stride, padding=stride - 1,
                             groups=groups, device=device)

        def reset_parameters(self):
            k = self.kernel_size[0]
            f = (k + 1) // 2
            c = f - 1 if k % 2 == 1 else f - 0.5
            with torch.no_grad():  # made on the device: no host-to-device copy (and wait) in the forward
                taps = 1 - (torch.arange(k, device=self.weight.device, dtype=self.weight.dtype) - c).abs() / f
                self.weight.zero_()
                self.bias.zero_()
                channel = torch.arange(self.in_channels, device=self.weight.device)
                self.weight[channel, channel if self.groups == 1 else 0] = torch.outer(taps, taps)

    helpers = types.ModuleType("utils.helpers")
    helpers.pytorch_BilinearConvTranspose2d = BilinearConvTranspose2d
    utils = types.ModuleType("utils")
    utils.helpers = helpers
    sys.modules.setdefault("utils", utils)
    sys.modules.setdefault("utils.helpers", helpers)
    path = os.path.join(repo, "models", "pytorch", f"EfficientPose{variant}.py")
    spec = importlib.util.spec_from_file_location("MainModel", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["MainModel"] = module
    spec.loader.exec_module(module)
    module.torch = _scalar_factors(torch)  # what the forward calls ``torch``
    model = torch.load(os.path.join(repo, "models", "pytorch", f"EfficientPose{variant}"), weights_only=False)
    model.eval()
    for layer in model.modules():  # the pickle (an old PyTorch's) holds its parameters as plain tensors
        for name, value in layer._parameters.items():
            if value is not None and not isinstance(value, torch.nn.Parameter):
                layer._parameters[name] = torch.nn.Parameter(value, requires_grad=False)
    return model.to(device)


def _scalar_factors(torch):
    """``torch`` for the generated forward, where ``torch.Tensor([c])`` (one number) is the 0-d tensor ``c``."""
    proxy = types.ModuleType("torch")
    proxy.__dict__.update(torch.__dict__)

    def tensor(*args, **kwargs):
        if (len(args) == 1 and not kwargs and isinstance(args[0], list) and len(args[0]) == 1
                and isinstance(args[0][0], float)):
            return torch.tensor(args[0][0])
        return torch.Tensor(*args, **kwargs)

    proxy.Tensor = tensor
    return proxy


def _sync(torch, device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _matmul_rate(device: str = "cpu", n: int | None = None) -> float:
    """GFLOP/s of an n×n float32 matmul on ``device`` (2048 on CPU, 8192 on a GPU), median of 5 after a warm-up."""
    import torch

    n = n or (8192 if device == "cuda" else 2048)
    a = torch.randn(n, n, device=device)
    a @ a
    _sync(torch, device)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        a @ a
        _sync(torch, device)
        times.append(time.perf_counter() - t)
    return 2 * n ** 3 / statistics.median(times) / 1e9


def _time(torch, fn, x, device: str, repeats: int, warmup: int = 2) -> float:
    """Median seconds of ``fn(x)`` (no gradients), each call waited for."""
    with torch.no_grad():
        for _ in range(warmup):
            fn(x)
        _sync(torch, device)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn(x)
            _sync(torch, device)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def _error(err: BaseException) -> str:
    """An exception for an error record (read by ``infantjax bench --compare-torch``, which shows it)."""
    return f"{type(err).__name__}: {err}"[:300]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", required=True, help="checkout of daniegr/EfficientPose")
    ap.add_argument("--models", nargs="+", default=["RT", "I"], choices=sorted(RESOLUTION))
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 16])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"),
                    help="bfloat16: the forward under torch.autocast")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile of the model")
    ap.add_argument("--tf32", default="off", choices=("on", "off"), help="TF32 for float32 matmuls/convolutions")
    ap.add_argument("--repeats", type=int, default=None, help="timed calls (default 5 at batch 1, else 3)")
    args = ap.parse_args()
    if args.device == "cpu" and any(os.environ.get(k) != v for k, v in MALLOC.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **MALLOC})
    import contextlib

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    if args.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = args.tf32 == "on"
        torch.backends.cudnn.benchmark = True
    matmul = _matmul_rate(args.device)
    for variant in args.models:
        try:
            model = _load(args.repo, variant, args.device)
        except Exception as err:  # noqa: BLE001 - a model that does not load: say so (every batch), keep the others
            print(json.dumps({"model": variant.lower(), "error": _error(err)}), flush=True)
            continue
        forms = [("eager", model)]
        if args.compile:
            try:
                forms.append(("compiled", torch.compile(model)))
            except Exception as err:  # noqa: BLE001 - a model torch.compile cannot take: say so, time eager
                print(json.dumps({"model": variant.lower(), "compile_error": _error(err)}), flush=True)
        r = RESOLUTION[variant]
        for b in args.batches:
            x = torch.from_numpy(np.random.default_rng(1).normal(size=(b, 3, r, r)).astype(np.float32))
            x = x.to(args.device)
            for form, fn in forms:
                autocast = (torch.autocast(args.device, dtype=torch.bfloat16) if args.dtype == "bfloat16"
                            else contextlib.nullcontext())
                try:
                    with autocast:
                        med = _time(torch, fn, x, args.device, args.repeats or (5 if b == 1 else 3))
                except Exception as err:  # noqa: BLE001 - torch.compile failing at the first call, out of memory
                    print(json.dumps({"model": variant.lower(), "batch": b, "form": form,
                                      "error": _error(err)}), flush=True)
                    continue
                print(json.dumps({"model": variant.lower(), "batch": b, "graph": "pytorch", "form": form,
                                  "device": args.device, "dtype": args.dtype, "seconds": med,
                                  "ms_per_img": round(med / b * 1e3, 4), "matmul_gflop_s": round(matmul, 1),
                                  "load_average": round(os.getloadavg()[0], 2), "torch": torch.__version__,
                                  "threads": args.threads, "tf32": args.tf32}), flush=True)


if __name__ == "__main__":
    main()
