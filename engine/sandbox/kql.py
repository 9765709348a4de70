"""The subset of KQL the sandbox's Resource Graph understands: what arcpolicy sends and what the
2021-03-01 Resource Graph examples query.

``<table> | where type =~ 'x' and subscriptionId in ('a', 'b') | project id, name, properties.a.b
| summarize count() by location | top 3 by count_ | order by id asc | take 10``. Leading ``where``
conditions on ``type`` and ``subscriptionId`` run in SQLite (a whole tenant is never parsed for them);
the other stages run on the rows in Python. Anything else is refused with a message naming what is
unsupported, as the real service refuses invalid queries with 400 BadRequest.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from engine.sandbox.store import KUBERNETES_CONFIGURATION_TABLE, RESOURCE_CONTAINERS_TABLE, RESOURCES_TABLE

TABLES = frozenset({RESOURCES_TABLE, KUBERNETES_CONFIGURATION_TABLE, RESOURCE_CONTAINERS_TABLE})
# KQL column -> SQL column of the store; leading comparisons on these run in SQLite.
SQL_COLUMNS = {"type": "type_key", "subscriptionid": "sub"}
ORDER_COLUMNS = {"id": "key", "type": "type_key", "subscriptionid": "sub"}
CASE_INSENSITIVE_OPERATORS = frozenset({"=~", "in~", "!~", "!in~"})
NEGATED_OPERATORS = frozenset({"!=", "!~", "!in", "!in~"})
SQL_OPERATORS = frozenset({"=~", "==", "!=", "!~", "in", "in~", "!in", "!in~"})
COUNT_COLUMN = "count_"  # the column ``summarize count()`` makes

_TOKEN = re.compile(r"""\s*(?:(?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(?P<number>-?\d+(?:\.\d+)?)"""
                    r"""|(?P<operator>!in~|!in|in~|=~|!~|==|!=|<=|>=|[(),=<>])"""
                    r"""|(?P<word>!?[A-Za-z_][A-Za-z0-9_.]*))""")


class UnsupportedQuery(ValueError):
    """A query outside the supported subset; the message says what is unsupported."""


# ---- expressions -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    path: tuple[str, ...]

    @property
    def name(self) -> str:
        return "_".join(self.path)

    def evaluate(self, row: dict[str, Any]) -> Any:
        if self.name in row:
            return row[self.name]
        value: Any = row
        for part in self.path:
            value = _member(value, part)
        return value


@dataclass(frozen=True)
class Literal:
    value: Any

    @property
    def name(self) -> str:
        return "print_0"

    def evaluate(self, row: dict[str, Any]) -> Any:
        return self.value


@dataclass(frozen=True)
class Call:
    function: str
    arguments: tuple[Expression, ...]

    @property
    def name(self) -> str:
        """KQL names a column computed by a conversion after its argument (``tostring(a.b)`` -> ``a_b``)."""
        return self.arguments[0].name if self.arguments else f"{self.function}_"

    def evaluate(self, row: dict[str, Any]) -> Any:
        function = FUNCTIONS.get(self.function.lower())
        if function is None:
            raise UnsupportedQuery(f"unsupported function {self.function!r} (supported: {', '.join(FUNCTIONS)})")
        return function(*(argument.evaluate(row) for argument in self.arguments))


Expression = Column | Literal | Call


def _member(value: Any, name: str) -> Any:
    if not isinstance(value, dict):
        return None
    if name in value:
        return value[name]
    return next((item for key, item in value.items() if key.lower() == name.lower()), None)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "tostring": _text, "tolower": lambda value: _text(value).lower(), "toupper": lambda value: _text(value).upper(),
}


@dataclass(frozen=True)
class Comparison:
    left: Expression
    operator: str
    values: tuple[Any, ...]

    def matches(self, row: dict[str, Any]) -> bool:
        return COMPARISONS[self.operator.lstrip("!")](self.left.evaluate(row), self.values) \
            != self.operator.startswith("!")


def _equal(left: Any, values: tuple[Any, ...]) -> bool:
    return any(left == value or (left is not None and _text(left) == _text(value)) for value in values)


def _equal_ignoring_case(left: Any, values: tuple[Any, ...]) -> bool:
    return any(_text(left).lower() == _text(value).lower() for value in values)


COMPARISONS: dict[str, Callable[[Any, tuple[Any, ...]], bool]] = {
    "==": _equal, "=": _equal, "in": _equal, "=~": _equal_ignoring_case, "~": _equal_ignoring_case,
    "in~": _equal_ignoring_case,
    "contains": lambda left, values: _text(values[0]).lower() in _text(left).lower(),
    "contains_cs": lambda left, values: _text(values[0]) in _text(left),
    "startswith": lambda left, values: _text(left).lower().startswith(_text(values[0]).lower()),
    "endswith": lambda left, values: _text(left).lower().endswith(_text(values[0]).lower()),
    "has": lambda left, values: _text(values[0]).lower() in re.split(r"[^a-z0-9]+", _text(left).lower()),
}
WORD_OPERATORS = frozenset({"contains", "!contains", "contains_cs", "!contains_cs", "startswith", "!startswith",
                            "endswith", "!endswith", "has", "!has", "in", "!in"})


@dataclass
class Condition:
    """Comparisons joined with ``and`` (``any_of`` holds alternatives joined with ``or``)."""

    any_of: list[list[Comparison]]

    def matches(self, row: dict[str, Any]) -> bool:
        return any(all(comparison.matches(row) for comparison in group) for group in self.any_of)

    def sql(self) -> list[SqlCondition] | None:
        """The condition as SQL conditions when it is a conjunction on the store's columns, else None."""
        if len(self.any_of) != 1:
            return None
        sql = []
        for comparison in self.any_of[0]:
            column = comparison.left
            if not isinstance(column, Column) or len(column.path) != 1 or comparison.operator not in SQL_OPERATORS \
                    or column.path[0].lower() not in SQL_COLUMNS \
                    or not all(isinstance(value, str) for value in comparison.values):
                return None
            sql.append(SqlCondition(SQL_COLUMNS[column.path[0].lower()], comparison.operator, list(comparison.values)))
        return sql


@dataclass
class SqlCondition:
    column: str  # SQL column
    operator: str
    values: list[str]

    def sql(self) -> tuple[str, list[str]]:
        values = [value.lower() for value in self.values] if self.operator in CASE_INSENSITIVE_OPERATORS \
            else self.values
        marks = ", ".join("?" * len(values))
        negation = "NOT " if self.operator in NEGATED_OPERATORS else ""
        return f"{self.column} {negation}IN ({marks})", values


class _Tokens:
    def __init__(self, text: str):
        self.items: list[tuple[str, str]] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                if text[position:].strip():
                    raise UnsupportedQuery(f"cannot read {text[position:].strip()!r}")
                break
            kind = match.lastgroup or ""
            self.items.append((kind, match.group(kind)))
            position = match.end()
        self.index = 0

    def peek(self) -> tuple[str, str] | None:
        return self.items[self.index] if self.index < len(self.items) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token[1].lower() != expected):
            raise UnsupportedQuery(f"expected {expected or 'more'}, found {token[1] if token else 'the end'!r}")
        self.index += 1
        return token[1]

    def at(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token[1].lower() in words

    def done(self) -> bool:
        return self.index >= len(self.items)


def _literal(token: str) -> Any:
    if token[0] in "'\"":
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    return float(token) if "." in token else int(token)


def _expression(tokens: _Tokens) -> Expression:
    kind, token = tokens.peek() or ("", "")
    if kind in ("string", "number"):
        tokens.take()
        return Literal(_literal(token))
    if kind != "word":
        raise UnsupportedQuery(f"expected a column, a literal or a function, found {token or 'the end'!r}")
    tokens.take()
    if tokens.at("("):
        tokens.take("(")
        arguments: list[Expression] = []
        while not tokens.at(")"):
            arguments.append(_expression(tokens))
            if not tokens.at(")"):
                tokens.take(",")
        tokens.take(")")
        if token.lower() in FUNCTIONS and len(arguments) != 1:
            raise UnsupportedQuery(f"{token}() takes one argument, not {len(arguments)}")
        return Call(token, tuple(arguments))
    return Column(tuple(token.split(".")))


def expression(text: str) -> Expression:
    """One expression (a facet's column, its ``sortBy``)."""
    tokens = _Tokens(text)
    parsed = _expression(tokens)
    if not tokens.done():
        raise UnsupportedQuery(f"unexpected {tokens.take()!r} after {text!r}")
    return parsed


def _comparison(tokens: _Tokens) -> Comparison:
    left = _expression(tokens)
    kind, operator = tokens.peek() or ("", "")
    operator = operator.lower()
    if not (kind == "operator" and operator in (*SQL_OPERATORS, "=")) and operator not in WORD_OPERATORS:
        raise UnsupportedQuery(f"unsupported comparison operator {operator or 'missing'!r} (supported: "
                               "== != =~ !~ in in~ !in !in~ contains startswith endswith has)")
    tokens.take()
    if operator.lstrip("!").startswith("in"):
        tokens.take("(")
        values = []
        while not tokens.at(")"):
            values.append(_literal_of(tokens))
            if not tokens.at(")"):
                tokens.take(",")
        tokens.take(")")
        return Comparison(left, operator, tuple(values))
    return Comparison(left, operator, (_literal_of(tokens),))


def _literal_of(tokens: _Tokens) -> Any:
    kind, token = tokens.peek() or ("", "")
    if kind not in ("string", "number"):
        raise UnsupportedQuery(f"only literals are supported on the right of a comparison, not {token!r}")
    tokens.take()
    return _literal(token)


def condition(text: str) -> Condition:
    """A ``where`` condition: comparisons joined with ``and`` / ``or`` (``and`` binds tighter)."""
    tokens = _Tokens(text)
    groups: list[list[Comparison]] = [[_comparison(tokens)]]
    while not tokens.done():
        joiner = tokens.take().lower()
        if joiner == "and":
            groups[-1].append(_comparison(tokens))
        elif joiner == "or":
            groups.append([_comparison(tokens)])
        else:
            raise UnsupportedQuery(f"expected 'and' or 'or', found {joiner!r}")
    return Condition(groups)


# ---- stages ------------------------------------------------------------------------------------
Rows = list[dict[str, Any]]


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, bool | int | float):
        return (1, value)
    return (2, _text(value))


@dataclass
class Where:
    condition: Condition

    def run(self, rows: Rows) -> Rows:
        return [row for row in rows if self.condition.matches(row)]


@dataclass
class Project:
    columns: list[tuple[str, Expression]]
    keep: bool = False  # extend: the row's columns stay

    def run(self, rows: Rows) -> Rows:
        return [{**(row if self.keep else {}), **{name: expression.evaluate(row) for name, expression in self.columns}}
                for row in rows]


@dataclass
class Summarize:
    counts: list[str]  # names of count() columns
    by: list[tuple[str, Expression]]

    def run(self, rows: Rows) -> Rows:
        groups: Counter[tuple[str, ...]] = Counter()
        values: dict[tuple[str, ...], list[Any]] = {}
        for row in rows:
            group = [expression.evaluate(row) for _, expression in self.by]
            key = tuple(_text(value) for value in group)
            groups[key] += 1
            values.setdefault(key, group)
        return [{**{name: value for (name, _), value in zip(self.by, values[key], strict=True)},
                 **dict.fromkeys(self.counts, count)} for key, count in groups.items()]


@dataclass
class Order:
    terms: list[tuple[Expression, bool]]  # (expression, descending)
    take: int | None = None  # top N

    def run(self, rows: Rows) -> Rows:
        ordered = list(rows)
        for expression, descending in reversed(self.terms):
            ordered.sort(key=lambda row, expression=expression: _sort_key(expression.evaluate(row)),
                         reverse=descending)
        return ordered if self.take is None else ordered[: self.take]


@dataclass
class Take:
    count: int

    def run(self, rows: Rows) -> Rows:
        return rows[: self.count]


Stage = Where | Project | Summarize | Order | Take


def _named(tokens: _Tokens) -> tuple[str, Expression]:
    kind, token = tokens.peek() or ("", "")
    if kind == "word" and len(tokens.items) > tokens.index + 1 and tokens.items[tokens.index + 1][1] == "=":
        tokens.take()
        tokens.take("=")
        return token, _expression(tokens)
    expression = _expression(tokens)
    return expression.name, expression


def _list_of(text: str, read: Callable[[_Tokens], Any]) -> list[Any]:
    tokens = _Tokens(text)
    items = [read(tokens)]
    while not tokens.done():
        tokens.take(",")
        items.append(read(tokens))
    return items


def _project(argument: str) -> Stage:
    return Project(_list_of(argument, _named))


def _extend(argument: str) -> Stage:
    return Project(_list_of(argument, _named), keep=True)


def _summarize(argument: str) -> Stage:
    parts = re.split(r"(?i)(?:^|\s)by\s", argument, maxsplit=1)
    aggregates, by = parts[0].strip(), (parts[1] if len(parts) > 1 else "")
    counts = []
    for name, expression in (_list_of(aggregates, _named) if aggregates else []):
        if not (isinstance(expression, Call) and expression.function.lower() == "count" and not expression.arguments):
            raise UnsupportedQuery("summarize supports count() only")
        counts.append(COUNT_COLUMN if name == "count_" else name)
    return Summarize(counts, _list_of(by, _named) if by.strip() else [])


def _ordering(tokens: _Tokens) -> tuple[Expression, bool]:
    expression = _expression(tokens)
    descending = True  # KQL sorts descending unless told
    if tokens.at("asc", "desc"):
        descending = tokens.take() == "desc"
    return expression, descending


def _order(argument: str) -> Stage:
    if not argument.lower().startswith("by "):
        raise UnsupportedQuery("expected 'order by <column> [asc|desc]'")
    return Order(_list_of(argument[3:], _ordering))


def _top(argument: str) -> Stage:
    count, _, rest = argument.partition(" ")
    if not count.isdigit() or not rest.strip().lower().startswith("by "):
        raise UnsupportedQuery("expected 'top <count> by <column> [asc|desc]'")
    return Order(_list_of(rest.strip()[3:], _ordering), take=int(count))


def _take(argument: str) -> Stage:
    if not argument.isdigit():
        raise UnsupportedQuery(f"take/limit needs a row count, not {argument!r}")
    return Take(int(argument))


def _where(argument: str) -> Stage:
    return Where(condition(argument))


OPERATORS: dict[str, Callable[[str], Stage]] = {
    "where": _where, "project": _project, "extend": _extend, "summarize": _summarize, "order": _order,
    "sort": _order, "top": _top, "take": _take, "limit": _take,
}


@dataclass
class Query:
    table: str
    sql: list[SqlCondition] = field(default_factory=list)  # leading conditions SQLite evaluates
    stages: list[Stage] = field(default_factory=list)  # the rest, in order

    @property
    def plain(self) -> tuple[list[str] | None, list[str], int | None] | None:
        """(columns, SQL order terms, take) when the stages are at most ``project`` of plain columns, ``order by``
        store columns and ``take``, in that order: then SQLite pages the query (None otherwise)."""
        columns: list[str] | None = None
        order: list[str] = []
        take = None
        position = 0
        stages = self.stages
        if position < len(stages) and isinstance(stages[position], Project) and not stages[position].keep:
            project = stages[position]
            assert isinstance(project, Project)
            if not all(isinstance(expression, Column) and len(expression.path) == 1 and expression.name == name
                       for name, expression in project.columns):
                return None
            columns = [name for name, _ in project.columns]
            position += 1
        if position < len(stages) and isinstance(stages[position], Order) and stages[position].take is None:
            ordering = stages[position]
            assert isinstance(ordering, Order)
            for expression, descending in ordering.terms:
                if not isinstance(expression, Column) or len(expression.path) != 1 \
                        or expression.name.lower() not in ORDER_COLUMNS:
                    return None
                order.append(f"{ORDER_COLUMNS[expression.name.lower()]} {'DESC' if descending else 'ASC'}")
            position += 1
        if position < len(stages) and isinstance(stages[position], Take):
            take_stage = stages[position]
            assert isinstance(take_stage, Take)
            take = take_stage.count
            position += 1
        return (columns, order, take) if position == len(stages) else None

    def run(self, rows: Iterable[dict[str, Any]]) -> Rows:
        result = list(rows)
        for stage in self.stages:
            result = stage.run(result)
        return result


def _split(text: str, separator: str) -> list[str]:
    """Split on a separator outside quoted strings."""
    parts, current, quote = [], [], ""
    index = 0
    while index < len(text):
        char = text[index]
        if quote:
            current.append(char)
            if char == "\\" and index + 1 < len(text):
                current.append(text[index + 1])
                index += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
            current.append(char)
        elif text.startswith(separator, index):
            parts.append("".join(current))
            current = []
            index += len(separator)
            continue
        else:
            current.append(char)
        index += 1
    if quote:
        raise UnsupportedQuery("unterminated string literal")
    parts.append("".join(current))
    return parts


def parse(text: str) -> Query:
    """Parse a query of the supported subset; raises :class:`UnsupportedQuery` for anything else."""
    stages = [stage.strip() for stage in _split(text.strip(), "|")]
    table = stages[0].lower()
    if table not in TABLES:
        raise UnsupportedQuery(f"unsupported table {stages[0]!r} (supported: {', '.join(sorted(TABLES))})")
    query = Query(table)
    for stage in stages[1:]:
        name, _, argument = stage.partition(" ")
        operator = OPERATORS.get(name.lower())
        if operator is None:
            raise UnsupportedQuery(f"unsupported operator {name!r} (supported: {', '.join(OPERATORS)})")
        parsed = operator(argument.strip())
        pushed = parsed.condition.sql() if isinstance(parsed, Where) and not query.stages else None
        if pushed is not None:
            query.sql.extend(pushed)
        else:
            query.stages.append(parsed)
    return query
