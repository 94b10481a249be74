"""The trial store: an Optuna study that holds the whole search (DESIGN §3, "NAS state is a function of the trial log").

* One machine: a journal file (``optuna.storages.journal.JournalFileBackend``) with file locking; pass a path
  (``searches/cp.journal``) or ``journal:///abs/path``.
* Several machines: any SQLAlchemy URL (``postgresql://user@host/db``, ``mysql://…``, ``sqlite:///file.db``) through
  ``optuna.storages.RDBStorage``.

Layout. The study's user attribute ``infantjax_search`` holds the :class:`SearchSettings` (sampler, seed, budgets,
objective) as JSON, so a worker needs only the storage URL and the study name. One Optuna trial is one
candidate; its trial number is its identity (seeds and checkpoint folders derive from it). The candidate's 20
choices are also the trial's Optuna params, each with its ``CategoricalDistribution`` over the search's
alternatives (:func:`~infantjax.nas.space.optuna_distributions`), so Optuna's own tools
(``study.trials_dataframe()``, ``optuna.importance``, ``optuna.visualization``, optuna-dashboard) see the
search space. Trial user attributes:

``spec``       the candidate's 20 choices (written once, when the candidate is decided);
``decision``   what the decision saw: ``unfinished_below`` (trial numbers below this one not finished yet),
               ``finished_above`` (numbers above it already finished) and ``pending`` (in-flight candidates used for
               duplicate rejection) — enough to recompute the decision from the log (:func:`audit`);
``owner``      a token per claim; ``worker`` the worker's name; ``heartbeat`` a Unix time refreshed while it runs;
``performance`` best validation AUC; ``epochs``; ``skipped`` (why a created trial was not run: budget, stopped,
               exhausted); ``error`` (the exception of a failed trial); ``runs`` (how many times it was
               claimed; 0 from its creation on, which marks the trial as the search's).

Trials others add to the study (plain Optuna's ``study.ask()`` / ``add_trial``) carry none of these
attributes: every reader of the search (``search status``, ``export``, ``run``, ``work``) skips them with a
warning, and they take no part in the decisions or the budget. ``search run`` refuses a study that it did not
create. A trial queued with Optuna's ``study.enqueue_trial(params)`` (WAITING, no attributes of the search) is not
run: the search's candidates are decided from its log (:func:`audit` recomputes every one), which a candidate
chosen by hand is not. The first worker that sees it refuses it (:meth:`SearchStore.refuse_enqueued`): a warning
saying why and what to do instead, the trial marked FAIL with the reason in its ``infantjax_refused`` attribute, so
nobody waits for it; it stays out of the search as any other trial plain Optuna adds.

Best. :meth:`Snapshot.best` is Optuna's ``study.best_trial``: the complete trial of the highest value (the
best AUC); a trial stopped early (PRUNED, its value its best AUC so far) is never the best. Where a pruned
trial scored higher, or none is complete, :meth:`Snapshot.best_stopped_early` names it and ``search status``
shows it beside the best.

States. WAITING: a trial whose worker died, waiting to be re-run. RUNNING: being evaluated. COMPLETE / PRUNED: done
(value = best AUC, also for a pruned trial). FAIL: an error in the objective (``error``) or a trial that was not
needed (``skipped``).

Claims. A worker takes a WAITING trial through Optuna's atomic WAITING → RUNNING transition (both backends), or
creates a new trial (numbers are assigned by the storage, so two workers never get the same number). A RUNNING
trial whose heartbeat is older than the grace period is put back to WAITING; the next claim re-runs it — the *same*
trial, resuming from its checkpoint. If a presumed-dead worker was only slow, it sees a foreign ``owner`` at its next
heartbeat and abandons the trial.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
import math
import os
import pathlib
import time
from collections.abc import Iterable, Mapping
from typing import Any

from infantjax._jsonconfig import JsonConfig
from infantjax.errors import ConfigError, DataError
from infantjax.models.gcn.spec import GCNSpec
from infantjax.nas.space import Finished, candidate_string, normalise_space, optuna_distributions
from infantjax.nas.trial import TrialConfig

__all__ = [
    "SearchSettings", "SearchStore", "Snapshot", "TrialView", "audit", "database_url", "make_sampler", "open_storage",
    "trials_table",
]

log = logging.getLogger(__name__)

SETTINGS_ATTR = "infantjax_search"


RDB_ATTEMPTS = 5  # tries to open a database storage whose tables another worker is creating at the same moment

#: Seconds a journal's file lock may stand unchanged before a worker waiting for it removes it: the lock a
#: worker killed while appending leaves behind (Optuna's ``JournalFileSymlinkLock``; given here, not left to
#: the default of the installed Optuna — before 4.3 a stale lock was never removed and every other worker
#: waited forever).
JOURNAL_LOCK_GRACE_S = 30


#: user attributes that only the search's own trials carry (``runs`` from their creation on)
OWN_TRIAL_ATTRS = ("runs", "spec", "owner", "skipped")

#: why a trial queued with Optuna's ``study.enqueue_trial`` is refused (:meth:`SearchStore.refuse_enqueued`)
ENQUEUED_REFUSAL = ("infantjax search decides every candidate from its trial log (so that the search can be "
                    "audited and resumed), and a trial queued by hand is none of its candidates; to train a chosen "
                    "architecture, give its spec to `infantjax train --specs FILE`, or restrict the search with "
                    "`search run --space`")

#: seconds ``search run`` waits for the settings of a study another process has just created (an empty study
#: with no settings yet) before it calls the study someone else's
CREATION_WAIT_S = 10.0


def _creation_race(err: Exception) -> bool:
    """Whether opening a database storage failed because another process was creating its tables."""
    text = str(err).lower()
    return "already exists" in text or "database is locked" in text or "duplicate" in text


def database_url(url: str) -> str:
    """An SQLAlchemy URL with the PostgreSQL driver infantjax supports: ``postgresql://`` (SQLAlchemy's default
    driver is psycopg2) becomes ``postgresql+psycopg://`` (psycopg 3, the ``postgres`` extra) when psycopg 3 is
    installed and psycopg2 is not. URLs that name a driver, and other databases, are returned unchanged."""
    scheme, sep, rest = url.partition("://")
    if scheme not in ("postgresql", "postgres"):
        return url
    import importlib.util

    if importlib.util.find_spec("psycopg") is not None and importlib.util.find_spec("psycopg2") is None:
        return f"postgresql+psycopg{sep}{rest}"
    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is None:
        raise ConfigError(f"storage {url!r} needs a PostgreSQL driver: pip install 'infantjax[postgres]' (psycopg 3)")
    return url if scheme == "postgresql" else f"postgresql{sep}{rest}"


def open_storage(url: str | os.PathLike):
    """An Optuna storage for ``url``: a journal file path (or ``journal:///path``) or an SQLAlchemy URL.

    Arguments:
        url: ``searches/cp.journal``, ``journal:///abs/cp.journal``, ``sqlite:///cp.db``, ``postgresql://…``.

    Returns:
        ``optuna.storages.journal.JournalStorage`` (file backend, symlink file lock) or
        ``optuna.storages.RDBStorage``.
    """
    import optuna

    text = str(url)
    if not text:
        raise ConfigError("--storage is empty: give a journal file path or an SQLAlchemy URL")
    if "://" in text and not text.startswith(("journal://", "file://")):
        text = database_url(text)
        for attempt in range(RDB_ATTEMPTS):
            try:
                # pre-ping: a worker whose pooled connection the server dropped (restart, idle timeout) reconnects
                return optuna.storages.RDBStorage(text, engine_kwargs={"pool_pre_ping": True})
            except ImportError as err:
                raise ConfigError(f"storage {text!r} needs a database driver that is not installed: {err}") from None
            except Exception as err:  # noqa: BLE001 - SQLAlchemy raises many types for bad URLs / unreachable servers
                # two workers creating a new database at once: one creates the tables, the other's CREATE TABLE
                # fails ("table studies already exists", or a lock); the tables exist when it tries again
                if _creation_race(err) and attempt + 1 < RDB_ATTEMPTS:
                    log.info("storage %s: concurrent creation (%s); retrying", text, err)
                    time.sleep(0.2 * (attempt + 1))
                    continue
                raise ConfigError(f"cannot open storage {text!r}: {type(err).__name__}: {err}") from None
    path = pathlib.Path(text.split("://", 1)[1] if "://" in text else text).expanduser()
    if path.is_dir():
        raise ConfigError(f"storage {str(path)!r} is a directory; give a journal file, e.g. {path / 'search.journal'}")
    if not path.parent.is_dir():
        raise ConfigError(f"storage {str(path)!r}: folder {str(path.parent)!r} does not exist; create it first")
    from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock, JournalStorage

    try:
        # the storage replays the whole journal here: a damaged line fails now, with Optuna's bare error (an unknown
        # operation code even with a bare ``assert False``)
        lock = JournalFileSymlinkLock(str(path), grace_period=JOURNAL_LOCK_GRACE_S)
        return JournalStorage(JournalFileBackend(str(path), lock_obj=lock))
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, AssertionError) as err:
        where = _first_bad_journal_line(path)
        raise ConfigError(f"search journal {str(path)!r} is damaged ({where or f'{type(err).__name__}: {err}'}); it "
                          "is not an Optuna journal, or a line was overwritten: restore it from a copy or start a "
                          "new journal") from None


def _first_bad_journal_line(path: pathlib.Path) -> str | None:
    """``"line N: what is wrong"`` for the first line of a journal that is not an operation Optuna replays, or
    None. Lines that are not JSON operations are found by reading; the first operation Optuna refuses (an
    unknown operation code, a field missing) by replaying ever longer beginnings of the journal (bisection)
    through Optuna's public journal storage."""
    from optuna.storages.journal import BaseJournalBackend, JournalStorage

    class Lines(BaseJournalBackend):  # the journal's first lines, read only
        def __init__(self, logs: list[dict]):
            self.logs = logs

        def read_logs(self, log_number_from: int):
            return iter(self.logs[log_number_from:])

        def append_logs(self, logs) -> None:
            raise RuntimeError("a journal being checked is not written")

    def replays(logs: list[dict]) -> Exception | None:
        try:
            JournalStorage(Lines(logs))
        except Exception as err:  # noqa: BLE001 - whatever Optuna raises on an operation it cannot apply
            return err
        return None

    operations, numbers = [], []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError as err:
                    return f"line {number} is not JSON: {err.msg}"
                if not isinstance(entry, dict) or "op_code" not in entry or "worker_id" not in entry:
                    return f"line {number} is not an operation (no op_code and worker_id)"
                operations.append(entry)
                numbers.append(number)
    except OSError:
        return None
    if replays(operations) is None:
        return None
    good, bad = 0, len(operations)  # the first `good` operations replay, the first `bad` do not
    while bad - good > 1:
        mid = (good + bad) // 2
        if replays(operations[:mid]) is None:
            good = mid
        else:
            bad = mid
    err = replays(operations[:bad])
    what = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    code = operations[bad - 1]["op_code"]
    return f"line {numbers[bad - 1]}: an operation Optuna cannot replay (op_code {code!r}; {what})"


# ---------------------------------------------------------------------------------------------------- settings
@dataclasses.dataclass(frozen=True)
class SearchSettings(JsonConfig):
    """Everything that defines a search; stored in the study so that every worker runs the same search.

    Attributes:
        sampler: ``"kbest"``, ``"random"`` or ``"tpe"``.
        sampler_config: the sampler's options (:class:`~infantjax.nas.KBestConfig` fields for K-Best).
        seed: the search seed; sampling and training seeds derive from (seed, trial number).
        max_trials: trial budget (candidates 0 … max_trials − 1); ``None``: unlimited (K-Best stops by itself).
        trial: the trial budget (epochs, early-stopping checkpoints, folds).
        objective: how workers build the objective (``{"kind": "synthetic", …}`` or ``{"kind": "gcn", …}``).
        heartbeat_interval: seconds between heartbeats of a running trial.
        grace_period: a running trial without a heartbeat for this long is re-run by another worker.
        checkpoint_root: folder for per-trial checkpoints (``<root>/trial_<number>``); ``None``: none.
        space: optional restriction of the search space, ``{choice: [allowed alternatives]}`` (e.g. small
            architectures for a laptop); choices left out keep all their alternatives. ``None``: Table A.1's space.
    """

    sampler: str = "kbest"
    sampler_config: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    seed: int = 0
    max_trials: int | None = None
    trial: TrialConfig = dataclasses.field(default_factory=TrialConfig)
    objective: Mapping[str, Any] = dataclasses.field(default_factory=lambda: {"kind": "synthetic"})
    heartbeat_interval: float = 10.0
    grace_period: float = 60.0
    checkpoint_root: str | None = None
    space: Mapping[str, Any] | None = None

    def __post_init__(self):
        if self.sampler not in ("kbest", "random", "tpe"):
            raise ConfigError(f"sampler {self.sampler!r} is unknown; choose kbest, random or tpe")
        if self.max_trials is not None and self.max_trials < 1:
            raise ConfigError(f"max_trials must be >= 1 or None, got {self.max_trials!r}")
        if self.sampler != "kbest" and self.max_trials is None:
            raise ConfigError(f"sampler {self.sampler!r} never stops by itself: set max_trials")
        if not 0 < self.heartbeat_interval < self.grace_period:
            raise ConfigError(
                f"need 0 < heartbeat_interval < grace_period, got {self.heartbeat_interval} and {self.grace_period}"
            )
        if isinstance(self.trial, Mapping):
            object.__setattr__(self, "trial", TrialConfig.from_dict(self.trial))
        object.__setattr__(self, "sampler_config", dict(self.sampler_config))
        object.__setattr__(self, "objective", dict(self.objective))
        object.__setattr__(self, "space", normalise_space(self.space))
        make_sampler(self)  # validates sampler_config

    def decision_fields(self) -> dict[str, Any]:
        """The fields that decide which candidates are proposed (must agree between workers)."""
        return {"sampler": self.sampler, "sampler_config": dict(self.sampler_config), "seed": self.seed,
                "space": None if self.space is None else {k: list(v) for k, v in self.space.items()}}


def make_sampler(settings: SearchSettings):
    """The sampler object of ``settings``."""
    if settings.sampler == "kbest":
        from infantjax.nas.kbest import KBestConfig, KBestSearch

        return KBestSearch(KBestConfig.from_dict(dict(settings.sampler_config)), settings.space)
    if settings.sampler == "random":
        from infantjax.nas.random import RandomSearch

        if settings.sampler_config:
            raise ConfigError(f"Random Search takes no options, got {dict(settings.sampler_config)}")
        return RandomSearch(settings.space)
    from infantjax.nas.tpe import TPEConfig, TPESearch

    return TPESearch(TPEConfig(**dict(settings.sampler_config)), settings.space)


# -------------------------------------------------------------------------------------------------- trial views
def _timestamp(value: _dt.datetime | None) -> float | None:
    return None if value is None else value.timestamp()  # Optuna stores local naive times


@dataclasses.dataclass(frozen=True)
class TrialView:
    """One trial of the store, parsed."""

    number: int
    state: str  # waiting | running | complete | pruned | failed
    spec: GCNSpec | None
    performance: float | None
    value: float | None  # Optuna's objective value (complete and pruned trials): the best AUC, 0 for NaN
    started: float | None
    completed: float | None
    heartbeat: float | None
    worker: str | None
    owner: str | None
    skipped: str | None
    error: str | None
    decision: Mapping[str, Any] | None
    runs: int
    epochs: int | None
    intermediate: Mapping[int, float]

    @property
    def finished(self) -> bool:
        """Finished *as a candidate*: complete, pruned or failed with an error (not skipped)."""
        return self.state in ("complete", "pruned") or (self.state == "failed" and self.skipped is None)

    def as_finished(self) -> Finished:
        return Finished(self.number, self.spec, self.performance)

    @classmethod
    def from_frozen(cls, t) -> TrialView:
        import optuna

        attrs = t.user_attrs
        state = {
            optuna.trial.TrialState.WAITING: "waiting",
            optuna.trial.TrialState.RUNNING: "running",
            optuna.trial.TrialState.COMPLETE: "complete",
            optuna.trial.TrialState.PRUNED: "pruned",
            optuna.trial.TrialState.FAIL: "failed",
        }[t.state]
        spec = GCNSpec.from_dict(attrs["spec"]) if "spec" in attrs else None
        perf = attrs.get("performance")
        if perf is None and state in ("complete", "pruned") and t.value is not None:
            perf = float(t.value)
        return cls(
            number=t.number, state=state, spec=spec, performance=None if perf is None else float(perf),
            value=None if t.value is None or state not in ("complete", "pruned") else float(t.value),
            started=_timestamp(t.datetime_start), completed=_timestamp(t.datetime_complete),
            heartbeat=attrs.get("heartbeat"), worker=attrs.get("worker"), owner=attrs.get("owner"),
            skipped=attrs.get("skipped"), error=attrs.get("error"), decision=attrs.get("decision"),
            runs=int(attrs.get("runs", 0)), epochs=attrs.get("epochs"),
            intermediate=dict(t.intermediate_values),
        )


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """All trials of a search at one moment."""

    trials: tuple[TrialView, ...]
    taken: float
    foreign: tuple[int, ...] = ()  # numbers of the study's trials that are not the search's (skipped)
    enqueued: tuple[int, ...] = ()  # those of them WAITING: queued with Optuna's enqueue_trial, not run

    def by_number(self) -> dict[int, TrialView]:
        return {t.number: t for t in self.trials}

    def finished(self, numbers: Iterable[int] | None = None) -> list[Finished]:
        """Finished candidates in completion order (time of completion, then trial number)."""
        keep = None if numbers is None else set(numbers)
        done = [t for t in self.trials if t.finished and (keep is None or t.number in keep)]
        done.sort(key=lambda t: (t.completed or 0.0, t.number))
        return [t.as_finished() for t in done]

    def count(self, state: str) -> int:
        return sum(t.state == state for t in self.trials)

    def stop_reason(self) -> str | None:
        """Why a sampler said the search is over, if one did (``stopped`` or ``exhausted``)."""
        for t in self.trials:
            if t.skipped in ("stopped", "exhausted"):
                return t.skipped
        return None

    def best(self) -> TrialView | None:
        """The best trial as Optuna defines it (``study.best_trial``): the complete trial of the highest
        value, the first of equal ones; None while no trial is complete (pruned ones are not)."""
        done = [t for t in self.trials if t.state == "complete" and t.value is not None]
        return max(done, key=lambda t: (t.value, -t.number)) if done else None

    def best_stopped_early(self) -> TrialView | None:
        """The highest-scoring trial stopped early (pruned), where it scored higher than :meth:`best` or no
        trial is complete: what Optuna's best trial leaves out. None otherwise."""
        pruned = [t for t in self.trials if t.state == "pruned" and t.value is not None]
        if not pruned:
            return None
        top = max(pruned, key=lambda t: (t.value, -t.number))
        best = self.best()
        return top if best is None or top.value > best.value else None


# ------------------------------------------------------------------------------------------------------ the store
class SearchStore:
    """A search held in an Optuna study.

    Arguments:
        storage: a storage URL / journal path (see :func:`open_storage`) or an Optuna storage object.
        name: the study (search) name.
        settings: required to create a new search; when the search exists, its decision fields (sampler, its
            options, seed) must agree, other fields (budget, heartbeat) are taken from the arguments.
        create: create the search if it does not exist.
    """

    def __init__(self, storage, name: str, settings: SearchSettings | None = None, *, create: bool = False):
        import optuna

        if not name or not isinstance(name, str):
            raise ConfigError(f"search name must be a non-empty string, got {name!r}")
        self.url = storage if isinstance(storage, (str, os.PathLike)) else None
        self.storage = open_storage(storage) if isinstance(storage, (str, os.PathLike)) else storage
        self.name = name
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if create:
            if settings is None:
                raise ConfigError("creating a search needs its settings")
            try:  # an existing study first: a refused one gets no line written into its storage
                study = optuna.load_study(study_name=name, storage=self.storage)
            except KeyError:
                try:
                    study = optuna.create_study(storage=self.storage, study_name=name, direction="maximize")
                    study.set_user_attr(SETTINGS_ATTR, settings.to_dict())
                except optuna.exceptions.DuplicatedStudyError:  # another process created it a moment ago
                    study = optuna.load_study(study_name=name, storage=self.storage)
            stored = self._settings_of(study)
            existing = SearchSettings.from_dict(stored)
            if existing.decision_fields() != settings.decision_fields():
                raise ConfigError(
                    f"search {name!r} already exists with {existing.decision_fields()}, which differs from "
                    f"{settings.decision_fields()}; use another --name or the same settings"
                )
            if existing.to_dict() != settings.to_dict():
                study.set_user_attr(SETTINGS_ATTR, settings.to_dict())  # e.g. a larger budget
        try:
            self.study = optuna.load_study(study_name=name, storage=self.storage)
        except KeyError:
            names = [s.study_name for s in optuna.get_all_study_summaries(self.storage)]
            raise ConfigError(f"no search named {name!r} in {self.url or 'the storage'}; it holds {names}") from None
        if SETTINGS_ATTR not in self.study.user_attrs:
            raise DataError(f"study {name!r} was not created by infantjax search (no {SETTINGS_ATTR} attribute)")
        self.settings = SearchSettings.from_dict(self.study.user_attrs[SETTINGS_ATTR])
        self.sampler = make_sampler(self.settings)
        self.study_id = self.storage.get_study_id_from_name(name)
        self.distributions = optuna_distributions(self.settings.space)
        self._foreign_seen: tuple[int, ...] = ()

    def _settings_of(self, study) -> dict:
        """The settings of an existing study that ``search run`` joins. A study another ``search run`` has
        just created has no settings for a moment (no trial either): they are waited for,
        :data:`CREATION_WAIT_S` at most.

        Raises:
            DataError: a study without the search's settings (one that plain Optuna or another program made):
                ``search run`` writes nothing into it.
        """
        import optuna

        deadline = time.monotonic() + CREATION_WAIT_S
        while True:
            stored = study.user_attrs.get(SETTINGS_ATTR)
            if stored is not None:
                return stored
            empty = not study.user_attrs and not study.get_trials(deepcopy=False)
            if not empty or time.monotonic() > deadline:
                where = self.url or "the storage"
                raise DataError(f"study {self.name!r} in {where} was not created by infantjax search (no "
                                f"{SETTINGS_ATTR} attribute); it is left as it is: give the search another "
                                "--name")
            time.sleep(0.2)
            study = optuna.load_study(study_name=self.name, storage=self.storage)

    # --------------------------------------------------------------------------------------------------- reading
    def snapshot(self) -> Snapshot:
        """Every trial of the search now. Trials of the study that are not the search's (added by plain Optuna
        or another program: none of :data:`OWN_TRIAL_ATTRS`) are left out, their numbers kept in
        ``Snapshot.foreign``, and a warning names them (once for each new set)."""
        trials = self.storage.get_all_trials(self.study_id, deepcopy=False)
        own = [t for t in trials if any(k in t.user_attrs for k in OWN_TRIAL_ATTRS)]
        foreign = tuple(t.number for t in trials if not any(k in t.user_attrs for k in OWN_TRIAL_ATTRS))
        if foreign and foreign != self._foreign_seen:
            more = f" and {len(foreign) - 10} more" if len(foreign) > 10 else ""
            shown = ", ".join(map(str, foreign[:10])) + more
            log.warning("search %r: skipping %d trial(s) not written by infantjax search (no spec): number "
                        "%s", self.name, len(foreign), shown)
        self._foreign_seen = foreign
        import optuna

        enqueued = tuple(t.number for t in trials if t.number in foreign and t.state == optuna.trial.TrialState.WAITING)
        return Snapshot(tuple(TrialView.from_frozen(t) for t in own), time.time(), foreign, enqueued)

    def view(self, trial_id: int) -> TrialView:
        return TrialView.from_frozen(self.storage.get_trial(trial_id))

    def trial_id(self, number: int) -> int:
        """The storage's id of trial ``number`` (what the calls that change a trial take)."""
        return self.storage.get_trial_id_from_study_id_trial_number(self.study_id, number)

    # -------------------------------------------------------------------------------------------------- claiming
    def create_trial(self) -> int:
        """A new RUNNING trial of the search (the storage assigns its number), marked as the search's from its
        creation on (``runs`` 0)."""
        import optuna

        template = optuna.trial.create_trial(state=optuna.trial.TrialState.RUNNING, user_attrs={"runs": 0})
        return self.storage.create_new_trial(self.study_id, template_trial=template)

    def claim_waiting(self, snapshot: Snapshot) -> int | None:
        """Take the lowest-numbered WAITING trial atomically; ``None`` if there is none (or others got them)."""
        from optuna.exceptions import UpdateFinishedTrialError
        from optuna.trial import TrialState

        for t in sorted((t for t in snapshot.trials if t.state == "waiting"), key=lambda t: t.number):
            trial_id = self.trial_id(t.number)
            try:
                if self.storage.set_trial_state_values(trial_id, TrialState.RUNNING):
                    return trial_id
            except UpdateFinishedTrialError:
                continue
        return None

    def take_ownership(self, trial_id: int, token: str, worker: str) -> TrialView:
        view = self.view(trial_id)
        self.storage.set_trial_user_attr(trial_id, "owner", token)
        self.storage.set_trial_user_attr(trial_id, "worker", worker)
        self.storage.set_trial_user_attr(trial_id, "runs", view.runs + 1)
        self.heartbeat(trial_id)
        return self.view(trial_id)

    def heartbeat(self, trial_id: int) -> None:
        self.storage.set_trial_user_attr(trial_id, "heartbeat", time.time())

    def owns(self, trial_id: int, token: str) -> bool:
        """Whether the claim ``token`` still owns the running trial."""
        view = self.view(trial_id)
        return view.state == "running" and view.owner == token

    def stale(self, snapshot: Snapshot, *, now: float | None = None, dead_workers: Iterable[str] = (),
              live_tokens: Iterable[str] = ()) -> list[TrialView]:
        """Running trials whose worker is presumed dead.

        A trial is stale if its last sign of life (heartbeat or start) is older than the grace period, or if it
        belongs to a worker named in ``dead_workers`` (a restarted worker with a fixed name reclaims its own trials
        at once) under a claim that is not in ``live_tokens``.
        """
        now = time.time() if now is None else now
        dead, live = set(dead_workers), set(live_tokens)
        out = []
        for t in snapshot.trials:
            if t.state != "running":
                continue
            alive = max(x for x in (t.heartbeat, t.started, 0.0) if x is not None)
            if now - alive > self.settings.grace_period or (t.worker in dead and t.owner not in live):
                out.append(t)
        return out

    def requeue(self, trial_id: int) -> bool:
        """Put a stale running trial back to WAITING; False if it finished meanwhile."""
        from optuna.exceptions import UpdateFinishedTrialError
        from optuna.trial import TrialState

        try:
            self.storage.set_trial_state_values(trial_id, TrialState.WAITING)
        except UpdateFinishedTrialError:
            return False
        return True

    def refuse_enqueued(self, number: int) -> bool:
        """Refuse trial ``number``, one queued with Optuna's ``study.enqueue_trial`` (WAITING, not the search's):
        take it atomically (WAITING → RUNNING, as a claim), record why in its ``infantjax_refused`` attribute, mark
        it FAIL and log a warning. It stays foreign to the search (none of :data:`OWN_TRIAL_ATTRS`), so it counts
        neither in the decisions nor in the budget. Returns False where another worker took it first.
        """
        from optuna.exceptions import UpdateFinishedTrialError
        from optuna.trial import TrialState

        trial_id = self.trial_id(number)
        try:
            if not self.storage.set_trial_state_values(trial_id, TrialState.RUNNING):
                return False
        except UpdateFinishedTrialError:
            return False
        self.storage.set_trial_user_attr(trial_id, "infantjax_refused", ENQUEUED_REFUSAL)
        self.storage.set_trial_state_values(trial_id, TrialState.FAIL)
        log.warning("search %r: trial %d was queued with Optuna's enqueue_trial and is not run (marked failed): %s",
                    self.name, number, ENQUEUED_REFUSAL)
        return True

    # --------------------------------------------------------------------------------------------------- writing
    def record_decision(self, trial_id: int, spec: GCNSpec, decision: Mapping[str, Any]) -> None:
        """The candidate decided for a running trial: what the decision saw, the spec, and its choices as the
        trial's Optuna params."""
        self.storage.set_trial_user_attr(trial_id, "decision", dict(decision))
        self.storage.set_trial_user_attr(trial_id, "spec", spec.to_dict())
        self.record_params(trial_id, spec)

    def record_params(self, trial_id: int, spec: GCNSpec) -> None:
        """The candidate's 20 choices as the running trial's Optuna params, each with its distribution over
        the search's alternatives; params it has already are kept (a trial re-run after its worker died)."""
        present = self.storage.get_trial(trial_id).params
        for key, value in spec.choices().items():
            if key not in present:
                dist = self.distributions[key]
                self.storage.set_trial_param(trial_id, key, dist.to_internal_repr(value), dist)

    def report(self, trial_id: int, epoch: int, best_auc: float) -> None:
        self.storage.set_trial_intermediate_value(trial_id, int(epoch), float(best_auc))

    def finish(self, trial_id: int, performance: float, epochs: int, pruned: bool,
               info: Mapping[str, Any] | None = None) -> None:
        from optuna.trial import TrialState

        self.storage.set_trial_user_attr(trial_id, "performance", float(performance))
        self.storage.set_trial_user_attr(trial_id, "epochs", int(epochs))
        for key, value in (info or {}).items():
            self.storage.set_trial_user_attr(trial_id, f"info_{key}", value)
        value = float(performance) if math.isfinite(performance) else 0.0
        self.storage.set_trial_state_values(trial_id, TrialState.PRUNED if pruned else TrialState.COMPLETE,
                                            [value])

    def fail(self, trial_id: int, *, error: str | None = None, skipped: str | None = None) -> None:
        from optuna.trial import TrialState

        if error is not None:
            self.storage.set_trial_user_attr(trial_id, "error", error[:2000])
        if skipped is not None:
            self.storage.set_trial_user_attr(trial_id, "skipped", skipped)
        self.storage.set_trial_state_values(trial_id, TrialState.FAIL)

    # -------------------------------------------------------------------------------------------------- deciding
    def beyond_budget(self, number: int, snapshot: Snapshot) -> bool:
        """Whether trial ``number`` is past the trial budget: the search's trials before it (the study's
        trials that are not the search's do not count) are ``max_trials`` or more."""
        m = self.settings.max_trials
        return m is not None and number - sum(n < number for n in snapshot.foreign) >= m

    def budget_left(self, snapshot: Snapshot) -> bool:
        m = self.settings.max_trials
        return m is None or sum(t.skipped is None for t in snapshot.trials) < m

    def over(self, snapshot: Snapshot) -> str | None:
        """Why no new trial should be created (``"budget"``, the log's stop reason, or ``"stopped"`` by the
        sampler), or None while the search goes on."""
        if not self.budget_left(snapshot):
            return "budget"
        reason = snapshot.stop_reason()
        if reason:
            return reason
        state = getattr(self.sampler, "state", None)
        if state is not None and state(snapshot.finished()).phase == "stopped":
            return "stopped"
        return None

    def decide(self, number: int, snapshot: Snapshot):
        """The candidate for trial ``number`` given the log in ``snapshot``, and the record of what it saw.

        Returns:
            ``(proposal, decision)``; ``decision`` lets :func:`audit` recompute the proposal later.
        """
        done = {t.number for t in snapshot.trials if t.finished}
        others = set(snapshot.foreign)  # trials that are not the search's are never waited for
        unfinished_below = sorted(n for n in range(number) if n not in done and n not in others)
        finished_above = sorted(n for n in done if n > number)
        pending = sorted(t.number for t in snapshot.trials
                         if t.number != number and not t.finished and t.spec is not None and t.skipped is None)
        decision = {"unfinished_below": unfinished_below, "finished_above": finished_above, "pending": pending}
        return self._propose(number, snapshot, decision), decision

    def _propose(self, number: int, snapshot: Snapshot, decision: Mapping[str, Any]):
        below = set(decision["unfinished_below"])
        numbers = [n for n in range(number) if n not in below] + list(decision["finished_above"])
        by_number = snapshot.by_number()
        history = [candidate_string(by_number[n].spec) for n in decision["pending"]]
        return self.sampler.propose(snapshot.finished(numbers), seed=self.settings.seed, number=number,
                                    history=history)


def audit(store: SearchStore, snapshot: Snapshot | None = None) -> list[tuple[int, GCNSpec, GCNSpec | None]]:
    """Recompute every recorded decision from the log; returns the mismatches ``(number, recorded, recomputed)``.

    An empty list means every candidate is exactly what the sampler proposes given the finished trials it saw —
    the search's decisions are a function of the log alone.
    """
    snapshot = snapshot or store.snapshot()
    bad = []
    for t in snapshot.trials:
        if t.spec is None or t.decision is None:
            continue
        proposal = store._propose(t.number, snapshot, t.decision)
        if proposal.spec != t.spec:
            bad.append((t.number, t.spec, proposal.spec))
    return bad


def trials_table(snapshot: Snapshot) -> list[dict[str, Any]]:
    """One JSON-ready row per trial (for ``search status`` and exports)."""
    rows = []
    for t in sorted(snapshot.trials, key=lambda t: t.number):
        rows.append({"number": t.number, "state": t.state, "performance": t.performance, "epochs": t.epochs,
                     "runs": t.runs, "worker": t.worker, "skipped": t.skipped, "error": t.error,
                     "spec": None if t.spec is None else t.spec.choices()})
    return rows

