"""One JSON round trip for the frozen dataclass configs (specs, training and search settings).

Every config in infantjax is a frozen dataclass that is saved beside checkpoints and search logs as JSON. They share
this mixin so that all of them read and write the same way and fail the same way:

- ``to_dict()`` gives plain JSON types (tuples become lists, nested dataclasses become dicts);
- ``from_dict()`` rejects unknown and missing fields with a :class:`~infantjax.errors.ConfigError` naming them, and
  turns lists back into tuples for fields annotated as tuples (nested lists into nested tuples);
- ``to_json()`` / ``from_json()`` wrap these with ``json``; ``replace()`` is ``dataclasses.replace``.

A config whose fields need more than that (e.g. a nested config) overrides ``_from_json_value``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from infantjax.errors import ConfigError

__all__ = ["JsonConfig"]


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


class JsonConfig:
    """Mixin for frozen dataclasses: dict/JSON round trip with clear errors (see the module docstring)."""

    def __new__(cls, *args, **kwargs):
        # the dataclass __init__ would raise a bare TypeError for an unknown field (``TrainConfig(scale="ab")``);
        # name the field and the known ones instead (the fields are checked before __init__ runs)
        if kwargs and dataclasses.is_dataclass(cls):
            known = {f.name for f in dataclasses.fields(cls) if f.init}
            unknown = sorted(set(kwargs) - known)
            if unknown:
                raise ConfigError(f"{cls.__name__} has no fields {unknown}; known fields: {sorted(known)}")
        return super().__new__(cls)

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
        except TypeError as err:
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
