"""Hot reads compiled once per process.

Django builds a query's SQL anew on every evaluation, and for the small lookups that every
request makes (the token, the audio a player polls, a share) building the SQL costs several times
what running it does: an audio with its page, document and owner takes about 2 ms to compile and
0.15 ms to run on SQLite. A `CompiledQuery` is written as an ordinary queryset, compiled the
first time it runs on a database (with stand-in values for its arguments), and afterwards run with
the SQL it got, the arguments put where the stand-ins were. Rows become model instances the way
Django's own iterator makes them (`from_db`, the related objects of `select_related`, annotations
as attributes), so callers cannot tell it from the queryset.

Only exact lookups take arguments: a stand-in must reach the SQL parameters unchanged (a
`__contains` lookup wraps it in `%`, a slice is written into the SQL), which compiling checks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

from django.db import connections
from django.db.models import QuerySet
from django.db.models.query import (  # type: ignore[attr-defined]
    ModelIterable,
    ValuesIterable,
    get_related_populators,
)

R = TypeVar("R")

# Stand-ins for arguments while compiling, in two sets: a parameter that differs between the two
# compilations is an argument, one that does not is a constant of the query. Small positive
# numbers, so that no field's range check drops a lookup (a negative `number__gte` on a positive
# field is always true, and Django leaves it out of the SQL).
_INT_STAND_INS = (20_001, 30_001)
_STR_STAND_INS = ("\x1fcompiled-a-", "\x1fcompiled-b-")


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # Per SQL parameter: the argument it takes (its name) or the constant the query holds.
    params: tuple[tuple[str | None, Any], ...]
    make: Callable[[Sequence[Any], str], Any]
    sliced: bool  # LIMIT and OFFSET are in the SQL already


class CompiledQuery(Generic[R]):
    """`build(**arguments)` returns the queryset; `first(**arguments)` runs it for one row.

    `arguments` names each argument with its type (`int` or `str`), which picks its stand-in.
    """

    def __init__(self, build: Callable[..., QuerySet[Any, R]], **arguments: type) -> None:
        unknown = {name: kind for name, kind in arguments.items() if kind not in (int, str)}
        if unknown:
            raise TypeError(f"Arguments must be int or str: {unknown}")
        self._build = build
        self._arguments = arguments
        self._compiled: dict[tuple[str, str, bool], _Compiled] = {}
        self._lock = threading.Lock()

    def _stand_ins(self, which: int) -> dict[str, Any]:
        return {
            name: _INT_STAND_INS[which] + index
            if kind is int
            else f"{_STR_STAND_INS[which]}{index}"
            for index, (name, kind) in enumerate(self._arguments.items())
        }

    def _compile(self, alias: str, *, counting: bool) -> _Compiled:
        compiled = []
        for which in (0, 1):
            stand_ins = self._stand_ins(which)
            queryset: QuerySet[Any, Any] = self._build(**stand_ins).using(alias)
            if counting:
                queryset = queryset.order_by().values("pk")
            compiler = queryset.query.get_compiler(using=alias)
            sql, params = compiler.as_sql()
            compiled.append((stand_ins, queryset, compiler, sql, params))
        (stand_ins, queryset, compiler, sql, params), (_, _, _, other_sql, other_params) = compiled
        if other_sql != sql or len(other_params) != len(params):
            raise ValueError("The query's SQL depends on its arguments' values")
        by_value = {value: name for name, value in stand_ins.items()}
        taken: list[tuple[str | None, Any]] = []
        for value, other in zip(params, other_params, strict=True):
            if value == other:
                taken.append((None, value))
            elif value in by_value:
                taken.append((by_value[value], None))
            else:
                raise ValueError(f"An argument that does not reach the SQL unchanged: {value!r}")
        missing = set(stand_ins) - {name for name, _ in taken if name}
        if missing:
            raise ValueError(f"Arguments that do not reach the SQL unchanged: {sorted(missing)}")
        make: Callable[[Sequence[Any], str], Any]
        if counting:
            # Django's own SQL for the query, its values still parameters.
            sql = f"SELECT COUNT(*) FROM ({sql}) compiled_count"  # noqa: S608  # nosec B608
            make = _first_column
        elif queryset._iterable_class is ValuesIterable:
            make = _dict_maker(compiler)
        elif queryset._iterable_class is ModelIterable:
            make = _row_maker(compiler)
        else:
            raise TypeError("Only model and .values() querysets can be compiled")
        return _Compiled(sql, tuple(taken), make, sliced=queryset.query.is_sliced)

    def _for(self, alias: str, *, counting: bool = False) -> _Compiled:
        key = (alias, connections[alias].vendor, counting)
        compiled = self._compiled.get(key)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(key) or self._compile(alias, counting=counting)
                self._compiled[key] = compiled
        return compiled

    def first(self, *, using: str = "default", **arguments: Any) -> R | None:
        """The first row as the queryset would return it, or None."""
        rows = self._run(self._for(using), using, arguments, one=True)
        return rows[0] if rows else None

    def all(self, *, using: str = "default", **arguments: Any) -> list[R]:
        """Every row as the queryset would return them (model instances, or dicts for a
        `.values()` queryset)."""
        return self._run(self._for(using), using, arguments)

    def slice(self, start: int, stop: int, *, using: str = "default", **arguments: Any) -> list[R]:
        """Rows `start` to `stop` (not included), as `queryset[start:stop]` gives them."""
        compiled = self._for(using)
        if compiled.sliced:
            raise TypeError("The query is sliced already")
        limit = max(stop - start, 0)
        return self._run(compiled, using, arguments, limit=(limit, start))

    def count(self, *, using: str = "default", **arguments: Any) -> int:
        """How many rows the query gives, as `queryset.count()` says."""
        (counted,) = self._run(self._for(using, counting=True), using, arguments)
        return int(counted)

    def _run(
        self,
        compiled: _Compiled,
        using: str,
        arguments: dict[str, Any],
        *,
        one: bool = False,
        limit: tuple[int, int] | None = None,
    ) -> list[Any]:
        if arguments.keys() != self._arguments.keys():
            raise TypeError(f"Expected arguments {sorted(self._arguments)}")
        sql = compiled.sql
        params = [arguments[name] if name else value for name, value in compiled.params]
        if limit is not None:
            sql = f"{sql} LIMIT %s OFFSET %s"
            params.extend(limit)
        with connections[using].cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchmany(1) if one else cursor.fetchall()
        return [compiled.make(row, using) for row in rows]


class CompiledList(Generic[R]):
    """A compiled query's rows for one set of arguments, as Django's `Paginator` (and DRF's
    page-number pagination) takes a queryset: `count()` and a slice, one query each."""

    ordered = True  # the query says its order; Paginator warns about querysets without one

    def __init__(self, query: CompiledQuery[R], **arguments: Any) -> None:
        self._query = query
        self._arguments = arguments

    def count(self) -> int:
        return self._query.count(**self._arguments)

    def __len__(self) -> int:
        return self.count()

    def __iter__(self) -> Iterator[R]:
        return iter(self._query.all(**self._arguments))

    @overload
    def __getitem__(self, index: int) -> R: ...

    @overload
    def __getitem__(self, index: slice) -> list[R]: ...

    def __getitem__(self, index: int | slice) -> R | list[R]:
        if isinstance(index, int):
            if index < 0:
                raise IndexError("Negative indexing is not supported")
            found = self._query.slice(index, index + 1, **self._arguments)
            if not found:
                raise IndexError(index)
            return found[0]
        if index.step is not None:
            raise TypeError("Only slices without a step")
        start = index.start or 0
        stop = self.count() if index.stop is None else index.stop
        return self._query.slice(start, stop, **self._arguments)


def _first_column(row: Sequence[Any], using: str) -> Any:
    return row[0]


def _converters(compiler: Any) -> list[tuple[int, tuple[list[Any], Any]]]:
    columns = [column[0] for column in compiler.select[: compiler.col_count]]
    return list(compiler.get_converters(columns).items())


def _converted(row: Sequence[Any], converters: list[Any], using: str) -> Sequence[Any]:
    if not converters:
        return row
    connection, row = connections[using], list(row)
    for position, (functions, expression) in converters:
        value = row[position]
        for convert in functions:
            value = convert(value, expression, connection)
        row[position] = value
    return row


def _dict_maker(compiler: Any) -> Callable[[Sequence[Any], str], Any]:
    """What Django's ValuesIterable makes of a row: a dict by the names `.values()` gave."""
    query = compiler.query
    names = [*query.extra_select, *query.values_select, *query.annotation_select]
    converters = _converters(compiler)

    def make(row: Sequence[Any], using: str) -> Any:
        return dict(zip(names, _converted(row, converters, using), strict=True))

    return make


def _row_maker(compiler: Any) -> Callable[[Sequence[Any], str], Any]:
    """A function turning a row of the compiled query into what Django's ModelIterable makes of
    it: the model from `from_db`, its `select_related` objects, its annotations."""
    select, klass_info = compiler.select, compiler.klass_info
    annotations = dict(compiler.annotation_col_map or {})
    converters = _converters(compiler)
    model = klass_info["model"]
    fields = klass_info["select_fields"]
    start, end = fields[0], fields[-1] + 1
    names = [column[0].target.attname for column in select[start:end]]
    populators = get_related_populators(klass_info, select, compiler.using)

    def make(row: Sequence[Any], using: str) -> Any:
        row = _converted(row, converters, using)
        instance = model.from_db(using, names, row[start:end])
        for populator in populators:
            populator.populate(row, instance)
        for name, position in annotations.items():
            setattr(instance, name, row[position])
        return instance

    return make
