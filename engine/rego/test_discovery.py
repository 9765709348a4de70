"""Which rules ``arcpolicy test`` runs, and how, as ``opa test`` decides (OPA's tester/runner.go).

- A test is a rule whose reference, read from the left up to its first varying term, has a term
  starting with ``test_`` (``test_x``, ``test_cases[name]``) in any loaded file; ``todo_test_``
  marks one skipped: reported ``SKIPPED``, not evaluated.
- Two tests with one name in one package both run: OPA renames the second ``test_x#01`` (the
  third ``#02`` ...). Here the second rule's head is renamed in the source (an identifier, so on
  the same line and column) and reported under OPA's name.
- A table-driven test, ``test_cases[name] if { some name, case in cases; ... }``, is a partial
  object: each key is a case that passes when its value is ``true``. A case whose body fails
  after its name was bound is a failing case too: OPA's compiler puts a call recording the name
  right after the statement that binds it (``injectTestCaseFunc``). Here a companion rule made of
  the body's statements up to that point (appended to the module, below every line of it) gives
  the names of the cases that reached it.

One more rewrite keeps regorus to what OPA evaluates: a reference through an import
(``import data.lib`` then ``lib.tags``) is written out in full (``data.lib.tags``): through the
alias, regorus evaluates every rule of the imported package, which OPA does not (their prints,
errors and coverage would show in tests that never ask for them).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from engine.rego import rego_ast
from engine.rego.coverage import Range
from engine.rego.modules import RegoModule

TEST_PREFIX = "test_"
SKIP_PREFIX = "todo_test_"
_RENAMED = "__arcpolicy_duplicate_"
CASES_PREFIX = "__arcpolicy_cases_"  # companion rules: not tests, not covered


@dataclass(frozen=True)
class TestCase:
    """One test: OPA's package and name, its place, and the rule to evaluate.

    ``table``: a partial object, one sub-result per case; ``cases``: the companion rule whose
    value is the set of ``[name]`` arrays of the cases that reached OPA's test-case point.
    """

    __test__ = False  # not a pytest test class

    file: str
    row: int
    col: int
    package: str
    name: str
    path: str
    skip: bool = False
    table: bool = False
    cases: str | None = None


@dataclass(frozen=True)
class TestPlan:
    """The modules to compile (duplicates renamed, companion rules appended) and the tests, in file order.

    ``shifts``: per module, where the rewrites made a row longer, ``(row, column after the rewritten text in
    the compiled source, bytes added)``; the rewrites never span rows, so :meth:`original` gives a place in
    the compiled source as the file's own row and column (coverage reports the file as written, as OPA does).
    """

    __test__ = False

    modules: list[RegoModule]
    tests: list[TestCase]
    shifts: dict[str, list[tuple[int, int, int]]] = field(default_factory=dict)

    def original(self, file: str, found: Range) -> Range:
        """``found`` (rows and columns of the compiled source of ``file``) in the file as written."""
        shifts = self.shifts.get(file)
        if not shifts:
            return found

        def column(row: int, col: int) -> int:
            return col - sum(added for at, after, added in shifts if at == row and after <= col)

        return Range(found.start_row, column(found.start_row, found.start_col), found.end_row,
                     column(found.end_row, found.end_col))


def plan_tests(modules: Sequence[RegoModule]) -> TestPlan:
    """Find the tests of ``modules`` (which must parse) and prepare their sources."""
    trees = rego_ast.parse([(module.name, module.source) for module in modules])
    seen: Counter[str] = Counter()
    planned: list[RegoModule] = []
    tests: list[TestCase] = []
    shifts: dict[str, list[tuple[int, int, int]]] = {}
    for module in sorted(modules, key=lambda found: found.name):
        tree = trees[module.name]
        source = module.source.encode()
        package = rego_ast.package_path(tree)
        edits = _imports_written_out(tree, source)
        companions: list[tuple[str, str, list[tuple[int, int]]]] = []
        for rule in tree["rules"]:
            tag, body = rego_ast.kind(rule)
            terms = rego_ast.head_reference(rule)
            named = _test_name(terms)
            if tag == "Default" or named is None:
                continue
            name, length = named
            reference = _reference_text(terms[:length])
            if name.startswith(SKIP_PREFIX):
                tests.append(TestCase(module.name, body["span"]["line"], body["span"]["col"], package, reference,
                                      f"{package}.{reference}", skip=True))
                continue
            count = seen[f"{package}.{reference}"]
            seen[f"{package}.{reference}"] += 1
            path = f"{package}.{reference}"
            if count:  # OPA's rewriteDuplicateTestNames
                renamed = replace(terms[length - 1], name=f"{name}{_RENAMED}{count:02d}")
                edits.append((renamed.start, renamed.end, renamed.name or ""))
                reference = _reference_text([*terms[:length - 1], replace(renamed, name=f"{name}#{count:02d}")])
                path = f"{package}.{_reference_text([*terms[:length - 1], renamed])}"
            table = tag == "Spec" and "Compr" in body["head"] and len(terms) == 2 and length == 1 \
                and terms[1].name is None
            cases = None
            if table:
                cases = f"{CASES_PREFIX}{len(companions)}"
                companions.append((cases, source[terms[1].start:terms[1].end].decode(),
                                   _reached_statements(source, terms[1], body["bodies"][0]["query"])))
            tests.append(TestCase(module.name, body["span"]["line"], body["span"]["col"], package, reference, path,
                                  table=table, cases=f"{package}.{cases}" if cases else None))
        if edits or companions:
            edited = _edited(source, edits)
            rules = [f"{name} contains [{key}] if {{\n" + "\n".join(
                edited[_moved(start, edits):_moved(end, edits)].decode() for start, end in statements) + "\ntrue\n}"
                for name, key, statements in companions]
            module = replace(module, source=edited.decode() + "".join(f"\n\n{rule}" for rule in rules) + "\n")
            shifts[module.name] = _shifts(edited, edits)
        planned.append(module)
    return TestPlan(planned, tests, shifts)


def _shifts(edited: bytes, edits: list[tuple[int, int, str]]) -> list[tuple[int, int, int]]:
    """Each edit's row, the column right after its text in ``edited``, and the bytes it added (see TestPlan)."""
    shifts = []
    for start, end, text in edits:
        after = _moved(start, edits) + len(text.encode())
        row_start = edited.rfind(b"\n", 0, after) + 1
        shifts.append((edited.count(b"\n", 0, after) + 1, after - row_start + 1, len(text.encode()) - (end - start)))
    return shifts


def _imports_written_out(tree: rego_ast.Node, source: bytes) -> list[tuple[int, int, str]]:
    """Replacements of each use of an import's alias (in rule bodies and values) by the imported path."""
    aliases: dict[str, str] = {}
    for imported in tree["imports"]:
        terms = rego_ast.reference(imported["refr"])
        if terms[0].name in ("data", "input") and all(term.name is not None for term in terms):
            alias = imported.get("as")
            name = source[alias["start"]:alias["end"]].decode() if alias else terms[-1].name or ""
            aliases[name] = _reference_text(terms)
    if not aliases:
        return []
    uses = []
    for rule in tree["rules"]:
        tag, body = rego_ast.kind(rule)
        head = rego_ast.kind(body["head"])[1] if tag == "Spec" else {}
        shadowed = _bound_names(rule, source)  # a local variable may take an alias's name (OPA allows it)
        for node in rego_ast.var_nodes([body.get("bodies"), head.get("assign"), head.get("key"), body.get("value")]):
            if node["value"] in aliases and node["value"] not in shadowed:
                uses.append((node["span"]["start"], node["span"]["end"], aliases[node["value"]]))
    return uses


def _bound_names(rule: rego_ast.Node, source: bytes) -> set[str]:
    """The variables a rule declares or assigns anywhere (arguments, ``some``, ``every``, ``:=`` and ``=``)."""
    names: set[str] = set()
    for key, value in rego_ast.pairs(rule):
        if key == "Func":
            names.update(rego_ast.variables(value["args"]))
        elif key == "SomeVars":
            names.update(source[found["start"]:found["end"]].decode() for found in value["vars"])
        elif key == "SomeIn":
            names.update(rego_ast.variables([value["key"], value["value"]]))
        elif key == "Every":
            names.update(source[found["start"]:found["end"]].decode() for found in (value["key"], value["value"])
                         if found)
        elif key == "AssignExpr":
            names.update(rego_ast.variables(value["lhs"]))
    return names


def _test_name(terms: list[rego_ast.RefTerm]) -> tuple[str, int] | None:
    """OPA's ruleName: the first ground term named ``test_*`` or ``todo_test_*``, and how many terms lead to it."""
    for position, term in enumerate(terms):
        if term.name is None:
            return None
        if term.name.startswith((TEST_PREFIX, SKIP_PREFIX)):
            return term.name, position + 1
    return None


def _reference_text(terms: Sequence[rego_ast.RefTerm]) -> str:
    """A ground reference as OPA prints it: ``test_x``, ``p.q.test_x``, ``p["a b"].test_x``."""
    text = ""
    for term in terms:
        name = term.name or ""
        text += name if not text else f".{name}" if name.isidentifier() else f"[{json.dumps(name)}]"
    return text


def _reached_statements(source: bytes, key: rego_ast.RefTerm, query: rego_ast.Node) -> list[tuple[int, int]]:
    """The bytes of the statements a case runs before OPA's test-case point records it.

    OPA puts that point right after the first statement mentioning the key's variable (for a key
    expression, after the statement where the last of its variables first appears; a key with no
    variable is recorded before the body). ``some x`` declarations bind nothing there.
    """
    statements = rego_ast.statements(query)
    key_variables = set(rego_ast.variables(key.node))
    first: dict[str, int] = {}
    for index, statement in enumerate(statements):
        if "SomeVars" not in statement["literal"]:
            for variable in rego_ast.variables(statement["literal"]):
                first.setdefault(variable, index)
    reach = max((first[variable] + 1 for variable in key_variables if variable in first), default=0)
    return [rego_ast.extent(statement, source) for statement in statements[:reach]]


def _edited(source: bytes, edits: list[tuple[int, int, str]]) -> bytes:
    for start, end, text in sorted(edits, reverse=True):
        source = source[:start] + text.encode() + source[end:]
    return source


def _moved(offset: int, edits: list[tuple[int, int, str]]) -> int:
    """Where ``offset`` of the source is once ``edits`` (which never straddle it) are made."""
    return offset + sum(len(text.encode()) - (end - start) for start, end, text in edits if end <= offset)
