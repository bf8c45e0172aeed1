"""Statements whose SQL is built once per shape; a request only binds its values.

Turning a peewee query into SQL walks its expression tree in Python, and for the
small queries every page runs (the session, the profile tree, the list and its
count) that walk costs more than the database takes to answer them. A statement
here is written with peewee as usual, with a `Slot` wherever a request brings a
value. Its SQL is built the first time a shape is asked for on a database; later
calls reuse the text and fill the slots.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Hashable, Iterable, Mapping
from datetime import datetime
from functools import cached_property, partial, wraps
from operator import attrgetter
from typing import Any

import peewee as pw

from portal.database import db

# Shapes kept per builder before the cache starts again; a shape is small (its
# SQL text), and the count of shapes grows with the number of owners in a scope.
MAX_SHAPES = 512

# Fields whose values both drivers already return as Python wants them (str,
# int): converting them cell by cell would change nothing.
_AS_RETURNED = (pw.CharField, pw.TextField, pw.IntegerField)


# Integer columns (and keys to them), whose db_value gives an int back unchanged.
_INTEGERS = (pw.IntegerField, pw.AutoField, pw.BigIntegerField, pw.BigAutoField)


class _Open:
    """A parameter left open in compiled SQL, with the converter peewee chose there."""

    __slots__ = ("name", "index", "converter", "integer")

    def __init__(self, name: str, index: int | None, converter: Callable | None) -> None:
        self.name = name
        self.index = index
        self.converter = converter
        field = getattr(converter, "__self__", None)
        if isinstance(field, pw.ForeignKeyField):
            field = field.rel_field
        # Scopes bind lists of ids: an int needs no call to come out the same.
        self.integer = type(field) in _INTEGERS


class Slot(pw.Node):
    """Where a request's value goes: `values[name]`, or `values[name][index]`."""

    def __init__(self, name: str, index: int | None = None) -> None:
        super().__init__()
        self.name = name
        self.index = index

    def __sql__(self, ctx: pw.Context) -> pw.Context:
        # Beside a field, peewee converts a value with the field's db_value; the
        # converter is kept for binding time, and the marker passes untouched.
        marker = _Open(self.name, self.index, ctx.state.converter)
        return ctx.value(marker, converter=False)


def slots(name: str, count: int) -> list[Slot]:
    """One slot per item of a list value: `field.in_(slots("ids", len(ids)))`."""
    return [Slot(name, index) for index in range(count)]


def _converter(node: pw.Node) -> Callable[[Iterable], Iterable] | None:
    """What turns a column of driver values into Python values, or None."""
    field = node.unwrap()
    if isinstance(field, pw.ForeignKeyField):
        field = field.rel_field
    if type(field) is pw.DateTimeField:
        return partial(_datetimes, field.python_value)
    if isinstance(field, pw.Field) and not isinstance(field, _AS_RETURNED):
        return partial(map, field.python_value)
    return None


_zone_of = attrgetter("tzinfo")


def _datetimes(fallback: Callable, values: Iterable) -> Iterable:
    # SQLite answers the text peewee stored; fromisoformat reads it in C, where
    # peewee tries its formats through strptime. A whole column of naive times
    # goes through in C; anything else (PostgreSQL's datetimes, NULLs, offsets)
    # takes the cell-by-cell way.
    try:
        parsed = list(map(datetime.fromisoformat, values))
    except (TypeError, ValueError):
        return map(partial(_datetime, fallback), values)
    if any(map(_zone_of, parsed)):
        return map(partial(_datetime, fallback), values)
    return parsed


def _datetime(fallback: Callable, value: Any) -> Any:
    if type(value) is str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return fallback(value)
        if parsed.tzinfo is None:
            return parsed
    return fallback(value)


def _column_name(node: pw.Node) -> str:
    if node.is_alias():
        return node.name
    field = node.unwrap()
    return field.name if isinstance(field, pw.Field) else "value"


class Statement:
    """One shape of a query: its SQL, its open parameters and its row type."""

    def __init__(self, query: pw.SelectBase, database: pw.Database) -> None:
        self.sql, params = database.get_sql_context().sql(query).query()
        self._params = tuple(params)
        self._open = tuple(i for i, param in enumerate(params) if isinstance(param, _Open))
        columns = self._columns = list(getattr(query, "selected_columns", None) or ())
        self._convert = tuple(
            (i, converter)
            for i, converter in enumerate(_converter(node) for node in columns)
            if converter is not None
        )

    @cached_property
    def Row(self) -> type:  # noqa: N802 (a class)
        """The row type of `rows()`, named after the columns (aliases win)."""
        return namedtuple("Row", [_column_name(node) for node in self._columns])

    @cached_property
    def _make_row(self) -> Callable[[tuple], tuple]:
        # What Row._make does, without its Python frame: a list makes 50 rows.
        return partial(tuple.__new__, self.Row)

    def bind(self, values: Mapping[str, Any]) -> list[Any]:
        params = list(self._params)
        for i in self._open:
            marker = params[i]
            value = values[marker.name]
            if marker.index is not None:
                value = value[marker.index]
            if marker.converter and not (marker.integer and type(value) is int):
                value = marker.converter(value)
            params[i] = value
        return params

    def execute(self, **values: Any) -> Any:
        """The driver's cursor, after running through peewee (logged like any query)."""
        return db.execute_sql(self.sql, self.bind(values))

    def _fetch(self, values: Mapping[str, Any]) -> list[tuple]:
        rows = self.execute(**values).fetchall()
        if not self._convert or not rows:
            return rows
        # Column by column: zip and map loop in C, where a loop over the rows
        # costs a Python step per row and per converted cell.
        columns: list[Iterable] = list(zip(*rows, strict=True))
        for i, converter in self._convert:
            columns[i] = converter(columns[i])
        return list(zip(*columns, strict=True))

    def tuples(self, **values: Any) -> list[tuple]:
        return self._fetch(values)

    def rows(self, **values: Any) -> list[tuple]:
        """Named rows, with one row type per statement rather than per execution."""
        return list(map(self._make_row, self._fetch(values)))

    def scalar(self, **values: Any) -> Any:
        row = self.execute(**values).fetchone()
        return row[0] if row else None


def compiled(build: Callable[..., pw.SelectBase]) -> Callable[..., Statement]:
    """Memoise `build(*shape)` as a `Statement`, per database.

    `build` must depend on nothing but its arguments, which describe the shape
    (how many ids, which filters are on); every value a request brings goes in
    a `Slot`. Then the cached SQL is exactly what `build` would give.
    """
    cache: dict[tuple, Statement] = {}

    @wraps(build)
    def statement(*shape: Hashable) -> Statement:
        key = (db.obj, shape)
        found = cache.get(key)
        if found is None:
            if len(cache) >= MAX_SHAPES:
                cache.clear()
            found = cache[key] = Statement(build(*shape), db.obj)
        return found

    return statement
