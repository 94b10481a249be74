"""``infantjax export MODEL --format stablehlo|onnx|litert --out FILE``: a trained model in a deployment format.

MODEL is a zoo entry (``infantjax info`` lists them) or a saved model: a pose predictor, a smartphone model or a CP
ensemble (one GCN stack). The file is checked on the spot against the JAX model on a sample input, and the command
prints the largest difference of every output (docs/deploy.md).
"""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("export", help="write a trained model to StableHLO, ONNX or LiteRT, checked against JAX")
    p.add_argument("model", help="a zoo entry (efficientpose-rt-mpii, smartphone-synthetic, cp-gcn-synthetic, …: "
                                 "`infantjax info` lists them) or a saved pose predictor, smartphone model or "
                                 "ensemble (folder, .npz, or an official EfficientPose .h5)")
    p.add_argument("--format", required=True, choices=("stablehlo", "onnx", "litert"),
                   help="stablehlo (jax.export; runs wherever JAX or XLA runs), onnx (ONNX Runtime, TensorRT, "
                        "OpenVINO; extra `onnx`) or litert (.tflite for phones and edge boxes; extra `litert`)")
    p.add_argument("--out", required=True, help="the file to write (a FILE.json sidecar describes its input)")
    p.add_argument("--batch", type=int, default=None,
                   help="a fixed batch size (default: symbolic for stablehlo and onnx, 1 for litert)")
    p.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                   help="an option of the model's family's export graph (repeat for several): stack=K, the "
                        "GCN stack of a CP ensemble (default 0); clips=N, clips per video of a smartphone "
                        "model's input (default 547, recordings of 4500 samples)")
    p.add_argument("--platform", action="append", default=None, choices=("cpu", "cuda", "rocm", "tpu"),
                   help="stablehlo: a platform to lower for (repeat for several; default: the one JAX runs on)")
    p.add_argument("--no-check", action="store_true", help="skip the on-the-spot check against the JAX model")
    p.set_defaults(func=run)


def run(args) -> int:
    import sys

    import infantjax
    from infantjax.deploy import export
    from infantjax.deploy.formats import suffix_mismatch

    options = graph_options(args.option)
    mismatch = suffix_mismatch(args.format, args.out)  # written as asked, but said at once: later tools misread it
    if mismatch:
        print(f"infantjax export: warning: --out {mismatch}", file=sys.stderr)
    model = infantjax.load(args.model)
    result = export(model, args.format, args.out, batch=args.batch, check=not args.no_check,
                    platforms=args.platform, **options)
    print(result.summary())
    print(f"described in {result.sidecar}")
    return 0


def graph_options(items: list[str]) -> dict:
    """``--option NAME=VALUE`` items as keyword options; a value is read as JSON (numbers, true/false), else
    kept as text.

    Raises:
        ConfigError: an item without ``=`` or a name given twice.
    """
    import json

    from infantjax.errors import ConfigError

    out: dict = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ConfigError(f"--option {item!r}: give NAME=VALUE, e.g. --option stack=1")
        if name in out:
            raise ConfigError(f"--option {name} is given twice")
        try:
            out[name] = json.loads(text)
        except json.JSONDecodeError:
            out[name] = text
    return out
