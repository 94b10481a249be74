"""K-Best Search (seed 002, Appendix A.2, Algorithm 1) exactly as the reference codes it (gcn_reference C).

The search state — population, temperature T, unsuccessful count U and phase — is never kept anywhere: it is folded
from the finished trials in completion order (:func:`kbest_state`). The next candidate is then a pure function of
that log, the search seed and the trial number (:meth:`KBestSearch.propose`), so a search resumes after any crash
and several workers can share one log (DESIGN §3).

Reference behaviour kept on purpose:

* phase 1 samples uniformly until K candidates reach ``performance >= threshold``; the population is kept sorted in
  ascending order (a stable sort: a newcomer that ties goes *after* equals in phase 1, *before* them in phase 2,
  because phase 2 overwrites slot 0 and re-sorts);
* GoodAlternatives: ranks 1 (worst) … K (best); an alternative's score is the sum of the ranks of the members that
  use it; softmax of score / T over the alternatives present in the population only — absent alternatives get
  probability 0 and are never proposed again;
* duplicates are rejected with at most 2 × (size of the current table's space) attempts; when they run out the
  search stops ("exhausted");
* a phase-2 trial replaces the worst member only if strictly better (U = 0), else U += 1; when U = K the search
  stops if T == T∞ (exact equality) and otherwise T -= τ, U = 0;
* (reference quirk: the table is recomputed after each trial *before* the temperature drop, so the trial right
  after a drop still samples at the previous temperature; ``lagged_table=False`` applies the new T at once).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

from infantjax._jsonconfig import JsonConfig
from infantjax.errors import ConfigError
from infantjax.models.gcn.spec import CHOICES, GCNSpec
from infantjax.nas.space import (
    Finished,
    Proposal,
    Table,
    candidate_string,
    draw_unique,
    normalise_space,
    rng_for,
    uniform_table,
)

__all__ = ["KBestConfig", "KBestSearch", "KBestState", "Member", "good_alternatives", "kbest_state", "kbest_update"]


@dataclasses.dataclass(frozen=True)
class KBestConfig(JsonConfig):
    """Parameters of K-Best Search; defaults are the paper's (seed 002 A.2: K=5, θ=0.9, T0=10, T∞=1, τ=3).

    Attributes:
        k: population size K.
        threshold: θ, the performance a phase-1 candidate needs to enter the population.
        start_temperature: T0.
        end_temperature: T∞; the search stops when U = K at exactly this temperature.
        temperature_drop: τ.
        lagged_table: reproduce the reference's one-trial lag of a temperature drop (see module docstring).
    """

    k: int = 5
    threshold: float = 0.9
    start_temperature: float = 10.0
    end_temperature: float = 1.0
    temperature_drop: float = 3.0
    lagged_table: bool = True

    def __post_init__(self):
        if int(self.k) != self.k or self.k < 1:
            raise ConfigError(f"KBestConfig.k must be an integer >= 1, got {self.k!r}")
        if not self.temperature_drop > 0:
            raise ConfigError(f"KBestConfig.temperature_drop must be > 0, got {self.temperature_drop!r}")
        if not self.start_temperature >= self.end_temperature > 0:
            raise ConfigError(
                f"KBestConfig needs start_temperature >= end_temperature > 0, got "
                f"{self.start_temperature!r} and {self.end_temperature!r}"
            )
        # The reference stops on exact equality T == T∞: a schedule that steps over T∞ would never stop and
        # would soon divide by a zero or negative temperature. Refuse it here rather than run forever.
        t = self.start_temperature
        while t > self.end_temperature:
            t -= self.temperature_drop
        if t != self.end_temperature:
            raise ConfigError(
                f"KBestConfig: the schedule T0={self.start_temperature} - n·τ (τ={self.temperature_drop}) never "
                f"equals T∞={self.end_temperature}, so the search would never stop (the reference tests T == T∞ "
                f"exactly); choose τ so that (T0 - T∞) is a multiple of τ"
            )
@dataclasses.dataclass(frozen=True)
class Member:
    """A population member."""

    number: int
    spec: GCNSpec
    performance: float


@dataclasses.dataclass(frozen=True)
class KBestState:
    """The state of Algorithm 1 after some finished trials.

    Attributes:
        phase: ``"random"`` (phase 1), ``"guided"`` (phase 2) or ``"stopped"``.
        population: members sorted ascending by performance (worst first).
        temperature: T.
        table_temperature: the temperature of the table the next phase-2 candidate is drawn from.
        unsuccessful: U.
        trials: finished trials folded in.
        phase1_trials: how many of them were folded in phase 1.
    """

    phase: str
    population: tuple[Member, ...]
    temperature: float
    table_temperature: float
    unsuccessful: int
    trials: int = 0
    phase1_trials: int = 0

    @property
    def best(self) -> Member | None:
        """argmax over the population (the reference returns ``population[-1]``)."""
        return self.population[-1] if self.population else None

    def table(self) -> Table:
        """The probability table the next candidate is drawn from."""
        if self.phase == "random" or not self.population:
            return uniform_table()
        return good_alternatives(self.population, self.table_temperature)

    def summary(self) -> dict[str, Any]:
        """JSON-ready description (for ``search status`` and logs)."""
        return {
            "phase": self.phase,
            "temperature": self.temperature,
            "table_temperature": self.table_temperature,
            "unsuccessful": self.unsuccessful,
            "trials": self.trials,
            "population": [
                {"number": m.number, "performance": m.performance, "spec": m.spec.choices()}
                for m in reversed(self.population)
            ],
        }


def initial_state(config: KBestConfig) -> KBestState:
    """P = ∅, T = T0, U = 0 (Algorithm 1, Init)."""
    return KBestState("random", (), config.start_temperature, config.start_temperature, 0)


def _by_performance(members: list[Member]) -> tuple[Member, ...]:
    return tuple(sorted(members, key=lambda m: m.performance))  # stable, as the reference's sorted()


def kbest_update(state: KBestState, config: KBestConfig, trial: Finished) -> KBestState:
    """Fold one finished trial into the state (one iteration of Algorithm 1 after TrainEval)."""
    score = trial.score
    member = Member(trial.number, trial.spec, score)
    if state.phase == "random":
        population = list(state.population)
        if score >= config.threshold:
            population.append(member)
        population = _by_performance(population)
        if len(population) == config.k:
            # the table is first computed at T0 when phase 2 begins
            return dataclasses.replace(state, phase="guided", population=population, trials=state.trials + 1,
                                       phase1_trials=state.phase1_trials + 1,
                                       table_temperature=state.temperature)
        return dataclasses.replace(state, population=population, trials=state.trials + 1,
                                   phase1_trials=state.phase1_trials + 1)

    population = list(state.population)
    success = score > population[0].performance  # strictly better than the worst
    if success:
        population[0] = member
        population = list(_by_performance(population))
    if state.phase == "stopped":
        # trials that were already running when the search stopped may still enter the population
        return dataclasses.replace(state, population=tuple(population), trials=state.trials + 1)
    unsuccessful = 0 if success else state.unsuccessful + 1
    temperature = state.temperature
    table_temperature = temperature  # table recomputed after the trial, before any drop (reference order)
    phase = "guided"
    if unsuccessful == config.k and temperature == config.end_temperature:
        phase = "stopped"
    elif unsuccessful == config.k:
        temperature -= config.temperature_drop
        unsuccessful = 0
        if not config.lagged_table:
            table_temperature = temperature
    return KBestState(phase, tuple(population), temperature, table_temperature, unsuccessful, state.trials + 1,
                      state.phase1_trials)


def kbest_state(finished: Iterable[Finished], config: KBestConfig | None = None) -> KBestState:
    """The K-Best state after the finished trials, given in completion order."""
    config = config or KBestConfig()
    state = initial_state(config)
    for trial in finished:
        state = kbest_update(state, config, trial)
    return state


def good_alternatives(population: Sequence[Member], temperature: float) -> Table:
    """GoodAlternatives(P, T): rank-sum softmax over the alternatives present in the population (eq. A.1).

    Arguments:
        population: members sorted ascending (worst first); member i (1-based) has rank weight i.
        temperature: T > 0.

    Returns:
        table ``{choice: {alternative: probability}}`` listing only alternatives present in the population, in
        ``CHOICES`` order.
    """
    if not population:
        raise ConfigError("GoodAlternatives needs a non-empty population")
    if not temperature > 0:
        raise ConfigError(f"GoodAlternatives needs a temperature > 0, got {temperature!r}")
    table: Table = {}
    for key, alts in CHOICES.items():
        scores: dict[Any, float] = {}
        for rank, member in enumerate(population, start=1):
            alt = getattr(member.spec, key)
            scores[alt] = scores.get(alt, 0) + rank
        top = max(scores.values())  # subtracting the max changes nothing mathematically; it avoids overflow
        weights = {alt: math.exp((scores[alt] - top) / temperature) for alt in alts if alt in scores}
        total = sum(weights.values())
        table[key] = {alt: w / total for alt, w in weights.items()}
    return table


class KBestSearch:
    """K-Best Search as a sampler: ``propose(finished, ...)`` returns the next candidate.

    Example:
        >>> search = KBestSearch(KBestConfig(k=5))
        >>> proposal = search.propose([], seed=0, number=0, history=())
        >>> proposal.spec is not None
        True
    """

    name = "kbest"

    def __init__(self, config: KBestConfig | None = None, space: dict | None = None):
        """Arguments: ``config`` (the paper's by default) and an optional restriction of the space
        (:func:`infantjax.nas.space.normalise_space`; phase 1 draws uniformly from it)."""
        self.config = config or KBestConfig()
        self.space = normalise_space(space)

    def state(self, finished: Sequence[Finished]) -> KBestState:
        return kbest_state(finished, self.config)

    def propose(self, finished: Sequence[Finished], *, seed: int, number: int,
                history: Iterable[str] = ()) -> Proposal:
        """The candidate for trial ``number``.

        Arguments:
            finished: finished trials in completion order.
            seed: the search seed.
            number: the trial number (the draw uses a generator derived from ``(seed, number)``).
            history: candidate strings already proposed (finished and in flight), for duplicate rejection; the
                finished trials' candidates are always included.

        Returns:
            a :class:`Proposal`; ``spec is None`` with reason ``"stopped"`` (U = K at T∞) or ``"exhausted"``.
        """
        state = self.state(finished)
        info = {"phase": state.phase, "temperature": state.table_temperature, "unsuccessful": state.unsuccessful}
        if state.phase == "stopped":
            return Proposal(None, "stopped", info)
        seen = set(history) | {candidate_string(t.spec) for t in finished}
        table = uniform_table(self.space) if state.phase == "random" or not state.population else state.table()
        spec = draw_unique(table, seen, rng_for(seed, number))
        if spec is None:
            return Proposal(None, "exhausted", info)
        return Proposal(spec, None, info)

    def describe(self, finished: Sequence[Finished]) -> dict[str, Any]:
        return {"sampler": self.name, "config": self.config.to_dict(), "space": self.space,
                **self.state(finished).summary()}

    def to_dict(self) -> dict[str, Any]:
        return {"sampler": self.name, "config": self.config.to_dict(), "space": self.space}

    def __repr__(self) -> str:
        return f"KBestSearch({json.dumps(self.config.to_dict())})"
