"""The subset of KQL the sandbox's Resource Graph understands: what arcpolicy itself sends.

``<table> | where type =~ 'x' and subscriptionId in ('a', 'b') | project id, name | order by id asc
| take 10``. Anything else is refused with a message naming what is unsupported, as the real
service refuses invalid queries with 400 BadRequest.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.sandbox.store import KUBERNETES_CONFIGURATION_TABLE, RESOURCE_CONTAINERS_TABLE, RESOURCES_TABLE

TABLES = frozenset({RESOURCES_TABLE, KUBERNETES_CONFIGURATION_TABLE, RESOURCE_CONTAINERS_TABLE})
# KQL column -> SQL column of the store; comparisons on these run in SQLite.
FILTER_COLUMNS = {"type": "type_key", "subscriptionid": "sub"}
ORDER_COLUMNS = {"id": "key", "type": "type_key", "subscriptionid": "sub"}
CASE_INSENSITIVE_OPERATORS = frozenset({"=~", "in~", "!~", "!in~"})
NEGATED_OPERATORS = frozenset({"!=", "!~", "!in", "!in~"})

_CONDITION = re.compile(r"^\s*(\w+)\s*(=~|==|!=|!~|!in~|in~|!in|in)\s*(.+?)\s*$", re.IGNORECASE | re.DOTALL)
_STRING = re.compile(r"""'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)\"""")


class UnsupportedQuery(ValueError):
    """A query outside the supported subset; the message says what is unsupported."""


@dataclass
class Condition:
    column: str  # SQL column
    operator: str
    values: list[str]

    def sql(self) -> tuple[str, list[str]]:
        values = [value.lower() for value in self.values] if self.operator in CASE_INSENSITIVE_OPERATORS \
            else self.values
        marks = ", ".join("?" * len(values))
        negation = "NOT " if self.operator in NEGATED_OPERATORS else ""
        return f"{self.column} {negation}IN ({marks})", values


@dataclass
class Query:
    table: str
    conditions: list[Condition] = field(default_factory=list)
    columns: list[str] | None = None  # project
    order: list[str] = field(default_factory=list)  # SQL order terms
    take: int | None = None


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


def _literals(text: str, operator: str) -> list[str]:
    listed = operator.lstrip("!").startswith("in")
    if listed:
        if not (text.startswith("(") and text.endswith(")")):
            raise UnsupportedQuery(f"'{operator}' needs a parenthesised list of strings")
        items = [item.strip() for item in _split(text[1:-1], ",")]
    else:
        items = [text]
    values = []
    for item in items:
        match = _STRING.fullmatch(item)
        if not match:
            raise UnsupportedQuery(f"only string literals are supported in comparisons, not {item!r}")
        values.append(match.group(1) if match.group(1) is not None else match.group(2))
    return values


def _where(query: Query, argument: str) -> None:
    for clause in _split(argument, " and "):
        match = _CONDITION.match(clause)
        if not match:
            raise UnsupportedQuery(f"unsupported where condition {clause.strip()!r} (supported: column "
                                   "=~ == != !~ in in~ !in !in~ string literals, joined with 'and')")
        column, operator, operand = match.group(1), match.group(2).lower(), match.group(3)
        if column.lower() not in FILTER_COLUMNS:
            raise UnsupportedQuery(f"where on column {column!r} is not supported (supported: type, subscriptionId)")
        query.conditions.append(Condition(FILTER_COLUMNS[column.lower()], operator, _literals(operand, operator)))


def _project(query: Query, argument: str) -> None:
    columns = [column.strip() for column in argument.split(",")]
    if not all(re.fullmatch(r"\w+", column) for column in columns):
        raise UnsupportedQuery("project supports plain column names only (no renames or expressions)")
    query.columns = columns


def _order(query: Query, argument: str) -> None:
    if not argument.lower().startswith("by "):
        raise UnsupportedQuery("expected 'order by <column> [asc|desc]'")
    for term in argument[3:].split(","):
        words = term.split()
        if not words or len(words) > 2 or words[0].lower() not in ORDER_COLUMNS \
                or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise UnsupportedQuery(f"unsupported order by term {term.strip()!r} (supported columns: id, type, "
                                   "subscriptionId)")
        direction = "DESC" if len(words) == 2 and words[1].lower() == "desc" else "ASC"
        query.order.append(f"{ORDER_COLUMNS[words[0].lower()]} {direction}")


def _take(query: Query, argument: str) -> None:
    if not argument.isdigit():
        raise UnsupportedQuery(f"take/limit needs a row count, not {argument!r}")
    query.take = int(argument)


OPERATORS: dict[str, Callable[[Query, str], None]] = {
    "where": _where, "project": _project, "order": _order, "sort": _order, "take": _take, "limit": _take,
}


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
        operator(query, argument.strip())
    return query
