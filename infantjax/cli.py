"""The ``infantjax`` command.

Each subcommand lives in its own module under :mod:`infantjax.commands` and exposes
``register(subparsers) -> None``; the parser registers a ``func(args) -> int`` default on its subparser. Modules
are discovered, so adding a command never touches this file. Library errors (:class:`InfantJaxError`) are printed
as one clear line and exit with status 2; no traceback for user mistakes (``--debug`` prints it).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import pkgutil
import sys
import traceback

from infantjax.errors import InfantJaxError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    import infantjax.commands as commands

    parser = argparse.ArgumentParser(
        prog="infantjax",
        description="Video-based infant movement analysis: pose, skeleton GCN ensembles, NAS, clinical risk.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"infantjax {_version()}",
                        help="print infantjax's version and exit")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error instead of its one-line message")
    # multi-process JAX (docs/scale.md): every process of one job runs the same command with its own --process-id
    parser.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                        help="start multi-process JAX with process 0's coordination service at HOST:PORT "
                             "(also $INFANTJAX_COORDINATOR; INFANTJAX_DISTRIBUTED=1 lets JAX detect the cluster)")
    parser.add_argument("--num-processes", type=int, default=None, metavar="N",
                        help="processes of the multi-process job (with --coordinator)")
    parser.add_argument("--process-id", type=int, default=None, metavar="I",
                        help="this process's rank 0 … N-1 (with --coordinator)")
    parser.add_argument("--compilation-cache", default=None, metavar="DIR|off",
                        help="keep compiled programs in DIR so that the next run skips compiling (default: on, in "
                             "~/.cache/infantjax/xla/…, except for `bench`; also $INFANTJAX_COMPILATION_CACHE; "
                             "'off' turns it off)")
    # the backend policy (docs/backend.md): the forms a platform runs and the mixed-precision compute dtype
    parser.add_argument("--backend-policy", default=None, choices=("auto", "cpu", "accelerator", "tpu", "tpu-v6e"),
                        help="run the CPU, the accelerator (GPU) or the TPU forms whatever the platform (default "
                             "auto: the platform's, tpu-v6e on a v6e; also $INFANTJAX_BACKEND_POLICY)")
    parser.add_argument("--compute-dtype", default=None, choices=("auto", "float32", "bfloat16", "float16"),
                        help="the dtype networks compute in (default auto: float32 on CPU, bfloat16 on "
                             "accelerators; parameters stay float32; also $INFANTJAX_COMPUTE_DTYPE)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"infantjax.commands.{info.name}")
        module.register(sub)
    for command in sub.choices.values():
        _mark_groups(command)
    return parser


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def _mark_groups(parser: argparse.ArgumentParser) -> None:
    """Every group command (``search``, ``mam`` ...: a command of subcommands) behaves alike when its subcommand is
    left out: :func:`main` prints the group's help (its usage and subcommands) on stderr and exits with status 2, a
    usage error as argparse's own; so the subcommand is not argparse-required (its message would not list them)."""
    verbs = _subcommands(parser)
    if verbs is None:
        return
    verbs.required = False
    parser.set_defaults(func=None, group_parser=parser)
    for child in verbs.choices.values():
        _mark_groups(child)


def group_commands(parser: argparse.ArgumentParser | None = None) -> list[list[str]]:
    """The argv prefixes of every group command of the parser (``[["mam"], ["search"], ...]``), nested ones too."""
    parser = parser or build_parser()
    found = []

    def walk(p, prefix):
        verbs = _subcommands(p)
        if verbs is None:
            return
        if prefix:
            found.append(prefix)
        for name, child in verbs.choices.items():
            walk(child, [*prefix, name])

    walk(parser, [])
    return found


def _missing_subcommand(group: argparse.ArgumentParser) -> None:
    """A group command without its subcommand: its help and one error line on stderr, exit status 2."""
    verbs = _subcommands(group)
    group.print_help(sys.stderr)
    group.exit(2, f"{group.prog}: error: a subcommand is required: one of {', '.join(verbs.choices)}\n")


def _version() -> str:
    """The installed distribution's version (the package's own when it is not installed)."""
    import importlib.metadata

    try:
        return importlib.metadata.version("infantjax")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a source tree on the path
        import infantjax

        return getattr(infantjax, "__version__", "unknown")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        if getattr(args, "group_parser", None) is not None:
            _missing_subcommand(args.group_parser)
        parser.print_help()
        return 0
    try:
        with _backend_policy(args):
            _start_distributed(args)
            _compilation_cache(args)
            return int(args.func(args) or 0)
    except InfantJaxError as err:
        if args.debug:
            traceback.print_exc()
        print(f"infantjax {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"infantjax {args.command}: interrupted", file=sys.stderr)
        return 130


@contextlib.contextmanager
def _backend_policy(args):
    """``--backend-policy`` / ``--compute-dtype``: the process's environment variables while the command runs
    (every thread of the command sees them), restored afterwards."""
    import os

    asked = {"INFANTJAX_BACKEND_POLICY": args.backend_policy, "INFANTJAX_COMPUTE_DTYPE": args.compute_dtype}
    asked = {k: v for k, v in asked.items() if v is not None}
    if not asked:
        yield
        return
    from infantjax import backend

    before = {k: os.environ.get(k) for k in asked}
    policy = backend.current()
    os.environ.update(asked)
    try:
        if backend.current() != policy:
            import jax

            jax.clear_caches()  # nothing traced under the other policy runs under this one
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _start_distributed(args) -> None:
    """Multi-process JAX when --coordinator, $INFANTJAX_COORDINATOR or INFANTJAX_DISTRIBUTED=1 asks for it."""
    import os

    if args.coordinator is None and not os.environ.get("INFANTJAX_COORDINATOR") \
            and os.environ.get("INFANTJAX_DISTRIBUTED") != "1":
        if args.num_processes is not None or args.process_id is not None:
            from infantjax.errors import ConfigError

            raise ConfigError("--num-processes and --process-id need --coordinator HOST:PORT")
        return  # a single process: JAX is not even imported here
    from infantjax import parallel

    parallel.initialize(coordinator=args.coordinator, num_processes=args.num_processes, process_id=args.process_id)


def _compilation_cache(args) -> None:
    """The persistent compilation cache (:mod:`infantjax.cache`): on unless turned off, or unless the command
    opts out (``bench``) and nobody asked for it. A default directory that cannot be written only warns."""
    import os

    from infantjax import cache

    asked = args.compilation_cache is not None or bool(os.environ.get(cache.CACHE_ENV))
    if not asked and not getattr(args, "compilation_cache_default", True):
        return
    enabled, path = cache.cache_setting(args.compilation_cache)
    if not enabled:
        return
    try:
        cache.enable_compilation_cache(path)
    except InfantJaxError as err:
        if path is not None:  # a directory the user named: say so and stop
            raise
        logging.getLogger("infantjax").warning("%s; running without the compilation cache", err)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
