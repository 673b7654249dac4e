"""Records: frozen attrs classes that are read from and written to plain values.

The files between stages (a dataset's manifest.json, a run's checkpoint)
are dicts of JSON-like values. Their readers see `Record`s instead: frozen
attrs classes whose `from_dict` checks every key and value against the
field types, so a file edited badly fails where it is read, with the path
of the bad value (`axes[2].vocab: expected a list, found str`), and not
later as a KeyError. `to_dict` gives the plain values back, keys in field
order (a round trip is lossless). A Record has no `__getitem__`: it is
read by attribute only.

Field types understood: str, int, float (an int is accepted), bool, None,
`X | Y`, `tuple[X, ...]` and `tuple[X, Y]` (lists in the plain form),
`dict[str, X]`, another Record, and `typing.Any` or bare `dict` / `list`
for values passed through unchecked (a checkpoint's tensors). A field is
written under its name, or under the key its metadata gives where the file's
key is no Python name (`attrs.field(metadata={"key": "from"})`).
"""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any

import attrs

from grid_dsl.language.diagnostics import UserError


class RecordError(ValueError):
    """A plain value that does not fit a record; the message names where."""


class Record:
    """Base of the records: `from_dict` / `to_dict` (subclasses are @attrs.frozen)."""

    __slots__ = ()

    @classmethod
    def from_dict(cls, values: Any, where: str = ""):
        if not isinstance(values, dict):
            raise RecordError(f"{where or 'the record'}: expected a dict of keys, found {_name(values)}")
        fields = {_key(f): f for f in attrs.fields(attrs.resolve_types(cls))}
        unknown = [key for key in values if key not in fields]
        if unknown:
            raise RecordError(f"{_at(where, unknown[0])}: unexpected key")
        missing = [key for key, f in fields.items() if key not in values and f.default is attrs.NOTHING]
        if missing:
            raise RecordError(f"{_at(where, missing[0])}: missing")
        return cls(**{fields[key].name: structure(fields[key].type, value, _at(where, key))
                      for key, value in values.items()})

    def to_dict(self) -> dict:
        return {_key(f): unstructure(getattr(self, f.name)) for f in attrs.fields(type(self))}


class VersionError(RecordError):
    """A file of another format version (or none)."""

    def __init__(self, found, expected: str):
        super().__init__(f"format {found!r}, this version of multigrid reads {expected!r}")


class VersionedRecord(Record):
    """The top record of a file: its `format` key (the class's FORMAT, e.g.
    "multigrid-dataset/1") is written first and checked before anything else."""

    __slots__ = ()
    FORMAT: typing.ClassVar[str]

    @classmethod
    def from_dict(cls, values: Any, where: str = ""):
        found = values.get("format") if isinstance(values, dict) else type(values).__name__
        if found != cls.FORMAT:
            raise VersionError(found, cls.FORMAT)
        return super().from_dict({k: v for k, v in values.items() if k != "format"}, where)

    def to_dict(self) -> dict:
        return {"format": self.FORMAT, **super().to_dict()}

    @classmethod
    def from_file_values(cls, values: Any, file, what: str, *, version_fix: str, damage_fix: str):
        """The record `values` (read from `file`) hold; a UserError naming the
        file, what is wrong and the fix when they are of another version
        (`what`: "a dataset", "a checkpoint", "metrics") or damaged."""
        try:
            return cls.from_dict(values)
        except VersionError as err:
            raise UserError(f"{file}: not {what} this version of multigrid reads ({err}); {version_fix}") from None
        except RecordError as err:
            raise UserError(f"{file} is damaged or was edited ({err}); {damage_fix}") from None

    @classmethod
    def from_json_file(cls, path: Path, what: str, *, missing: str, version_fix: str, damage_fix: str):
        """The record the JSON file `path` holds; UserError `PATH not found:
        MISSING` when there is none, and naming it and the fix (`damage_fix`
        for bad JSON too) as `from_file_values` when it does not read."""
        if not path.is_file():
            raise UserError(f"{path} not found: {missing}")
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise UserError(f"{path} is not readable JSON ({err}); {damage_fix}") from None
        return cls.from_file_values(values, path, what, version_fix=version_fix, damage_fix=damage_fix)


def structure(kind, value, where: str):
    """`value` (plain) as `kind`; RecordError naming `where` when it does not fit."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return value
    if isinstance(kind, type) and issubclass(kind, Record):
        return kind.from_dict(value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return structure(option, value, where)
            except RecordError as err:
                errors.append(err)
        raise errors[0] if len(errors) == 1 else RecordError(f"{where}: unexpected {_name(value)} {value!r:.40}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise RecordError(f"{where}: expected a list, found {_name(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(structure(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise RecordError(f"{where}: expected {len(args)} values, found {len(value)}")
        return tuple(structure(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin is dict:
        if not isinstance(value, dict):
            raise RecordError(f"{where}: expected a dict, found {_name(value)}")
        return {structure(args[0], k, where): structure(args[1], v, f"{where}[{k!r}]") for k, v in value.items()}
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind in (dict, list, str, float, bool) or (kind is int and not isinstance(value, bool)):
        if isinstance(value, kind):
            return value
    raise RecordError(f"{where}: expected {getattr(kind, '__name__', kind)}, found {_name(value)}")


def unstructure(value):
    """The plain form of a field's value (records as dicts, tuples as lists)."""
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, tuple):
        return [unstructure(v) for v in value]
    if type(value) is dict:  # a dict subclass (a state_dict) is passed through as it is
        return {k: unstructure(v) for k, v in value.items()}
    return value


def _key(field: attrs.Attribute) -> str:
    """The key of `field` in the plain form."""
    return field.metadata.get("key", field.name)


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _name(value) -> str:
    return "null" if value is None else type(value).__name__
