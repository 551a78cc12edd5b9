"""Model instances from the rows of written-out SQL, converted as the ORM converts them.

Several hot reads are written out in SQL (the lesson page, the dashboard, an
attempt with its quiz): the ORM spent more Python building their joins than
the database spent running them. What the ORM also does is convert each value
as its field expects, and a raw cursor does not fully: SQLite returns a
decimal as a float, a naive time, and an aggregate's time (MIN, MAX) as text,
and JSON comes back as text. These helpers apply the same conversions (the
backend's, then the field's own), so a written-out read gives what the ORM
gives; tests/quizzes hold each written-out read to the ORM on both databases.
"""

from __future__ import annotations

import functools

from django.db import connection


def converter(model, name: str):
    """A function converting a raw value of `model.name` as the ORM would; None if it converts nothing."""
    column = model._meta.get_field(name).get_col(model._meta.db_table)
    steps = [*connection.ops.get_db_converters(column), *column.get_db_converters(connection)]
    if not steps:
        return None

    def convert(value):
        for step in steps:
            value = step(value, column, connection)
        return value

    return convert


def columns(model, alias: str, *, exclude: tuple[str, ...] = ()) -> str:
    """`alias.column, ...` for the model's concrete fields but `exclude`, in field order: the
    select list that a `Reader` reads back."""
    quote = connection.ops.quote_name  # "references" is a reserved word
    return ", ".join(f"{alias}.{quote(f.column)}" for f in model._meta.concrete_fields if f.name not in exclude)


def reader(model, *, exclude: tuple[str, ...] = ()) -> Reader:
    """The `Reader` of `model` for this database, made once per process: working out the
    converters of every field costs more than reading a row (about 0.1 ms a model). A
    converter holds nothing of a connection but its settings (the time zone)."""
    return _reader(connection.vendor, model, exclude)


@functools.cache
def _reader(vendor: str, model, exclude: tuple[str, ...]) -> Reader:
    return Reader(model, exclude=exclude)


class Reader:
    """Builds `model` instances from the values `columns(model, ..., exclude=exclude)` selected;
    excluded fields are deferred (read on first use, as with the ORM's `defer`)."""

    def __init__(self, model, *, exclude: tuple[str, ...] = ()):
        fields = [f for f in model._meta.concrete_fields if f.name not in exclude]
        self.model = model
        self.width = len(fields)
        self.attnames = [f.attname for f in fields]
        self.converters = [(i, c) for i, f in enumerate(fields) if (c := converter(model, f.name)) is not None]

    def convert(self, name: str):
        """The conversion of one field's raw value (the identity where there is none)."""
        index = self.attnames.index(self.model._meta.get_field(name).attname)
        return dict(self.converters).get(index, _same)

    def __call__(self, values):
        values = list(values)
        for i, convert in self.converters:
            values[i] = convert(values[i])
        return self.model.from_db(connection.alias, self.attnames, values)


def split(row, readers: list[Reader]) -> list:
    """The values of `row` for each reader in turn: a query selecting several models' `columns`
    one after another is read back a model at a time."""
    parts, start = [], 0
    for read in readers:
        parts.append(row[start:start + read.width])
        start += read.width
    return parts


class Values:
    """Stands in `split`'s readers for `width` plain values (columns of no model, read as they come)."""

    def __init__(self, width: int):
        self.width = width


def pk_possible(model, pk: int) -> bool:
    """Whether a row of `model` could have this primary key: False beyond the column's range,
    which no row can have and SQLite cannot even bind (an OverflowError, not a missing row)."""
    low, high = connection.ops.integer_field_range(model._meta.pk.get_internal_type())
    return low <= pk <= high


def one(model, sql: str, params: list, readers: list[Reader]) -> list:
    """The one row `sql` selects, split for `readers` (see `split`).

    Raises `model.DoesNotExist` ("No such <model>.") when it selects none: the
    written-out reads look a row up by its id and its owner, so anyone else's
    row is a missing one.
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise model.DoesNotExist(f"No such {model._meta.verbose_name}.")
    return split(row, readers)


def _same(value):
    return value
