"""The search space of Ensemble-NAS-GCN and probability tables over it (seed 002, Table A.1; gcn_reference A.1, C).

A candidate is a :class:`~infantjax.models.gcn.spec.GCNSpec`. A *probability table* maps each of the 20 choices to
``{alternative: probability}``; alternatives missing from a choice's table have probability 0 (K-Best Search shrinks
the space that way). Sampling draws each choice by inverse CDF on its table, in the order of ``CHOICES`` — one
uniform number per choice, as the reference does (gcn_reference C, "Phase 1").
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from infantjax.errors import ConfigError
from infantjax.models.gcn.spec import CHOICES, GCNSpec

__all__ = [
    "SEPARATOR",
    "SMALL_SPACE",
    "Finished",
    "Proposal",
    "Table",
    "candidate_string",
    "derive_seed",
    "draw_unique",
    "normalise_space",
    "optuna_distributions",
    "rng_for",
    "sample_table",
    "small_space",
    "space_size",
    "uniform_table",
]

# MovementOutcome joins "choice-alternative" pairs with '+', because its choice keys contain '_' (gcn_reference C).
SEPARATOR = "+"

Table = dict[str, dict[Any, float]]


@dataclasses.dataclass(frozen=True)
class Finished:
    """A finished trial as the samplers see it.

    Attributes:
        number: the trial number (its identity; seeds derive from it).
        spec: the candidate.
        performance: best validation AUC over the epochs (also for early-stopped trials), or ``None`` for a trial
            that failed with an error (it counts as unsuccessful and never enters a population).
    """

    number: int
    spec: GCNSpec
    performance: float | None

    @property
    def score(self) -> float:
        """Performance for comparisons: a failed trial (or NaN) scores -inf."""
        p = self.performance
        return -math.inf if p is None or math.isnan(p) else float(p)


@dataclasses.dataclass(frozen=True)
class Proposal:
    """A sampler's answer: the next candidate, or ``None`` with the reason the search is over."""

    spec: GCNSpec | None
    reason: str | None = None
    info: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@functools.lru_cache(maxsize=65536)
def candidate_string(spec: GCNSpec) -> str:
    """The reference's candidate string, e.g. ``"graph-dis2+input_width-10+..."`` (used for duplicate rejection)."""
    return SEPARATOR.join(f"{key}-{value}" for key, value in spec.choices().items())


def normalise_space(space: Mapping[str, Iterable[Any]] | None) -> dict[str, tuple] | None:
    """Check a restriction of the search space and return it as ``{choice: alternatives in CHOICES order}``.

    A restriction maps some of the 20 choices to the alternatives allowed for them (e.g. ``{"graph": ["spatial"],
    "input_width": [6, 8]}``); choices left out keep all their alternatives. ``None`` or ``{}``: the whole space.

    Raises:
        ConfigError: an unknown choice, an alternative that the choice does not have, or an empty list.
    """
    if not space:
        return None
    if not isinstance(space, Mapping):
        raise ConfigError(f"a search space restriction must map choices to lists of alternatives, got {space!r}")
    out = {}
    for key, allowed in space.items():
        if key not in CHOICES:
            raise ConfigError(f"search space: unknown choice {key!r}; choices are {list(CHOICES)}")
        if isinstance(allowed, (str, bytes)) or not isinstance(allowed, Iterable):
            allowed = [allowed]
        allowed = list(allowed)
        bad = [a for a in allowed if isinstance(a, bool) or a not in CHOICES[key]]
        if bad or not allowed:
            raise ConfigError(f"search space: choice {key!r} allows {list(CHOICES[key])}, got {allowed}")
        out[key] = tuple(a for a in CHOICES[key] if a in allowed)
    return out


def optuna_distributions(space: Mapping[str, Iterable[Any]] | None = None) -> dict:
    """The search space as Optuna distributions: one ``CategoricalDistribution`` per choice over its
    alternatives (those a restriction allows, :func:`normalise_space`), in ``CHOICES`` order. What the TPE
    sampler draws from, and what a search stores with every candidate, so that Optuna's own tools see the
    space."""
    from optuna.distributions import CategoricalDistribution

    allowed = normalise_space(space) or {}
    return {key: CategoricalDistribution(list(allowed.get(key, alts))) for key, alts in CHOICES.items()}


def small_space(**searched: Iterable[Any]) -> dict[str, list]:
    """A restriction of the space to small candidates: every choice at its first (smallest) alternative of
    ``CHOICES``, except the ``searched`` ones, which keep the alternatives given.

    Small candidates compile in seconds on a CPU, for tests, benchmarks and quick runs of the paper protocol.

    Example:
        >>> space = small_space(graph=["spatial", "dis2"])
        >>> space["graph"], space["input_width"], space_size(uniform_table(space))
        (['spatial', 'dis2'], [6], 2)

    Raises:
        ConfigError: a searched choice or alternative that the space does not have.
    """
    space = {key: [alts[0]] for key, alts in CHOICES.items()}
    normalise_space(searched)  # names the unknown choice or alternative
    space.update({key: list(alts) for key, alts in searched.items()})
    return space


#: The small candidates of the tests and the NAS benchmark: three choices searched (2 × 2 × 2 = 8 candidates).
SMALL_SPACE = small_space(graph=["spatial", "dis2"], residual=["null", "block"], nonlinearity=["relu", "swish"])


def uniform_table(space: Mapping[str, Iterable[Any]] | None = None) -> Table:
    """Every alternative of every choice equally likely: the table of Random Search and of K-Best phase 1.

    Arguments:
        space: optional restriction (:func:`normalise_space`): only the allowed alternatives get probability.
    """
    space = normalise_space(space) or {}
    return {key: {alt: 1.0 / len(alts) for alt in alts}
            for key, alts in ((k, space.get(k, v)) for k, v in CHOICES.items())}


def space_size(table: Mapping[str, Mapping[Any, float]]) -> int:
    """Number of candidates the table can produce (product of the alternatives present per choice)."""
    return math.prod(len(alts) for alts in table.values())


def _check_table(table: Mapping[str, Mapping[Any, float]]) -> None:
    if set(table) != set(CHOICES):
        raise ConfigError(f"a probability table needs exactly the choices {list(CHOICES)}; got {list(table)}")
    for key, probs in table.items():
        if not probs:
            raise ConfigError(f"probability table for choice {key!r} is empty; at least one alternative is needed")
        unknown = [a for a in probs if a not in CHOICES[key] or isinstance(a, bool)]
        if unknown:
            raise ConfigError(f"choice {key!r} has no alternatives {unknown}; allowed: {list(CHOICES[key])}")


def sample_table(table: Mapping[str, Mapping[Any, float]], rng: np.random.Generator) -> GCNSpec:
    """Draw one candidate: per choice, a uniform number and the inverse CDF of the choice's table.

    Alternatives are visited in ``CHOICES`` order. The first alternative whose cumulative probability reaches the
    number is taken (reference: ``value >= random_number``); if rounding leaves the total just below the number,
    the last alternative present is taken (the reference would fail there).
    """
    values = {}
    for key, alts in CHOICES.items():
        probs = table[key]
        r = float(rng.random())
        cumulative = 0.0
        chosen = None
        for alt in alts:
            if alt not in probs:
                continue
            cumulative += probs[alt]
            chosen = alt
            if cumulative >= r:
                break
        values[key] = chosen
    return GCNSpec(**values)


def draw_unique(table: Mapping[str, Mapping[Any, float]], history: Iterable[str] | set[str],
                rng: np.random.Generator) -> GCNSpec | None:
    """Draw a candidate not in ``history`` (candidate strings), or ``None`` when the attempts run out.

    The limit is 2 × the number of combinations of the table (reference ``get_candidate``): in a restricted space
    whose candidates have all been tried, the search stops.

    Arguments:
        table: probability table (see module docstring).
        history: candidate strings already proposed.
        rng: random generator; consumed one number per choice per attempt.

    Returns:
        a new :class:`GCNSpec`, or ``None`` if every attempt drew a duplicate.
    """
    _check_table(table)
    seen = history if isinstance(history, (set, frozenset)) else set(history)
    max_attempts = 2 * space_size(table)
    attempt = 1
    while attempt <= max_attempts:
        spec = sample_table(table, rng)
        if candidate_string(spec) not in seen:
            return spec
        attempt += 1
    return None


def rng_for(search_seed: int, number: int, purpose: int = 0) -> np.random.Generator:
    """The random generator for trial ``number`` of the search seeded ``search_seed``.

    Decisions never depend on the order in which workers ran: the generator is a pure function of the seeds.
    """
    return np.random.default_rng(np.random.SeedSequence([int(search_seed), int(number), int(purpose)]))


def derive_seed(search_seed: int, number: int, purpose: int = 1) -> int:
    """A 31-bit integer seed for trial ``number`` (e.g. the training seed): the same trial always gets the same."""
    state = np.random.SeedSequence([int(search_seed), int(number), int(purpose)]).generate_state(1)
    return int(state[0] & 0x7FFFFFFF)
