"""``infantjax compile``: a headline program compiled for a TPU slice or GPU host this machine does not have, with
its memory per device, FLOPs, bytes, collectives and roofline bound (estimates, compiled for, not run on;
docs/compile.md)."""

from __future__ import annotations

import argparse

from infantjax.aot import PROGRAMS
from infantjax.targets import TARGETS

DESCRIPTION = """\
Compile one of the library's headline programs for a TPU slice or a GPU host that this machine does not have
(XLA's own compilers for those devices, run on the CPU; the extra aot), and print what the compiled program says.

What the figures are:
  memory per device   XLA's memory analysis of the compiled program (arguments, outputs, scratch): a property of
                      the program, as exact as the compiler's own accounting.
  FLOPs, bytes        XLA's cost analysis of the program (the FLOPs counted on the traced program's products
                      and convolutions where XLA's count falls short of them).
  collectives         the cross-device operations in the program (none between ensemble instances).
  bound, time         ESTIMATES, not measurements: the roofline bound max(FLOPs / peak, bytes / bandwidth) from
                      the target's datasheet, and on GPU targets the cost model calibrated on measured H100 and H200 runs
                      (each kernel's launch plus its bytes or FLOPs at the achieved rates). Real H100 runs of the
                      GCN steps took 15-50 x their roofline bound; the calibrated model's time is the closer one.
                      Current figures and the calibration: docs/performance.md and docs/compile.md.
"""


def register(sub) -> None:
    p = sub.add_parser("compile", help="compile a headline program for a TPU slice or GPU host without the hardware "
                                       "(extra aot): memory per device, FLOPs, collectives, roofline estimate",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", required=True, choices=tuple(TARGETS), help="the slice or host to compile for")
    p.add_argument("--program", required=True, choices=tuple(PROGRAMS),
                   help="; ".join(f"{name}: {p.line}" for name, p in PROGRAMS.items()))
    p.add_argument("--batch", type=int, default=None,
                   help="windows / images per instance and call (default: the program's)")
    p.add_argument("--instances", type=int, default=None,
                   help="stacked instances of ensemble programs (default: one per device, at most 64)")
    p.add_argument("--max-batch", action="store_true",
                   help="find the largest batch whose program fits the device's memory (several compiles)")
    p.add_argument("--size", default="paper", choices=("paper", "small"),
                   help="paper: the papers' networks and inputs (default); small: small ones (a quick check)")
    p.add_argument("--json", default=None, help="also write the record (as `infantjax bench` writes them) here")
    p.set_defaults(func=run, compilation_cache_default=False)  # executables of devices this machine does not have


def run(args) -> int:
    import json
    import os

    from infantjax import aot
    from infantjax.errors import ConfigError
    from infantjax.io.files import write_text

    for name, value in aot.COMPILE_ENV.items():  # before JAX starts its backends
        os.environ.setdefault(name, value)
    if args.batch is not None and args.batch < 1:
        raise ConfigError(f"--batch must be at least 1, got {args.batch}")
    if args.max_batch:
        batch, result = aot.largest_batch(args.target, args.program, instances=args.instances, size=args.size,
                                          start=args.batch)
        print(f"largest batch that fits {args.target}: {batch}")
    else:
        result = aot.compile_program(args.target, args.program, batch=args.batch, instances=args.instances,
                                     size=args.size)
    print(result.table())
    if args.json:
        record = {"benchmark": "compile", "estimate": aot.ESTIMATE,
                  "environment": aot.environment(result), "rows": [result.record()]}
        if args.max_batch:
            record["largest_batch"] = result.batch
        write_text(args.json, json.dumps(record, indent=1) + "\n")
    return 0
