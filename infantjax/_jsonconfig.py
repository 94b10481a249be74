"""One JSON round trip for the frozen dataclass configs (specs, training and search settings).

Every config in infantjax is a frozen dataclass that is saved beside checkpoints and search logs as JSON. They share
this mixin so that all of them read and write the same way and fail the same way:

- ``to_dict()`` gives plain JSON types (tuples become lists, nested dataclasses become dicts);
- ``from_dict()`` rejects unknown and missing fields with a :class:`~infantjax.errors.ConfigError` naming them, and
  turns lists back into tuples for fields annotated as tuples (nested lists into nested tuples);
- ``to_json()`` / ``from_json()`` wrap these with ``json``; ``replace()`` is ``dataclasses.replace``;
- every construction (the constructor, ``from_dict``, ``replace``) checks the kind of each value against its field's
  annotation — no text, list or mapping for an ``int``/``float`` field, a list of numbers for ``tuple[int, ...]``
  — so ``"num_classes": "two"`` raises a :class:`~infantjax.errors.ConfigError` naming the field, never a
  ``ValueError`` from deep inside; the config's own ``__post_init__`` checks ranges and the other fields, and a
  ``ValueError``/``TypeError`` it raises becomes a ``ConfigError`` naming the config.

A config whose fields need more than that (e.g. a nested config) overrides ``_from_json_value``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping
from typing import Any

from infantjax.errors import ConfigError, InfantJaxError

__all__ = ["JsonConfig", "check_positive_ints"]


def check_positive_ints(config: Any, names: tuple[str, ...], owner: str) -> None:
    """A :class:`~infantjax.errors.ConfigError` ``"<owner>.<name> must be a positive integer, got <value>"`` for
    the first field of ``names`` whose value in ``config`` is not an ``int`` >= 1 (``True`` is not one): the check
    the configs' ``__post_init__`` make of their counts and sizes."""
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{owner}.{name} must be a positive integer, got {value!r}")


def _plain(value: Any) -> Any:
    """``value`` with tuples as lists and dataclasses as dicts, recursively (what ``json`` would read back)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def _is_number(value: Any) -> bool:
    """Anything but text, containers and mappings: what an ``int``/``float`` field can be given (NumPy and JAX
    scalars included; ranges and integrality are the config's own checks)."""
    return not isinstance(value, (str, bytes, Mapping, list, tuple, set, frozenset))


def _is_numbers(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(map(_is_number, value))


#: what a value of a field annotated with the key must be, and how the error names it
_KINDS: dict[str, tuple[Any, str]] = {
    "int": (_is_number, "an integer"),
    "float": (_is_number, "a number"),
    "tuple[int, ...]": (_is_numbers, "a list of integers"),
    "tuple[float, float]": (_is_numbers, "a list of two numbers"),
    "tuple[int, int]": (_is_numbers, "a list of two integers"),
}
_KIND_OF = {k.replace(" ", ""): v for k, v in _KINDS.items()}


def _check_kind(cls: type, name: str, annotation: Any, value: Any) -> None:
    """Raise ConfigError when ``value`` is not of the kind field ``name``'s annotation asks for (text where a
    number belongs: ``"num_classes": "two"``, ``"channels": "a"``); None and other annotations are the config's own
    to check."""
    text = str(annotation).replace(" ", "")
    kind = _KIND_OF.get(text.removesuffix("|None"))
    if kind is None or value is None:
        return
    ok, what = kind
    if not ok(value):
        raise ConfigError(f"{cls.__name__}.{name} must be {what}, got {value!r} ({type(value).__name__})")


class JsonConfig:
    """Mixin for frozen dataclasses: dict/JSON round trip with clear errors (see the module docstring)."""

    def __new__(cls, *args, **kwargs):
        # the dataclass __init__ would raise a bare TypeError for an unknown field (``TrainConfig(scale="ab")``) and
        # a value of the wrong kind a ValueError deep in __post_init__ (``GCNSpec(num_classes="two")``); name the
        # field instead (the values are checked before __init__ runs)
        if (args or kwargs) and dataclasses.is_dataclass(cls):
            fields = [f for f in dataclasses.fields(cls) if f.init]
            known = {f.name: f for f in fields}
            unknown = sorted(set(kwargs) - set(known))
            if unknown:
                raise ConfigError(f"{cls.__name__} has no fields {unknown}; known fields: {sorted(known)}")
            for f, value in zip(fields, args):
                _check_kind(cls, f.name, f.type, value)
            for name, value in kwargs.items():
                _check_kind(cls, name, known[name].type, value)
        return super().__new__(cls)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        post_init = cls.__dict__.get("__post_init__")
        if post_init is not None:
            # a ValueError or TypeError of a config's own checks (``int("two")``) is a ConfigError naming the config
            @functools.wraps(post_init)
            def checked(self, *a, **k):
                try:
                    return post_init(self, *a, **k)
                except InfantJaxError:
                    raise
                except (ValueError, TypeError) as err:
                    raise ConfigError(f"invalid {type(self).__name__}: {err}") from None

            cls.__post_init__ = checked

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain JSON types."""
        return _plain(self)

    def to_json(self, **kwargs) -> str:
        """``json.dumps`` of :meth:`to_dict` (keys sorted unless ``sort_keys=False``)."""
        kwargs.setdefault("sort_keys", True)
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def _from_json_value(cls, name: str, annotation: Any, value: Any) -> Any:
        """The dataclass value of field ``name`` read from JSON: lists become tuples for tuple fields."""
        if isinstance(value, list) and "tuple" in str(annotation).lower():
            return _tuples(value)
        return value

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]):
        """The config from a dict of its fields; unknown or missing fields raise ConfigError."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{cls.__name__} must be read from a JSON object (a dict), got {type(data).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        unknown = set(data) - set(fields)
        if unknown:
            raise ConfigError(f"{cls.__name__} has no fields {sorted(unknown)}; known fields: {sorted(fields)}")
        missing = [n for n, f in fields.items() if n not in data and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        if missing:
            raise ConfigError(f"{cls.__name__} is missing the required fields {missing}")
        values = {k: cls._from_json_value(k, fields[k].type, v) for k, v in data.items()}
        try:
            return cls(**values)
        except InfantJaxError:
            raise
        except (TypeError, ValueError) as err:
            raise ConfigError(f"invalid {cls.__name__}: {err}") from None

    @classmethod
    def from_json(cls, text: str):
        """The config from its JSON text; invalid JSON raises ConfigError."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, TypeError) as err:
            raise ConfigError(f"{cls.__name__} JSON is invalid: {err}") from None
        return cls.from_dict(data)

    def replace(self, **changes):
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)
