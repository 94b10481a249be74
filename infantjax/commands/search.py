"""``infantjax search``: run, join, inspect and export architecture searches (docs/nas.md).

    infantjax search run --storage searches/cp.journal --name cp1 --synthetic 60 --workers 2
    infantjax search work --storage postgresql://host/nas --name cp1          # join from another machine
    infantjax search status cp1 --storage searches/cp.journal --plot cp1.png
    infantjax search export cp1 --storage searches/cp.journal --top 1

Every verb takes the search's name either way: as its first argument (``search status cp1``) or as ``--name cp1``
(``search run cp1 ...`` and ``search status --name cp1`` work too).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys

from infantjax.errors import ConfigError

DEFAULT_STORAGE = "search.journal"
PREFETCH_HELP = ("compile the next candidate's programs in a thread while a trial trains: the compile runs on the "
                 "host, the trial on the device (docs/nas.md, \"Compiling counted\")")


def register(sub) -> None:
    p = sub.add_parser("search", help="neural architecture search over the GCN space (K-Best, Random, TPE)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    storage_help = f"journal file or SQLAlchemy URL (default: $INFANTJAX_STORAGE or {DEFAULT_STORAGE})"

    run = verbs.add_parser("run", help="create (or resume) a search and run it to the end")
    _add_name(run)
    run.add_argument("--storage", default=None, help=storage_help)
    run.add_argument("--data", default=None, help="folder of keypoint recordings")
    run.add_argument("--labels", default=None, help="CSV of recording labels (with --data)")
    run.add_argument("--synthetic", type=int, default=None, metavar="N",
                     help="search on a built-in synthetic cohort of N subjects instead of --data")
    run.add_argument("--cohort-seed", type=int, default=0, help="seed of the --synthetic cohort")
    run.add_argument("--cohort-options", default="{}",
                     help="JSON of infantjax.synth.cohort options for --synthetic, e.g. '{\"duration_s\": 20}'")
    run.add_argument("--hold-out-test", type=float, default=None, metavar="FRACTION",
                     help="remove Cohort.split's stratified test set (this fraction, seed 1433) before searching")
    run.add_argument("--space", default=None,
                     help="JSON restriction of the search space, e.g. '{\"graph\": [\"spatial\"], "
                          "\"input_width\": [6, 8]}' (choices left out keep all alternatives)")
    run.add_argument("--objective", choices=("gcn", "synthetic"), default="gcn",
                     help="'synthetic': a formula with a known optimum instead of training (tests, demos)")
    run.add_argument("--workers", type=_workers, default=1,
                     help="worker processes on this machine, or 'auto': one per local GPU / TPU chip / CPU device, "
                          "each seeing only its own (docs/scale.md)")
    run.add_argument("--pin", choices=("auto", "cuda", "index", "none"), default="auto",
                     help="how workers are pinned to devices")
    run.add_argument("--sampler", choices=("kbest", "random", "tpe"), default="kbest")
    run.add_argument("--seed", type=int, default=0, help="search seed")
    run.add_argument("--max-trials", type=int, default=None, help="trial budget (required for random/tpe)")
    run.add_argument("--k", type=int, default=5, help="K-Best population size K")
    run.add_argument("--threshold", type=float, default=0.9, help="K-Best threshold θ")
    run.add_argument("--t0", type=float, default=10.0, help="K-Best start temperature")
    run.add_argument("--t-end", type=float, default=1.0, help="K-Best end temperature")
    run.add_argument("--t-drop", type=float, default=3.0, help="K-Best temperature drop τ")
    run.add_argument("--epochs", type=int, default=100, help="epochs per trial")
    run.add_argument("--checkpoints", default="paper",
                     help="early stopping: 'paper' (10:0.75 … 90:0.95), 'none', or 'E:AUC,E:AUC,…'")
    run.add_argument("--train", default="{}", help="JSON of CPConfig overrides, e.g. '{\"batch_size\": 8}'")
    run.add_argument("--checkpoint-dir", default=None, help="per-trial checkpoints (resume after a crash)")
    run.add_argument("--heartbeat", type=float, default=10.0, help="seconds between heartbeats")
    run.add_argument("--grace", type=float, default=60.0, help="seconds without heartbeat before a trial is re-run")
    run.add_argument("--worker-name", default=None, help="fixed worker name (restarts reclaim their trial at once)")
    run.add_argument("--prefetch", action="store_true", help=PREFETCH_HELP)
    run.set_defaults(func=cmd_run)

    work = verbs.add_parser("work", help="join an existing search as one worker (any machine)")
    _add_name(work)
    work.add_argument("--storage", default=None, help=storage_help)
    work.add_argument("--worker-name", default=None)
    work.add_argument("--device-index", type=int, default=None,
                      help="run on local device i (default: $INFANTJAX_DEVICE_INDEX if set)")
    work.add_argument("--max-trials", type=int, default=None, help="stop after this many trials of this worker")
    work.add_argument("--prefetch", action="store_true", help=PREFETCH_HELP)
    work.set_defaults(func=cmd_work)

    status = verbs.add_parser("status", help="population, temperature, U, trials by state, best AUC")
    _add_name(status)
    status.add_argument("--storage", default=None, help=storage_help)
    status.add_argument("--plot", default=None, metavar="PNG", help="write a plot of AUC per trial")
    status.add_argument("--json", action="store_true", help="print the full summary as JSON")
    status.set_defaults(func=cmd_status)

    export = verbs.add_parser("export", help="the best specs as JSON")
    _add_name(export)
    export.add_argument("--storage", default=None, help=storage_help)
    export.add_argument("--top", type=int, default=1)
    export.add_argument("--out", default=None, help="write to this file instead of stdout")
    export.set_defaults(func=cmd_export)


def _add_name(verb) -> None:
    """The search name of every verb, in either spelling: ``NAME`` first or ``--name NAME``."""
    verb.add_argument("positional_name", nargs="?", default=None, metavar="NAME",
                      help="search name (an Optuna study); or give it as --name NAME")
    verb.add_argument("--name", default=None, help="search name, as the first argument does")


def _search_name(args) -> str:
    """The search name given as ``NAME`` or ``--name`` (``args.name`` is set to it).

    Raises:
        ConfigError: neither was given, or both with different names.
    """
    positional, option = args.positional_name, args.name
    if positional is not None and option is not None and positional != option:
        raise ConfigError(f"two search names: {positional!r} and --name {option!r}; give one")
    name = positional if positional is not None else option
    if name is None:
        raise ConfigError(f"search {args.verb} needs the search's name: infantjax search {args.verb} NAME (or "
                          "--name NAME)")
    args.name = name
    return name


def _workers(text: str):
    """--workers: a positive number or 'auto'."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 1 or 'auto', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1 or 'auto', got {value}")
    return value


def _storage(args) -> str:
    return args.storage or os.environ.get("INFANTJAX_STORAGE") or DEFAULT_STORAGE


def _existing_storage(args) -> str:
    """The storage of a verb that reads a search: a journal file must exist (opening one creates it)."""
    storage = _storage(args)
    if "://" not in storage or storage.startswith(("journal://", "file://")):
        path = pathlib.Path(storage.split("://", 1)[1] if "://" in storage else storage).expanduser()
        if not path.is_file():
            how = "--storage" if args.storage else f"--storage (default: $INFANTJAX_STORAGE or {DEFAULT_STORAGE})"
            raise ConfigError(f"no search named {args.name!r}: the search journal {str(path)!r} does not exist; pass "
                              f"the journal of the search with {how}")
    return storage


def _json_object(text: str | None, option: str) -> dict | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{option} is not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{option} must be a JSON object, got {text!r}")
    return value


def settings_from_args(args):
    from infantjax.nas.store import SearchSettings
    from infantjax.nas.trial import TrialConfig, parse_checkpoints

    train = _json_object(args.train, "--train")
    space = _json_object(args.space, "--space")
    cohort_options = _json_object(args.cohort_options, "--cohort-options")
    if args.objective == "synthetic":
        objective = {"kind": "synthetic", "seed": args.cohort_seed, "epochs": args.epochs}
    elif args.synthetic:
        objective = {"kind": "gcn", "synthetic": args.synthetic, "cohort_seed": args.cohort_seed,
                     "cohort_options": cohort_options}
    elif args.data:
        if not pathlib.Path(args.data).is_dir():
            raise ConfigError(f"--data {args.data!r} is not a folder")
        if args.labels and not pathlib.Path(args.labels).is_file():
            raise ConfigError(f"--labels {args.labels!r} does not exist")
        objective = {"kind": "gcn", "data": str(pathlib.Path(args.data).resolve()),
                     "labels": None if not args.labels else str(pathlib.Path(args.labels).resolve())}
    else:
        raise ConfigError("search run needs data: --data DIR --labels CSV, --synthetic N, or --objective synthetic")
    if args.hold_out_test is not None and objective["kind"] == "gcn":
        if not 0 < args.hold_out_test < 1:
            raise ConfigError(f"--hold-out-test must be a fraction in (0, 1), got {args.hold_out_test}")
        objective["hold_out_test"] = {"test_fraction": args.hold_out_test, "seed": 1433}
    sampler_config = {}
    if args.sampler == "kbest":
        sampler_config = {"k": args.k, "threshold": args.threshold, "start_temperature": args.t0,
                          "end_temperature": args.t_end, "temperature_drop": args.t_drop}
    return SearchSettings(
        sampler=args.sampler, sampler_config=sampler_config, seed=args.seed, max_trials=args.max_trials,
        trial=TrialConfig(epochs=args.epochs, checkpoints=parse_checkpoints(args.checkpoints), train=train),
        objective=objective, heartbeat_interval=args.heartbeat, grace_period=args.grace,
        checkpoint_root=None if args.checkpoint_dir is None else str(pathlib.Path(args.checkpoint_dir).resolve()),
        space=space,
    )


def _trial_line(text: str) -> None:
    print(text, flush=True)


def cmd_run(args) -> int:
    _search_name(args)
    from infantjax.nas.worker import default_worker_name, run_search

    settings = settings_from_args(args)
    storage = _storage(args)
    # a stable name (host + slot): a plain restart after a crash reclaims its running trial at once
    name = args.worker_name or (default_worker_name(storage, args.name) if args.workers == 1 else None)
    summary = run_search(storage, args.name, settings, workers=args.workers, pin=args.pin, worker_name=name,
                         on_trial=_trial_line, prefetch=args.prefetch)
    _print_summary(summary)
    return 0


def cmd_work(args) -> int:
    _search_name(args)
    from infantjax.nas.store import SearchStore
    from infantjax.nas.worker import DEVICE_ENV, Worker, default_worker_name

    index = args.device_index
    if index is None and os.environ.get(DEVICE_ENV):
        text = os.environ[DEVICE_ENV].strip()
        if not text.isdigit():
            raise ConfigError(f"${DEVICE_ENV}={os.environ[DEVICE_ENV]!r} is not a device index; set it to a local "
                              f"device number (0, 1, ...) or unset it")
        index = int(text)
    storage = _existing_storage(args)
    store = SearchStore(storage, args.name)
    name = args.worker_name or default_worker_name(storage, args.name)
    report = Worker(store, name=name, device_index=index, max_trials=args.max_trials, on_trial=_trial_line,
                    prefetch=args.prefetch).run()
    import jax

    # the devices this worker saw (one per worker under `search run --workers auto`)
    devices = [f"{d.platform}:{d.id}" for d in jax.local_devices()]
    print(json.dumps({"worker": name, "finished": report.finished, "reruns": report.reruns,
                      "failed": report.failed, "lost": report.lost, "devices": devices,
                      "prefetched_s": report.prefetched}))
    return 0


def _print_summary(summary: dict) -> None:
    sampler = summary["sampler"]
    print(f"search {summary['name']}: sampler {sampler['sampler']}, over: {summary['over'] or 'no'}")
    print("trials: " + ", ".join(f"{k} {v}" for k, v in sorted(summary["trials"].items())))
    if "phase" in sampler:
        print(f"phase {sampler['phase']}, temperature {sampler['temperature']}, U {sampler['unsuccessful']}")
        for rank, m in enumerate(sampler["population"], 1):
            print(f"  population {rank}: trial {m['number']} AUC {m['performance']:.4f}")
    best, early = summary["best"], summary.get("best_stopped_early")
    if best:
        print(f"best: trial {best['number']} AUC {best['performance']:.4f}")
    elif early:
        print("best: none (no trial is complete; Optuna counts complete trials only)")
    if early:
        print(f"best stopped early: trial {early['number']} AUC {early['performance']:.4f} (pruned: not "
              "Optuna's best trial)")
    if summary.get("foreign_trials"):
        numbers = summary["foreign_trials"]
        print(f"skipped: {len(numbers)} trial(s) not written by infantjax search (number "
              + ", ".join(map(str, numbers[:10])) + (", ..." if len(numbers) > 10 else "") + ")")
    if summary.get("trials_per_hour"):
        print(f"throughput: {summary['trials_per_hour']:.1f} trials/hour")
    workers = summary.get("workers") or []
    if workers:
        print(f"workers running a trial: {len(workers)}")
        for w in workers:
            state = "" if w["alive"] else " (no heartbeat within the grace period: will be re-run)"
            name = w["worker"] or "(being claimed)"  # RUNNING a moment before the worker's name is stored
            print(f"  {name}: trial {w['trial']}, last heartbeat {w['heartbeat_age']:.1f} s ago{state}")


def cmd_status(args) -> int:
    _search_name(args)
    from infantjax.nas.results import search_summary
    from infantjax.nas.store import SearchStore

    store = SearchStore(_existing_storage(args), args.name)
    snapshot = store.snapshot()
    summary = search_summary(store, snapshot)
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        _print_summary(summary)
    if args.plot:
        plot_trials(snapshot, args.plot, title=f"search {args.name}",
                    threshold=store.settings.sampler_config.get("threshold"))
        print(f"plot: {args.plot}")
    return 0


def plot_trials(snapshot, path: str, *, title: str = "", threshold: float | None = None) -> None:
    """AUC per trial (by trial number), coloured by state, with the running best; written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from infantjax.io.files import atomic_path

    out = pathlib.Path(path)
    if not out.parent.is_dir():
        raise ConfigError(f"--plot {path!r}: folder {str(out.parent)!r} does not exist")
    fig, ax = plt.subplots(figsize=(8, 4))
    colours = {"complete": "tab:blue", "pruned": "tab:orange", "failed": "tab:red"}
    trials = sorted((t for t in snapshot.trials if t.finished), key=lambda t: t.number)
    for state, colour in colours.items():
        pts = [(t.number, t.performance or 0.0) for t in trials if t.state == state]
        if pts:
            ax.scatter(*zip(*pts), s=14, c=colour, label=state)
    best, xs, ys = -1.0, [], []
    for t in sorted(trials, key=lambda t: (t.completed or 0, t.number)):
        best = max(best, t.performance or 0.0)
        xs.append(t.number)
        ys.append(best)
    if xs:
        ax.step(sorted(xs), sorted(ys), where="post", c="k", lw=1, label="best so far")
    if threshold is not None:
        ax.axhline(threshold, ls="--", c="grey", lw=1, label=f"θ = {threshold}")
    ax.set_xlabel("trial")
    ax.set_ylabel("validation AUC (best epoch)")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    try:
        with atomic_path(out) as tmp:
            fig.savefig(tmp, dpi=100, format="png")
    finally:
        plt.close(fig)


def cmd_export(args) -> int:
    _search_name(args)
    from infantjax.nas.store import SearchStore

    if args.top < 1:
        raise ConfigError(f"--top must be >= 1, got {args.top}")
    from infantjax.nas.results import best_spec
    from infantjax.nas.space import candidate_string

    store = SearchStore(_existing_storage(args), args.name)
    done = [t for t in store.snapshot().trials if t.finished and t.performance is not None]
    if not done:
        raise ConfigError(f"search {args.name!r} has no finished trial yet")
    # the search's winner first (for K-Best the best population member, as best_spec), then by performance
    winner = candidate_string(best_spec(store))
    done.sort(key=lambda t: (candidate_string(t.spec) != winner, -t.performance, t.number))
    specs = [{"number": t.number, "state": t.state, "performance": t.performance, "spec": t.spec.to_dict()}
             for t in done[:args.top]]
    text = json.dumps(specs[0]["spec"] if args.top == 1 else specs, indent=2)
    if args.out:
        from infantjax.io.files import write_text

        write_text(args.out, text + "\n")
    else:
        sys.stdout.write(text + "\n")
    return 0
