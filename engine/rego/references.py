"""Static checks of what a Rego module refers to: imports and called functions must exist.

(Also Rego v0 rule bodies, ``allow {`` without ``if``: regopy accepts them, OPA 1.x does not.)

regopy 1.5 compiles a module that imports a package nobody loaded, or calls a function nobody
defined, and fails only when the call is evaluated - and when the bundle also uses ``with``,
that failure corrupts the query output and the next call into regopy crashes the process
(SIGSEGV). arcpolicy loads no data documents, so every ``data`` reference must be a loaded
package; these checks turn such references into ``file:line`` diagnostics before anything is
compiled together. Sources are read as ``opa fmt`` writes them (see :mod:`engine.rego.modules`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from engine.rego.engines import Diagnostic, new_interpreter
from engine.rego.modules import RegoModule
from engine.rego.opa_builtins import NOT_PROVIDED

_IMPORT = re.compile(r"^import[ \t]+([A-Za-z_][\w.]*)(?:[ \t]+as[ \t]+([A-Za-z_]\w*))?[ \t]*$", re.MULTILINE)
_CALL = re.compile(r"(?<![\w.\]])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)[ \t]*\(")
_DATA_REF = re.compile(r"(?<![\w.])data((?:\.[A-Za-z_]\w*)+)")
_LITERALS = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`]*`|#[^\n]*')
_KEYWORDS = frozenset({"not", "some", "every", "in", "if", "contains", "else", "with", "as", "default", "import",
                       "package", "set"})  # set() is the empty-set literal, not a call
_V0_RULE = re.compile(r"^(?:default[ \t]+)?([A-Za-z_]\w*)(?:\[[^\]\n]*\]|\([^)\n]*\))?[ \t]*\{", re.MULTILINE)
_REGOPY = new_interpreter()
BuiltinCheck = Callable[[str], bool]


def _code(source: str) -> str:
    """``source`` with strings and comments blanked out (offsets and lines kept)."""
    return _LITERALS.sub(lambda match: re.sub(r"[^\n]", " ", match.group()), source)


def _line(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


class References:
    """What the loaded modules define: packages and, per package, rule (and function) names."""

    def __init__(self, modules: Sequence[RegoModule], is_builtin: BuiltinCheck | None = None):
        self.is_builtin = is_builtin or regopy_builtin
        self.rules: dict[str, set[str]] = {}
        for module in modules:
            self.rules.setdefault(module.package, set()).update(module.rules)

    def resolves(self, path: str) -> bool:
        """Whether ``data.<path>`` is a loaded package, a prefix of one, or inside a package's rule."""
        if any(package == path or package.startswith(path + ".") for package in self.rules):
            return True
        parts = path.split(".")
        return any(".".join(parts[:cut]) in self.rules and parts[cut] in self.rules[".".join(parts[:cut])]
                   for cut in range(1, len(parts)))

    def packages_used(self, module: RegoModule) -> set[str]:
        """The loaded packages that ``module`` imports or names through ``data.``."""
        code = _code(module.source)
        paths = [match.group(1)[len("data."):] for match in _IMPORT.finditer(code) if match.group(1).startswith("data.")]
        paths += [match.group(1)[1:] for match in _DATA_REF.finditer(code)]
        return {package for package in self.rules for path in paths
                if package == path or package.startswith(path + ".") or path.startswith(package + ".")}

    def problems(self, module: RegoModule) -> list[Diagnostic]:
        """Imports of unloaded packages, calls of undefined functions and v0 rule bodies, with their lines."""
        code = _code(module.source)
        problems: list[Diagnostic] = []
        aliases: dict[str, str] = {}
        missing: set[str] = set()  # aliases of unloaded imports: their calls are not reported again
        for match in _IMPORT.finditer(code):
            path = match.group(1)
            if not path.startswith("data."):
                continue  # input, rego.v1, future.keywords
            alias = match.group(2) or path.rsplit(".", 1)[-1]
            aliases[alias] = path[len("data."):]
            if not self.resolves(aliases[alias]):
                missing.add(alias)
                problems.append(Diagnostic(module.name, _line(code, match.start()),
                                           f"import {path}: no loaded Rego file has this package "
                                           "(is its file missing from the paths given?)"))
        problems.extend(Diagnostic(module.name, _line(code, match.start()),
                                   f"rule {match.group(1)}: Rego v1 needs `if` before a rule body (and `contains` "
                                   "for a partial set: `violation contains msg if {`); regopy would accept it, OPA 1.x not")
                        for match in _V0_RULE.finditer(code) if match.group(1) not in _KEYWORDS)
        local = self.rules.get(module.package, set())
        for match in _CALL.finditer(code):
            name = match.group(1)
            at_line_start = match.start() == 0 or code[match.start() - 1] == "\n"
            if (at_line_start or name in _KEYWORDS or name.partition(".")[0] in missing
                    or self._defined(name, local, aliases)):
                continue  # a rule head defines the function; the others are calls
            problems.append(Diagnostic(module.name, _line(code, match.start()), _undefined_function(name)))
        return problems

    def _defined(self, name: str, local: set[str], aliases: dict[str, str]) -> bool:
        head, _, rest = name.partition(".")
        if not rest:
            return name in local or self.is_builtin(name)
        if head == "data":
            return self.resolves(rest)
        if head in aliases:
            return self.resolves(f"{aliases[head]}.{rest}")
        return head in local or self.is_builtin(name)  # `foo.bar(x) := ...`: a function with a ref head


def called_names(module: RegoModule) -> set[str]:
    """The names ``module`` calls as functions (built-ins and rules alike), strings and comments left out."""
    return {match.group(1) for match in _CALL.finditer(_code(module.source))} - _KEYWORDS


def dependency_order(modules: Sequence[RegoModule]) -> list[RegoModule]:
    """``modules`` with every module after the loaded packages it uses (in the given order otherwise).

    An OPA server compiles each uploaded module with those it already has, and refuses one that
    calls a function of a package not uploaded yet. Packages that use each other (a cycle) keep
    their given order.
    """
    references = References(modules)
    by_package: dict[str, list[RegoModule]] = {}
    for module in modules:
        by_package.setdefault(module.package, []).append(module)
    ordered: dict[str, RegoModule] = {}
    visiting: set[str] = set()

    def place(module: RegoModule) -> None:
        if module.name in ordered or module.name in visiting:
            return
        visiting.add(module.name)
        for package in sorted(references.packages_used(module) - {module.package}):
            for used in by_package.get(package, []):
                place(used)
        ordered[module.name] = module

    for module in modules:
        place(module)
    return list(ordered.values())


def _undefined_function(name: str) -> str:
    """Why a call resolves to nothing: an OPA built-in the engine lacks (and which engines have it), or a typo."""
    if name in NOT_PROVIDED:
        others = "regopy and opa have it" if regopy_builtin(name) else "opa has it"
        return (f"{name} is a built-in of OPA that this Rego engine lacks, so this policy is not evaluated "
                f"({others}: --rego-engine)")
    return f"undefined function {name} (neither a rule of a loaded package nor a built-in of the Rego engine)"


def regopy_builtin(name: str) -> bool:
    return bool(_REGOPY.is_builtin(name))


def unresolved(modules: Sequence[RegoModule],
               is_builtin: BuiltinCheck | None = None) -> tuple[list[RegoModule], list[Diagnostic]]:
    """Keep the modules whose references resolve; a skipped module may unresolve its importers.

    ``is_builtin``: the engine's own built-ins (regopy's by default).
    """
    kept = list(modules)
    diagnostics: list[Diagnostic] = []
    while True:
        references = References(kept, is_builtin)
        found = {module.name: module_problems for module in kept if (module_problems := references.problems(module))}
        if not found:
            return kept, diagnostics
        diagnostics.extend(problem for problems in found.values() for problem in problems)
        kept = [module for module in kept if module.name not in found]
